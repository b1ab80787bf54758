"""What start-up imports: the CLI's read path and a host import only what they use.

Each case runs in a fresh interpreter (``python -c``) and reports the modules
it ended with; the assertions name modules that must not be among them
(counted, not timed: an import is memory and start-up time every run pays).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Creating or upgrading a schema with Alembic, and the ORM models (SQLModel, pydantic).
MIGRATIONS = {"alembic", "mako", "pygments"}
MODELS = {"sqlmodel", "pydantic", "pydantic_core", "sqlalchemy.orm", "wfhost.store.models",
          "wfregistry.models", "wfhost.store.access"}
#: Registering, verifying and installing packages, and running their workers.
PACKAGES = {"cryptography", "installer", "wfpkg.archive", "wfpkg.keys", "wfregistry.install",
            "wfregistry.worker"}
#: PostgreSQL's dialect, on a SQLite store.
POSTGRES = {"sqlalchemy.dialects.postgresql", "psycopg"}

_REPORT = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"

_RUN_ONE = """
import sys
from wfhost import Host
from wfpkg import Workflow
wf = Workflow("one")
wf.add_task(lambda ctx: None, id="t")
with Host(home=sys.argv[1], isolation="none") as host:
    host.add_workflow(wf)
    eid = host.client.schedule("local::one", {}, id=sys.argv[2] if len(sys.argv) > 2 else None)
    assert host.wait(eid, timeout=60)["status"] == "succeeded"
"""

_CLI = """
import sys
from wfhost.cli import main
sys.argv = ["wfhost", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
"""


def _modules(code: str, *args: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFHOST_")}
    proc = subprocess.run([sys.executable, "-c", code + _REPORT, *args], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


def _present(modules: set[str], names: set[str]) -> set[str]:
    """The names (or their submodules) that were imported."""
    return {m for m in modules if m in names or any(m.startswith(n + ".") for n in names)}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose SQLite store has one finished execution, ``first``."""
    home = tmp_path_factory.mktemp("imports") / "home"
    _modules(_RUN_ONE, str(home), "first")
    return home


def test_version_imports_neither_the_store_nor_the_commands() -> None:
    modules = _modules(_CLI, "--version")
    assert _present(modules, {"sqlalchemy", "typer", "rich", "wfhost.cli.app", "wfhost.store"}) == set()


def test_status_reads_without_migrations_models_or_packages(store: Path) -> None:
    modules = _modules(_CLI, "--home", str(store), "status", "first")
    assert "wfhost.client" in modules
    assert _present(modules, MIGRATIONS | MODELS | PACKAGES | POSTGRES) == set()
    assert _present(modules, {"wfregistry.registry", "cronsim", "wfhost.engine.scheduler",
                              "wfhost.engine.schedules", "rich.live"}) == set()


_COLLECTIONS = """
import gc
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info["generation"]))
""" + _CLI + """
print(json.dumps(collections), file=sys.stderr)
"""


def test_status_starts_without_garbage_collections(store: Path) -> None:
    # The collector held during start-up, then its objects frozen: before, `wfhost status`
    # collected 117 times (a full collection among them) while it imported.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFHOST_")}
    proc = subprocess.run([sys.executable, "-c", "import json, sys" + _COLLECTIONS, "--home", str(store),
                           "status", "first"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    generations = json.loads(proc.stderr.strip().splitlines()[-1])
    assert len(generations) < 10 and max(generations, default=0) == 0, generations


def test_a_host_on_an_existing_store_runs_without_migrations_models_or_packages(store: Path) -> None:
    modules = _modules(_RUN_ONE, str(store))
    assert _present(modules, MIGRATIONS | MODELS | PACKAGES | POSTGRES) == set()


def test_a_host_creates_a_fresh_store_without_alembic_or_the_models(tmp_path: Path) -> None:
    modules = _modules(_RUN_ONE, str(tmp_path / "fresh"))
    assert "wfhost.store.tables" in modules
    assert _present(modules, MIGRATIONS | MODELS | PACKAGES | POSTGRES) == set()
