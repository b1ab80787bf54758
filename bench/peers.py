"""The bench/run.py workloads on wfhost and on peers, in one run, as ratios.

Usage::

    .venv/bin/python bench/peers.py                        # chain fanout many, 3 repetitions
    .venv/bin/python bench/peers.py chain -n 5 --peers dbos
    .venv/bin/python bench/peers.py --json

Peers run in their own virtualenv, ``bench/.peers-venv``, created here on
first use (``python -m venv`` then ``pip install`` of the pinned versions
below); each peer workload runs in a subprocess of that venv
(``bench/peers/*_bench.py``) and prints its figures as JSON. wfhost runs
in this process with `bench/run.py`'s functions, right before the peers, so
each ratio comes from one run on one (noisy) machine.

Peers and configurations:

- ``dbos``: DBOS Transact on its default SQLite system database (rollback
  journal, synchronous=FULL: an fsync per commit);
- ``dbos-wal``: the same with the store settings wfhost uses (WAL,
  synchronous=NORMAL), through ``system_database_engine``;
- ``dbos-pg``: DBOS on PostgreSQL (``--pg``, default the local server; a
  fresh database ``wfhost_bench_dbos`` is created). Skipped with a message
  if the server is not reachable;
- ``prefect``: Prefect 3 with its ephemeral in-process API (SQLite); no
  server of ours. Without a server Prefect runs separate flow runs only
  one after another, so ``many`` is 100 sequential flow runs (figures are
  per second all the same).

Workloads: ``chain`` (100 no-op steps in one workflow), ``fanout`` (a root,
then 500 children in parallel: child workflows for DBOS, started with
``DBOS.start_workflow`` and, as ``dbos*+queue``, enqueued on a DBOS queue
polled every 0.1 s; ``task.submit`` for Prefect), ``many`` (1000 executions of a 3-step chain, all started up
front). A peer that cannot be installed or fails is reported as such and
the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENV = HERE / ".peers-venv"
PY = VENV / "bin" / "python"
# Prefect 3.8.8 still passes ``min_items`` to fastapi's Body(), which newer fastapi
# refused (TypeError at import of its server); 3.9.x needed a certifi newer than the
# index had when this was written.
REQUIREMENTS = ["dbos==3.4.0", "prefect==3.8.8", "fastapi>=0.139,<0.141", "starlette>=1.0.1"]
WORKLOADS = ["chain", "fanout", "many"]
PEERS = ["dbos", "dbos-wal", "dbos-pg", "prefect"]
KEY = {"chain": "ms_per_task", "fanout": "seconds", "many": "executions_per_s"}
HIGHER_IS_BETTER = {"many"}
TIMEOUT = 1800


def ensure_venv(log: Any) -> str | None:
    """Create the peers' venv if needed; returns an error message or None."""
    stamp = VENV / ".requirements"
    if PY.exists() and stamp.exists() and stamp.read_text() == "\n".join(REQUIREMENTS):
        return None
    print(f"creating {VENV} and installing {' '.join(REQUIREMENTS)} ...", file=log, flush=True)
    if not PY.exists():
        if VENV.exists():
            shutil.rmtree(VENV)
        made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True,
                              text=True)
        if made.returncode:
            return f"python -m venv failed: {made.stderr.strip()[-400:]}"
    got = subprocess.run([str(PY), "-m", "pip", "install", "-q", *REQUIREMENTS],
                         capture_output=True, text=True)
    if got.returncode:
        return f"pip install failed: {got.stderr.strip()[-800:]}"
    stamp.write_text("\n".join(REQUIREMENTS))
    return None


def pg_reachable(url: str) -> str | None:
    probe = subprocess.run(
        [str(PY), "-c", "import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()",
         url.rstrip("/") + "/postgres"], capture_output=True, text=True)
    return None if probe.returncode == 0 else probe.stderr.strip().splitlines()[-1]


def run_peer(peer: str, workload: str, repeat: int, pg: str) -> list[dict[str, float]]:
    if peer.startswith("dbos"):
        backend = {"dbos": "sqlite", "dbos-wal": "sqlite-wal", "dbos-pg": pg}[peer]
        cmd = [str(PY), str(HERE / "peers" / "dbos_bench.py"), workload, str(repeat), backend]
    else:
        cmd = [str(PY), str(HERE / "peers" / "prefect_bench.py"), workload, str(repeat)]
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env,
                          cwd=str(HERE / "peers"))
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("[")]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"exit {done.returncode}: {' | '.join(tail)}")
    return json.loads(lines[-1])


def run_wfhost(workload: str, repeat: int) -> list[dict[str, float]]:
    sys.path.insert(0, str(HERE))
    import run  # bench/run.py

    return [run.WORKLOADS[workload](None) for _ in range(repeat)]


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", help=f"any of {WORKLOADS} (default: all)")
    parser.add_argument("-n", "--repeat", type=int, default=3)
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, of {PEERS}")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/",
                        help="PostgreSQL server for dbos-pg")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    workloads = args.workloads or WORKLOADS
    peers = [p for p in args.peers.split(",") if p]
    bad = (set(workloads) - set(WORKLOADS)) | (set(peers) - set(PEERS))
    if bad:
        parser.error(f"unknown {sorted(bad)}; workloads {WORKLOADS}, peers {PEERS}")
    log = sys.stderr if args.json else sys.stdout
    skipped: dict[str, str] = {}
    problem = ensure_venv(log)
    if problem:
        skipped = {p: problem for p in peers}
    elif "dbos-pg" in peers:
        why = pg_reachable(args.pg)
        if why:
            skipped["dbos-pg"] = f"PostgreSQL at {args.pg} not reachable: {why}"
    for peer, why in skipped.items():
        print(f"SKIPPED {peer}: {why}", file=log, flush=True)
    report: dict[str, Any] = {"skipped": skipped, "workloads": {}}
    for workload in workloads:
        key = KEY[workload]
        entry: dict[str, Any] = {}
        mine = medians(run_wfhost(workload, args.repeat))
        entry["wfhost"] = mine
        print(f"{workload:7s} {'wfhost':15s} {key}={mine[key]:.4g}", file=log, flush=True)
        runs = [(peer, workload) for peer in peers if peer not in skipped]
        if workload == "fanout":  # DBOS's other idiomatic fan-out: a queue
            runs += [(peer, "fanout_queue") for peer in peers
                     if peer.startswith("dbos") and peer not in skipped]
        for peer, variant in runs:
            label = peer if variant == workload else f"{peer}+queue"
            try:
                theirs = medians(run_peer(peer, variant, args.repeat, args.pg))
            except Exception as exc:  # noqa: BLE001 - a peer's failure is reported, not fatal
                entry[label] = {"error": str(exc)}
                print(f"{workload:7s} {label:15s} FAILED: {exc}", file=log, flush=True)
                continue
            better = (mine[key] / theirs[key] if workload in HIGHER_IS_BETTER
                      else theirs[key] / mine[key])
            theirs["wfhost_advantage"] = better
            entry[label] = theirs
            print(f"{workload:7s} {label:15s} {key}={theirs[key]:.4g}  "
                  f"(wfhost {better:.3g}x {'faster' if better >= 1 else 'slower'})",
                  file=log, flush=True)
        report["workloads"][workload] = entry
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
