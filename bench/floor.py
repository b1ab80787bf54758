"""The floor: what the store itself costs, with raw `sqlite3` and nothing of wfhost.

One task is two WAL commits, as the least a durable scheduler must do: claim
it (``running``), then record its outcome (``succeeded``) and make the next
task ready, each its own transaction. ``NORMAL`` is ``synchronous=NORMAL``
(wfhost's default durability), ``FULL`` fsyncs every commit (durability
``full``). `bench/suite.py` measures the floor in the same run as wfhost and
prints wfhost's figures as multiples of it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["commits_per_task", "start_seconds", "task_ms"]

SCHEMA = (
    "CREATE TABLE task_runs (execution_uid TEXT, task_id TEXT, state TEXT, attempt INTEGER, "
    "output TEXT, PRIMARY KEY (execution_uid, task_id))"
)


def _open(path: Path, synchronous: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


def task_ms(synchronous: str = "NORMAL", tasks: int = 1000) -> float:
    """Milliseconds per task: two commits (claim; outcome + next ready) on a WAL database."""
    with tempfile.TemporaryDirectory() as tmp:
        db = _open(Path(tmp) / "floor.db", synchronous)
        db.execute(SCHEMA)
        db.executemany("INSERT INTO task_runs VALUES ('e', ?, 'ready', 0, NULL)",
                       [(f"t{i}",) for i in range(tasks)])
        t = time.perf_counter()
        for i in range(tasks):
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE task_runs SET state='running', attempt=attempt+1 "
                       "WHERE execution_uid='e' AND task_id=?", (f"t{i}",))
            db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE task_runs SET state='succeeded', output='{}' "
                       "WHERE execution_uid='e' AND task_id=?", (f"t{i}",))
            db.execute("UPDATE task_runs SET state='ready' WHERE execution_uid='e' AND task_id=?",
                       (f"t{i + 1}",))
            db.execute("COMMIT")
        elapsed = time.perf_counter() - t
        db.close()
    return elapsed / tasks * 1000


def commits_per_task() -> int:
    """How many commits `task_ms` makes per task."""
    return 2


_START = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=" + sys.argv[2])
db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, state TEXT)")
for _ in range(2):
    db.execute("BEGIN IMMEDIATE"); db.execute("INSERT INTO t (state) VALUES ('done')"); db.execute("COMMIT")
"""


def start_seconds(synchronous: str = "NORMAL") -> float:
    """A fresh Python process that opens a store, runs one task's two commits and exits."""
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", _START, str(Path(tmp) / "s.db"), synchronous],
                       check=True)
        return time.perf_counter() - t


if __name__ == "__main__":
    for sync in ("NORMAL", "FULL"):
        print(f"{sync}: {task_ms(sync):.4f} ms/task, start {start_seconds(sync):.3f} s")
