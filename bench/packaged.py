"""Packaged variants of the chain and 1,000 × 3-task workloads: tasks run in a worker process.

The package (``benchpkg``: ``chain100`` and ``chain3`` of no-op tasks) is
written, built and signed for real with `wfpkg.build.build_package` the
first time, into ``bench/.pkg-cache`` (git-ignored), and registered on a
fresh host per run, exactly as an operator registers one.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
import time
from pathlib import Path

from wfhost import Host

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".pkg-cache"

WORKFLOWS = '''\
"""No-op chains for the benchmarks."""

from wfpkg import Workflow, hookimpl


def noop(ctx):
    return None


def chain(n):
    wf = Workflow(f"chain{n}")
    prev = None
    for i in range(n):
        wf.add_task(noop, id=f"t{i}", depends_on=[prev] if prev else [])
        prev = f"t{i}"
    return wf


@hookimpl
def wfhost_workflows():
    return [chain(100), chain(3)]
'''


def archive() -> tuple[Path, Path]:
    """The built archive and the public key that signs it (built once, cached)."""
    from wfpkg.build import build_package
    from wfpkg.keys import generate_private_key, public_key_text
    from wfpkg.scaffold import write_project

    built = CACHE / "benchpkg-1.0.0.wfpkg"
    pub = CACHE / "bench.key.pub"
    if built.exists() and pub.exists():
        return built, pub
    CACHE.mkdir(exist_ok=True)
    key = generate_private_key()
    with tempfile.TemporaryDirectory() as tmp:
        src = write_project(Path(tmp) / "benchpkg", "benchpkg", version="1.0.0",
                            files={"workflows.py": textwrap.dedent(WORKFLOWS)})
        out = build_package(src, key, Path(tmp) / "dist")
        shutil.copy2(out, built)
    pub.write_text(public_key_text(key.public_key()), encoding="ascii")
    return built, pub


def _host(db: str | None) -> tuple[Host, tempfile.TemporaryDirectory]:
    import run  # bench/run.py: a fresh home (and a clean database)

    built, pub = archive()
    host, tmp = run._host(db, [])
    host.client.create_tenant("bench")
    host.client.trust("bench", pub.read_text(encoding="ascii"))
    host.client.register(built, tenant="bench")
    return host, tmp


def bench_chain_pkg(db: str | None, n: int = 100) -> dict[str, float]:
    """One execution of the packaged 100-task chain (the worker already loaded)."""
    import run

    host, tmp = _host(db)
    with tmp, host:
        # Warm the worker process (its start-up is not per-task cost).
        host.wait(host.client.schedule("bench::benchpkg::chain3", {}, tenant="bench"), tenant="bench", timeout=120)
        done = run._finish_counter(host, 1)
        t = time.perf_counter()
        host.client.schedule(f"bench::benchpkg::chain{n}", {}, tenant="bench")
        done.wait(300)
        elapsed = time.perf_counter() - t
    return {"seconds": elapsed, "ms_per_task": elapsed / n * 1000}


def bench_many_pkg(db: str | None, executions: int = 1000, bulk: bool = False) -> dict[str, float]:
    """1,000 executions of the packaged 3-task chain, one `schedule` call each (or one bulk call)."""
    import run

    host, tmp = _host(db)
    with tmp, host:
        host.wait(host.client.schedule("bench::benchpkg::chain3", {}, tenant="bench"), tenant="bench", timeout=120)
        done = run._finish_counter(host, executions)
        t = time.perf_counter()
        if bulk:
            host.client.schedule_many("bench::benchpkg::chain3", [{}] * executions, tenant="bench")
        else:
            for _ in range(executions):
                host.client.schedule("bench::benchpkg::chain3", {}, tenant="bench")
        done.wait(600)
        elapsed = time.perf_counter() - t
    return {"seconds": elapsed, "executions_per_s": executions / elapsed}


def bench_many_bulk_pkg(db: str | None) -> dict[str, float]:
    """As `bench_many_pkg`, with one `schedule_many` call."""
    return bench_many_pkg(db, bulk=True)


WORKLOADS = {"chain_pkg": bench_chain_pkg, "many_pkg": bench_many_pkg,
             "many_bulk_pkg": bench_many_bulk_pkg}
