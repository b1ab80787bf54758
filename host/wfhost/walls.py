"""The host's side of the tenant walls: isolation level, file modes, and `doctor`.

The sandbox itself is `wfregistry.sandbox`; this module decides whether a host
may start (`check_isolation`), makes its home private (`secure_home`), names
the paths no worker may reach (`walls_for`), and reports what is in force
(`doctor`). See docs/security.md.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from sqlalchemy.engine import make_url

from wfregistry.sandbox import (
    DEFAULT_LIMITS,
    PRETEND_MISSING_ENV,
    Isolation,
    Policy,
    Walls,
    landlock_abi,
    missing_walls,
)

from .errors import HostError, InvalidRequest

__all__ = ["ISOLATION_ENV", "IsolationUnavailable", "check_isolation", "doctor", "resolve_isolation",
           "secure_home", "walls_for"]

ISOLATION_ENV: Final = "WFHOST_ISOLATION"
_log = logging.getLogger(__name__)


class IsolationUnavailable(HostError):
    """Strict isolation was asked for and this machine cannot build a wall."""


def resolve_isolation(value: str | Isolation | None) -> Isolation:
    """The isolation level: ``value``, else ``$WFHOST_ISOLATION``, else strict.

    Raises:
        InvalidRequest: not ``strict`` or ``none``.
    """
    raw = value if value is not None else os.environ.get(ISOLATION_ENV) or Isolation.STRICT.value
    try:
        return Isolation(raw)
    except ValueError:
        raise InvalidRequest(f"isolation {raw!r} is not 'strict' or 'none'") from None


def check_isolation(isolation: Isolation) -> None:
    """Refuse a strict host on a machine that lacks a wall; warn about ``none``.

    Raises:
        IsolationUnavailable: naming each missing wall and why.
    """
    if isolation is Isolation.NONE:
        _log.warning("isolation none: tenant code runs without a sandbox, with this host's "
                     "authority; use it only on a single-tenant machine")
        return
    problems = missing_walls()
    if problems:
        raise IsolationUnavailable(
            "strict isolation is not available here: " + "; ".join(problems)
            + f" (run with --isolation none or {ISOLATION_ENV}=none only on a single-tenant machine)")


def _sqlite_file(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def secure_home(home: Path, url: str) -> None:
    """Home 0700 (so install dirs, logs and run dirs are the host user's only); store files 0600."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    for sub in ("logs", "run"):
        (home / sub).mkdir(exist_ok=True, mode=0o700)
        (home / sub).chmod(0o700)
    db = _sqlite_file(url)
    if db is not None:
        # SQLite gives its -wal and -shm files the mode of the database file.
        if not db.exists():
            db.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(db, os.O_CREAT | os.O_WRONLY, 0o600))
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            if path.exists():
                path.chmod(0o600)


def walls_for(home: Path, url: str, isolation: Isolation, policy_for: Callable[[str], Policy]) -> Walls:
    """The walls of a host's workers: run dirs in ``home/run``, the store and logs checked unreachable."""
    hidden = [home / "logs"]
    db = _sqlite_file(url)
    if db is not None:
        hidden.append(db)
    return Walls(isolation=isolation, run_root=home / "run", hidden=tuple(hidden), policy_for=policy_for)


def _mode(path: Path) -> str:
    try:
        return oct(stat.S_IMODE(path.stat().st_mode))[2:].rjust(4, "0")
    except OSError:
        return "missing"


def _probe_worker(walls: Walls, url: str) -> dict[str, Any]:
    """Start a sandboxed worker that tries the store and the database, and report what it saw."""
    probe = ("import json, os, socket, sys\n"
             "from wfregistry import sandbox\n"
             "spec = sandbox.Spec.from_json(sys.argv[1])\n"
             "out = {}\n"
             "try:\n    out['walls'] = sandbox.enforce(spec)\n"
             "except Exception as exc:\n    out['error'] = str(exc)\n"
             "host, port, sock = sys.argv[2], int(sys.argv[3] or 0), sys.argv[4]\n"
             "def tcp():\n    s = socket.create_connection((host, port), timeout=2); s.close()\n"
             "def unix():\n    s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sock); s.close()\n"
             "def store():\n    open(sys.argv[5], 'rb').close()\n"
             "for name, fn, given in (('tcp', tcp, port), ('unix', unix, sock), ('store', store, sys.argv[5])):\n"
             "    if not given: continue\n"
             "    try:\n        fn(); out[name] = 'reachable'\n"
             "    except OSError as exc:\n        out[name] = 'blocked (' + (exc.strerror or str(exc)) + ')'\n"
             "print(json.dumps(out))\n")
    u = make_url(url)
    db = _sqlite_file(url)
    host, port, sock = "", "", ""
    if u.get_backend_name() == "postgresql":
        host = u.host or "127.0.0.1"
        port = str(u.port or 5432)
        sock = f"/var/run/postgresql/.s.PGSQL.{port}"
    with tempfile.TemporaryDirectory() as empty:
        box = walls.box(None, Path(empty))
        assert box.spec is not None, "only a strict host probes its workers"
        try:
            argv = [sys.executable, "-I", "-c", probe, box.spec.to_json(), host, port, sock, str(db or "")]
            done = subprocess.run(argv, env=box.env, cwd=box.scratch, capture_output=True, text=True,
                                  timeout=30, check=False)
        finally:
            box.remove()
    try:
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        result = {"error": (done.stderr.strip().splitlines() or ["probe printed nothing"])[-1]}
    return result


def doctor(home: Path, url: str, isolation: Isolation) -> dict[str, Any]:
    """What is in force on this machine for a host with this home and store (data; the CLI renders it)."""
    walls = walls_for(home, url, isolation, lambda _t: Policy())
    problems = missing_walls()
    db = _sqlite_file(url)
    report: dict[str, Any] = {
        "isolation": isolation.value,
        "landlock_abi": landlock_abi(),
        "running_as_root": os.geteuid() == 0,
        "missing_walls": problems,
        "simulated_missing": os.environ.get(PRETEND_MISSING_ENV) or None,
        "default_limits": DEFAULT_LIMITS.describe(),
        "file_modes": {str(home): _mode(home), **({str(db): _mode(db)} if db else {}),
                       str(home / "packages"): _mode(home / "packages"),
                       str(home / "logs"): _mode(home / "logs"), str(home / "run"): _mode(home / "run")},
    }
    if isolation is Isolation.STRICT and not problems:
        report["worker"] = _probe_worker(walls, url)
    else:
        report["worker"] = {"walls": None}
    return report
