"""The bench/run.py workloads on Prefect 3, without a server of our own (Prefect's
ephemeral local API on SQLite, started in-process). Runs in bench/.peers-venv.

Usage: python prefect_bench.py WORKLOAD REPEAT [MANY_COUNT]
Prints one JSON list (one dict per repetition) on the last line of stdout.

Prefect runs separate flow runs concurrently only through deployments and
workers (a server); without one, ``many`` calls the flow sequentially, so it
measures per-flow-run overhead. ``MANY_COUNT`` (default 100) keeps it short.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time

_home = tempfile.mkdtemp(prefix="prefect-bench-")
os.environ.setdefault("PREFECT_HOME", _home)
os.environ.setdefault("PREFECT_API_DATABASE_CONNECTION_URL",
                      f"sqlite+aiosqlite:///{_home}/prefect.db")
os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")

from prefect import flow, task  # noqa: E402
from prefect.futures import wait  # noqa: E402

N_CHAIN = 100
N_FANOUT = 500


@task
def noop() -> None:
    return None


@flow
def chain(n: int) -> int:
    for _ in range(n):
        noop()
    return n


@flow
def fanout(n: int) -> int:
    noop()  # the root
    wait([noop.submit() for _ in range(n)])
    return n


def one(workload: str, many: int) -> dict[str, float]:
    t = time.perf_counter()
    if workload == "chain":
        chain(N_CHAIN)
        elapsed = time.perf_counter() - t
        return {"seconds": elapsed, "ms_per_task": elapsed / N_CHAIN * 1000}
    if workload == "fanout":
        fanout(N_FANOUT)
        return {"seconds": time.perf_counter() - t}
    if workload == "many":
        for _ in range(many):
            chain(3)
        elapsed = time.perf_counter() - t
        return {"seconds": elapsed, "executions_per_s": many / elapsed, "executions": many}
    raise SystemExit(f"unknown workload {workload!r}")


def main() -> None:
    logging.disable(logging.WARNING)
    workload, repeat = sys.argv[1], int(sys.argv[2])
    many = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    t = time.perf_counter()
    chain(1)  # starts the ephemeral API server; not timed
    warmup = time.perf_counter() - t
    runs = [one(workload, many) for _ in range(repeat)]
    for r in runs:
        r["server_start_s"] = warmup
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
