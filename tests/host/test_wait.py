"""`Host.wait` and `Client.wait` are woken by the finish, not by a poll interval.

The fallback poll (which only covers a wake-up lost between machines) is set
to an hour here: a wait that missed its wake-up would run into the test's
deadline and fail with `TimeoutError`.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from support.waiting import until

import wfhost.engine.watch
from wfhost import Client, Host
from wfpkg import Context, Workflow


@pytest.fixture(autouse=True)
def no_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wfhost.engine.watch, "FALLBACK_POLL_SECONDS", 3600.0)


def gated(gate: threading.Event) -> Workflow:
    wf = Workflow("gated")

    @wf.task
    def hold(ctx: Context) -> None:
        gate.wait(60)
        ctx["done"] = True

    return wf


def _finish_while_waiting(host: Host, wait: object, gate: threading.Event) -> dict:
    eid = host.client.schedule("local::gated", {})
    # Open the gate once the task runs, from another thread, while this one is in wait().
    opener = threading.Thread(target=lambda: (
        until(lambda: host.client.status(eid)["tasks"][0]["state"] == "running", "task running"),
        gate.set()))
    opener.start()
    try:
        return wait(eid, timeout=60)  # type: ignore[operator, no-any-return]
    finally:
        opener.join()
        gate.clear()


def test_host_wait_returns_when_the_execution_ends_with_no_poll(tmp_path: Path, db_url: str) -> None:
    gate = threading.Event()
    with Host(home=tmp_path / "home", database_url=db_url) as host:
        host.add_workflow(gated(gate))
        for _ in range(5):
            state = _finish_while_waiting(host, host.wait, gate)
            assert state["status"] == "succeeded" and state["output"] == {"done": True}
        # Quick executions: the finish races the first status read.
        quick = Workflow("quick")
        quick.add_task(lambda ctx: None, id="t")
        host.add_workflow(quick)
        for _ in range(20):
            assert host.wait(host.client.schedule("local::quick", {}), timeout=60)["status"] == "succeeded"


def test_standalone_client_wait_is_woken_by_the_store(tmp_path: Path, db_url: str) -> None:
    gate = threading.Event()
    with Host(home=tmp_path / "home", database_url=db_url) as host, \
            Client(home=tmp_path / "home", database_url=db_url) as client:
        host.add_workflow(gated(gate))
        for _ in range(3):
            state = _finish_while_waiting(host, client.wait, gate)
            assert state["status"] == "succeeded"
