"""The worker side of the sandbox: the kernel calls that build the walls, and the CPU watch.

Only the worker process (`wfregistry._worker_main`) calls `enforce`, first
thing, and uses `CpuWatch` and `load_cpu_limit`; the host calls `kill_uid`
when a worker has exited. What each wall is and why is in `wfregistry.sandbox`
and docs/security.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from .sandbox import (
    PRETEND_MISSING_ENV,
    REQUIRED_LANDLOCK_ABI,
    UID_BASE,
    Limits,
    SandboxError,
    Spec,
    _pretend_missing,
    landlock_abi,
)

__all__ = ["CpuLimitExceeded", "CpuWatch", "enforce", "kill_uid", "load_cpu_limit", "verify"]

_ETC_FILES: Final = ("/etc/localtime", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf",
                     "/etc/host.conf", "/etc/ssl", "/etc/ca-certificates", "/etc/mime.types")
_DEVICES: Final = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")


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
