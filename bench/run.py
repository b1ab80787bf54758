"""Benchmarks of the scheduler and the store. Not tests: run by hand, figures go to docs/benchmarks.md.

Usage::

    .venv/bin/python bench/run.py                 # every workload, 5 repetitions, medians
    .venv/bin/python bench/run.py chain fanout -n 3
    .venv/bin/python bench/run.py --db postgresql://postgres@127.0.0.1/bench

Each workload runs on a fresh host home (SQLite by default, WAL with
synchronous=NORMAL) with plain-Python no-op tasks, so what is measured is
the scheduler and the store, not task code or worker IPC.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wfhost import Host
from wfpkg import Context, Workflow


def noop(ctx: Context) -> None:
    return None


def chain(n: int) -> Workflow:
    wf = Workflow(f"chain{n}")
    prev = None
    for i in range(n):
        wf.add_task(noop, id=f"t{i}", depends_on=[prev] if prev else [])
        prev = f"t{i}"
    return wf


def fanout(n: int) -> Workflow:
    wf = Workflow(f"fanout{n}")
    wf.add_task(noop, id="root")
    for i in range(n):
        wf.add_task(noop, id=f"leaf{i}", depends_on=["root"])
    return wf


def _host(db: str | None, workflows: list[Workflow]) -> tuple[Host, tempfile.TemporaryDirectory]:
    tmp = tempfile.TemporaryDirectory()
    url = db if db else None
    if db:
        from sqlalchemy import create_engine, text

        eng = create_engine(db.replace("postgresql://", "postgresql+psycopg://"))
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
    host = Host(home=Path(tmp.name), database_url=url)
    for wf in workflows:
        host.add_workflow(wf)
    return host, tmp


def _finish_counter(host: Host, expected: int) -> threading.Event:
    done = threading.Event()
    count = [0]

    def seen(_uid: str, _status: str) -> None:
        count[0] += 1
        if count[0] >= expected:
            done.set()

    host.scheduler.add_finished_listener(seen)
    return done


def _warm(host: Host) -> None:
    """Run one one-task execution: the host's start-up (its first scan of the store, its first
    connection, its statements' first compilation) is not per-task cost."""
    wf = Workflow("warm_up")
    wf.add_task(noop, id="t")
    host.add_workflow(wf)
    host.wait(host.client.schedule("local::warm_up", {}), timeout=120)


def _run_once(db: str | None, wf: Workflow) -> float:
    """Seconds from scheduling one execution of ``wf`` to its end, on a warmed-up host."""
    host, tmp = _host(db, [wf])
    with tmp, host:
        _warm(host)
        done = _finish_counter(host, 1)
        t = time.perf_counter()
        host.client.schedule(f"local::{wf.name}", {})
        done.wait(300)
        return time.perf_counter() - t


def bench_chain(db: str | None, n: int = 100) -> dict[str, float]:
    """One execution of an n-task chain: seconds per task."""
    elapsed = _run_once(db, chain(n))
    return {"seconds": elapsed, "ms_per_task": elapsed / n * 1000}


def bench_fanout(db: str | None, n: int = 500) -> dict[str, float]:
    """One execution: a root then n parallel no-op tasks."""
    return {"seconds": _run_once(db, fanout(n))}


def bench_many(db: str | None, executions: int = 1000, bulk: bool = False,
               grouped: bool = True) -> dict[str, float]:
    """Many executions of a 3-task chain: executions per second.

    One `schedule` call per execution (each written in the scheduler's next
    turn: group commit), or with ``bulk`` one `schedule_many` call (one
    transaction); ``grouped=False`` turns group commit off (each `schedule`
    commits on its own, racing the scheduler for the write lock).
    """
    wf = chain(3)
    host, tmp = _host(db, [wf])
    host.scheduler.writes.enabled = grouped
    with tmp, host:
        done = _finish_counter(host, executions)
        t = time.perf_counter()
        if bulk:
            host.client.schedule_many(f"local::{wf.name}", [{}] * executions)
        else:
            for _ in range(executions):
                host.client.schedule(f"local::{wf.name}", {})
        scheduled = time.perf_counter() - t
        done.wait(600)
        elapsed = time.perf_counter() - t
    return {"seconds": elapsed, "executions_per_s": executions / elapsed,
            "schedule_s": scheduled}


def bench_many_alone(db: str | None) -> dict[str, float]:
    """As `bench_many`, with group commit off: what it saves."""
    return bench_many(db, grouped=False)


def bench_many_bulk(db: str | None) -> dict[str, float]:
    """As `bench_many`, submitted with one `schedule_many` call."""
    return bench_many(db, bulk=True)


def bench_start(db: str | None) -> dict[str, float]:
    """Host construction (migrations included) and start, until the first task body runs."""
    first = threading.Event()
    wf = Workflow("first")
    wf.add_task(lambda ctx: first.set(), id="t")
    tmp = tempfile.TemporaryDirectory()
    with tmp:
        # The execution is waiting in the store before the host starts, as after a deploy.
        pre = Host(home=Path(tmp.name), database_url=db)
        pre.add_workflow(wf)
        pre.client.schedule("local::first", {})
        pre.close()
        t = time.perf_counter()
        host = Host(home=Path(tmp.name), database_url=db)
        host.add_workflow(wf)
        host.start()
        first.wait(60)
        elapsed = time.perf_counter() - t
        host.close()
    return {"seconds": elapsed}


def fanout_sink(n: int) -> Workflow:
    """A root, n parallel tasks, and a sink that depends on all n."""
    wf = Workflow(f"fanout_sink{n}")
    wf.add_task(noop, id="root")
    for i in range(n):
        wf.add_task(noop, id=f"leaf{i}", depends_on=["root"])
    wf.add_task(noop, id="sink", depends_on=[f"leaf{i}" for i in range(n)])
    return wf


def bench_fanout_sink(db: str | None, n: int = 500) -> dict[str, float]:
    """One execution: a root, n parallel no-op tasks, and a sink depending on all n."""
    elapsed = _run_once(db, fanout_sink(n))
    return {"seconds": elapsed, "ms_per_task": elapsed / (n + 2) * 1000}


def bench_fanout_sink2000(db: str | None) -> dict[str, float]:
    """As `bench_fanout_sink` with 2,000."""
    return bench_fanout_sink(db, 2000)


def _parked(name: str, on_resume: Callable[[int], object]) -> Workflow:
    """One task that waits for signal ``go``, then calls ``on_resume(input["i"])``."""
    wf = Workflow(name)

    @wf.task()
    def park(ctx: Context) -> None:
        ctx.wait_for_signal("go")
        on_resume(ctx["i"])

    return wf


def _until_waiting(host: Host, n: int) -> None:
    """Return once n tasks are suspended on their waits (set-up, not measured)."""
    from sqlalchemy import text

    while True:
        with host.engine.connect() as conn:
            if conn.execute(text("SELECT COUNT(*) FROM task_runs WHERE state='waiting'")).scalar() >= n:
                return
        time.sleep(0.01)


def bench_signals(db: str | None, n: int = 200) -> dict[str, float]:
    """n executions parked on a signal; one signal each, sent back to back.

    ``ms_per_signal`` is the time from the first `signal` call until all n
    have finished, per signal; latency is from just before each `signal` call
    to the resumed task's step running.
    """
    resumed: dict[int, float] = {}
    host, tmp = _host(db, [_parked("parked", lambda i: resumed.setdefault(i, time.perf_counter()))])
    with tmp, host:
        done = _finish_counter(host, n)
        ids = host.client.schedule_many("local::parked", [{"i": i} for i in range(n)])
        _until_waiting(host, n)
        sent: dict[int, float] = {}
        t = time.perf_counter()
        for i, eid in enumerate(ids):
            sent[i] = time.perf_counter()
            host.client.signal(eid, "go", 1)
        if not done.wait(300):
            raise TimeoutError("signalled executions did not finish")
        elapsed = time.perf_counter() - t
    lat = sorted((resumed[i] - sent[i]) * 1000 for i in range(n))
    return {"ms_per_signal": elapsed / n * 1000, "latency_median_ms": statistics.median(lat),
            "latency_p99_ms": lat[int(0.99 * (n - 1))]}


def bench_signal_latency(db: str | None, n: int = 200) -> dict[str, float]:
    """n executions parked on a signal; signalled one at a time, each after the last resumed.

    Latency from just before the `signal` call to the resumed task running on,
    with nothing else in flight: what one signal costs end to end (`signals`
    sends them back to back, where latency is mostly queueing behind the others).
    """
    resumed: dict[int, threading.Event] = {i: threading.Event() for i in range(n)}
    at: dict[int, float] = {}

    def mark(i: int) -> None:
        at.setdefault(i, time.perf_counter())
        resumed[i].set()

    host, tmp = _host(db, [_parked("parked_one", mark)])
    with tmp, host:
        ids = host.client.schedule_many("local::parked_one", [{"i": i} for i in range(n)])
        _until_waiting(host, n)
        lat = []
        for i, eid in enumerate(ids):
            t = time.perf_counter()
            host.client.signal(eid, "go", 1)
            if not resumed[i].wait(30):
                raise TimeoutError(f"execution {eid} did not resume")
            lat.append((at[i] - t) * 1000)
    lat.sort()
    return {"latency_median_ms": statistics.median(lat), "latency_p99_ms": lat[int(0.99 * (n - 1))]}


_START_EXIT = """
import sys, time
t = time.perf_counter()
from wfhost import Host
from wfpkg import Workflow
wf = Workflow("one")
wf.add_task(lambda ctx: None, id="t")
with Host(home=sys.argv[1], database_url=sys.argv[2] or None) as host:
    host.add_workflow(wf)
    assert host.wait(host.client.schedule("local::one", {}), timeout=60)["status"] == "succeeded"
"""


def bench_start_exit(db: str | None) -> dict[str, float]:
    """A fresh process: start a host on a fresh store, run one one-task workflow, exit."""
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        if db:
            _host(db, [])[0].close()  # a clean database, as a fresh home is
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", _START_EXIT, tmp, db or ""], check=True)
        return {"seconds": time.perf_counter() - t}


def _wfhost(*args: str) -> float:
    """Seconds one ``wfhost ARGS`` command takes in a fresh process (exit included)."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("WFHOST_")}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "wfhost", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def bench_cli_version(db: str | None) -> dict[str, float]:
    """``wfhost --version`` in a fresh process."""
    return {"seconds": _wfhost("--version")}


def bench_cli_status(db: str | None) -> dict[str, float]:
    """``wfhost status ID`` in a fresh process, on a store holding one finished execution."""
    wf = Workflow("one")
    wf.add_task(noop, id="t")
    host, tmp = _host(db, [wf])
    with tmp:
        with host:
            assert host.wait(host.client.schedule("local::one", {}, id="first"), timeout=60).finished
        return {"seconds": _wfhost("--home", tmp.name, *(["--db", db] if db else []), "status", "first")}


WORKLOADS: dict[str, Callable[[str | None], dict[str, float]]] = {
    "chain": bench_chain,
    "fanout": bench_fanout,
    "fanout_sink": bench_fanout_sink,
    "fanout_sink2000": bench_fanout_sink2000,
    "signals": bench_signals,
    "signal_latency": bench_signal_latency,
    "many": bench_many,
    "many_alone": bench_many_alone,
    "many_bulk": bench_many_bulk,
    "start": bench_start,
    "start_exit": bench_start_exit,
    "cli_version": bench_cli_version,
    "cli_status": bench_cli_status,
}


def _median(values: list[Any]) -> Any:
    if isinstance(values[0], list):  # a series per run (e.g. per-window figures): median per point
        return [statistics.median(col) for col in zip(*values, strict=True)]
    return statistics.median(values)


def _show(v: Any) -> str:
    if isinstance(v, list):
        return "[" + " ".join(f"{x:.3g}" for x in v) + "]"
    return f"{v:.4g}"


def cli(workloads: dict[str, Callable[[str | None], dict[str, Any]]], description: str | None,
        argv: list[str] | None = None) -> int:
    """Run the named workloads ``-n`` times each and print medians (shared by the bench scripts)."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", help=f"any of {sorted(workloads)} (default: all)")
    parser.add_argument("-n", "--repeat", type=int, default=5)
    parser.add_argument("--db", default=None, help="a database URL (default: SQLite in a temp home)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    unknown = set(args.workloads) - set(workloads)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose from {sorted(workloads)}")
    report = {}
    for name in args.workloads or list(workloads):
        runs = [workloads[name](args.db) for _ in range(args.repeat)]
        for r in runs:  # this process's peak so far (run a workload alone for its own peak)
            r["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        medians = {k: _median([r[k] for r in runs]) for k in runs[0]}
        report[name] = {"median": medians, "runs": runs}
        if not args.json:
            shown = ", ".join(f"{k}={_show(v)}" for k, v in medians.items())
            print(f"{name:15s} median of {args.repeat}: {shown}", flush=True)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import packaged  # bench/packaged.py: the same workloads with tasks in a worker process

    return cli({**WORKLOADS, **packaged.WORKLOADS}, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
