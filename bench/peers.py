"""The bench/run.py workloads on wfhost and on peers, in one run, as ratios.

Usage::

    .venv/bin/python bench/peers.py                        # chain fanout many, 3 repetitions
    .venv/bin/python bench/peers.py chain -n 5 --peers dbos
    .venv/bin/python bench/peers.py --json

Each peer runs in its own virtualenv, ``bench/.peers/<peer>`` (dbos,
prefect, luigi), created here on first use (``python -m venv`` then ``pip
install`` of the pinned versions below); each peer workload runs in a
subprocess of that venv (``bench/peers/*_bench.py``) and prints its figures
as JSON. ``bench/suite.py --peers`` calls `run_all` for its ratio table. wfhost runs
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
- ``luigi``: Luigi 3 with its local in-memory scheduler, one worker, tasks
  with flat parameters (a chain's task ``i`` requires task ``i - 1`` by id);
  it keeps no durable state at all;
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
VENVS = HERE / ".peers"
# Prefect 3.8.8 still passes ``min_items`` to fastapi's Body(), which newer fastapi
# refused (TypeError at import of its server); 3.9.x needed a certifi newer than the
# index had when this was written.
REQUIREMENTS = {
    "dbos": ["dbos==3.4.0"],
    "prefect": ["prefect==3.8.8", "fastapi>=0.139,<0.141", "starlette>=1.0.1"],
    "luigi": ["luigi==3.8.1"],
}
WORKLOADS = ["chain", "fanout", "many", "fanout_sink", "fanout_sink2000", "start_exit"]
PEERS = ["dbos", "dbos-wal", "dbos-pg", "prefect", "luigi"]
# What each peer can run of each workload (its own name for it). DBOS and Prefect gather
# the 500 children in the parent, which is the sink.
SUPPORTS = {
    "dbos": {"chain": "chain", "fanout": "fanout", "fanout_sink": "fanout", "many": "many"},
    "prefect": {"chain": "chain", "fanout": "fanout", "fanout_sink": "fanout", "many": "many"},
    "luigi": {"chain": "chain", "fanout_sink": "fanout_sink", "fanout_sink2000": "fanout_sink2000",
              "many": "many", "start_exit": "start_exit"},
}
KEY = {"chain": "ms_per_task", "fanout": "seconds", "many": "executions_per_s",
       "fanout_sink": "seconds", "fanout_sink2000": "seconds", "start_exit": "seconds"}
HIGHER_IS_BETTER = {"many"}
TIMEOUT = 1800


def _family(peer: str) -> str:
    return peer.split("-")[0]


def python_of(peer: str) -> Path:
    return VENVS / _family(peer) / "bin" / "python"


def ensure_venv(peer: str, log: Any) -> str | None:
    """Create the peer's own venv if needed; returns an error message or None."""
    family = _family(peer)
    venv, reqs = VENVS / family, REQUIREMENTS[family]
    py, stamp = venv / "bin" / "python", venv / ".requirements"
    if py.exists() and stamp.exists() and stamp.read_text() == "\n".join(reqs):
        return None
    print(f"creating {venv} and installing {' '.join(reqs)} ...", file=log, flush=True)
    if not py.exists():
        if venv.exists():
            shutil.rmtree(venv)
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                              text=True)
        if made.returncode:
            return f"python -m venv failed: {made.stderr.strip()[-400:]}"
    got = subprocess.run([str(py), "-m", "pip", "install", "-q", *reqs],
                         capture_output=True, text=True)
    if got.returncode:
        return f"pip install failed: {got.stderr.strip()[-800:]}"
    stamp.write_text("\n".join(reqs))
    return None


def pg_reachable(url: str) -> str | None:
    probe = subprocess.run(
        [str(python_of("dbos")), "-c",
         "import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()",
         url.rstrip("/") + "/postgres"], capture_output=True, text=True)
    return None if probe.returncode == 0 else probe.stderr.strip().splitlines()[-1]


def run_peer(peer: str, workload: str, repeat: int, pg: str) -> list[dict[str, float]]:
    py = str(python_of(peer))
    if peer.startswith("dbos"):
        backend = {"dbos": "sqlite", "dbos-wal": "sqlite-wal", "dbos-pg": pg}[peer]
        cmd = [py, str(HERE / "peers" / "dbos_bench.py"), workload, str(repeat), backend]
    else:
        cmd = [py, str(HERE / "peers" / f"{peer}_bench.py"), workload, str(repeat)]
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env,
                          cwd=str(HERE / "peers"))
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("[")]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"exit {done.returncode}: {' | '.join(tail)}")
    return json.loads(lines[-1])


def run_all(workloads: list[str], repeat: int, log: Any, peers: list[str] | None = None,
            pg: str = "postgresql://postgres@127.0.0.1:5432/") -> dict[str, dict[str, Any]]:
    """Every peer on every workload it supports: ``{workload: {peer: medians or error}}``."""
    peers = peers or ["dbos-wal", "prefect", "luigi"]
    skipped = {}
    for peer in peers:
        why = ensure_venv(peer, log)
        if why is None and peer == "dbos-pg":
            why = pg_reachable(pg)
        if why:
            skipped[peer] = why
            print(f"SKIPPED {peer}: {why}", file=log, flush=True)
    out: dict[str, dict[str, Any]] = {}
    for workload in workloads:
        out[workload] = {}
        for peer in peers:
            variant = SUPPORTS[_family(peer)].get(workload)
            if peer in skipped or variant is None:
                continue
            try:
                got = medians(run_peer(peer, variant, repeat, pg))
            except Exception as exc:  # noqa: BLE001 - a peer's failure is reported, not fatal
                out[workload][peer] = {"error": str(exc)}
                print(f"{workload:16s} {peer:10s} FAILED: {exc}", file=log, flush=True)
                continue
            out[workload][peer] = got
            print(f"{workload:16s} {peer:10s} {KEY[workload]}={got[KEY[workload]]:.4g}",
                  file=log, flush=True)
    return out


def run_wfhost(workload: str, repeat: int) -> list[dict[str, float]]:
    sys.path.insert(0, str(HERE))
    import run  # bench/run.py

    return [run.WORKLOADS[workload](None) for _ in range(repeat)]


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", help=f"any of {WORKLOADS} (default: chain fanout many)")
    parser.add_argument("-n", "--repeat", type=int, default=3)
    parser.add_argument("--peers", default="dbos,dbos-wal,dbos-pg,prefect,luigi",
                        help=f"comma-separated, of {PEERS}")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/",
                        help="PostgreSQL server for dbos-pg")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    workloads = args.workloads or ["chain", "fanout", "many"]
    peers = [p for p in args.peers.split(",") if p]
    bad = (set(workloads) - set(WORKLOADS)) | (set(peers) - set(PEERS))
    if bad:
        parser.error(f"unknown {sorted(bad)}; workloads {WORKLOADS}, peers {PEERS}")
    log = sys.stderr if args.json else sys.stdout
    report: dict[str, Any] = {"wfhost": {}, "peers": {}}
    for workload in workloads:
        mine = medians(run_wfhost(workload, args.repeat))
        report["wfhost"][workload] = mine
        print(f"{workload:16s} {'wfhost':10s} {KEY[workload]}={mine[KEY[workload]]:.4g}",
              file=log, flush=True)
    report["peers"] = run_all(workloads, args.repeat, log, peers, args.pg)
    for workload, entries in report["peers"].items():
        key, mine = KEY[workload], report["wfhost"][workload][KEY[workload]]
        for peer, theirs in entries.items():
            if key in theirs:
                better = (mine / theirs[key] if workload in HIGHER_IS_BETTER else theirs[key] / mine)
                theirs["wfhost_advantage"] = better
                print(f"{workload:16s} {peer:10s} wfhost {better:.3g}x "
                      f"{'faster' if better >= 1 else 'slower'}", file=log, flush=True)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
