"""Group commit: a running host's client writes in the scheduler's next turn (SQLite).

What a user sees: a new execution's first task is claimed in the very
transaction that created it (its ``scheduled`` and ``task_started`` events
carry the same time), the caller's thread commits nothing itself, each
write still succeeds or fails on its own, and no write is lost when the
host stops or when a hook on the scheduler's thread writes.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from support.waiting import task_state, until
from support.workflows import parked

from wfhost import Client, Conflict, Host, NotFound
from wfpkg import Context, Workflow
from wfregistry.hooks import hookimpl


def one_step() -> Workflow:
    wf = Workflow("one_step")

    @wf.task()
    def step(ctx: Context) -> None:
        ctx["doubled"] = 2 * ctx["n"]

    return wf


def commits_by_thread(host: Host) -> Counter[str]:
    counts: Counter[str] = Counter()
    event.listen(host.engine, "commit", lambda _conn: counts.update([threading.current_thread().name]))
    return counts


class Gate:
    """Holds the scheduler's thread after a turn (in a finished listener) until opened."""

    def __init__(self, host: Host) -> None:
        self.held = threading.Event()
        self.open = threading.Event()
        self.armed = True
        host.scheduler.add_finished_listener(self._hold)

    def _hold(self, _uid: str, _status: str) -> None:
        if self.armed:
            self.armed = False
            self.held.set()
            assert self.open.wait(60), "the test never opened the gate"


def test_a_new_execution_is_claimed_in_the_transaction_that_created_it(tmp_path: Path,
                                                                       db_url: str) -> None:
    with Host(home=tmp_path / "home", database_url=db_url) as host:
        host.add_workflow(one_step())
        commits = commits_by_thread(host)
        eid = host.client.schedule("local::one_step", {"n": 1})
        caller_commits = commits[threading.current_thread().name]
        assert host.wait(eid, timeout=30)["output"] == {"doubled": 2}
        events = {e.kind: e.at for e in host.client.history(eid)}
    if db_url.startswith("sqlite"):
        assert caller_commits == 0  # the scheduler's turn committed it
        assert events["scheduled"] == events["task_started"]
    else:  # PostgreSQL: writers run concurrently, each client commits its own
        assert caller_commits >= 1  # its own (and its NOTIFY's)
        assert events["scheduled"] < events["task_started"]


def test_a_failing_write_is_undone_and_the_others_in_its_turn_commit(tmp_path: Path) -> None:
    with Host(home=tmp_path / "home") as host:
        host.add_workflow(one_step())
        host.add_workflow(parked())
        waiting = host.client.schedule("local::parked", id="waiting")
        gate = Gate(host)
        host.client.schedule("local::one_step", {"n": 1}, id="taken")
        host.wait("taken", timeout=30)
        assert gate.held.wait(30)  # the scheduler is held: what follows waits for one turn
        results: dict[str, Any] = {}

        def call(name: str, fn: Any) -> None:
            try:
                results[name] = fn()
            except Exception as exc:  # what the caller gets
                results[name] = exc

        calls = {
            "good": lambda: host.client.schedule("local::one_step", {"n": 2}, id="good"),
            "conflict": lambda: host.client.schedule("local::one_step", {"n": 99}, id="taken"),
            # all or none: "fresh" is written before "taken" conflicts, and is undone with it
            "partial": lambda: host.client.schedule_many("local::one_step", [{"n": 5}, {"n": 99}],
                                                         ids=["fresh", "taken"]),
            "unknown": lambda: host.client.signal("nobody", "go", 1),
            "signal": lambda: host.client.signal(waiting, "go", 7),
        }
        threads = [threading.Thread(target=call, args=item) for item in calls.items()]
        for t in threads:
            t.start()
        assert host.scheduler.writes.wait_queued(len(calls), timeout=30)
        gate.open.set()
        for t in threads:
            t.join(30)
        assert results["good"] == "good"
        assert isinstance(results["conflict"], Conflict)
        assert "already exists" in str(results["conflict"])
        assert isinstance(results["partial"], Conflict)
        assert isinstance(results["unknown"], NotFound)
        assert results["signal"] is None
        assert host.wait("good", timeout=30)["output"] == {"doubled": 4}
        assert host.wait(waiting, timeout=30)["output"] == {"got": 7}
        taken = host.client.status("taken")
        assert taken["input"] == {"n": 1}  # the conflicting write left nothing behind
        assert sorted(e.id for e in host.client.executions()) == ["good", "taken", "waiting"]


def test_a_write_waiting_when_the_host_stops_is_still_made(tmp_path: Path) -> None:
    host = Host(home=tmp_path / "home").start()
    host.add_workflow(one_step())
    gate = Gate(host)
    host.wait(host.client.schedule("local::one_step", {"n": 1}), timeout=30)
    assert gate.held.wait(30)
    got: list[str] = []
    caller = threading.Thread(
        target=lambda: got.append(host.client.schedule("local::one_step", {"n": 3}, id="late")))
    caller.start()
    assert host.scheduler.writes.wait_queued(1, timeout=30)
    closing = threading.Thread(target=host.close)
    closing.start()  # asks the loop to stop; the held turn ends first
    until(lambda: host._stop.is_set(), "close to ask the loop to stop")
    gate.open.set()
    caller.join(30)
    closing.join(30)
    assert got == ["late"]
    with Client(home=tmp_path / "home") as client:
        assert client.status("late")["status"] == "pending"  # made, for the next host to run


def test_a_hook_on_the_scheduler_thread_can_schedule(tmp_path: Path) -> None:
    # The turn's thread cannot wait for its own next turn: its writes commit on their own.
    with Host(home=tmp_path / "home") as host:
        host.add_workflow(one_step())
        follow_ups: list[str] = []
        scheduled = threading.Event()

        def follow(_uid: str, _status: str) -> None:
            if not follow_ups:
                follow_ups.append(host.client.schedule("local::one_step", {"n": 2}, id="follow-up"))
                scheduled.set()

        host.scheduler.add_finished_listener(follow)
        host.client.schedule("local::one_step", {"n": 1})
        assert scheduled.wait(30), "the hook's schedule did not return"
        assert host.wait("follow-up", timeout=30)["output"] == {"doubled": 4}
        assert follow_ups == ["follow-up"]


@pytest.mark.parametrize("durability", ["normal", "full"])
def test_back_to_back_signals_share_commits_with_the_turns(tmp_path: Path, durability: str) -> None:
    # 20 signals one after another and the 20 resumed tasks: without group commit each
    # signal is a commit of its own besides the turns that claim and finish its task.
    with Host(home=tmp_path / "home", durability=durability) as host:
        host.add_workflow(parked())
        ids = host.client.schedule_many("local::parked", [{}] * 20)
        for eid in ids:
            task_state(host.client, eid, "park", "waiting")
        commits = commits_by_thread(host)
        for eid in ids:
            host.client.signal(eid, "go", 1)
        for eid in ids:
            assert host.wait(eid, timeout=30)["output"] == {"got": 1}
        assert commits[threading.current_thread().name] == 0
        # At most a delivering and a finishing turn per signal, and the once-a-second scan's own.
        assert commits["wfhost-scheduler"] <= 2 * len(ids) + 2, commits



def test_a_write_inside_the_callers_own_write_transaction_fails_at_once(tmp_path: Path) -> None:
    # It cannot wait for a turn that needs the write lock its caller holds.
    with Host(home=tmp_path / "home") as host:
        host.add_workflow(one_step())
        got: list[BaseException] = []

        def inside() -> None:
            with host.engine.begin():
                try:
                    host.client.schedule("local::one_step", {"n": 1})
                except RuntimeError as exc:
                    got.append(exc)

        caller = threading.Thread(target=inside, daemon=True)
        caller.start()
        caller.join(30)
        assert not caller.is_alive(), "the write waited for a turn that waited for it"
        assert len(got) == 1 and "inside another one" in str(got[0])
        assert host.client.executions() == []


class Boom(BaseException):
    """Not an `Exception`: what a payload's own code might raise."""


class Explosive(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise Boom("from the payload's own code")


def test_a_payload_is_serialized_in_the_callers_thread(tmp_path: Path) -> None:
    # Payload code runs in the caller's thread: what it raises reaches the caller, and the
    # scheduler's thread, which runs the write, never runs it.
    with Host(home=tmp_path / "home") as host:
        host.add_workflow(one_step())
        host.add_workflow(parked())
        waiting = host.client.schedule("local::parked")
        task_state(host.client, waiting, "park", "waiting")
        with pytest.raises(Boom):
            host.client.signal(waiting, "go", Explosive(a=1))
        with pytest.raises(Boom):
            host.client.schedule("local::one_step", {"n": Explosive(a=1)})
        assert host.wait(host.client.schedule("local::one_step", {"n": 1}), timeout=30)["output"] == {
            "doubled": 2}
        assert host.client.status(waiting)["status"] == "waiting"  # the signal was not delivered


def test_a_turn_that_fails_hands_its_writes_back_to_their_callers(tmp_path: Path) -> None:
    # The database refuses the turn's claim of task "boom" (a trigger: a real failure of the
    # turn's transaction, not a stand-in): each write of that turn is then made on its own.
    wf = Workflow("boomer")

    @wf.task()
    def boom(ctx: Context) -> None:
        ctx["ran"] = True

    with Host(home=tmp_path / "home") as host:
        host.add_workflow(one_step())
        host.add_workflow(wf)
        gate = Gate(host)
        host.wait(host.client.schedule("local::one_step", {"n": 1}), timeout=30)
        assert gate.held.wait(30)
        with host.engine.begin() as conn:
            conn.execute(text("CREATE TRIGGER refuse_boom BEFORE UPDATE OF state ON task_runs "
                              "WHEN NEW.state = 'running' AND NEW.task_id = 'boom' "
                              "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
        got: dict[str, str] = {}
        callers = [threading.Thread(target=lambda w=w, i=i: got.update({i: host.client.schedule(w, {"n": 2}, id=i)}))
                   for w, i in (("local::boomer", "b"), ("local::one_step", "x"))]
        for caller in callers:
            caller.start()
        assert host.scheduler.writes.wait_queued(2, timeout=30)
        gate.open.set()  # the next turn writes both, fails claiming "boom", and rolls back
        for caller in callers:
            caller.join(30)
        assert got == {"b": "b", "x": "x"}  # each made on its own
        with host.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_boom"))
        assert host.wait("b", timeout=30)["output"] == {"ran": True}
        assert host.wait("x", timeout=30)["output"] == {"doubled": 4}
        ids = [e.id for e in host.client.executions()]
        assert sorted(i for i in ids if i in ("b", "x")) == ["b", "x"]  # each once


class WaitsForAWrite:
    """An extension that, told of a finish, has another thread schedule and waits for it."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.scheduled: list[str] = []
        self.done = threading.Event()

    @hookimpl
    def wfhost_execution_finished(self, tenant: str, execution_id: str, workflow: str,
                                  status: str) -> None:
        if execution_id != "first":
            return
        other = threading.Thread(target=lambda: self.scheduled.append(
            self.host.client.schedule("local::one_step", {"n": 2}, id="second")))
        other.start()
        other.join(30)
        self.done.set()


def test_an_extension_may_wait_for_a_write_of_another_thread(tmp_path: Path) -> None:
    with Host(home=tmp_path / "home") as host:
        host.add_workflow(one_step())
        extension = WaitsForAWrite(host)
        host.hooks.register(extension)
        host.client.schedule("local::one_step", {"n": 1}, id="first")
        assert extension.done.wait(60)
        assert extension.scheduled == ["second"]
        assert host.wait("second", timeout=30)["output"] == {"doubled": 4}


def test_events_of_one_turn_are_in_the_order_things_happened(tmp_path: Path) -> None:
    # Task "a" finishes and a signal for "b" arrives while the scheduler is held: one turn
    # applies the outcome, then the signal. The history says so.
    release = threading.Event()
    wf = Workflow("two_steps")

    @wf.task()
    def a(ctx: Context) -> None:
        assert release.wait(30)

    @wf.task(depends_on=["a"])
    def b(ctx: Context) -> None:
        ctx["got"] = ctx.wait_for_signal("go")

    with Host(home=tmp_path / "home") as host:
        host.add_workflow(one_step())
        host.add_workflow(wf)
        eid = host.client.schedule("local::two_steps")
        task_state(host.client, eid, "a", "running")
        gate = Gate(host)
        host.wait(host.client.schedule("local::one_step", {"n": 1}), timeout=30)
        assert gate.held.wait(30)
        release.set()
        until(lambda: host.scheduler._outcomes, "a's outcome to wait for the next turn")
        signal = threading.Thread(target=host.client.signal, args=(eid, "go", 3))
        signal.start()
        assert host.scheduler.writes.wait_queued(1, timeout=30)
        gate.open.set()
        signal.join(30)
        assert host.wait(eid, timeout=30)["output"] == {"got": 3}
        kinds = [e.kind for e in host.client.history(eid)]
    assert kinds.index("task_succeeded") < kinds.index("signal_received"), kinds


def test_a_write_interrupted_by_the_database_is_made_on_its_own(tmp_path: Path) -> None:
    # SQLite rolls back the whole transaction when a statement is interrupted: the turn's
    # other work is gone too, so the turn fails and the write goes back to its caller.
    state = {"armed": False, "interrupt": False}

    def progress() -> int:  # any connection's, on any thread: only the scheduler's statement stops
        if state["interrupt"] and threading.current_thread().name == "wfhost-scheduler":
            state["interrupt"] = False
            return 1  # SQLITE_INTERRUPT
        return 0

    def statement(_conn: Any, _cursor: Any, sql_text: str, *_args: Any) -> None:
        if (state["armed"] and sql_text.startswith("INSERT INTO executions")
                and threading.current_thread().name == "wfhost-scheduler"):
            state["armed"], state["interrupt"] = False, True

    host = Host(home=tmp_path / "home")
    event.listen(host.engine.pool, "connect", lambda dbapi, _rec: dbapi.set_progress_handler(progress, 1))
    event.listen(host.engine, "before_cursor_execute", statement)
    with host:
        host.add_workflow(one_step())
        state["armed"] = True
        assert host.client.schedule("local::one_step", {"n": 4}, id="interrupted") == "interrupted"
        assert not state["armed"]  # the turn's write was interrupted
        assert host.wait("interrupted", timeout=30)["output"] == {"doubled": 8}
        assert [e.id for e in host.client.executions()] == ["interrupted"]

