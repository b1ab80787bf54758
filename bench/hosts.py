"""Several hosts on one PostgreSQL: tasks/s with 1, 2 and 3 host processes. Not a test.

Usage::

    .venv/bin/python bench/hosts.py                      # many3 and fanout10k, 1 2 3 hosts, 3 runs
    .venv/bin/python bench/hosts.py fanout10k --hosts 1 3 -n 1
    .venv/bin/python bench/hosts.py --admin-url postgresql://postgres@127.0.0.1:5432/postgres

Each run creates a fresh database, starts N host processes (plain-Python
no-op tasks, so what is measured is the scheduler and the database, not task
code or worker IPC), releases them together, and times from the release
until every execution has finished. ``many3`` is 1,000 executions of a
3-task chain; ``fanout10k`` is one execution of a root and 10,000 parallel
tasks. Figures go to docs/benchmarks.md and docs/scaling.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

WORKLOADS = {"many3": (1000, 3), "fanout10k": (1, 10_001)}  # executions, tasks per execution


def _workflow(name: str):  # type: ignore[no-untyped-def]
    from wfpkg import Context, Workflow

    def noop(ctx: Context) -> None:
        return None

    wf = Workflow(name)
    if name == "many3":
        wf.add_task(noop, id="a")
        wf.add_task(noop, id="b", depends_on=["a"])
        wf.add_task(noop, id="c", depends_on=["b"])
    else:
        wf.add_task(noop, id="root")
        for i in range(WORKLOADS[name][1] - 1):
            wf.add_task(noop, id=f"leaf{i}", depends_on=["root"])
    return wf


def serve(url: str, workload: str, home: str, go: str) -> None:
    """One host process: schedule the workload's executions (idempotent ids), run until told to stop."""
    import threading

    from wfhost import Host

    host = Host(home=Path(home), database_url=url, max_concurrency=64)
    host.add_workflow(_workflow(workload))
    runs = WORKLOADS[workload][0]
    host.client.schedule_many(f"local::{workload}", [{}] * runs, ids=[f"b-{k}" for k in range(runs)])
    (Path(home) / "ready").touch()
    while not Path(go).exists():
        time.sleep(0.005)
    host.start()
    stop = threading.Event()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    host.close()


def run_once(admin: str, workload: str, hosts: int) -> float:
    """Seconds from release to the last execution finished, with ``hosts`` host processes."""
    import psycopg

    name = f"wfhost_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    tmp = Path(tempfile.mkdtemp(prefix="wfhost-bench-hosts-"))
    go = tmp / "go"
    procs = []
    try:
        from wfhost.store import migrate, open_engine

        engine = open_engine(url)
        migrate(engine)
        homes = [tmp / f"h{i}" for i in range(hosts)]
        for home in homes:
            home.mkdir()
            procs.append(subprocess.Popen([sys.executable, __file__, "--serve", url, workload,
                                           str(home), str(go)]))
            # Start hosts one after another: each schedules the same ids (the first wins).
            while not (home / "ready").exists():
                if procs[-1].poll() is not None:
                    raise SystemExit(f"host {home} exited early")
                time.sleep(0.01)
        from sqlalchemy import text

        pending = text("SELECT count(*) FROM executions WHERE status IN ('pending','running','waiting')")
        start = time.perf_counter()
        go.touch()
        while True:
            with engine.connect() as conn:
                if conn.execute(pending).scalar() == 0:
                    break
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        engine.dispose()
        return elapsed
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Command line (see the module docstring)."""
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", help=f"any of {', '.join(WORKLOADS)} (default: all)")
    parser.add_argument("--hosts", nargs="*", type=int, default=[1, 2, 3])
    parser.add_argument("-n", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--admin-url", default=os.environ.get(
        "WFHOST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(sorted(unknown))}")
    args.workloads = args.workloads or list(WORKLOADS)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for workload in args.workloads:
        executions, tasks = WORKLOADS[workload]
        for n in args.hosts:
            times = [run_once(args.admin_url, workload, n) for _ in range(args.n)]
            med = statistics.median(times)
            print(f"{workload:10s} hosts={n}  median {med:6.2f} s  {executions * tasks / med:8.0f} tasks/s  "
                  f"(runs: {' '.join(f'{t:.2f}' for t in times)}; load {os.getloadavg()[0]:.2f})", flush=True)


if __name__ == "__main__":
    main()
