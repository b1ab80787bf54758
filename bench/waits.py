"""Benchmarks of durable waits: waiters at rest, signal latency, child fan-out, signal streams.

Not tests: run by hand, figures go to docs/benchmarks.md.

Usage::

    .venv/bin/python bench/waits.py                      # every workload, 5 repetitions, medians
    .venv/bin/python bench/waits.py waiters latency -n 3
    .venv/bin/python bench/waits.py stream --json

Workloads (plain-Python workflows on a `Host` in a temp home, SQLite WAL
with synchronous=NORMAL unless ``--db`` is given):

- ``waiters``: 1000 executions each parked on ``ctx.wait_for_signal("go")``.
  Process RSS (VmRSS) and thread count before scheduling, once all 1000
  task runs are ``waiting`` in the store, and after signalling all of them
  and their completion; time to get all into ``waiting``, time to drain.
- ``latency``: one execution loops ``wait_for_signal("ping")`` then
  ``ctx.step(..., time.time)``; 200 signals are sent one at a time, each only
  once the task is ``waiting`` again (so every signal resumes a suspended
  task). Latency = time the step body ran − time just before
  ``client.signal``. Median, p99, and medians of the first and last 20.
- ``children``: a parent starts 100 children (one no-op task each) and
  gathers them; wall time from schedule to the parent's end.
- ``stream``: 10,000 ``webhook_event`` signals to one consumer that calls
  ``continue_as_new`` every 100 events carrying a running count. The client
  sends bursts of 100 and waits until the consumer has consumed the burst
  (polling the signals table) before the next. Seconds per signal for each
  window of 1000, and throughput.
- ``stream_nocan``: the same consumer without ``continue_as_new``, 2000
  signals sent one at a time (each after the previous one was consumed, so
  the consumer suspends after every event), windows of 200: each resume
  replays the whole journal, so the per-signal cost grows with it.
- ``stream_can1``: the control for ``stream_nocan``: the same one-at-a-time
  sending, with ``continue_as_new`` every 100.
- ``stream_buffered``: all 10,000 signals sent before the host starts; the
  consumer (continue-as-new every 100) never suspends. Pure consume rate.
"""

from __future__ import annotations

import gc
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from wfhost import Host
from wfpkg import Context, Workflow

sys.path.insert(0, str(Path(__file__).parent))
import run  # noqa: E402
from run import _finish_counter, _host  # noqa: E402


def rss_kib() -> int:
    """This process's resident set size in KiB (``VmRSS``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _scalar(host: Host, sql: str, **params: Any) -> Any:
    with host.engine.execution_options(wfhost_read=True).connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _poll(cond: Callable[[], bool], timeout: float, interval: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(interval)


# -- waiters ---------------------------------------------------------------------------------

def bench_waiters(db: str | None, n: int = 1000) -> dict[str, float]:
    """n executions parked on a signal at once: memory and threads per waiter."""
    wf = Workflow("parked")

    @wf.task()
    def park(ctx: Context) -> None:
        ctx["got"] = ctx.wait_for_signal("go")

    host, tmp = _host(db, [wf])
    with tmp, host:
        done = _finish_counter(host, n)
        gc.collect()
        rss0, threads0 = rss_kib(), threading.active_count()
        t = time.perf_counter()
        ids = host.client.schedule_many("local::parked", [{}] * n,
                                        ids=[f"w{i}" for i in range(n)])
        _poll(lambda: _scalar(host, "SELECT COUNT(*) FROM task_runs WHERE state='waiting'") >= n,
              300, 0.01)
        to_waiting = time.perf_counter() - t
        gc.collect()
        rss1, threads1 = rss_kib(), threading.active_count()
        waiting_execs = _scalar(host, "SELECT COUNT(*) FROM executions WHERE status='waiting'")
        t = time.perf_counter()
        for eid in ids:
            host.client.signal(eid, "go", 1)
        signalled = time.perf_counter() - t
        if not done.wait(600):
            raise TimeoutError("waiters did not finish")
        drain = time.perf_counter() - t
        gc.collect()
        rss2, threads2 = rss_kib(), threading.active_count()
    return {
        "to_waiting_s": to_waiting, "waiting_executions": waiting_execs,
        "rss_before_mib": rss0 / 1024, "rss_waiting_mib": rss1 / 1024, "rss_after_mib": rss2 / 1024,
        "kib_per_waiter": (rss1 - rss0) / n,
        "threads_before": threads0, "threads_waiting": threads1, "threads_after": threads2,
        "signal_all_s": signalled, "drain_s": drain, "drain_per_s": n / drain,
    }


# -- latency ---------------------------------------------------------------------------------

def bench_latency(db: str | None, pings: int = 200) -> dict[str, float]:
    """Signal → resume latency of a suspended task, one signal at a time."""
    resumed: queue.Queue[float] = queue.Queue()

    def mark() -> float:
        t = time.time()
        resumed.put(t)
        return t

    wf = Workflow("pinged")

    @wf.task()
    def loop(ctx: Context) -> None:
        for i in range(ctx["pings"]):
            ctx.wait_for_signal("ping")
            ctx.step(f"resumed{i}", mark)

    host, tmp = _host(db, [wf])
    with tmp, host:
        done = _finish_counter(host, 1)
        eid = host.client.schedule("local::pinged", {"pings": pings}, id="pinged")
        uid = _scalar(host, "SELECT uid FROM executions WHERE id='pinged'")
        state = "SELECT state FROM task_runs WHERE execution_uid=:u"
        lat = []
        for i in range(pings):
            _poll(lambda: _scalar(host, state, u=uid) == "waiting", 30, 0.0005)
            t0 = time.time()
            host.client.signal(eid, "ping", i)
            lat.append(resumed.get(timeout=30) - t0)
        done.wait(60)
    ms = sorted(x * 1000 for x in lat)
    return {"median_ms": statistics.median(ms), "p99_ms": ms[int(0.99 * (len(ms) - 1))],
            "min_ms": ms[0], "max_ms": ms[-1],
            "first20_median_ms": statistics.median(x * 1000 for x in lat[:20]),
            "last20_median_ms": statistics.median(x * 1000 for x in lat[-20:])}


# -- children --------------------------------------------------------------------------------

def bench_children(db: str | None, n: int = 100) -> dict[str, float]:
    """A parent starts n children and gathers them."""
    kid = Workflow("kid")
    kid.add_task(lambda ctx: None, id="work")
    parent = Workflow("parent")

    @parent.task()
    def fan(ctx: Context) -> None:
        handles = [ctx.start_child("kid", {"i": i}, id=f"{ctx.execution_id}.k{i}")
                   for i in range(ctx["n"])]
        ctx["ok"] = sum(r.ok for r in ctx.gather(handles))

    host, tmp = _host(db, [kid, parent])
    with tmp, host:
        done = _finish_counter(host, n + 1)
        t = time.perf_counter()
        eid = host.client.schedule("local::parent", {"n": n}, id="parent")
        if not done.wait(300):
            raise TimeoutError("children did not finish")
        elapsed = time.perf_counter() - t
        st = host.client.status(eid)
        assert st["status"] == "succeeded" and st["output"]["ok"] == n, st
    return {"seconds": elapsed, "ms_per_child": elapsed / n * 1000}


# -- streams ---------------------------------------------------------------------------------

def consumer_workflow() -> Workflow:
    wf = Workflow("consumer")

    @wf.task()
    def consume(ctx: Context) -> None:
        count = ctx.get("count", 0)
        per_run = ctx.get("events_per_run")  # None: never continue-as-new
        i = 0
        while per_run is None or i < per_run:
            got = ctx.wait_any(ctx.signal("webhook_event"), ctx.signal("terminate"))
            if got.index == 1:
                ctx["count"] = count
                return
            count += 1
            i += 1
        ctx.continue_as_new({"count": count, "events_per_run": per_run})

    return wf


def _stream(db: str | None, total: int, per_run: int | None, window: int,
            burst: int = 100) -> dict[str, Any]:
    host, tmp = _host(db, [consumer_workflow()])
    with tmp, host:
        done = _finish_counter(host, 1)
        eid = host.client.schedule("local::consumer", {"events_per_run": per_run}, id="consumer")
        uid = _scalar(host, "SELECT uid FROM executions WHERE id='consumer'")
        consumed = ("SELECT COUNT(*) FROM signals WHERE execution_uid=:u "
                    "AND name='webhook_event' AND consumed")
        marks = []
        t = time.perf_counter()
        for sent in range(0, total, burst):
            for k in range(sent, min(sent + burst, total)):
                host.client.signal(eid, "webhook_event", {"n": k})
            target = min(sent + burst, total)
            _poll(lambda target=target: _scalar(host, consumed, u=uid) >= target, 120, 0.001)
            if target % window == 0:
                marks.append(time.perf_counter())
        elapsed = time.perf_counter() - t
        host.client.signal(eid, "terminate")
        done.wait(60)
        st = host.client.status(eid)
        assert st["status"] == "succeeded" and st["output"]["count"] == total, st
    edges = [t, *marks]
    per_signal_ms = [(b - a) / window * 1000 for a, b in zip(edges, edges[1:], strict=False)]
    return {"seconds": elapsed, "signals_per_s": total / elapsed, "run": st["run"],
            "window_ms_per_signal": per_signal_ms}


def bench_stream(db: str | None) -> dict[str, Any]:
    """10,000 signals, continue-as-new every 100, bursts of 100."""
    return _stream(db, 10_000, 100, 1000)


def bench_stream_nocan(db: str | None) -> dict[str, Any]:
    """2,000 signals one at a time, no continue-as-new: the journal (and every replay) grows."""
    return _stream(db, 2_000, None, 200, burst=1)


def bench_stream_can1(db: str | None) -> dict[str, Any]:
    """As `bench_stream_nocan` but with continue-as-new every 100: the control."""
    return _stream(db, 2_000, 100, 200, burst=1)


def bench_stream_buffered(db: str | None, total: int = 10_000) -> dict[str, Any]:
    """All signals buffered before the host starts; the consumer never suspends."""
    host, tmp = _host(db, [consumer_workflow()])
    with tmp:
        eid = host.client.schedule("local::consumer", {"events_per_run": 100}, id="consumer")
        t = time.perf_counter()
        for k in range(total):
            host.client.signal(eid, "webhook_event", {"n": k})
        host.client.signal(eid, "terminate")
        send = time.perf_counter() - t
        with host:
            done = _finish_counter(host, 1)
            t = time.perf_counter()
            done.wait(600)
            elapsed = time.perf_counter() - t
            st = host.client.status(eid)
            assert st["status"] == "succeeded" and st["output"]["count"] == total, st
    return {"send_s": send, "seconds": elapsed, "signals_per_s": total / elapsed,
            "ms_per_signal": elapsed / total * 1000}


WORKLOADS: dict[str, Callable[[str | None], dict[str, Any]]] = {
    "waiters": bench_waiters,
    "latency": bench_latency,
    "children": bench_children,
    "stream": bench_stream,
    "stream_nocan": bench_stream_nocan,
    "stream_can1": bench_stream_can1,
    "stream_buffered": bench_stream_buffered,
}


def main(argv: list[str] | None = None) -> int:
    return run.cli(WORKLOADS, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
