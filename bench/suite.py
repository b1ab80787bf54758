"""The issue-12 table in one run: the floor, wfhost at both durabilities, packaged variants, peers.

Usage::

    .venv/bin/python bench/suite.py                    # SQLite, 3 repetitions, normal + full
    .venv/bin/python bench/suite.py -n 5 --peers       # and DBOS, Luigi, Prefect (own venvs)
    .venv/bin/python bench/suite.py --db postgresql://postgres@127.0.0.1/wfhost_bench
    .venv/bin/python bench/suite.py --json

The floor (`bench/floor.py`: raw `sqlite3`, two WAL commits per task, at
``synchronous=NORMAL`` and ``FULL``) is measured first, in the same run.
Each wfhost workload then runs in a fresh process (``bench/run.py W --json``,
so its peak RSS is its own), with ``WFHOST_DURABILITY`` set. The table shows
medians, wfhost / floor at the same durability (times: how many times the
floor; throughput: the floor's rate over wfhost's), and, with ``--peers``,
wfhost / the best peer (below 1: wfhost is faster). The load average is
printed with the figures: this machine is shared.

The floor per workload, from the floor's ms per task ``f``: chain ``f`` per
task; fan-out ``f`` × tasks; a signal ``2f`` (the signal's commit and the
resumed task's two, rounded to one task's two plus one); 1,000 × 3-task
chains ``3f`` + one commit each to create; start-up and the CLI figures a fresh Python process
making two commits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import floor  # noqa: E402

# workload -> (key, unit, higher is better, target text)
WORKLOADS: dict[str, tuple[str, str, bool, str]] = {
    "chain": ("ms_per_task", "ms/task", False, "≤ 0.3 ms/task and ≤ 5× floor"),
    "chain_pkg": ("ms_per_task", "ms/task", False, "≤ 1.3× chain"),
    "fanout_sink": ("seconds", "s", False, "≤ 0.15 s"),
    "fanout_sink2000": ("seconds", "s", False, "≤ 4.5× fanout_sink"),
    "signals": ("ms_per_signal", "ms/signal", False, "≤ 1.0 ms"),
    "signal_latency": ("latency_median_ms", "ms", False, "median ≤ 1 ms, p99 ≤ 5 ms"),
    "many": ("executions_per_s", "exec/s", True, "≥ 1,000"),
    "many_alone": ("executions_per_s", "exec/s", True, "(group commit off)"),
    "many_pkg": ("executions_per_s", "exec/s", True, "≥ 1/1.3 of many"),
    "many_bulk": ("executions_per_s", "exec/s", True, "≥ 3,000"),
    "many_bulk_pkg": ("executions_per_s", "exec/s", True, "≥ 1/1.3 of many_bulk"),
    "start_exit": ("seconds", "s", False, "≤ 0.3 s"),
    "cli_version": ("seconds", "s", False, "≤ 0.1 s"),
    "cli_status": ("seconds", "s", False, "≤ 0.25 s"),
}
PEER_WORKLOAD = {"chain": "chain", "fanout_sink": "fanout_sink", "fanout_sink2000": "fanout_sink2000",
                 "many": "many", "start_exit": "start_exit"}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def floor_for(workload: str, task_ms: float, start_s: float) -> float | None:
    """The floor in the workload's own unit."""
    return {
        "chain": task_ms, "chain_pkg": task_ms,
        "fanout_sink": task_ms * 502 / 1000, "fanout_sink2000": task_ms * 2002 / 1000,
        "signals": task_ms * 2, "signal_latency": task_ms * 2,
        "many": 1000 / (3.5 * task_ms), "many_alone": 1000 / (3.5 * task_ms),
        "many_pkg": 1000 / (3.5 * task_ms),
        "many_bulk": 1000 / (3.5 * task_ms), "many_bulk_pkg": 1000 / (3.5 * task_ms),
        "start_exit": start_s, "cli_version": start_s, "cli_status": start_s,
    }.get(workload)


def run_wfhost(workload: str, repeat: int, db: str | None, durability: str) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "run.py"), workload, "-n", str(repeat), "--json"]
    if db:
        cmd += ["--db", db]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "WFHOST_DURABILITY": durability})
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    return dict(json.loads(done.stdout)[workload]["median"])


def ratio(mine: float, ref: float | None, higher_better: bool) -> float | None:
    if not ref:
        return None
    return ref / mine if higher_better else mine / ref


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", help=f"any of {list(WORKLOADS)} (default: all)")
    parser.add_argument("-n", "--repeat", type=int, default=3)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (the floor stays SQLite)")
    parser.add_argument("--durability", default="normal,full",
                        help="comma-separated: normal, full (default both)")
    parser.add_argument("--peers", action="store_true", help="also run DBOS, Luigi and Prefect")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    names = args.workloads or list(WORKLOADS)
    levels = [d for d in args.durability.split(",") if d]
    log = sys.stderr if args.json else sys.stdout
    report: dict[str, Any] = {"load_before": load(), "floor": {}, "wfhost": {}, "peers": {}}
    for level, sync in (("normal", "NORMAL"), ("full", "FULL")):
        task_ms = statistics.median(floor.task_ms(sync) for _ in range(args.repeat))
        start_s = statistics.median(floor.start_seconds(sync) for _ in range(args.repeat))
        report["floor"][level] = {"task_ms": task_ms, "start_s": start_s}
        print(f"floor {level:6s} {task_ms:.4f} ms/task, start {start_s:.3f} s   (load {load()})",
              file=log, flush=True)
    for level in levels:
        report["wfhost"][level] = {}
        for name in names:
            try:
                got = run_wfhost(name, args.repeat, args.db, level)
            except Exception as exc:  # noqa: BLE001 - reported, the rest still runs
                print(f"{name:16s} {level:6s} FAILED: {exc}", file=log, flush=True)
                continue
            got["load"] = load()
            report["wfhost"][level][name] = got
            key, unit, _hb, _t = WORKLOADS[name]
            extra = ", ".join(f"{k}={v:.4g}" for k, v in got.items() if k not in (key, "load"))
            print(f"{name:16s} {level:6s} {got[key]:.4g} {unit}  ({extra})  load {got['load']}",
                  file=log, flush=True)
    if args.peers:
        import peers

        report["peers"] = peers.run_all([PEER_WORKLOAD[n] for n in names if n in PEER_WORKLOAD],
                                        args.repeat, log)
    report["load_after"] = load()
    table = render(report, names, levels)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(table)
    return 0


def render(report: dict[str, Any], names: list[str], levels: list[str]) -> str:
    lines = ["", f"load average before {report['load_before']}, after {report.get('load_after')}", "",
             "| workload | floor NORMAL | floor FULL | wfhost normal | ×floor | wfhost full | ×FULL floor "
             "| best peer | wfhost/peer | target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    fl = report["floor"]
    for name in names:
        key, unit, hb, target = WORKLOADS[name]
        fn = floor_for(name, fl["normal"]["task_ms"], fl["normal"]["start_s"])
        ff = floor_for(name, fl["full"]["task_ms"], fl["full"]["start_s"])
        cells = [name, _fmt(fn, unit), _fmt(ff, unit)]
        for level, ref in (("normal", fn), ("full", ff)):
            got = report["wfhost"].get(level, {}).get(name)
            if got is None:
                cells += ["–", "–"]
                continue
            r = ratio(got[key], ref, hb)
            cells += [_fmt(got[key], unit), f"{r:.2g}×" if r else "–"]
        peer = best_peer(report["peers"].get(PEER_WORKLOAD.get(name, ""), {}), key, hb)
        mine = report["wfhost"].get("normal", {}).get(name)
        if peer and mine:
            r = ratio(mine[key], peer[1], hb)
            cells += [f"{peer[0]} {_fmt(peer[1], unit)}", f"{r:.2g}" if r else "–"]
        else:
            cells += ["–", "–"]
        cells.append(target)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def best_peer(entries: dict[str, Any], key: str, higher_better: bool) -> tuple[str, float] | None:
    figures = [(peer, e[key]) for peer, e in entries.items() if isinstance(e, dict) and key in e]
    if not figures:
        return None
    return (max if higher_better else min)(figures, key=lambda f: f[1])


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"


if __name__ == "__main__":
    sys.exit(main())
