"""`wfhost demo`: build, sign, register and run the sample packages in a fresh home.

Everything happens for real: each sample under ``sample_packages/`` is built
with `wfpkg.build.build_package` and signed with a new key, tenant ``demo``
trusts that key, the packages are registered, and executions run on an
embedded `Host`. This module returns data (`DemoResult`); `wfhost.cli.render`
draws it.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfhost.errors import HostError, InvalidRequest
from wfpkg.protocol import TERMINAL_EXECUTION

__all__ = ["MARKER", "SAMPLES", "DemoResult", "DemoRun", "find_samples", "prepare_home", "run_demo"]

#: Samples in the order they are built; those missing from the samples folder are skipped.
SAMPLES = ("data_processing", "purchase_approval", "approvals", "coordination", "child_workflows")
#: A file the demo writes in its home, so that it only ever deletes a folder it made.
MARKER = ".wfhost-demo"
TENANT = "demo"
RUN_TIMEOUT = 120.0

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoRun:
    """One execution the demo ran.

    Attributes:
        title: what it shows.
        execution_id: its id.
        status: its final `Client.status`.
        expected: the status it should end in.
        note: how it was driven (e.g. which signal was sent).
        highlight: the part of its output worth showing.
    """

    title: str
    execution_id: str
    status: dict[str, Any]
    expected: str = "succeeded"
    note: str = ""
    highlight: Any = None

    @property
    def ok(self) -> bool:
        """Whether it ended as expected."""
        return self.status.get("status") == self.expected


@dataclass
class DemoResult:
    """Everything the demo did.

    Attributes:
        home: the demo's host home.
        key_id: the id of the signing key it created.
        packages: the registered versions (`wfregistry.PackageInfo`).
        runs: the executions, in order.
        skipped: ``(sample, reason)`` for samples not found.
        registered_only: samples registered that the demo runs nothing of.
    """

    home: Path
    key_id: str = ""
    packages: list[Any] = field(default_factory=list)
    runs: list[DemoRun] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    registered_only: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every execution ended as expected."""
        return bool(self.runs) and all(r.ok for r in self.runs)


def find_samples(override: Path | None = None) -> Path:
    """The ``sample_packages`` folder: ``override``, else the one beside the installed source.

    Raises:
        InvalidRequest: the folder does not exist or holds no sample.
    """
    if override is not None:
        path = Path(override)
    else:
        import wfhost

        path = Path(wfhost.__file__).resolve().parents[2] / "sample_packages"
    if not path.is_dir() or not any((path / name / "pyproject.toml").is_file() for name in SAMPLES):
        raise InvalidRequest(
            f"no sample packages in {path}; run the demo from a source checkout "
            "(pip install -e .) or pass --samples DIR")
    return path


def prepare_home(home: Path) -> Path:
    """Empty ``home`` (only if the demo made it) and recreate it with the demo marker.

    Raises:
        InvalidRequest: ``home`` is a non-empty folder the demo did not create.
    """
    home = Path(home).resolve()
    if home.exists():
        if not home.is_dir() or (any(home.iterdir()) and not (home / MARKER).exists()):
            raise InvalidRequest(f"{home} exists and is not a demo home; choose another --home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text("made by `wfhost demo`; deleted by its next run\n", encoding="utf-8")
    return home


def run_demo(home: Path, samples: Path, progress: Progress | None = None) -> DemoResult:
    """Build, register and run the samples in a fresh ``home``; return what happened."""
    from wfhost.host import Host
    from wfpkg.build import build_package
    from wfpkg.keys import generate_private_key, key_id, public_key_text, write_private_key

    say = progress or (lambda _msg: None)
    home = prepare_home(home)
    result = DemoResult(home=home)

    key = generate_private_key()
    write_private_key(home / "keys" / "demo.key", key)
    pub_text = public_key_text(key.public_key())
    (home / "keys" / "demo.key.pub").write_text(pub_text, encoding="ascii")
    result.key_id = key_id(key.public_key())
    say(f"created signing key {result.key_id}")

    archives: list[Path] = []
    for name in SAMPLES:
        src = samples / name
        if not (src / "pyproject.toml").is_file():
            result.skipped.append((name, f"not in {samples}"))
            continue
        say(f"building {name}")
        def progress(msg: str, n: str = name) -> None:
            say(f"building {n}: {msg}")

        archives.append(build_package(src, key, home / "dist", progress=progress))

    # The demo's own SQLite store, whatever $WFHOST_DATABASE_URL says: it never touches real data.
    host = Host(home, f"sqlite:///{home / 'wfhost.db'}", tenant=TENANT).start()
    try:
        client = host.client
        client.create_tenant(TENANT)
        client.trust(TENANT, pub_text, label="demo key")
        say(f"created tenant {TENANT!r}, trusting key {result.key_id}")
        for archive in archives:
            say(f"registering {archive.name}")
            result.packages.append(client.register(archive))
        registered = {info.name: info for info in result.packages}
        for name, scenario in _SCENARIOS.items():
            if name in registered:
                result.runs.extend(scenario(host, registered[name], say))
        for name in SAMPLES:
            if name in registered and name not in _SCENARIOS:
                result.registered_only.append(name)
    finally:
        host.close()
    return result


# -- scenarios ---------------------------------------------------------------------------------


def _workflow(info: Any, preferred: tuple[str, ...]) -> str:
    names: list[str] = [str(wf["name"]) for wf in info.manifest.workflows]
    for want in preferred:
        for n in names:
            if n == want:
                return n
    for want in preferred:
        for n in names:
            if want in n:
                return n
    return names[0]


def _run(host: Any, title: str, workflow: str, input: Mapping[str, Any], say: Progress, *,  # noqa: A002
         note: str = "", expected: str = "succeeded",
         drive: Callable[[str], str] | None = None, pick: tuple[str, ...] = ()) -> DemoRun:
    eid = host.client.schedule(workflow, dict(input))
    say(f"{title}: started {eid}")
    if drive is not None:
        note = drive(eid) or note
    status = host.wait(eid, timeout=RUN_TIMEOUT)
    say(f"{title}: {status['status']}")
    output = status.get("output")
    highlight = ({k: output[k] for k in pick if k in output} or None) if isinstance(output, dict) else None
    if highlight and len(highlight) == 1:
        (highlight,) = highlight.values()
    return DemoRun(title, eid, status, expected, note, highlight)


_SIGNAL = re.compile(r"signal '([^']+)'")


def _wait_for_signal_wait(host: Any, eid: str, timeout: float = 60.0) -> str | None:
    """The name of the signal the execution waits for, once it does (None if it finished first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = host.client.status(eid)
        if status["status"] in TERMINAL_EXECUTION:
            return None
        for task in status["tasks"]:
            match = _SIGNAL.search(task.get("waiting_for") or "")
            if match:
                return match.group(1)
        time.sleep(0.05)
    raise HostError(f"execution {eid} did not start waiting for a signal within {timeout:.0f}s")


def _data_processing(host: Any, info: Any, say: Progress) -> list[DemoRun]:
    wf = f"{info.name}::{_workflow(info, ('data_processing', 'pipeline'))}"
    return [_run(host, "data_processing: collect → process → report", wf,
                 {"sources": ["sensors", "orders", "weblogs"], "fail_first_attempts": 1}, say,
                 note="process_data fails its first attempt and is retried",
                 pick=("final_report",))]


def _purchase_approval(host: Any, info: Any, say: Progress) -> list[DemoRun]:
    wf = f"{info.name}::{_workflow(info, ('purchase_approval', 'approval', 'order'))}"
    outbox = "approval-requests.jsonl"  # relative: the worker's scratch dir, the only place it may write

    def approve(eid: str) -> str:
        name = _wait_for_signal_wait(host, eid)
        if name is None:
            return "finished without waiting for a signal"
        say(f"large order: {eid} waits for signal {name!r}; approving it")
        host.client.signal(eid, name, {"approved": True, "approver": "ada@example.com"})
        return f"waited for signal {name!r}; the demo sent it: approved by ada@example.com"

    pick = ("decision", "approver", "order_status", "total")
    return [
        _run(host, "purchase_approval: small order", wf,
             {"order_id": "PO-1001", "cost": 25, "quantity": 4}, say,
             note="total 100, under the threshold of 1000: approved at once", pick=pick),
        _run(host, "purchase_approval: large order", wf,
             {"order_id": "PO-1002", "cost": 1200, "quantity": 5, "outbox": outbox}, say,
             drive=approve, pick=pick),
    ]


def _child_workflows(host: Any, info: Any, say: Progress) -> list[DemoRun]:
    wf = f"{info.name}::{_workflow(info, ('fan_out_fan_in', 'fan_out', 'parent'))}"
    return [_run(host, "child_workflows: fan-out / fan-in", wf, {"items": [1, 2, 3, -4, 5]}, say,
                 note="a child per item; item-3 (value -4) fails and the parent counts it",
                 pick=("succeeded", "failed", "total"))]


_SCENARIOS: dict[str, Callable[[Any, Any, Progress], list[DemoRun]]] = {
    "data_processing": _data_processing,
    "purchase_approval": _purchase_approval,
    "child_workflows": _child_workflows,
}
