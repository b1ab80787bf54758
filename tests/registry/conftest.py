"""Fixtures for the registry tests: real author projects built once per session, real workers.

Every package here is an author's project written to a temp folder and built
with `wfpkg.build.build_package`. Misbehaving ones (hang, raise, print at
import) misbehave only inside a wfhost worker (``"wfregistry" in
sys.modules``), so that the build's own introspection can load them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, create_engine
from support.databases import postgres_database
from support.packages import TestKey, make_key, members_of, resign

from wfpkg import scaffold
from wfpkg.archive import MANIFEST, SIGNATURE, verify_archive, write_archive
from wfpkg.build import build_package
from wfpkg.keys import key_id, signature_bytes
from wfpkg.manifest import Manifest
from wfpkg.protocol import DurableCall, Result, Step, StepResult, TaskOutcome, TaskRequest, WaitCall
from wfpkg.runtime import Suspended
from wfregistry import PackageInfo, Registry, WorkerPool
from wfregistry import models as _models  # noqa: F401 - the tables create_all makes
from wfregistry.inflight import Attempt
from wfregistry.install import install_wheels

WORKFLOWS = '''\
"""Test package {name} {version} ({marker})."""
import importlib
import importlib.metadata
import os
import sys
import threading
import time
from pathlib import Path

from wfpkg import Context, Workflow, hookimpl

IN_WORKER = "wfregistry" in sys.modules
MARKER = "{marker}"
{prelude}
main = Workflow("main", description="registry test workflow")


@main.task()
def report(ctx: Context) -> dict:
    print("report task of {name} running")  # goes to the worker log, never the protocol
    return {{"package": "{name}", "version": importlib.metadata.version("{name}"),
            "marker": MARKER, "module_file": __file__, "pid": os.getpid()}}


@main.task()
def gate(ctx: Context) -> dict:
    ctx.step("started", lambda: True)
    ctx.step("gate", lambda: True)  # the test's backend holds this call until it opens the gate
    return {{"package": "{name}", "version": importlib.metadata.version("{name}"), "marker": MARKER}}


@main.task()
def import_other(ctx: Context) -> dict:
    module = importlib.import_module(ctx["module"])
    return {{"imported": getattr(module, "__file__", None)}}


@main.task()
def crash(ctx: Context) -> None:
    os._exit(1)


@main.task()
def until_cancelled(ctx: Context) -> dict:
    ctx.step("started", lambda: True)
    deadline = time.monotonic() + 30
    while not ctx.is_cancelled:
        if time.monotonic() > deadline:
            raise TimeoutError("never cancelled")
        time.sleep(0.01)
    return {{"saw_cancel": True}}


@main.task()
def waits(ctx: Context) -> dict:
    return {{"payload": ctx.wait_for_signal("go")}}
{extra}

@hookimpl
def wfhost_workflows():
    return [main]
'''

EXTRA_TASK = '''

@main.task(depends_on=[report])
def extra(ctx: Context) -> None:
    pass
'''

VARIANTS: dict[str, dict[str, str]] = {
    "alpha1": {"name": "alpha", "version": "1.0.0", "marker": "acme"},
    "alpha2": {"name": "alpha", "version": "2.0.0", "marker": "acme"},
    # Same name and version as alpha1, other code: globex's own `alpha` module.
    "alpha1_globex": {"name": "alpha", "version": "1.0.0", "marker": "globex"},
    "alpha11_extra": {"name": "alpha", "version": "1.1.0", "marker": "acme", "extra": EXTRA_TASK},
    "beta1": {"name": "beta", "version": "1.0.0", "marker": "globex"},
    "hangs": {"name": "hangs", "version": "1.0.0", "marker": "x",
              "prelude": "if IN_WORKER:\n    threading.Event().wait()\n"},
    "raises": {"name": "raises", "version": "1.0.0", "marker": "x",
               "prelude": "if IN_WORKER:\n    raise RuntimeError('database unreachable at import')\n"},
    "prints": {"name": "prints", "version": "1.0.0", "marker": "x",
               "prelude": "if IN_WORKER:\n    print('hello from import')\n"},
}


def write_project(dest: Path, name: str, version: str, marker: str, prelude: str = "",
                  extra: str = "") -> Path:
    """Write an author's project as `wfpkg init` would, with the test workflow."""
    return scaffold.write_project(dest / f"{name}-{version}-{marker}", name, version=version, files={
        "workflows.py": WORKFLOWS.format(name=name, version=version, marker=marker,
                                         prelude=prelude, extra=extra)})


@pytest.fixture(scope="session")
def author_key(tmp_path_factory: pytest.TempPathFactory) -> TestKey:
    """The key every fixture package is built with (re-signed per tenant as needed)."""
    return make_key(tmp_path_factory.mktemp("author"), "author")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, author_key: TestKey) -> dict[str, Path]:
    """Every variant in `VARIANTS`, built once per session (in parallel)."""
    root = tmp_path_factory.mktemp("builds")

    def build(item: tuple[str, dict[str, str]]) -> tuple[str, Path]:
        label, params = item
        src = write_project(root / "src", **params)
        return label, build_package(src, author_key.private, root / "dist" / label)

    with ThreadPoolExecutor(8) as ex:
        return dict(ex.map(build, VARIANTS.items()))


# -- crafting archives --------------------------------------------------------------


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def edit_wheel(data: bytes, edits: Mapping[str, Callable[[bytes], bytes]], *, fix_record: bool) -> bytes:
    """Rewrite wheel members whose path ends with a key of ``edits``; optionally fix RECORD."""
    src = zipfile.ZipFile(io.BytesIO(data))
    files = {i.filename: src.read(i) for i in src.infolist()}
    changed: dict[str, bytes] = {}
    for path in files:
        for suffix, fn in edits.items():
            if path.endswith(suffix):
                changed[path] = fn(files[path])
    assert changed, f"no wheel member matches {list(edits)}"
    files.update(changed)
    if fix_record:
        record = next(p for p in files if p.endswith(".dist-info/RECORD"))
        lines = []
        for line in files[record].decode().splitlines():
            path = line.rsplit(",", 2)[0]
            if path in changed:
                line = f"{path},{_record_hash(changed[path])},{len(changed[path])}"
            lines.append(line)
        files[record] = ("\n".join(lines) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, body in files.items():
            zf.writestr(path, body)
    return out.getvalue()


def craft(archive: Path, key: TestKey, out: Path, *,
          wheel: Callable[[bytes], bytes] | None = None,
          manifest: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Re-sign ``archive`` with ``key`` after editing its wheel and/or manifest: a valid signature."""
    members = members_of(archive)
    if wheel is not None:
        for name in [n for n in members if n.startswith("wheels/")]:
            members[name] = wheel(members[name])
    doc = Manifest.from_bytes(members[MANIFEST]).to_dict()
    doc["files"] = [{"path": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                    for n, b in sorted(members.items()) if n not in (MANIFEST, SIGNATURE)]
    doc["package"]["key_id"] = key_id(key.public)
    if manifest is not None:
        manifest(doc)
    body = Manifest.from_dict(doc).to_bytes()
    members[MANIFEST] = body
    members[SIGNATURE] = signature_bytes(key.private, body)
    write_archive(out, members)
    return out


# -- the store ----------------------------------------------------------------------


@dataclass
class Env:
    """A registry on a fresh SQLite database, and helpers to look at what it stored."""

    tmp: Path
    engine: sa.Engine
    registry: Registry
    author: TestKey

    def tenant(self, name: str, key: TestKey | None = None) -> TestKey:
        """Create tenant ``name`` trusting ``key`` (default: the author key)."""
        key = key or self.author
        self.registry.create_tenant(name)
        self.registry.trust(name, key.pub_path.read_text(), label=f"{name} ci")
        return key

    def signed(self, archive: Path, key: TestKey) -> Path:
        """``archive`` re-signed by ``key``."""
        out = self.tmp / "signed" / key.key_id / archive.name
        return out if out.exists() else resign(archive, key.private, out)

    def snapshot(self) -> tuple[dict[str, list[tuple[Any, ...]]], list[str]]:
        """Every row of every registry table, and every path under the packages dir."""
        rows = {}
        with self.engine.connect() as conn:
            for table in ("tenants", "trusted_keys", "package_versions"):
                rows[table] = sorted(tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}")))
        root = self.registry.packages_dir
        tree = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        return rows, tree


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite by default; a module parametrizing ``db_url`` indirectly also gets PostgreSQL."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        with postgres_database() as url:
            yield url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def env(tmp_path: Path, author_key: TestKey, db_url: str) -> Iterator[Env]:
    engine = create_engine(db_url)
    SQLModel.metadata.create_all(engine)
    registry = Registry(engine, tmp_path / "packages", load_timeout=10.0)
    yield Env(tmp_path, engine, registry, author_key)
    engine.dispose()


# -- workers ------------------------------------------------------------------------


@dataclass
class Calls:
    """A small stand-in for the host's durable backend: steps return their value, waits suspend.

    ``started(run_id)`` is set when a run makes its ``started`` step, so tests
    know a task is in flight without sleeping; a ``gate`` step is held until
    the test sets ``gate`` (the sandboxed task can share no file with the test).
    """

    events: dict[str, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)

    def started(self, run_id: str) -> threading.Event:
        with self.lock:
            return self.events.setdefault(run_id, threading.Event())

    def __call__(self, attempt: Attempt, seq: int, call: DurableCall) -> Result:
        if isinstance(call, Step):
            if call.step == "started":
                self.started(attempt.run_id).set()
            if call.step == "gate" and not self.gate.wait(30):
                raise TimeoutError("the test never opened the gate")
            return StepResult(call.value)
        if isinstance(call, WaitCall):
            raise Suspended(call.name)
        raise NotImplementedError(call.kind)


class Runs:
    """Submits runs and waits for their outcomes."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.outcomes: dict[str, TaskOutcome] = {}
        self.done: dict[str, threading.Event] = {}
        self.counter = 0

    def submit(self, package: PackageInfo, task: str, execution_id: str | None = None,
               **inputs: Any) -> str:
        self.counter += 1
        run_id = f"run{self.counter}"
        self.done[run_id] = threading.Event()

        def on_done(outcome: TaskOutcome, run_id: str = run_id) -> None:
            self.outcomes[run_id] = outcome
            self.done[run_id].set()

        request = TaskRequest(run_id, package.tenant, execution_id or f"ex-{run_id}", "main", task,
                              1, dict(inputs))
        self.pool.submit(package, request, on_done)
        return run_id

    def result(self, run_id: str, timeout: float = 30.0) -> TaskOutcome:
        assert self.done[run_id].wait(timeout), f"{run_id} did not finish in {timeout}s"
        return self.outcomes[run_id]


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def pool(tmp_path: Path, calls: Calls) -> Iterator[WorkerPool]:
    pool = WorkerPool(calls, threads_per_worker=4, load_timeout=10.0, log_dir=tmp_path / "logs")
    yield pool
    pool.close(timeout=5)


@pytest.fixture
def runs(pool: WorkerPool) -> Runs:
    return Runs(pool)


def install_unregistered(archive: Path, key: TestKey, tenant: str, dest: Path) -> PackageInfo:
    """Install a package without a trial load, as if it had been registered (to test run-time loading)."""
    pkg = verify_archive(archive, key.trusted)
    target = dest / tenant / pkg.manifest.name / pkg.manifest.version
    install_wheels(pkg.wheels, target, label=f"{tenant}::{pkg.manifest.name}")
    return PackageInfo(0, tenant, pkg.manifest.name, pkg.manifest.version, "active", pkg.key_id,
                       pkg.sha256, target, pkg.manifest, datetime.now(timezone.utc))




@pytest.fixture(name="craft")
def craft_fixture() -> Callable[..., Path]:
    """`craft`, for test modules (conftest is not importable under --import-mode=importlib)."""
    return craft


@pytest.fixture(name="edit_wheel")
def edit_wheel_fixture() -> Callable[..., bytes]:
    """`edit_wheel`, for test modules."""
    return edit_wheel


@pytest.fixture(name="install_unregistered")
def install_unregistered_fixture() -> Callable[..., PackageInfo]:
    """`install_unregistered`, for test modules."""
    return install_unregistered


@pytest.fixture
def runs_for() -> Callable[[WorkerPool], Runs]:
    """`Runs` for a pool a test makes itself."""
    return Runs
