"""Durable waits survive a SIGKILLed host: signals, timers and children pending while it is down.

A real host process (`restart_host.py`) runs workflows that wait on signals,
timers and child workflows. The test kills it with SIGKILL while they wait,
sends signals through a `Client` while no host runs (they are buffered in the
store), lets timers fall due during the downtime, starts the host again, and
checks what a user would: every execution finishes with the expected output,
each signal was consumed exactly once and in send order, timers due during
the downtime fired after the restart (never early), children finished and
their parent got their results, and each side effect in a step happened once.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.waiting import until

from wfhost import Client
from wfhost.store._db import E, S, T, W
from wfpkg.protocol import TERMINAL_EXECUTION

HERE = Path(__file__).parent


def _script_constants() -> Any:
    spec = importlib.util.spec_from_file_location("restart_host", HERE / "restart_host.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_script = _script_constants()
ROOTS: tuple[str, ...] = _script.ROOTS
SLEEP: float = _script.SLEEP


class HostProcess:
    """The host script as a child process, logging to a file."""

    def __init__(self, home: Path, effects: Path, log: Path) -> None:
        self.cmd = [sys.executable, str(HERE / "restart_host.py"), str(home), str(effects)]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.proc is not None
        assert self.proc.poll() is None, f"the host exited early ({self.proc.returncode}):\n{self.tail()}"
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL

    def finish(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(tmp_path / "home") as c:
        yield c


def _uid(client: Client, eid: str) -> str | None:
    with client.engine.connect() as conn:
        return conn.execute(select(E.c.uid).where(E.c.id == eid)).scalar()


def _wait_row(client: Client, eid: str, task: str, seq: int) -> Any:
    """The wait at durable call ``seq`` of ``task`` and the task's state, or ``None``."""
    uid = _uid(client, eid)
    if uid is None:
        return None
    with client.engine.connect() as conn:
        return conn.execute(
            select(W.c.status, W.c.due_at, T.c.state)
            .join(T, (T.c.execution_uid == W.c.execution_uid) & (T.c.task_id == W.c.task_id))
            .where(W.c.execution_uid == uid, W.c.task_id == task, W.c.seq == seq)).first()


def suspended_at(client: Client, eid: str, task: str, seq: int, timeout: float = 30) -> Any:
    """Wait until ``task`` of ``eid`` holds no thread, suspended on its durable call ``seq``."""

    def probe() -> Any:
        row = _wait_row(client, eid, task, seq)
        return row if row is not None and row.status == "open" and row.state == "waiting" else None

    return until(probe, f"{eid}/{task} to be suspended on durable call #{seq}", timeout)


def finished(client: Client, eid: str, timeout: float = 30) -> dict[str, Any]:
    """Wait until ``eid`` finishes; it must have succeeded."""

    def probe() -> dict[str, Any] | None:
        state = client.status(eid)
        return state if state["status"] in TERMINAL_EXECUTION else None

    state: dict[str, Any] = until(probe, f"{eid} to finish", timeout)
    assert state["status"] == "succeeded", f"{eid}: {state['status']}: {state['error']}"
    return state


def _signals(client: Client, eid: str) -> list[tuple[str, Any, bool, str | None]]:
    with client.engine.connect() as conn:
        rows = conn.execute(select(S.c.name, S.c.payload, S.c.consumed, S.c.consumed_by)
                            .where(S.c.execution_uid == _uid(client, eid)).order_by(S.c.id))
        return [(r.name, json.loads(r.payload), r.consumed, r.consumed_by) for r in rows]


def _resolved(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in history if e["kind"] == "wait_resolved"]


def test_signals_timers_and_children_pending_across_sigkills_complete_exactly_once(
        tmp_path: Path, client: Client) -> None:
    home, effects = tmp_path / "home", tmp_path / "effects.txt"
    host = HostProcess(home, effects, tmp_path / "host.log")
    sent: Counter[str] = Counter()

    def send(eid: str, name: str, payload: Any) -> None:
        client.signal(eid, name, payload)
        sent[eid] += 1

    try:
        # -- run 1: everything reaches its first wait; some signals arrive while it is up.
        host.start()
        suspended_at(client, "rw-collect", "consume", 2)  # call 1 is the step "begin"
        suspended_at(client, "rw-sleep", "nap", 2)
        suspended_at(client, "rw-timeout", "expect", 1)
        for i in range(3):
            suspended_at(client, f"rw-child-{i}", "work", 2)
        suspended_at(client, "rw-parent", "fan_out", 4)  # 3 child starts, then the gather
        send("rw-collect", "item", {"n": 1})
        send("rw-child-0", "go", "zero")
        suspended_at(client, "rw-collect", "consume", 3)
        finished(client, "rw-child-0")
        # Arm the timers last, so they are certainly still pending when the host dies.
        send("rw-sleep", "arm", None)
        send("rw-timeout", "arm", None)
        send("rw-child-2", "go", "two")
        timers = [suspended_at(client, "rw-sleep", "nap", 3),           # ctx.sleep
                  suspended_at(client, "rw-timeout", "expect", 2),      # timeout on "never"
                  suspended_at(client, "rw-child-2", "work", 3)]        # ctx.sleep in a child
        host.kill()
        killed_at = time.time()
        assert all(t.due_at > killed_at for t in timers), "a timer fell due before the kill"

        # -- down: signals are buffered in the store; timers fall due with no host to fire them.
        send("rw-collect", "item", {"n": 2})
        send("rw-collect", "item", {"n": 3})
        send("rw-child-1", "go", "one")
        send("rw-timeout", "approve", {"ok": True})  # for a wait the task has not reached yet
        due = max(t.due_at for t in timers)
        until(lambda: time.time() > due + 0.1, "the timers' due time to pass", timeout=SLEEP + 10)
        for eid, task, seq in (("rw-sleep", "nap", 3), ("rw-timeout", "expect", 2),
                               ("rw-child-2", "work", 3)):
            assert _wait_row(client, eid, task, seq).status == "open"  # nothing fires them yet
        assert client.status("rw-parent")["status"] == "waiting"

        # -- run 2: the timers fire late, the children finish, the parent completes.
        restarted_at = time.time()
        host.start()
        for eid in ("rw-sleep", "rw-timeout", "rw-child-1", "rw-child-2", "rw-parent"):
            finished(client, eid)
        suspended_at(client, "rw-collect", "consume", 5)  # items 2 and 3 consumed, waits for 4
        host.kill()

        # -- down again: one signal resolves the open wait, the last one stays buffered.
        send("rw-collect", "item", {"n": 4})
        send("rw-collect", "item", {"n": 5})

        # -- run 3: the host finishes the rest and exits.
        host.start()
        assert host.finish(timeout=60) == 0, host.tail()
    finally:
        host.stop()

    states = {eid: client.status(eid) for eid in (*ROOTS, "rw-child-0", "rw-child-1", "rw-child-2")}
    assert {eid: s["status"] for eid, s in states.items()} == dict.fromkeys(states, "succeeded"), \
        {eid: s["error"] for eid, s in states.items()}
    histories = {eid: client.history(eid) for eid in states}

    # Signals: each delivered once, in send order, none left over, none lost.
    assert states["rw-collect"]["output"] == {"items": [{"n": n} for n in range(1, 6)]}
    for eid, history in histories.items():
        rows = _signals(client, eid)
        assert len(rows) == sent[eid] == sum(e["kind"] == "signal_received" for e in history)
        assert all(consumed for _, _, consumed, _ in rows), f"{eid}: unconsumed {rows}"
        consumers = [by for *_, by in rows]
        assert len(set(consumers)) == len(consumers), f"{eid}: one wait consumed two signals"
        by_signal = [e for e in _resolved(history) if e["result"].startswith("signal")]
        assert len(by_signal) == sent[eid], f"{eid}: {by_signal}"
    assert [by for *_, by in _signals(client, "rw-collect")] == [f"consume#{s}" for s in range(2, 7)]
    for eid, history in histories.items():  # each wait resolved once, nothing failed or retried
        seqs = [(e["task"], e["seq"]) for e in _resolved(history)]
        assert len(seqs) == len(set(seqs)), f"{eid}: a wait resolved twice: {seqs}"
        assert not [e for e in history if e["kind"] in ("task_failed", "task_retrying")], eid

    # Timers that fell due while the host was down fired after the restart, and not early.
    for eid, result, timer in (("rw-sleep", "timer fired", timers[0]),
                               ("rw-timeout", "timeout", timers[1]),
                               ("rw-child-2", "timer fired", timers[2])):
        fired = [e for e in _resolved(histories[eid]) if e["result"] == result]
        assert len(fired) == 1, f"{eid}: {fired}"
        assert fired[0]["at"] >= max(timer.due_at, restarted_at), (eid, fired[0], timer.due_at)
    assert states["rw-sleep"]["output"]["woke_at"] >= timers[0].due_at
    assert states["rw-timeout"]["output"] == {
        "timed_out": True, "approval": {"index": 0, "value": {"ok": True}}}

    # Children: each finished once, and the parent got their results.
    child = {i: {"result": {"i": i, "got": got}} for i, got in enumerate(("zero", "one", "two"))}
    assert states["rw-parent"]["output"] == {
        "gathered": [{"id": f"rw-child-{i}", "status": "succeeded", "output": child[i]}
                     for i in (0, 1)],
        "single": child[2],
    }
    assert {c["id"]: c["status"] for c in states["rw-parent"]["children"]} == {
        f"rw-child-{i}": "succeeded" for i in range(3)}
    for i in range(3):
        assert states[f"rw-child-{i}"]["parent"] == "rw-parent"
        assert sum(e["kind"] == "execution_succeeded" for e in histories[f"rw-child-{i}"]) == 1

    # Side effects in steps: each exactly once, across three host processes.
    assert Counter(effects.read_text().split()) == Counter({
        "collect:begin": 1, "collect:end": 1, "sleep:before": 1, "sleep:after": 1,
        "timeout:notify": 1, "parent:report": 1,
        "child0:effect": 1, "child1:effect": 1, "child2:effect": 1})
