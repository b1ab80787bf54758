"""The scheduler's work per task, counted (never timed): it must not grow with the shape of the DAG.

Each test counts what the scheduler thread sends to the database (statements,
and the values bound to them, which is what an ``IN (...)`` list over N tasks
grows) through a SQLAlchemy ``before_cursor_execute`` listener.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event

from wfhost import Host
from wfpkg import Context, Workflow


def noop(ctx: Context) -> None:
    return None


def fan_in(n: int) -> Workflow:
    """A root, ``n`` tasks after it, and one sink depending on all ``n``."""
    wf = Workflow(f"fan_in_{n}")
    wf.add_task(noop, id="root")
    for i in range(n):
        wf.add_task(noop, id=f"leaf{i}", depends_on=["root"])
    wf.add_task(noop, id="sink", depends_on=[f"leaf{i}" for i in range(n)])
    return wf


@dataclass
class Work:
    statements: int = 0
    values: int = 0  # bound parameter values, summed over every row of an executemany


def _values(parameters: Any, executemany: bool) -> int:
    if executemany:
        return sum(_values(p, False) for p in parameters)
    return len(parameters) if isinstance(parameters, (dict, Sequence)) else 0


@contextmanager
def scheduler_work(host: Host) -> Iterator[Work]:
    """Count what the scheduler thread executes while the block runs."""
    work = Work()

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
             executemany: bool) -> None:
        if threading.current_thread().name == "wfhost-scheduler":
            work.statements += 1
            work.values += _values(parameters, executemany)

    event.listen(host.engine, "before_cursor_execute", seen)
    try:
        yield work
    finally:
        event.remove(host.engine, "before_cursor_execute", seen)


def _per_task(tmp_path: Path, db_url: str, n: int) -> tuple[float, float]:
    # One attempt at a time: one outcome per turn, so the per-turn work is the same at every size.
    with Host(home=tmp_path / f"home{n}", database_url=db_url, max_concurrency=1) as host:
        host.add_workflow(fan_in(n))
        with scheduler_work(host) as work:
            eid = host.client.schedule(f"local::fan_in_{n}", {})
            assert host.wait(eid, timeout=120)["status"] == "succeeded"
        tasks = n + 2
        return work.statements / tasks, work.values / tasks


def test_work_per_finished_task_does_not_grow_with_fan_in(tmp_path: Path, db_url: str) -> None:
    small_statements, small_values = _per_task(tmp_path, db_url, 25)
    big_statements, big_values = _per_task(tmp_path, db_url, 400)
    # Reading all N dependency states per finished task would make the values bound per
    # task grow 16x from 25 to 400; counting dependencies down keeps both flat.
    assert big_statements <= small_statements * 1.25, (small_statements, big_statements)
    assert big_values <= small_values * 1.25, (small_values, big_values)


def test_schedule_reads_a_package_manifest_once_per_version(tmp_path: Path, monkeypatch: Any) -> None:
    from support.hosting import packaged_host

    from wfpkg.manifest import Manifest

    parsed: list[int] = []
    original = Manifest.from_bytes.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Manifest], data: bytes) -> Manifest:
        parsed.append(len(data))
        return original(cls, data)  # type: ignore[no-any-return]

    with packaged_host(tmp_path, ["data_processing"]) as host:
        first = host.client.schedule("data_processing::data_processing", {"source": "s3://b"})
        monkeypatch.setattr(Manifest, "from_bytes", classmethod(counting))
        ids = [host.client.schedule("data_processing::data_processing", {"source": f"s3://{i}"})
               for i in range(20)]
        ids += host.client.schedule_many("data_processing::data_processing",
                                         [{"source": "s3://many"}] * 5)
        assert parsed == [], "schedule parsed the manifest of a version it had already read"
        for eid in [first, *ids]:
            assert host.wait(eid, timeout=60)["status"] == "succeeded"


def chain(n: int) -> Workflow:
    wf = Workflow(f"chain_{n}")
    for i in range(n):
        wf.add_task(noop, id=f"t{i}", depends_on=[f"t{i - 1}"] if i else [])
    return wf


def _sqlite_steps_per_task(tmp_path: Path, n: int) -> float:
    """SQLite virtual-machine steps the scheduler thread costs per task of an n-task chain.

    Statements can stay flat while each scans more rows; SQLite's progress
    handler counts the rows' work too (a call every 100 VM instructions).
    """
    steps = [0]

    def count() -> int:
        if threading.current_thread().name == "wfhost-scheduler":
            steps[0] += 1
        return 0

    def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.set_progress_handler(count, 100)

    host = Host(home=tmp_path / f"chain{n}", max_concurrency=1)
    event.listen(host.engine.pool, "checkout", checkout)
    with host:
        host.add_workflow(chain(n))
        eid = host.client.schedule(f"local::chain_{n}", {})
        assert host.wait(eid, timeout=120)["status"] == "succeeded"
    return steps[0] / n


def test_sqlite_work_per_task_does_not_grow_with_chain_length(tmp_path: Path) -> None:
    short, long = _sqlite_steps_per_task(tmp_path, 20), _sqlite_steps_per_task(tmp_path, 400)
    # Counting an execution's tasks by state at every turn read all n rows per finished
    # task (a chain of n cost O(n^2)); deciding by index seeks keeps the work flat.
    assert long <= short * 1.3, (short, long)
