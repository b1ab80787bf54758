"""The walls around a worker process: what a tenant's code can reach.

The host prepares a `Box` per worker (a private run directory holding the
scratch dir, the scrubbed environment, the `Spec` the worker enforces); the
worker (`wfregistry._worker_main`) calls `enforce` on its first line of real
work, before it reads the load frame and so before any package code is
imported, and refuses to load if `enforce` reports a problem.

`enforce` builds, in this order (see docs/security.md):

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

import contextlib
import ctypes
import ctypes.util
import enum
import errno
import json
import os
import re
import resource
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEFAULT_LIMITS",
    "Box",
    "CpuLimitExceeded",
    "CpuWatch",
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
    "load_cpu_limit",
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

_ETC_FILES: Final = ("/etc/localtime", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf",
                     "/etc/host.conf", "/etc/ssl", "/etc/ca-certificates", "/etc/mime.types")
_DEVICES: Final = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")


class SandboxError(Exception):
    """A wall could not be built or does not hold (one line naming the wall)."""


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


class CpuWatch:
    """Measures each attempt's CPU time on its thread; calls ``on_over(run_id)`` past ``seconds``.

    Lives in the worker; its one thread starts with the first attempt.
    """

    def __init__(self, seconds: int, on_over: Callable[[str], None]) -> None:
        self.seconds = seconds
        self._on_over = on_over
        self._attempts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def attempt(self, run_id: str) -> Iterator[None]:
        """Count the CPU time of the calling thread against ``run_id`` while inside."""
        clock = time.pthread_getcpuclockid(threading.get_ident())
        with self._lock:
            self._attempts[run_id] = (clock, time.clock_gettime(clock))
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="cpu-watch", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._attempts.pop(run_id, None)

    def _watch(self) -> None:
        while True:
            time.sleep(0.2)
            with self._lock:
                attempts = list(self._attempts.items())
            for run_id, (clock, start) in attempts:
                try:
                    used = time.clock_gettime(clock) - start
                except OSError:  # the thread ended between the copy and now
                    continue
                if used > self.seconds:
                    self._on_over(run_id)


class CpuLimitExceeded(BaseException):
    """Raised in the loading code when the load spins past the CPU limit (not an `Exception`,
    so package code's ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def load_cpu_limit(limits: Limits | None) -> Iterator[None]:
    """While the package loads (on the main thread), ``cpu_seconds`` more of CPU raise `CpuLimitExceeded`."""
    if limits is None or limits.cpu_seconds is None:
        yield
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    limit = int(usage.ru_utime + usage.ru_stime) + limits.cpu_seconds + 1
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    seconds = limits.cpu_seconds

    def over(_signum: int, _frame: object) -> None:
        raise CpuLimitExceeded(f"CPU limit exceeded while loading: more than {seconds} CPU seconds "
                               "(limit cpu_seconds)")

    previous = signal.signal(signal.SIGXCPU, over)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        signal.signal(signal.SIGXCPU, previous)


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
    return int(m.group(1)) * 1024 ** "_KMGT".index(m.group(2).upper() or "_")


def format_size(n: int) -> str:
    """Bytes -> the shortest exact ``512M`` form."""
    for unit, power in (("T", 4), ("G", 3), ("M", 2), ("K", 1)):
        if n % 1024**power == 0 and n >= 1024**power:
            return f"{n // 1024**power}{unit}"
    return str(n)


# -- kernel calls ----------------------------------------------------------------------

_CLONE_NEWNS: Final = 0x00020000
_CLONE_NEWIPC: Final = 0x08000000
_CLONE_NEWUSER: Final = 0x10000000
_CLONE_NEWNET: Final = 0x40000000
_MS_RDONLY: Final = 1
_MS_NOSUID: Final = 2
_MS_NODEV: Final = 4
_MS_REMOUNT: Final = 32
_MS_BIND: Final = 4096
_MS_REC: Final = 16384
_MS_PRIVATE: Final = 1 << 18
_MNT_DETACH: Final = 2
_SYS_PIVOT_ROOT: Final = {"x86_64": 155, "aarch64": 41}
_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_c().mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                      ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def _unshare(flags: int) -> None:
    _check(_c().unshare(flags), "unshare")


def _pivot_root(new: str, old: str) -> None:
    nr = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if nr is None:
        raise SandboxError(f"pivot_root: unknown syscall number on {os.uname().machine}")
    _check(_c().syscall(nr, new.encode(), old.encode()), "pivot_root")


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
    if abi < REQUIRED_LANDLOCK_ABI:
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
    if _SYS_PIVOT_ROOT.get(os.uname().machine) is None:
        problems.append(f"new root: pivot_root is not known on {os.uname().machine}")
    return problems


def kill_uid(uid: int) -> None:
    """SIGKILL every process running as ``uid`` (what a dead worker left behind)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        m = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE)
        if m and int(m.group(1)) == uid:
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)


# -- the worker side ---------------------------------------------------------------------

def _runtime_paths() -> list[str]:
    """What the worker's Python needs to read: runtime, libraries, our own packages, a few /etc files."""
    import wfpkg
    import wfregistry

    paths = {"/usr", sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).resolve().parent.parent)}
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    paths.update(str(Path(m.__file__ or "").resolve().parent) for m in (wfpkg, wfregistry))
    paths.update(p for p in _ETC_FILES if os.path.exists(p))
    real = sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})
    kept: list[str] = []
    for p in real:  # drop paths inside another kept path
        if not any(p == k or p.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(p)
    return kept


def _bind(source: str, new_root: str, *, writable: bool) -> None:
    target = new_root + source
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass
    _mount(source, target, None, _MS_BIND | _MS_REC)
    flags = _MS_REMOUNT | _MS_BIND | _MS_NOSUID | (0 if writable else _MS_RDONLY)
    if not source.startswith("/dev/"):
        flags |= _MS_NODEV
    _mount(None, target, None, flags)


def _new_root(spec: Spec, read: Sequence[str]) -> None:
    """Mount a tmpfs on ``spec.new_root``, bind the allowlist into it, and pivot into it."""
    root = spec.new_root
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
    for path in read:
        _bind(path, root, writable=False)
    for dev in _DEVICES:
        if os.path.exists(dev):
            _bind(dev, root, writable=True)
    _bind(spec.scratch, root, writable=True)
    for link in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/var/run"):
        if os.path.islink(link) and not os.path.lexists(root + link):
            os.makedirs(os.path.dirname(root + link), exist_ok=True)
            os.symlink(os.readlink(link), root + link)
    old = root + "/.old-root"
    os.mkdir(old)
    _pivot_root(root, old)
    os.chdir("/")
    _check(_c().umount2(b"/.old-root", _MNT_DETACH), "umount old root")
    os.rmdir("/.old-root")
    _mount(None, "/", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)


def _limits(limits: Limits) -> None:
    def cap(kind: int, value: int | None) -> None:
        if value is not None:
            _soft, hard = resource.getrlimit(kind)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (value, value))
    cap(resource.RLIMIT_AS, limits.memory)
    cap(resource.RLIMIT_NPROC, limits.max_procs)
    cap(resource.RLIMIT_NOFILE, limits.open_files)
    cap(resource.RLIMIT_FSIZE, limits.file_size)
    cap(resource.RLIMIT_CORE, 0)
    # A write past RLIMIT_FSIZE then fails with EFBIG instead of killing the worker.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _landlock(spec: Spec, read: Sequence[str]) -> int:
    import landlockpy
    from landlockpy import AccessFS, AccessNet, Ruleset, Scope

    abi = landlock_abi()
    if abi < REQUIRED_LANDLOCK_ABI:
        raise SandboxError(f"landlock: kernel ABI {abi} < {REQUIRED_LANDLOCK_ABI}")
    everything = landlockpy.fs_for_abi(abi)
    reading = AccessFS.READ_FILE | AccessFS.READ_DIR | AccessFS.EXECUTE
    with Ruleset(handled_fs=everything, handled_net=AccessNet.CONNECT_TCP | AccessNet.BIND_TCP,
                 scoped=Scope.SIGNAL | Scope.ABSTRACT_UNIX_SOCKET, best_effort=False) as rules:
        for path in read:  # a rule on a file may only carry file rights
            rules.allow_path(path, reading if os.path.isdir(path) else reading & ~AccessFS.READ_DIR)
        for dev in _DEVICES:
            if os.path.exists(dev):
                rules.allow_path(dev, AccessFS.READ_FILE | AccessFS.WRITE_FILE)
        rules.allow_path(spec.scratch, everything & ~AccessFS.IOCTL_DEV)
        for port in spec.allow_connect:
            rules.allow_port(port, AccessNet.CONNECT_TCP)
        rules.restrict()
    return abi


def _drop_privileges(spec: Spec) -> int:
    """As root: chown the scratch dir to this worker's own uid and become it (capabilities go)."""
    uid = UID_BASE + os.getpid()
    os.chown(spec.scratch, uid, uid)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    return uid


def _user_namespace(flags: int) -> None:
    """Not root: a user namespace in which this process keeps its own uid, and may mount."""
    uid, gid = os.geteuid(), os.getegid()
    _unshare(_CLONE_NEWUSER | flags)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _drop_capabilities() -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    data = (Data * 2)()
    _check(_c().capset(ctypes.byref(Header(0x20080522, 0)), data), "capset")


def enforce(spec: Spec) -> dict[str, Any]:
    """Build every wall around this process, then check each holds; return what is in force.

    Must run while the process has a single thread and before any package code is imported.

    Raises:
        SandboxError: a wall could not be built or does not hold, naming it.
    """
    if "namespaces" in _pretend_missing():
        raise SandboxError("namespaces: not available (simulated by " + PRETEND_MISSING_ENV + ")")
    if landlock_abi() < REQUIRED_LANDLOCK_ABI:
        raise SandboxError(f"landlock: kernel ABI {landlock_abi()} < {REQUIRED_LANDLOCK_ABI}")
    read = [*_runtime_paths(), spec.install_dir]
    flags = _CLONE_NEWNS | _CLONE_NEWIPC | (0 if spec.allow_connect else _CLONE_NEWNET)
    root = os.geteuid() == 0
    if root:
        _unshare(flags)
    else:
        _user_namespace(flags)
    _new_root(spec, read)
    _limits(spec.limits)
    uid = _drop_privileges(spec) if root else os.geteuid()
    if not root:
        _drop_capabilities()
    abi = _landlock(spec, read)
    os.chdir(spec.scratch)
    state = {"landlock_abi": abi, "uid": uid, "network": "tcp ports " + ",".join(
        map(str, spec.allow_connect)) if spec.allow_connect else "namespace (no network)",
        "limits": spec.limits.describe()}
    problems = verify(spec)
    if problems:
        raise SandboxError("; ".join(problems))
    return state


def verify(spec: Spec) -> list[str]:
    """Check from inside that each wall holds; the problems found (empty: all hold)."""
    problems = []
    if os.geteuid() == 0:
        problems.append("uid: the worker still runs as root")
    try:
        os.listdir("/")
        problems.append("filesystem: / can be listed")
    except OSError:
        pass
    for path in spec.hidden:
        try:
            os.stat(path)
            problems.append(f"filesystem: {path} is reachable")
        except OSError:
            pass
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        port = next(p for p in (5432, 1, 2, 3) if p not in spec.allow_connect)
        s.settimeout(2)
        s.connect(("127.0.0.1", port))
        problems.append(f"network: connected to 127.0.0.1:{port}")
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.ENETUNREACH):
            problems.append(f"network: connect to 127.0.0.1:{port} was not refused by a wall "
                            f"({os.strerror(exc.errno or 0)})")
    finally:
        s.close()
    try:
        os.kill(os.getppid(), 0)
        problems.append("signals: the host can be signalled")
    except OSError:
        pass
    return problems
