"""The bench/run.py workloads on DBOS Transact. Runs in bench/.peers-venv (see bench/peers.py).

Usage: python dbos_bench.py WORKLOAD REPEAT [sqlite|sqlite-wal|postgresql://...]
Prints one JSON list (one dict per repetition) on the last line of stdout.

Each workload is expressed the DBOS way: a ``@DBOS.workflow`` calling
``@DBOS.step`` functions; fan-out starts child workflows with
``DBOS.start_workflow`` and waits on their handles (``fanout_queue``: the
same through a DBOS queue, ``queue.enqueue``, polled every 0.1 s).
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from dbos import DBOS, DBOSConfig

N_CHAIN = 100
N_FANOUT = 500
N_MANY = 1000


@DBOS.step()
def noop() -> None:
    return None


@DBOS.workflow()
def chain(n: int) -> int:
    for _ in range(n):
        noop()
    return n


@DBOS.workflow()
def leaf() -> None:
    noop()


@DBOS.workflow()
def fanout(n: int) -> int:
    noop()  # the root
    handles = [DBOS.start_workflow(leaf) for _ in range(n)]
    for h in handles:
        h.get_result()
    return n


@DBOS.workflow()
def fanout_queue(n: int) -> int:
    noop()  # the root
    queue = DBOS.retrieve_queue("fan")
    handles = [queue.enqueue(leaf) for _ in range(n)]
    for h in handles:
        h.get_result()
    return n


def _launch(backend: str, tmp: Path) -> None:
    config: DBOSConfig = {"name": "wfhost-bench", "run_admin_server": False,
                          "log_level": "WARNING"}
    if backend.startswith("postgresql://"):
        import psycopg

        admin = psycopg.connect(backend.rstrip("/") + "/postgres", autocommit=True)
        admin.execute("DROP DATABASE IF EXISTS wfhost_bench_dbos WITH (FORCE)")
        admin.execute("CREATE DATABASE wfhost_bench_dbos")
        admin.close()
        config["system_database_url"] = backend.rstrip("/") + "/wfhost_bench_dbos"
    elif backend == "sqlite-wal":
        # The same durability settings as wfhost's store: WAL, synchronous=NORMAL.
        import sqlalchemy as sa
        from sqlalchemy import event

        engine = sa.create_engine(f"sqlite:///{tmp / 'dbos.sqlite'}")

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = "IMMEDIATE"
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")
            dbapi_conn.execute("PRAGMA busy_timeout=30000")
            dbapi_conn.execute("PRAGMA foreign_keys=ON")

        config["system_database_url"] = f"sqlite:///{tmp / 'dbos.sqlite'}"
        config["system_database_engine"] = engine
    else:  # DBOS's own SQLite defaults (rollback journal, synchronous=FULL)
        config["system_database_url"] = f"sqlite:///{tmp / 'dbos.sqlite'}"
    DBOS(config=config)
    DBOS.launch()
    # For fanout_queue; polled every 0.1 s (DBOS's default is 1 s).
    DBOS.register_queue("fan", polling_interval_sec=0.1)


def one(workload: str, backend: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        _launch(backend, Path(tmp))
        try:
            t = time.perf_counter()
            if workload == "chain":
                DBOS.start_workflow(chain, N_CHAIN).get_result()
                elapsed = time.perf_counter() - t
                return {"seconds": elapsed, "ms_per_task": elapsed / N_CHAIN * 1000}
            if workload == "fanout":
                DBOS.start_workflow(fanout, N_FANOUT).get_result()
                return {"seconds": time.perf_counter() - t}
            if workload == "fanout_queue":
                DBOS.start_workflow(fanout_queue, N_FANOUT).get_result()
                return {"seconds": time.perf_counter() - t}
            if workload == "many":
                handles = [DBOS.start_workflow(chain, 3) for _ in range(N_MANY)]
                scheduled = time.perf_counter() - t
                for h in handles:
                    h.get_result()
                elapsed = time.perf_counter() - t
                return {"seconds": elapsed, "executions_per_s": N_MANY / elapsed,
                        "schedule_s": scheduled}
            raise SystemExit(f"unknown workload {workload!r}")
        finally:
            DBOS.destroy()


def main() -> None:
    logging.disable(logging.WARNING)
    workload, repeat = sys.argv[1], int(sys.argv[2])
    backend = sys.argv[3] if len(sys.argv) > 3 else "sqlite"
    runs = [one(workload, backend) for _ in range(repeat)]
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
