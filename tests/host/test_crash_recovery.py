"""A real host process SIGKILLed at random points loses nothing and re-runs nothing recorded."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from support.waiting import until

from wfhost import Client

HERE = Path(__file__).parent
KILLS = 4


def _lines(path: Path) -> list[str]:
    """The task id of every recorded run (lines are ``execution task pid``)."""
    return [line.split()[1] for line in path.read_text().splitlines()] if path.exists() else []


def test_sigkilled_host_resumes_the_chain_exactly_once_per_recorded_task(tmp_path: Path) -> None:
    home, runs = tmp_path / "home", tmp_path / "runs.txt"
    rng = random.Random()
    cmd = [sys.executable, str(HERE / "crash_host.py"), str(home), str(runs)]
    for kill in range(KILLS):
        before = len(_lines(runs))
        proc = subprocess.Popen(cmd)
        # Let it make some progress past where it was, then kill it at a random moment.
        target = before + rng.randint(5, 25)
        until(lambda p=proc, t=target: len(_lines(runs)) > t or p.poll() is not None,
              f"host run {kill} to make progress", timeout=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the host finished before it could be killed"
    final = subprocess.run(cmd, timeout=120)
    assert final.returncode == 0

    with Client(home) as client:
        state = client.status("crash-chain")
        history = client.history("crash-chain")
    assert state["status"] == "succeeded"
    assert state["output"] == {"n": 200}

    succeeded = Counter(e["task"] for e in history if e["kind"] == "task_succeeded")
    started = Counter(e["task"] for e in history if e["kind"] == "task_started")
    ran = Counter(_lines(runs))
    assert succeeded == Counter({f"t{i}": 1 for i in range(200)})  # each result recorded once
    # Every run of a task body was a claimed, recorded attempt (a kill between the claim's
    # commit and the body's first line leaves an attempt that never ran).
    assert set(ran) == set(started) and all(ran[t] <= started[t] for t in started)
    assert sum(ran.values()) - 200 <= KILLS  # only attempts in flight at a kill ran again
    for task in ran:  # no task ran again after its success was recorded
        events = [e["kind"] for e in history if e["task"] == task]
        assert "task_started" not in events[events.index("task_succeeded"):]
