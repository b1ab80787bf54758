"""The work of one signal, counted (never timed): it must not grow with the executions that wait.

The signal's transaction (in the scheduler's turn on SQLite, group commit;
in the calling thread on PostgreSQL) and the scheduler's turns that resume
its task are counted in statements (a
``before_cursor_execute`` listener) and, on SQLite, in virtual-machine steps
(the progress handler, one call per 10 instructions), which also sees a
statement that reads more rows as more executions wait.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from support.waiting import until
from support.workflows import parked

from wfhost import Host
from wfpkg import Context, Workflow

SIGNALLED = 10  # signalled in each run, whatever the number waiting
FEW, MANY = SIGNALLED, 300


class Counted:
    """Statements and SQLite steps of one thread (``caller``) and of the scheduler, while ``on``."""

    def __init__(self, host: Host) -> None:
        self.work: Counter[str] = Counter()
        self.on = False
        self.caller = threading.current_thread()
        event.listen(host.engine, "before_cursor_execute", self._statement)
        if host.engine.dialect.name == "sqlite":
            # Before the host starts: the scheduler keeps its connection across turns.
            event.listen(host.engine.pool, "checkout", self._checkout)

    def _who(self) -> str | None:
        thread = threading.current_thread()
        if thread is self.caller:
            return "caller"
        return "scheduler" if thread.name == "wfhost-scheduler" else None

    def _statement(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                   executemany: bool) -> None:
        name = self._who()
        if self.on and name:
            self.work[f"{name} statements"] += 1

    def _step(self) -> int:
        name = self._who()
        if self.on and name:
            self.work[f"{name} steps"] += 1
        return 0

    def _checkout(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.set_progress_handler(self._step, 10)


def _work_per_signal(tmp_path: Path, db_url: str, waiting: int) -> dict[str, float]:
    """Park ``waiting`` executions, then signal `SIGNALLED` of them one at a time (the same
    turns resume each, whatever the size) and count the work per signal."""
    if db_url.startswith("sqlite"):  # a store of its own (PostgreSQL's holds the other run's too)
        db_url = f"sqlite:///{tmp_path / f'{waiting}.db'}"
    host = Host(home=tmp_path / f"home{waiting}", database_url=db_url)
    counted = Counted(host)
    with host:
        host.add_workflow(parked())
        ids = host.client.schedule_many("local::parked", [{}] * waiting)
        until(lambda: len(host.client.executions(status="waiting", limit=waiting + 1)) == waiting,
              f"{waiting} executions to wait")
        finished = threading.Semaphore(0)
        host.scheduler.add_finished_listener(lambda _uid, _status: finished.release())
        counted.on = True
        for eid in ids[:SIGNALLED]:
            host.client.signal(eid, "go", 1)
            assert finished.acquire(timeout=60), "a signalled execution did not finish"
        counted.on = False
        for eid in ids[:SIGNALLED]:
            assert host.client.status(eid)["output"] == {"got": 1}
    work = {k: v / SIGNALLED for k, v in counted.work.items()}
    for what in ("statements", "steps"):
        work.setdefault(f"caller {what}", 0.0)
        work[what] = work[f"caller {what}"] + work.get(f"scheduler {what}", 0.0)
    return work


def test_work_per_signal_does_not_grow_with_waiting_executions(tmp_path: Path, db_url: str) -> None:
    few = _work_per_signal(tmp_path, db_url, FEW)
    many = _work_per_signal(tmp_path, db_url, MANY)
    # Delivering the signal runs the same statements whatever waits elsewhere: the execution
    # by its id, its open waits, its oldest unconsumed signal, each found by an index seek.
    # Resuming takes a claiming and a finishing turn; a periodic scan may fall in either run.
    assert many["statements"] <= few["statements"] + 2.5, (few, many)
    if db_url.startswith("sqlite"):
        # Group commit: the host's client hands the signal to the scheduler, whose next turn
        # writes it (and claims the task it woke) in one transaction.
        assert few["caller statements"] == many["caller statements"] == 0, (few, many)
        assert many["steps"] <= few["steps"] * 1.1 + 10, (few, many)
    else:
        # 8 and its NOTIFY, in the caller's own transaction (PostgreSQL writers run concurrently).
        # (Plus, once a second, the caller's read of the live hosts it wakes: 0.1 a signal here.)
        assert many["caller statements"] <= few["caller statements"] + 0.5, (few, many)
        assert few["caller statements"] <= 9.5, few


def test_sqlite_work_to_resume_does_not_grow_with_waiting_executions(tmp_path: Path) -> None:
    few = _work_per_signal(tmp_path, "sqlite://", FEW)
    many = _work_per_signal(tmp_path, "sqlite://", MANY)
    assert many["scheduler steps"] <= few["scheduler steps"] * 1.2 + 10, (few, many)


def test_a_signal_from_a_task_asks_for_a_claiming_turn_not_a_scan(tmp_path: Path) -> None:
    # The task it wakes is ready: a claiming turn runs it. Only a cancellation needs the
    # scheduler's scan (of cancellations, timers, deadlines and dead hosts).
    wf = Workflow("sender")

    @wf.task()
    def send(ctx: Context) -> None:
        ctx.signal_execution(ctx["target"], "go", 1)
        ctx.cancel_execution(ctx["doomed"], "not needed")

    with Host(home=tmp_path) as host:
        host.add_workflow(parked())
        host.add_workflow(wf)
        target, doomed = host.client.schedule_many("local::parked", [{}, {}])
        until(lambda: len(host.client.executions(status="waiting")) == 2, "both to wait")
        asked: list[bool] = []
        changed = host.scheduler.calls._on_change

        def recording(scan: bool) -> None:
            asked.append(scan)
            changed(scan)

        host.scheduler.calls._on_change = recording
        eid = host.client.schedule("local::sender", {"target": target, "doomed": doomed})
        assert host.wait(eid, timeout=30)["status"] == "succeeded"
        assert host.wait(target, timeout=30)["output"] == {"got": 1}
        assert host.wait(doomed, timeout=30)["status"] == "cancelled"
        assert asked == [False, True]
