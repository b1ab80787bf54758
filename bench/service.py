"""Load on `wfhost serve` over loopback: concurrent clients scheduling and signalling. Not a test.

Usage::

    .venv/bin/python bench/service.py                      # 50 clients for 60 s
    .venv/bin/python bench/service.py --clients 10 --seconds 10 --json

A fresh home gets tenant ``bench`` with ``purchase_approval`` (built from
``sample_packages/`` and signed with a new key) and quotas high enough not to
interfere; ``wfhost serve`` runs as a subprocess on 127.0.0.1. Each client
loops: schedule a large order (which waits for approval), then send it the
approval signal. When the time is up, the script waits for every scheduled
execution to finish and checks that each succeeded. Clients and server share
the machine, so the figures are a floor for the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = "purchase_approval::purchase_approval"


def _prepare(home: Path, db: str | None) -> str:
    """Tenant, key, package and quotas in a fresh home; returns a tenant token."""
    from wfhost import Client
    from wfhost.service import Quotas, TokenStore
    from wfhost.service.quotas import QuotaStore
    from wfpkg.build import build_package
    from wfpkg.keys import generate_private_key, public_key_text

    key = generate_private_key()
    archive = build_package(REPO / "sample_packages" / "purchase_approval", key, home / "dist")
    with Client(home, db) as client:
        client.create_tenant("bench")
        client.trust("bench", public_key_text(key.public_key()), label="bench")
        client.register(archive, tenant="bench")
        QuotaStore(client.engine, Quotas()).set("bench", {"starts_per_minute": 10_000_000,
                                                          "concurrent_tasks": 100_000,
                                                          "waiting_executions": 10_000_000})
        return TokenStore(client.engine, home).create("bench", label="bench")[1]


def _serve(home: Path, db: str | None, concurrency: int) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "wfhost", "--home", str(home), *(["--db", db] if db else []),
            "serve", "--port", "0", "--concurrency", str(concurrency)]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("serving "):
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
            return proc, line.split()[1]
    raise SystemExit("wfhost serve did not start")


async def _client(n: int, url: str, token: str, until: float, lat: dict[str, list[float]],
                  errors: list[str], ids: list[str]) -> None:
    base = "/v1/tenants/bench/executions"
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=60) as c:
        i = 0
        while time.monotonic() < until:
            eid = f"c{n}-{i}"
            i += 1
            for kind, call in (
                ("schedule", lambda eid=eid: c.post(base, json={"workflow": WORKFLOW, "id": eid,
                                                                "input": {"order_id": eid, "cost": 5000}})),
                ("signal", lambda eid=eid: c.post(f"{base}/{eid}/signals",
                                                  json={"name": "approval", "payload": {"approved": True}})),
            ):
                t0 = time.perf_counter()
                try:
                    r = await call()
                    ok = r.status_code < 400
                    if not ok:
                        errors.append(f"{kind} {r.status_code}: {r.text[:120]}")
                except httpx.HTTPError as exc:
                    ok = False
                    errors.append(f"{kind}: {exc!r}")
                lat[kind].append(time.perf_counter() - t0)
                if kind == "schedule":
                    if not ok:
                        break
                    ids.append(eid)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=32, help="the server's task attempts at once")
    parser.add_argument("--drain", type=float, default=600.0, help="seconds allowed to finish afterwards")
    parser.add_argument("--db", help="a PostgreSQL URL instead of SQLite in a temp home")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wfhost-bench-service-") as tmp:
        home = Path(tmp) / "home"
        token = _prepare(home, args.db)
        proc, url = _serve(home, args.db, args.concurrency)
        try:
            lat: dict[str, list[float]] = {"schedule": [], "signal": []}
            errors: list[str] = []
            ids: list[str] = []
            started = time.monotonic()

            async def run() -> None:
                until = time.monotonic() + args.seconds
                await asyncio.gather(*(_client(n, url, token, until, lat, errors, ids)
                                       for n in range(args.clients)))

            asyncio.run(run())
            elapsed = time.monotonic() - started
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
                deadline = time.monotonic() + args.drain
                while c.get("/v1/tenants/bench/executions", params={"status": "active", "limit": 1}
                            ).json()["items"] and time.monotonic() < deadline:
                    time.sleep(0.5)
                drained = time.monotonic() - started - elapsed
                succeeded, cursor = 0, None
                while True:
                    page = c.get("/v1/tenants/bench/executions", params={
                        "status": "succeeded", "limit": 1000, **({"cursor": cursor} if cursor else {})}).json()
                    succeeded += len(page["items"])
                    cursor = page["next_cursor"]
                    if cursor is None:
                        break
        finally:
            proc.terminate()
            proc.wait(timeout=120)
    requests = len(lat["schedule"]) + len(lat["signal"])
    every = lat["schedule"] + lat["signal"]
    result: dict[str, Any] = {
        "clients": args.clients, "seconds": round(elapsed, 1), "requests": requests,
        "requests_per_s": round(requests / elapsed, 1), "errors": len(errors),
        "p50_ms": round(_pct(every, 50), 1), "p99_ms": round(_pct(every, 99), 1),
        "schedule_p50_ms": round(_pct(lat["schedule"], 50), 1), "schedule_p99_ms": round(_pct(lat["schedule"], 99), 1),
        "signal_p50_ms": round(_pct(lat["signal"], 50), 1), "signal_p99_ms": round(_pct(lat["signal"], 99), 1),
        "scheduled": len(ids), "succeeded": succeeded, "drain_s": round(drained, 1),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>16}: {v}")
        for e in errors[:5]:
            print("  error:", e)
    if succeeded != len(ids) or errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
