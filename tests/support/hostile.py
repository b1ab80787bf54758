"""The attack suite's packages: a hostile tenant's and its victim's, built and signed for real.

`build_hostile` writes the author project ``hostile`` whose one task,
``attacks::attack``, runs the attack named in its input, and whose module runs
the attack named in ``$WFHOST_ATTACK`` at import time (the trial load at
registration included). An attack that gets through returns what it got, so
the task succeeds (or the registration does): a missing wall fails the test.
Each attack that meets a wall raises, so the task fails with that error.

`build_victim` writes ``victim``: ``hold`` keeps an attempt in flight until a
`support.gate.TcpGate` opens, ``park`` waits for the signal ``go``.

`ATTACKS` maps each attack to a pattern its error must match when the wall holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from support.packages import TestKey
from wfpkg.build import build_package
from wfpkg.scaffold import write_project

__all__ = ["ATTACKS", "IMPORT_ATTACKS", "build_hostile", "build_victim"]

_ATTACK_CODE = r'''
"""Attacks a tenant's code might try; each returns what it got if no wall stops it."""
import json
import os
import signal
import socket
import struct
import sys
import threading


def read_store(a):
    with open(a["store"], "rb") as f:
        return f.read(16).hex()


def write_store(a):
    with open(a["store"], "r+b") as f:
        f.write(b"x")
    return "wrote the store"


def read_wal(a):
    with open(a["store"] + "-wal", "rb") as f:
        return f.read(16).hex()


def list_home(a):
    return ",".join(os.listdir(a["home"]))


def other_install(a):
    return ",".join(os.listdir(a["other_install"]))


def other_scratch(a):
    return ",".join(os.listdir(a["run_root"]))


def read_key(a):
    with open(a["key"]) as f:
        return f.read()


def read_logs(a):
    return ",".join(os.listdir(a["logs"]))


def use_client(a):
    import wfhost

    client = wfhost.Client(a["home"], a.get("url"), tenant="tb")
    client.signal(a["victim"], "go", {"forged": True})
    return "signalled through Client"


def pg_tcp(a):
    socket.create_connection(("127.0.0.1", 5432), timeout=5).close()
    return "connected to 127.0.0.1:5432"


def pg_unix(a):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect("/var/run/postgresql/.s.PGSQL.5432")
    s.close()
    return "connected to the PostgreSQL socket"


def read_secret(a):
    return os.environ["WFHOST_ATTACK_SECRET"]


def signal_host(a):
    os.kill(a["host_pid"], signal.SIGWINCH)  # harmless if it got through; the test sees it succeed
    return "signalled the host"


def host_environ(a):
    with open(f"/proc/{a['host_pid']}/environ", "rb") as f:
        return f.read(64).hex()


def write_outside(a):
    errors = []
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.path.join(here, "evil.py"), "/tmp/evil", os.path.join(a["home"], "evil")):
        try:
            with open(path, "w") as f:
                f.write("x")
            return f"wrote {path}"
        except OSError as exc:
            errors.append(exc)
    raise errors[0]


def many_threads(a):
    stop = threading.Event()
    threads = []
    try:
        for _ in range(10_000):
            t = threading.Thread(target=stop.wait)
            t.start()
            threads.append(t)
        return f"started {len(threads)} threads"
    finally:
        stop.set()
        for t in threads:
            t.join()


def many_procs(a):
    r, w = os.pipe()
    children = []
    try:
        for _ in range(10_000):
            pid = os.fork()
            if pid == 0:
                os.close(w)
                os.read(r, 1)  # returns at EOF, once the parent closes its end
                os._exit(0)
            children.append(pid)
        return f"forked {len(children)} processes"
    finally:
        os.close(w)
        os.close(r)
        for pid in children:
            os.waitpid(pid, 0)


def memory(a):
    return f"allocated {len(bytearray(8 * 1024**3))} bytes"


def spin(a):
    while True:
        pass


def big_file(a):
    with open(os.path.join(os.environ.get("HOME", "/tmp"), "big"), "wb") as f:
        f.write(b"\0" * (64 * 1024**2))
    return "wrote 64M"


def forge_frame(a):
    """Speak to the host in the worker's name about another attempt's run."""
    fd = int(sys.argv[sys.argv.index("--fd") + 1])
    body = json.dumps({"op": "call", "call_id": 10**9, "run_id": a["other_run"], "seq": 99,
                       "kind": "signal_execution", "name": "signal",
                       "request": {"id": a["victim"], "name": "go", "payload": {"forged": True}}}).encode()
    os.write(fd, struct.pack(">I", len(body)) + body)
    threading.Event().wait(30)  # the host ends this worker; nothing comes back
    return "the host kept the worker"


def oversized_frame(a):
    """Announce a frame of 2 GiB on the channel."""
    fd = int(sys.argv[sys.argv.index("--fd") + 1])
    os.write(fd, struct.pack(">I", 2**31))
    threading.Event().wait(30)
    return "the host kept the worker"


def scratch_and_ports(a):
    """Not an attack: what a task may do (its scratch dir, an allowed port) and may not (another port)."""
    note = os.path.join(os.environ["HOME"], "note")
    with open(note, "w") as f:
        f.write("kept in scratch")
    with open(note) as f:
        kept = f.read()
    with socket.create_connection(("127.0.0.1", a["allowed"]), timeout=10) as conn:
        answer = conn.recv(1).decode()
    try:
        socket.create_connection(("127.0.0.1", a["denied"]), timeout=10).close()
        denied = "connected"
    except OSError as exc:
        denied = type(exc).__name__
    return {"scratch": kept, "allowed": answer, "denied": denied}


def run(name, args):
    return globals()[name](args)
'''

_WORKFLOWS = '''
"""A hostile tenant's package."""
import json
import os

from wfpkg import Context, Workflow, hookimpl

from . import attacks

if os.environ.get("WFHOST_ATTACK"):  # the same attacks at import time (the trial load too)
    attacks.run(os.environ["WFHOST_ATTACK"], json.loads(os.environ.get("WFHOST_ATTACK_ARGS", "{}")))

wf = Workflow("attacks")


@wf.task()
def attack(ctx: Context) -> None:
    ctx["got"] = attacks.run(ctx["attack"], ctx["args"])


@hookimpl
def wfhost_workflows():
    return [wf]
'''

_VICTIM = '''
"""The other tenant's package: its runs go on while the attacks run."""
import socket

from wfpkg import Context, Workflow, hookimpl

work = Workflow("work")


@work.task()
def hold(ctx: Context) -> None:
    with socket.create_connection(("127.0.0.1", ctx["gate"]), timeout=60) as conn:
        if conn.recv(1) != b"1":
            raise TimeoutError("gate never opened")
    ctx["held"] = True


parked = Workflow("parked")


@parked.task()
def park(ctx: Context) -> None:
    ctx["payload"] = ctx.wait_for_signal("go")


@hookimpl
def wfhost_workflows():
    return [work, parked]
'''

ATTACKS: Final[dict[str, str]] = {
    "read_store": r"FileNotFoundError",
    "write_store": r"FileNotFoundError",
    "read_wal": r"FileNotFoundError",
    "list_home": r"PermissionError",
    "other_install": r"FileNotFoundError",
    "other_scratch": r"PermissionError|FileNotFoundError",
    "read_key": r"FileNotFoundError",
    "read_logs": r"FileNotFoundError",
    "use_client": r"ModuleNotFoundError: No module named 'wfhost'",
    "pg_tcp": r"PermissionError: \[Errno 13\]|Network is unreachable",
    "pg_unix": r"FileNotFoundError",
    "read_secret": r"KeyError: 'WFHOST_ATTACK_SECRET'",
    "signal_host": r"PermissionError: \[Errno 1\] Operation not permitted",
    "host_environ": r"FileNotFoundError",
    "write_outside": r"Read-only file system|Permission denied",
    "many_threads": r"can't start new thread .*limit max_procs",
    "many_procs": r"Resource temporarily unavailable .*limit max_procs",
    "memory": r"MemoryError .*limit memory",
    "spin": r"CPU limit exceeded: .*limit cpu_seconds",
    "big_file": r"File too large .*limit file_size",
    "forge_frame": r"sent 'call' for run '.*', which the host did not give it",
    "oversized_frame": r"broke the protocol: frame of 2147483648 bytes is over the \d+-byte limit",
}
"""Each attack, and what its attempt's error says when the wall holds."""

IMPORT_ATTACKS: Final[dict[str, str]] = {
    **{k: v for k, v in ATTACKS.items() if k not in ("spin", "forge_frame", "oversized_frame")},
    "oversized_frame": r"worker broke the protocol: frame of 2147483648 bytes is over",
    "spin": r"CPU limit exceeded while loading: .*limit cpu_seconds",
    "forge_frame": r"worker sent 'call' instead of ready",
}
"""The same attacks at import time, and what the refused registration says."""


def _project(root: Path, name: str, files: dict[str, str]) -> Path:
    return write_project(root / name, name, version="1.0.0", files=files)


def build_hostile(root: Path, key: TestKey) -> Path:
    """The hostile package, built and signed with ``key``."""
    src = _project(root, "hostile", {"attacks.py": _ATTACK_CODE, "workflows.py": _WORKFLOWS})
    return build_package(src, key.private, out_dir=root / "dist")


def build_victim(root: Path, key: TestKey) -> Path:
    """The victim's package, built and signed with ``key``."""
    src = _project(root, "victim", {"workflows.py": _VICTIM})
    return build_package(src, key.private, out_dir=root / "dist")
