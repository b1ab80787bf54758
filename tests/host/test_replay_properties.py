"""Replay against a model: random durable calls, signals, cancellation and host restarts.

Hypothesis draws a workflow of one or two tasks (the second depends on the
first), each a random sequence of durable calls -- steps, waits for signal
``a`` or ``b`` (with no timeout, a short one or a long one; a timeout either
handled or not), durable sleeps, and ``wait_any(signal, timer)`` -- and a
random schedule of what happens from outside: signals sent before the
execution starts or while a task waits (several of one name, random JSON
payloads), cancellation, and host restarts (the `Host` closed and a new one
opened on the same home; signals and cancellations may arrive while no host
runs). A pure-Python model predicts the outcome and the test checks the real
host against it:

- the final status: succeeded, cancelled, or failed with ``WaitTimeout``;
- the output: what each durable call returned, in order (signals of one name
  are consumed in send order, buffered ones included, each at most once);
- the signals table: which wait consumed each signal, and which are left;
- each wait resolved exactly once, and how (signal, timer, timeout);
- each step's side effect happened exactly once.

Timing never decides an outcome. Outside events happen only while the task
holds no thread and waits on something that cannot resolve by itself (a
signal with no timeout, or with a long one; a long sleep); the driver polls
the store until the task is suspended there. A short timer or timeout can
only race a signal that is already buffered when the wait is made, and the
buffered signal wins, or one that is never sent.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from support.databases import postgres_database
from support.waiting import until

from wfhost import Client, Host
from wfhost.store._db import E, S, T, W
from wfpkg import Context, WaitTimeout, Workflow
from wfpkg.protocol import TERMINAL_EXECUTION

SIGNALS = ("a", "b")
SHORT = (0.05, 0.1, 0.2, 0.3)
LONG = 600.0  # never reached: a wait with a long timer is always ended by the driver
EID = "replay"
TERMINAL = TERMINAL_EXECUTION

# -- the workflow under test ----------------------------------------------------------------------


def _effect(path: str, key: str, value: int) -> int:
    """A step's side effect: one line appended to a file."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{key}\n".encode())
    os.close(fd)
    return value


def _run_ops(ctx: Context, task: str) -> None:
    """Perform the task's durable calls (from the execution input); log what each returned."""
    log: list[Any] = []
    for i, op in enumerate(ctx["ops"][task]):
        kind = op["kind"]
        if kind == "step":
            log.append(["step", ctx.step(f"s{i}", _effect, ctx["effects"], f"{task}:s{i}", op["value"])])
        elif kind == "sig":
            try:
                log.append(["sig", ctx.wait_for_signal(op["name"], timeout=op["seconds"])])
            except WaitTimeout:
                if not op["catch"]:
                    raise
                log.append(["timeout"])
        elif kind == "sleep":
            ctx.sleep(op["seconds"])
            log.append(["slept"])
        else:
            won = ctx.wait_any(ctx.signal(op["name"]), ctx.timer(op["seconds"]))
            log.append(["any", won.index, won.value])
    ctx[f"log_{task}"] = log


def _workflows() -> list[Workflow]:
    single = Workflow("single")
    single.add_task(lambda ctx: _run_ops(ctx, "t1"), id="t1")
    double = Workflow("double")
    double.add_task(lambda ctx: _run_ops(ctx, "t1"), id="t1")
    double.add_task(lambda ctx: _run_ops(ctx, "t2"), id="t2", depends_on=["t1"])
    return [single, double]


def _open_host(home: Path, url: str | None) -> Host:
    host = Host(home=home, database_url=url, max_concurrency=4)
    for wf in _workflows():
        host.add_workflow(wf)
    return host


# -- scenarios and the model ------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One durable call: ``step``, ``sig`` (wait_for_signal), ``sleep`` or ``any`` (signal vs timer)."""

    kind: str
    name: str | None = None
    seconds: float | None = None  # sig: timeout; sleep: duration; any: the timer
    catch: bool = False  # sig: handle WaitTimeout (else the task fails)
    value: int = 0  # step: what it returns

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "seconds": self.seconds,
                "catch": self.catch, "value": self.value}

    def __repr__(self) -> str:
        if self.kind == "step":
            return f"step({self.value})"
        if self.kind == "sleep":
            return f"sleep({self.seconds})"
        if self.kind == "any":
            return f"any({self.name}, timer={self.seconds})"
        return f"sig({self.name}, timeout={self.seconds}{', caught' if self.catch else ''})"


@dataclass
class Scenario:
    """What to do (ops, outside actions) and what the model predicts."""

    ops: dict[str, list[Op]]
    #: rounds[0] happens before the host starts; rounds[k] once the task is suspended at stops[k-1].
    rounds: list[list[tuple[Any, ...]]] = field(default_factory=list)
    stops: list[tuple[str, int]] = field(default_factory=list)
    status: str = "succeeded"
    logs: dict[str, list[Any]] = field(default_factory=dict)
    #: every signal sent, in send order: [name, payload, consumed_by or None]
    signals: list[list[Any]] = field(default_factory=list)
    #: each resolved wait: (task, seq, how)
    resolved: list[tuple[str, int, str]] = field(default_factory=list)
    effects: list[str] = field(default_factory=list)

    @property
    def workflow(self) -> str:
        return "local::single" if len(self.ops) == 1 else "local::double"


class Model:
    """Signals buffered per name, consumed oldest first, each by one wait."""

    def __init__(self, scenario: Scenario) -> None:
        self.sc = scenario
        self.buffers: dict[str, deque[int]] = {n: deque() for n in SIGNALS}

    def send(self, name: str, payload: Any) -> None:
        self.buffers[name].append(len(self.sc.signals))
        self.sc.signals.append([name, payload, None])

    def take(self, name: str, consumer: str) -> tuple[bool, Any]:
        if not self.buffers[name]:
            return False, None
        index = self.buffers[name].popleft()
        self.sc.signals[index][2] = consumer
        return True, self.sc.signals[index][1]


_json_values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text("ab é€😀\x00\"\\", max_size=6),
    st.lists(st.integers(0, 9), max_size=3),
    st.dictionaries(st.sampled_from("xyz"), st.integers(0, 9), max_size=2))

_step = st.builds(lambda v: Op("step", value=v), st.integers(0, 999))
_sig = st.builds(lambda n, t, c: Op("sig", n, t, c and t in SHORT), st.sampled_from(SIGNALS),
                 st.sampled_from((None, None, None, *SHORT, LONG)), st.booleans())
_sleep = st.builds(lambda s: Op("sleep", seconds=s), st.sampled_from((*SHORT, *SHORT, LONG)))
_any = st.builds(lambda n, s: Op("any", n, s), st.sampled_from(SIGNALS),
                 st.sampled_from((*SHORT, LONG, LONG, LONG)))
#: Weighted towards waits that need the driver, so most scenarios have several rounds.
_ops = st.one_of(_sig, _any, _step, _sig, _sleep, _any, _sig)


def _rarely(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (Hypothesis favours small integers, hence no ``== 0``)."""
    return st.sampled_from((False,) * (n - 1) + (True,))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Draw ops and outside actions together, running the model as they are drawn."""
    tasks = ["t1", "t2"][:draw(st.integers(1, 2))]
    sc = Scenario({t: draw(st.lists(_ops, min_size=1, max_size=4)) for t in tasks})
    model = Model(sc)
    counter = iter(range(1, 1000))

    def payload() -> Any:
        return {"n": next(counter), "v": draw(_json_values)}

    def sends(names: Any) -> list[tuple[Any, ...]]:
        actions = []
        for name in draw(st.lists(names, max_size=3)):
            actions.append(("send", name, payload()))
            model.send(name, actions[-1][2])
        return actions

    def cancelled(actions: list[tuple[Any, ...]]) -> Scenario:
        sc.rounds.append(actions)
        sc.status = "cancelled"
        event("cancelled")
        return sc

    # Before the host starts: buffered signals of any name; rarely, a cancellation.
    first = sends(st.sampled_from(SIGNALS))
    if draw(_rarely(20)):
        return cancelled([*first, ("cancel",)])
    sc.rounds.append(first)

    for task in tasks:
        log = sc.logs[task] = []
        for i, op in enumerate(sc.ops[task]):
            seq, consumer = i + 1, f"{task}#{i + 1}"
            if op.kind == "step":
                log.append(["step", op.value])
                sc.effects.append(f"{task}:s{i}")
                continue
            if op.kind == "sleep" and op.seconds in SHORT:
                sc.resolved.append((task, seq, "timer fired"))
                log.append(["slept"])
                continue
            if op.kind in ("sig", "any"):
                assert op.name is not None
                ok, value = model.take(op.name, consumer)
                if ok:  # buffered: consumed the moment the wait is made
                    event(f"{op.kind}: buffered signal")
                    sc.resolved.append((task, seq, f"signal {op.name}"))
                    log.append(["sig", value] if op.kind == "sig" else ["any", 0, value])
                    continue
                if op.seconds in SHORT:  # nothing buffered, nothing will be sent: the timer wins
                    if op.kind == "any":
                        sc.resolved.append((task, seq, "timer fired"))
                        log.append(["any", 1, None])
                        continue
                    sc.resolved.append((task, seq, "timeout"))
                    if op.catch:
                        log.append(["timeout"])
                        continue
                    sc.status = "failed"
                    event("failed: WaitTimeout")
                    return sc
            # The task suspends and only the driver can end the wait: it sends other signals
            # (buffered), maybe restarts the host around them, then sends the awaited signal
            # or cancels (a long sleep can only be cancelled).
            sc.stops.append((task, seq))
            waited = op.name if op.kind != "sleep" else None
            actions = sends(st.sampled_from([n for n in SIGNALS if n != waited]))
            cancel = waited is None or draw(_rarely(8))
            if cancel:
                actions.append(("cancel",))
            else:
                assert waited is not None
                actions.append(("send", waited, payload()))
                model.send(waited, actions[-1][2])
                _, value = model.take(waited, consumer)
                event(f"{op.kind}: signal sent while waiting")
                sc.resolved.append((task, seq, f"signal {waited}"))
                log.append(["sig", value] if op.kind == "sig" else ["any", 0, value])
            if draw(_rarely(2)):
                # Closed before action ``down``, opened again before action ``up``: never while
                # a task runs, so a restart never races a step (at-least-once bodies).
                down = draw(st.integers(0, len(actions) - 1))
                up = draw(st.integers(down, len(actions)))
                actions = [*actions[:down], ("down",), *actions[down:up], ("up",), *actions[up:]]
                event("host restarted" + (" (signalled while down)" if up > down else ""))
            if cancel:
                return cancelled(actions)
            sc.rounds.append(actions)
    return sc


# -- running a scenario on a real host ----------------------------------------------------------------


@contextmanager
def _home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="wfhost-replay-") as tmp:
        yield Path(tmp)


def _suspended_at(client: Client, uid: str, task: str, seq: int) -> bool:
    """Whether ``task`` holds no thread, suspended on its durable call ``seq``."""
    with client.engine.connect() as conn:
        row = conn.execute(
            select(W.c.status, T.c.state, E.c.status.label("execution"), E.c.error)
            .select_from(E.join(T, T.c.execution_uid == E.c.uid).outerjoin(
                W, (W.c.execution_uid == T.c.execution_uid) & (W.c.task_id == T.c.task_id)
                & (W.c.seq == seq)))
            .where(E.c.uid == uid, T.c.task_id == task)).first()
    assert row is not None
    if row.execution in TERMINAL:
        raise AssertionError(f"execution {row.execution} ({row.error}) while the model expects "
                             f"{task} to wait at durable call #{seq}")
    return row.status == "open" and row.state == "waiting"


def _final_state(client: Client, eid: str) -> dict[str, Any] | None:
    state = client.status(eid)
    return state if state["status"] in TERMINAL else None


def run(sc: Scenario, base: Path, url: str | None = None) -> None:
    """Play the scenario on a fresh store (SQLite in ``base``, or ``url``) and check the model."""
    home, effects = base / "home", base / "effects.txt"
    first = _open_host(home, url)
    host: Host | None = first
    eid = first.client.schedule(sc.workflow, {"ops": {t: [op.to_json() for op in ops]
                                                      for t, ops in sc.ops.items()},
                                              "effects": str(effects)}, id=EID)
    client = Client(home, url)  # outlives the hosts: signals and cancels, even while none runs
    try:
        with client.engine.connect() as conn:
            uid = conn.execute(select(E.c.uid).where(E.c.id == eid)).scalar_one()
        # Round 0 happens before the host starts (the execution exists, no task has run);
        # round k once the task is suspended where the model says it stops for the k-th time.
        for k, actions in enumerate(sc.rounds):
            if k:
                task, seq = sc.stops[k - 1]
                until(functools.partial(_suspended_at, client, uid, task, seq),
                      f"{task} to suspend at durable call #{seq}", timeout=15)
            for action in actions:
                if action[0] == "send":
                    client.signal(eid, action[1], action[2])
                elif action[0] == "cancel":
                    assert client.cancel(eid, reason="test")
                elif action[0] == "down":
                    assert host is not None
                    host.close()
                    host = None
                elif action[0] == "up":
                    host = _open_host(home, url).start()
            if not k:
                first.start()
        final = until(functools.partial(_final_state, client, eid), "the execution to finish",
                      timeout=15)
        check(sc, client, uid, final, effects)
    finally:
        if host is not None:
            host.close()
        client.close()


def check(sc: Scenario, client: Client, uid: str, final: dict[str, Any], effects: Path) -> None:
    assert final["status"] == sc.status, final["error"]
    if sc.status == "succeeded":
        assert final["output"] == {f"log_{t}": log for t, log in sc.logs.items()}
    elif sc.status == "failed":
        assert "WaitTimeout" in final["error"], final["error"]
    else:
        assert final["cancelled_by"] == "client: test"

    # Which wait consumed which signal (each at most once), and which are left.
    with client.engine.connect() as conn:
        rows = conn.execute(select(S.c.name, S.c.payload, S.c.consumed, S.c.consumed_by)
                            .where(S.c.execution_uid == uid).order_by(S.c.id)).all()
    assert [[r.name, json.loads(r.payload), r.consumed_by] for r in rows] == sc.signals
    assert all(r.consumed == (r.consumed_by is not None) for r in rows)

    history = client.history(EID)
    assert sum(e["kind"] == "signal_received" for e in history) == len(sc.signals)
    resolved = [(e["task"], e["seq"], e["result"]) for e in history if e["kind"] == "wait_resolved"]
    assert sorted(resolved) == sorted(sc.resolved)  # each wait once, and how it ended
    assert not [e for e in history if e["kind"] in ("task_retrying", "task_recovered")]

    ran = effects.read_text().split() if effects.exists() else []
    assert Counter(ran) == Counter(sc.effects)  # each step's side effect exactly once


def _examples(default: int) -> int:
    return int(os.environ.get("WFHOST_REPLAY_EXAMPLES", default))


#: Fixed examples under CI (``derandomize``); fresh ones, plus the saved failures, elsewhere.
_base = settings(deadline=None, derandomize=bool(os.environ.get("CI")),
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(_base, max_examples=_examples(36))
@given(scenarios())
def test_replay_matches_the_model(sc: Scenario) -> None:
    with _home() as base:
        run(sc, base)


@pytest.mark.postgres
@settings(_base, max_examples=_examples(10))
@given(scenarios())
def test_replay_matches_the_model_on_postgresql(sc: Scenario) -> None:
    # No global write lock here: clients, the scheduler and task threads really commit
    # concurrently, so this is where consuming a signal twice (or not at all) would show.
    with _home() as base, postgres_database() as url:
        run(sc, base, url)


# -- concurrent senders ------------------------------------------------------------------------------

SENDERS = 4


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_signals_sent_at_once_by_several_clients_are_each_consumed_once(db: str) -> None:
    # Several clients signal one waiting task at the same instant: exactly one of them resolves
    # the open wait, the others stay buffered for the next waits, none is lost.
    drain = Workflow("drain")

    @drain.task()
    def take(ctx: Context) -> None:
        ctx["got"] = [ctx.wait_for_signal("a") for _ in range(SENDERS)]

    with _home() as base, (postgres_database() if db == "postgresql" else _no_url()) as url, \
            Host(home=base / "home", database_url=url) as host:
        host.add_workflow(drain)
        clients = [Client(base / "home", url) for _ in range(SENDERS)]
        try:
            for trial in range(5):
                _send_at_once(host, clients, f"drain-{trial}")
        finally:
            for c in clients:
                c.close()


def _send_at_once(host: Host, clients: list[Client], eid: str) -> None:
    host.client.schedule("local::drain", {}, id=eid)
    uid: str = until(lambda: _uid(host.client, eid), f"{eid} to exist")
    until(lambda: _suspended_at(host.client, uid, "take", 1), f"{eid} to wait for a signal")
    barrier = threading.Barrier(len(clients))

    def send(i: int) -> None:
        barrier.wait()
        clients[i].signal(eid, "a", i)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        state = host.wait(eid, timeout=15)
    finally:
        with host.engine.connect() as conn:
            rows = conn.execute(select(S.c.payload, S.c.consumed_by).where(
                S.c.execution_uid == uid).order_by(S.c.id)).all()
        print(f"{eid} signals (payload, consumed by): {[tuple(r) for r in rows]}")
    assert state["status"] == "succeeded", state["error"]
    # Each payload once, each consumed by its own wait, and what each wait returned is the
    # signal the store says it consumed. (Concurrent sends have no order of their own: on
    # PostgreSQL ids come from a sequence at insert, not in the order the sends commit.)
    got = state["output"]["got"]
    assert sorted(got) == list(range(len(clients)))
    assert {r.consumed_by: json.loads(r.payload) for r in rows} == {
        f"take#{k + 1}": v for k, v in enumerate(got)}


@contextmanager
def _no_url() -> Iterator[None]:
    yield None


def _uid(client: Client, eid: str) -> str | None:
    with client.engine.connect() as conn:
        return conn.execute(select(E.c.uid).where(E.c.id == eid)).scalar()
