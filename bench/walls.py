"""What the worker sandbox costs: worker start and per-attempt time, strict vs none.

Usage::

    .venv/bin/python bench/walls.py            # 10 worker starts, 200 attempts, each isolation
    .venv/bin/python bench/walls.py -n 20 --attempts 500 --json

A one-task package (its task does nothing) is built and signed once, then for
each isolation level:

- ``start``: a trial load (`wfregistry.trial_load`): spawn the worker, build
  the walls (strict), import and check the package, stop. Median of ``-n``.
- ``enforce``: the time `wfregistry.sandbox.enforce` itself takes in a fresh
  process (strict only). Median of ``-n``.
Each level is measured twice, in swapped order (``_1``, ``_2``).

- ``attempt``: a host runs ``--attempts`` executions of the one-task
  workflow one after another, its worker already warm; the figure is the
  median wall time per execution (schedule → succeeded), so it includes the
  scheduler, the store and the worker round trip.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from wfhost import Host
from wfpkg.archive import verify_archive
from wfpkg.build import build_package
from wfpkg.keys import generate_private_key, public_key_text
from wfpkg.scaffold import write_project
from wfregistry import trial_load
from wfregistry.install import install_wheels
from wfregistry.sandbox import Isolation, Walls

WORKFLOWS = """
from wfpkg import Context, Workflow, hookimpl

one = Workflow("one")


@one.task()
def noop(ctx: Context) -> None:
    return None


@hookimpl
def wfhost_workflows():
    return [one]
"""


def _build(root: Path) -> tuple[Path, Any]:
    src = write_project(root / "benchpkg", "benchpkg", version="1.0.0",
                        files={"workflows.py": WORKFLOWS})
    key = generate_private_key()
    return build_package(src, key, out_dir=root / "dist"), key


def bench_start(root: Path, archive: Path, key: Any, isolation: Isolation, n: int) -> float:
    pkg = verify_archive(archive, {verify_key_id(key): key.public_key()})
    target = Path(tempfile.mkdtemp(prefix=f"install-{isolation.value}-", dir=root)) / "install"
    install_wheels(pkg.wheels, target, label="benchpkg")
    walls = Walls(isolation=isolation, run_root=root / "run")
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        trial_load(target, "benchpkg", pkg.manifest, log_path=root / "load.log", walls=walls)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def verify_key_id(key: Any) -> str:
    from wfpkg.keys import key_id

    return key_id(key.public_key())


def bench_enforce(root: Path, n: int) -> float:
    code = ("import sys, time\nfrom wfregistry.sandbox import Spec, enforce\n"
            "t = time.perf_counter(); enforce(Spec.from_json(sys.argv[1])); print(time.perf_counter() - t)\n")
    (root / "empty").mkdir(exist_ok=True)
    times = []
    for _ in range(n):
        box = Walls(isolation=Isolation.STRICT, run_root=root / "run").box(None, root / "empty")
        assert box.spec is not None
        done = subprocess.run([sys.executable, "-I", "-c", code, box.spec.to_json()], env=box.env,
                              capture_output=True, text=True, check=True)
        times.append(float(done.stdout.strip()))
        box.remove()
    return statistics.median(times)


def bench_attempts(root: Path, archive: Path, key: Any, isolation: Isolation, attempts: int) -> float:
    with Host(home=root / "home", isolation=isolation.value, tenant="bench") as host:
        c = host.client
        c.create_tenant("bench")
        c.trust("bench", public_key_text(key.public_key()))
        c.register(archive, tenant="bench")
        host.wait(c.schedule("benchpkg::one", {}), timeout=60)  # warm the worker
        times = []
        for _ in range(attempts):
            t0 = time.perf_counter()
            state = host.wait(c.schedule("benchpkg::one", {}), timeout=60)
            times.append(time.perf_counter() - t0)
            assert state["status"] == "succeeded", state["error"]
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="worker starts per isolation level")
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"load_average": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive, key = _build(root)
        # Two rounds, the order swapped in the second, so neither level always runs first.
        for round_, order in enumerate(((Isolation.NONE, Isolation.STRICT), (Isolation.STRICT, Isolation.NONE))):
            for isolation in order:
                name = f"{isolation.value}_{round_ + 1}"
                results[f"start_{name}_s"] = bench_start(root, archive, key, isolation, args.n)
                results[f"attempt_{name}_ms"] = 1000 * bench_attempts(root / name, archive, key, isolation,
                                                                      args.attempts)
        results["enforce_s"] = bench_enforce(root, args.n)
    results["load_average_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, value in results.items():
            print(f"{name:22} {value:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
