"""The replay rule through a real `Host`: steps run once, a changed durable call is caught, continue-as-new."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support.waiting import task_state

from wfhost import Host
from wfhost.store._db import E, J
from wfpkg import Context, Workflow


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    with Host(home=tmp_path, load_timeout=30) as h:
        yield h


def test_step_runs_once_across_a_suspension(host: Host) -> None:
    charged: list[int] = []
    body_runs: list[int] = []
    wf = Workflow("charge")

    def charge(amount: int) -> dict[str, int]:
        charged.append(amount)
        return {"receipt": 1000 + len(charged)}

    @wf.task()
    def pay(ctx: Context) -> None:
        body_runs.append(1)
        receipt = ctx.step("charge_card", charge, ctx["amount"])
        ctx["receipt"] = receipt
        ctx["confirmation"] = ctx.wait_for_signal("confirmed")
        ctx["again"] = ctx.wait_for_signal("confirmed")

    host.add_workflow(wf)
    eid = host.client.schedule("local::charge", {"amount": 42}, id="charge-1")
    task_state(host.client, eid, "pay", "waiting")
    host.client.signal(eid, "confirmed", "first")
    task_state(host.client, eid, "pay", "waiting")  # suspended again, on the second wait
    host.client.signal(eid, "confirmed", "second")

    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert charged == [42]  # the side effect happened once
    assert len(body_runs) == 3  # ... although the task body ran three times
    assert st["output"] == {"receipt": {"receipt": 1001}, "confirmation": "first", "again": "second"}


def test_changed_durable_call_on_replay_fails_naming_the_step(host: Host, tmp_path: Path) -> None:
    flag = tmp_path / "deploy-changed-the-code"
    wf = Workflow("drifting")

    @wf.task()
    def work(ctx: Context) -> None:
        # Wrong: which durable call is made depends on something outside the journal.
        name = "send_invoice_v2" if flag.exists() else "send_invoice"
        ctx.step(name, lambda: "sent")
        ctx.wait_for_signal("paid")

    host.add_workflow(wf)
    eid = host.client.schedule("local::drifting", {}, id="drift-1")
    task_state(host.client, eid, "work", "waiting")
    flag.write_text("yes")
    host.client.signal(eid, "paid", {})

    st = host.wait(eid, timeout=20)
    assert st["status"] == "failed"
    assert "NonDeterminismError" in st["error"]
    assert "'send_invoice_v2'" in st["error"] and "'send_invoice'" in st["error"]
    assert "drift-1" in st["error"] and "'work'" in st["error"]
    task = st["tasks"][0]
    assert task["state"] == "failed" and task["attempts"] == 1  # never retried


def test_continue_as_new_keeps_the_id_and_starts_an_empty_journal(host: Host) -> None:
    wf = Workflow("looping")

    @wf.task()
    def tick(ctx: Context) -> None:
        n = int(ctx.get("n", 0))
        # A step whose name changes per run: were the journal kept, run 2 would
        # find run 1's step at call #1 and fail as non-deterministic.
        ctx.step(f"run_{n}", lambda: n)
        value = ctx.wait_for_signal("tick")
        seen = [*ctx.get("seen", []), value]
        if n < 2:
            ctx.continue_as_new({"n": n + 1, "seen": seen})
        ctx["seen"] = seen

    host.add_workflow(wf)
    eid = host.client.schedule("local::looping", {}, id="loop-1")
    for n in range(3):
        host.client.signal(eid, "tick", n)

    st = host.wait(eid, timeout=20)
    assert st["status"] == "succeeded", st["error"]
    assert st["id"] == "loop-1" and st["run"] == 3
    assert st["input"] == {"n": 2, "seen": [0, 1]}
    assert st["output"] == {"seen": [0, 1, 2]}
    history = host.client.history(eid)
    assert [e["run"] for e in history if e["kind"] == "continued_as_new"] == [2, 3]
    with host.engine.connect() as conn:
        uid = conn.execute(select(E.c.uid).where(E.c.id == eid)).scalar_one()
        entries = conn.execute(select(J.c.name).where(J.c.execution_uid == uid).order_by(J.c.seq))
        assert [e.name for e in entries] == ["run_2", "any(signal:tick)"]
        assert conn.execute(select(func.count()).select_from(E).where(E.c.id == eid)).scalar() == 1
