"""The worker sandbox on this kernel: which mechanism closes which hole, shown rather than assumed.

Each test runs a small Python program in a child process (the sandbox is
irreversible), once with only part of the walls and once with all of them,
so it shows both that the hole exists and that the full sandbox closes it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.packages import TestKey

from wfregistry import LoadError
from wfregistry.sandbox import PRETEND_MISSING_ENV, Limits, Policy, Walls, explain, landlock_abi, parse_size

pytestmark = pytest.mark.skipif(landlock_abi() < 6, reason="needs Landlock ABI 6 (this machine's kernel has 7)")

LANDLOCK_ONLY = """
from landlockpy import AccessFS, AccessNet, Ruleset, Scope, fs_for_abi, abi_version
import sys
with Ruleset(handled_fs=fs_for_abi(abi_version()), handled_net=AccessNet.CONNECT_TCP | AccessNet.BIND_TCP,
             scoped=Scope.SIGNAL | Scope.ABSTRACT_UNIX_SOCKET) as rules:
    for path in {read!r}:
        rules.allow_path(path, AccessFS.READ_FILE | AccessFS.READ_DIR | AccessFS.EXECUTE)
    rules.restrict()
"""

FULL = """
from pathlib import Path
from wfregistry.sandbox import Spec, enforce
enforce(Spec.from_json({spec!r}))
"""


def _run(prelude: str, body: str) -> dict[str, str]:
    """Run ``prelude`` (a sandbox) then ``body``; ``body`` fills ``out``, printed as JSON."""
    code = prelude + "\nimport json, os, socket, ctypes\nout = {}\n" + textwrap.dedent(body) + \
        "\nprint(json.dumps(out))\n"
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ.get("PATH", "/usr/bin")}, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _runtime() -> list[str]:
    import wfregistry

    return sorted({sys.prefix, sys.base_prefix, "/usr", str(Path(wfregistry.__file__).parents[1]),
                   *[p for p in sys.path if p and os.path.isdir(p)]})


def _full(tmp_path: Path, *, allow: tuple[int, ...] = ()) -> str:
    box = Walls(run_root=tmp_path / "run", hidden=(tmp_path / "secret",),
                policy_for=lambda _t: Policy(allow_connect=allow)).box("t", tmp_path / "install")
    assert box.spec is not None
    return FULL.format(spec=box.spec.to_json())


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    (tmp_path / "install").mkdir()
    (tmp_path / "secret").write_text("the store")
    return tmp_path


TRY_UNIX = """
def attempt(fn):
    try:
        fn(); return "reachable"
    except OSError as exc:
        return type(exc).__name__
def connect():
    s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect({path!r}); s.close()
out["unix"] = attempt(connect)
out["read"] = attempt(lambda: open({secret!r}).read())
"""


def test_landlock_alone_leaves_pathname_unix_sockets_open_and_the_new_root_closes_them(layout: Path) -> None:
    # A world-connectable Unix socket, as PostgreSQL's /var/run/postgresql/.s.PGSQL.5432 is.
    path = str(layout / "db.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(8)
    os.chmod(path, 0o777)
    try:
        body = TRY_UNIX.format(path=path, secret=str(layout / "secret"))
        landlock_only = _run(LANDLOCK_ONLY.format(read=_runtime()), body)
        assert landlock_only == {"unix": "reachable", "read": "PermissionError"}  # ABI 7: no Unix rule
        assert _run(_full(layout), body) == {"unix": "FileNotFoundError", "read": "FileNotFoundError"}
        if Path("/var/run/postgresql/.s.PGSQL.5432").exists():
            pg = TRY_UNIX.format(path="/var/run/postgresql/.s.PGSQL.5432", secret=str(layout / "secret"))
            assert _run(LANDLOCK_ONLY.format(read=_runtime()), pg)["unix"] == "reachable"
            assert _run(_full(layout), pg)["unix"] == "FileNotFoundError"
    finally:
        server.close()


SIGNAL_AND_PTRACE = """
def attempt(fn):
    try:
        fn(); return "allowed"
    except OSError as exc:
        return type(exc).__name__
libc = ctypes.CDLL(None, use_errno=True)
def ptrace():
    if libc.ptrace(16, {pid}, None, None) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    libc.ptrace(17, {pid}, None, None)  # PTRACE_DETACH
out["signal"] = attempt(lambda: os.kill({pid}, 0))
out["ptrace"] = attempt(ptrace)
out["environ"] = attempt(lambda: open("/proc/{pid}/environ", "rb").read())
out["uid"] = os.getuid()
"""


def test_landlock_scopes_signals_and_ptrace_even_for_root_and_the_full_sandbox_hides_proc(
        layout: Path) -> None:
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        body = SIGNAL_AND_PTRACE.format(pid=target.pid)
        unsandboxed = _run("", body)
        assert unsandboxed["signal"] == "allowed" and unsandboxed["environ"] == "allowed"
        landlock_only = _run(LANDLOCK_ONLY.format(read=[*_runtime(), "/proc"]), body)
        assert landlock_only["signal"] == "PermissionError"
        assert landlock_only["ptrace"] == "PermissionError"
        # Measured, not assumed: for root, Landlock's ptrace scoping does not cover reading
        # /proc/<pid>/environ. The full sandbox closes it: no /proc in its root, and another uid.
        assert landlock_only["environ"] == "allowed"
        full = _run(_full(layout), body)
        assert full["signal"] == full["ptrace"] == "PermissionError"
        assert full["environ"] == "FileNotFoundError" and full["uid"] != 0
    finally:
        target.kill()
        target.wait()


TRY_TCP = """
def attempt(port):
    s = socket.socket(); s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port)); return "connected"
    except OSError as exc:
        return type(exc).__name__ + ": " + (exc.strerror or "")
    finally:
        s.close()
def bind():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0)); s.listen(); return "bound"
    except OSError as exc:
        return type(exc).__name__
    finally:
        s.close()
out["allowed"] = attempt({allowed})
out["denied"] = attempt({denied})
out["bind"] = bind()
home = os.environ.get("HOME", "")
Path(home, "note").write_text("scratch works")
out["scratch"] = Path(home, "note").read_text()
out["cwd"] = os.getcwd() == home
"""


def test_a_worker_connects_to_allowed_ports_only_binds_nothing_and_uses_its_scratch(layout: Path) -> None:
    allowed, denied = socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))
    try:
        box = Walls(run_root=layout / "run", policy_for=lambda _t: Policy(
            allow_connect=(allowed.getsockname()[1],))).box("t", layout / "install")
        assert box.spec is not None
        code = FULL.format(spec=box.spec.to_json()) + "\nfrom pathlib import Path\nimport os\n" + \
            "import json, socket\nout = {}\n" + TRY_TCP.format(allowed=allowed.getsockname()[1],
                                                                 denied=denied.getsockname()[1]) + \
            "\nprint(json.dumps(out))\n"
        done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                              timeout=60, env=box.env, check=False)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out["allowed"] == "connected"
        assert out["denied"] == "PermissionError: Permission denied"
        assert out["bind"] == "PermissionError"
        assert out["scratch"] == "scratch works" and out["cwd"] is True
        assert (box.scratch / "note").read_text() == "scratch works"
        assert oct(box.scratch.stat().st_mode & 0o777) == "0o700"
        box.remove()
        assert not box.run_dir.exists()
    finally:
        allowed.close()
        denied.close()


def test_the_environment_is_scrubbed_to_the_allowlist_and_the_policy(
        layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFHOST_DATABASE_URL", "postgresql://secret@db/prod")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    box = Walls(run_root=layout / "run", policy_for=lambda _t: Policy(env={"REGION": "eu"})).box(
        "t", layout / "install")
    assert set(box.env) <= {"PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "MALLOC_ARENA_MAX", "REGION"}
    assert box.env["REGION"] == "eu" and box.env["HOME"] == str(box.scratch)
    box.remove()


def test_a_worker_without_its_walls_refuses_to_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: dict[str, Path], author_key: TestKey) -> None:
    """Simulated: $WFHOST_SANDBOX_PRETEND_MISSING makes the worker's `enforce` report the wall missing."""
    from wfpkg.archive import verify_archive
    from wfregistry import trial_load
    from wfregistry.install import install_wheels

    pkg = verify_archive(built["alpha1"], author_key.trusted)
    install_wheels(pkg.wheels, tmp_path / "install", label="alpha")
    monkeypatch.setenv(PRETEND_MISSING_ENV, "namespaces")
    with pytest.raises(LoadError, match="the sandbox is not in force, refusing to load: namespaces"):
        trial_load(tmp_path / "install", "alpha", pkg.manifest, log_path=tmp_path / "load.log",
                   walls=Walls(run_root=tmp_path / "run"))
    assert list((tmp_path / "run").iterdir()) == []


def test_limit_errors_name_the_limit() -> None:
    limits = Limits(memory=parse_size("512M"), max_procs=64, file_size=parse_size("1M"))
    assert explain("MemoryError", limits) == (
        "MemoryError (hit the memory limit 512M of address space per worker process; limit memory)")
    assert "limit max_procs" in (explain("RuntimeError: can't start new thread", limits) or "")
    assert "file size limit 1M" in (explain("OSError: [Errno 27] File too large", limits) or "")
    assert explain("ValueError: nope", limits) == "ValueError: nope"
    with pytest.raises(ValueError, match="is not a size"):
        parse_size("lots")
