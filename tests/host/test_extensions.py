"""Operator extensions hear about finished executions; one that raises cannot hurt the host."""

from __future__ import annotations

from pathlib import Path

from wfhost import Host
from wfpkg import Context, Workflow
from wfregistry.hooks import hookimpl


class Recorder:
    def __init__(self) -> None:
        self.finished: list[tuple[str, str, str, str]] = []

    @hookimpl
    def wfhost_execution_finished(self, tenant: str, execution_id: str, workflow: str,
                                  status: str) -> None:
        self.finished.append((tenant, execution_id, workflow, status))


class Broken:
    @hookimpl
    def wfhost_execution_finished(self, tenant: str, execution_id: str, workflow: str,
                                  status: str) -> None:
        raise RuntimeError("the pager is down")


def test_extensions_are_told_of_finished_executions(tmp_path: Path) -> None:
    wf = Workflow("notify_me")

    @wf.task
    def work(ctx: Context) -> None:
        if ctx["fail"]:
            raise ValueError("no")

    recorder = Recorder()
    with Host(home=tmp_path) as host:
        host.hooks.register(recorder)
        host.hooks.register(Broken())  # called first (pluggy calls the newest first)
        host.add_workflow(wf)
        ok = host.client.schedule("local::notify_me", {"fail": False}, id="ok")
        bad = host.client.schedule("local::notify_me", {"fail": True}, id="bad")
        assert host.wait(ok, timeout=30)["status"] == "succeeded"
        assert host.wait(bad, timeout=30)["status"] == "failed"
        # The host keeps working after the broken extension raised.
        again = host.client.schedule("local::notify_me", {"fail": False}, id="again")
        assert host.wait(again, timeout=30)["status"] == "succeeded"
    assert sorted(recorder.finished) == [
        ("default", "again", "local::notify_me", "succeeded"),
        ("default", "bad", "local::notify_me", "failed"),
        ("default", "ok", "local::notify_me", "succeeded"),
    ]
