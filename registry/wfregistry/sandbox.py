"""The walls around a worker process: what a tenant's code can reach.

The host prepares a `Box` per worker (a private run directory holding the
scratch dir, the scrubbed environment, the `Spec` the worker enforces); the
worker (`wfregistry._worker_main`) calls `enforce` on its first line of real
work, before it reads the load frame and so before any package code is
imported, and refuses to load if `enforce` reports a problem.

`enforce` (its kernel calls live in `wfregistry._confine`) builds, in this order
(see docs/security.md):

1. namespaces: a private mount namespace, IPC namespace and, unless the
   tenant may connect to some TCP port, a network namespace holding only a
   loopback that is down (as root directly; otherwise inside a user namespace);
2. a new root (``pivot_root``) made of read-only bind mounts of the Python
   runtime, the library directories and the version's install dir, plus the
   writable scratch dir and four device nodes: nothing else exists, so no
   pathname Unix socket (PostgreSQL's among them) can be named;
3. resource limits (`Limits`);
4. a per-worker uid and gid (as root): capabilities gone, DAC and
   ``RLIMIT_NPROC`` bind;
5. Landlock (through `landlockpy`): the same filesystem allowlist, TCP connect
   only to the allowed ports and no bind, no signals or abstract Unix sockets
   outside the worker, ``no_new_privs``.

It then checks from inside that each wall holds (`Spec.hidden` unreachable,
``/`` unlistable, a forbidden port refused, the parent unsignalable).
"""

from __future__ import annotations

import enum
import importlib.util
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final

from .errors import RegistryError

__all__ = [
    "DEFAULT_LIMITS",
    "Box",
    "Isolation",
    "Limits",
    "Policy",
    "SandboxError",
    "Spec",
    "Walls",
    "enforce",
    "explain",
    "format_size",
    "landlock_abi",
    "missing_walls",
    "parse_size",
]

REQUIRED_LANDLOCK_ABI: Final = 6
"""TCP rules arrive with ABI 4, signal and abstract-socket scoping with ABI 6."""
UID_BASE: Final = 1_500_000_000
"""Workers run as ``UID_BASE + pid``: unique among live processes, owned by no account."""
ENV_ALLOWED: Final = ("PATH", "LANG", "LC_ALL", "TZ")
PRETEND_MISSING_ENV: Final = "WFHOST_SANDBOX_PRETEND_MISSING"
"""Comma-separated walls to report as missing (``landlock``, ``namespaces``): for tests of refusal."""

_PIVOT_ROOT_ARCHES: Final = ("x86_64", "aarch64")


class SandboxError(RegistryError):
    """A wall could not be built or does not hold (one line naming the wall)."""

    code: ClassVar[str] = "sandbox"


class Isolation(str, enum.Enum):
    """How hard the walls are: ``strict`` (every wall, or refuse) or ``none`` (no sandbox)."""

    STRICT = "strict"
    NONE = "none"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process (``None``: not limited).

    Attributes:
        memory: bytes of address space (``RLIMIT_AS``) of each process.
        cpu_seconds: CPU seconds one attempt may use (measured on its thread).
        max_procs: processes and threads of the worker's uid (``RLIMIT_NPROC``).
        open_files: open file descriptors (``RLIMIT_NOFILE``).
        file_size: bytes any one file may grow to (``RLIMIT_FSIZE``).
    """

    memory: int | None = 2 * 1024**3
    cpu_seconds: int | None = 300
    max_procs: int | None = 256
    open_files: int | None = 1024
    file_size: int | None = 256 * 1024**2

    def describe(self) -> dict[str, str]:
        """Each limit as an operator reads it (``512M``, ``300 s``, ``unlimited``)."""
        def show(value: int | None, unit: str = "") -> str:
            if value is None:
                return "unlimited"
            return format_size(value) if unit == "B" else f"{value}{unit}"
        return {"memory": show(self.memory, "B"), "cpu_seconds": show(self.cpu_seconds, " s"),
                "max_procs": show(self.max_procs), "open_files": show(self.open_files),
                "file_size": show(self.file_size, "B")}


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True)
class Policy:
    """What one tenant's workers may do beyond the defaults.

    Attributes:
        allow_connect: TCP ports its code may connect to (any address; default none).
        env: environment variables its workers see, besides the allowlist.
        limits: its resource limits.
    """

    allow_connect: tuple[int, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = DEFAULT_LIMITS


@dataclass(frozen=True)
class Spec:
    """What the worker enforces on itself (JSON on its command line).

    Attributes:
        install_dir: the version's install dir (read-only).
        scratch: its private read-write dir.
        new_root: an empty dir the new root is mounted on.
        allow_connect: TCP ports it may connect to.
        limits: its resource limits.
        hidden: paths that must be unreachable (checked after enforcing).
    """

    install_dir: str
    scratch: str
    new_root: str
    allow_connect: tuple[int, ...] = ()
    limits: Limits = DEFAULT_LIMITS
    hidden: tuple[str, ...] = ()

    def to_json(self) -> str:
        """The form passed to the worker."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Spec:
        """Inverse of `to_json`."""
        data = json.loads(text)
        return cls(install_dir=data["install_dir"], scratch=data["scratch"], new_root=data["new_root"],
                   allow_connect=tuple(int(p) for p in data["allow_connect"]),
                   limits=Limits(**data["limits"]), hidden=tuple(data["hidden"]))


@dataclass
class Box:
    """One worker's walls, host side: its run dir, environment and spec.

    The `WorkerPool` that made it calls `remove` once the worker has exited.
    """

    run_dir: Path
    env: dict[str, str]
    spec: Spec | None
    uid: int | None = None

    @property
    def scratch(self) -> Path:
        """The worker's private scratch dir (its HOME and TMPDIR)."""
        return self.run_dir / "scratch"

    def remove(self, pid: int | None = None) -> None:
        """Kill what the worker left running under its uid, then delete its run dir."""
        if pid is not None and self.spec is not None and os.geteuid() == 0:
            from ._confine import kill_uid

            kill_uid(UID_BASE + pid)
        shutil.rmtree(self.run_dir, ignore_errors=True)


@dataclass(frozen=True)
class Walls:
    """The host's walls configuration, shared by its worker pool and registry.

    Attributes:
        isolation: `Isolation.STRICT` sandboxes every worker; `Isolation.NONE` none
            (default: ``$WFHOST_ISOLATION``, else strict).
        run_root: where per-worker run dirs are made (mode 0700; ``None``: the system temp dir).
        hidden: paths a worker must not reach (the home, the store); checked in every worker.
        policy_for: the `Policy` of a tenant.
    """

    isolation: Isolation = field(default_factory=lambda: Isolation(
        os.environ.get("WFHOST_ISOLATION") or Isolation.STRICT.value))
    run_root: Path | None = None
    hidden: tuple[Path, ...] = ()
    policy_for: Callable[[str], Policy] = field(default=lambda _tenant: Policy())

    def box(self, tenant: str | None, install_dir: Path) -> Box:
        """Make a worker's run dir (0700) with its scratch dir, and its environment."""
        if self.run_root is not None:
            self.run_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        run_dir = Path(tempfile.mkdtemp(prefix="w.", dir=self.run_root))
        (run_dir / "scratch").mkdir(mode=0o700)
        policy = self.policy_for(tenant) if tenant is not None else Policy()
        env = {k: os.environ[k] for k in ENV_ALLOWED if k in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(policy.env)
        scratch = str(run_dir / "scratch")
        env.update(HOME=scratch, TMPDIR=scratch, MALLOC_ARENA_MAX="2")
        if PRETEND_MISSING_ENV in os.environ:  # tests simulate a missing wall in the worker too
            env[PRETEND_MISSING_ENV] = os.environ[PRETEND_MISSING_ENV]
        if self.isolation is Isolation.NONE:
            return Box(run_dir, env, None)
        (run_dir / "root").mkdir(mode=0o700)
        spec = Spec(install_dir=str(Path(install_dir).resolve()), scratch=scratch,
                    new_root=str(run_dir / "root"), allow_connect=tuple(policy.allow_connect),
                    limits=policy.limits, hidden=tuple(str(p) for p in self.hidden))
        return Box(run_dir, env, spec)


_LIMIT_SIGNS: Final = (
    ("MemoryError", "memory", "memory limit {memory} of address space per worker process"),
    ("can't start new thread", "max_procs", "process/thread limit {max_procs} per worker"),
    ("Resource temporarily unavailable", "max_procs", "process/thread limit {max_procs} per worker"),
    ("File too large", "file_size", "file size limit {file_size}"),
    ("Too many open files", "open_files", "open file limit {open_files}"),
)


def explain(error: str | None, limits: Limits) -> str | None:
    """Name the limit a failed attempt's error points at (``MemoryError`` -> the memory limit)."""
    if not error:
        return error
    shown = limits.describe()
    for sign, name, text in _LIMIT_SIGNS:
        if sign in error and getattr(limits, name) is not None:
            return f"{error} (hit the {text.format(**shown)}; limit {name})"
    return error


# -- sizes ----------------------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``512M`` -> bytes (K, M, G, T are powers of 1024).

    Raises:
        ValueError: not a size.
    """
    m = _SIZE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a size (e.g. 512M, 2G)")
    unit = str(m.group(2)).upper() or "_"
    return int(m.group(1)) * (1 << (10 * "_KMGT".index(unit)))


def format_size(n: int) -> str:
    """Bytes -> the shortest exact ``512M`` form."""
    for unit, power in (("T", 4), ("G", 3), ("M", 2), ("K", 1)):
        if n % 1024**power == 0 and n >= 1024**power:
            return f"{n // 1024**power}{unit}"
    return str(n)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: none)."""
    if "landlock" in _pretend_missing():
        return 0
    try:
        import landlockpy
    except ImportError:
        return 0
    return int(landlockpy.abi_version())


def _pretend_missing() -> set[str]:
    return {w.strip() for w in os.environ.get(PRETEND_MISSING_ENV, "").split(",") if w.strip()}


def missing_walls() -> list[str]:
    """Walls this machine cannot build, each as ``wall: why`` (empty: all can be built).

    Cheap checks made in the host process (nothing is changed); a worker
    still verifies each wall from inside.
    """
    problems = []
    abi = landlock_abi()
    if importlib.util.find_spec("landlockpy") is None:
        problems.append("landlock: the Landlock binding `landlockpy` is not installed "
                        "(pip install -e . installs it)")
    elif abi < REQUIRED_LANDLOCK_ABI:
        problems.append(f"landlock: the kernel offers Landlock ABI {abi}, strict isolation needs "
                        f"{REQUIRED_LANDLOCK_ABI} (TCP rules and signal scoping)")
    if "namespaces" in _pretend_missing():
        problems.append("namespaces: mount and network namespaces are not available")
    elif os.geteuid() != 0:
        try:
            limit = int(Path("/proc/sys/user/max_user_namespaces").read_text())
        except (OSError, ValueError):
            limit = 0
        if limit == 0:
            problems.append("namespaces: not root and user namespaces are disabled "
                            "(/proc/sys/user/max_user_namespaces is 0)")
    if os.uname().machine not in _PIVOT_ROOT_ARCHES:
        problems.append(f"new root: pivot_root is not known on {os.uname().machine}")
    return problems



def enforce(spec: Spec) -> dict[str, Any]:
    """Build every wall around this process, then check each holds; return what is in force.

    Runs in the worker (see `wfregistry._confine`), while it has a single
    thread and before any package code is imported.

    Raises:
        SandboxError: a wall could not be built or does not hold, naming it.
    """
    from ._confine import enforce as _enforce

    return _enforce(spec)
