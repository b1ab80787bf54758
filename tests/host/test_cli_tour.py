"""The README's tour, as a new user runs it: `wfpkg init`, build, register, then signal and cancel.

The package is the one `wfpkg init` writes; its `approval` workflow waits for a
signal, so the tour's `signal` and `cancel` steps act on something that waits.
The README's Python snippet runs as written against a running host.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import Cli, child_env

from wfhost import Host

ROOT = Path(__file__).resolve().parents[2]


def _wfpkg(*args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "wfpkg", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, env=child_env())
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the archive `wfpkg init hello` + `wfpkg build` make, its public key)."""
    work = tmp_path_factory.mktemp("tour")
    _wfpkg("init", "hello", cwd=work)
    _wfpkg("keygen", "--out", "keys/ci.key", cwd=work)
    _wfpkg("build", "hello", "--key", "keys/ci.key", cwd=work)
    return work / "hello/dist/hello-0.1.0.wfpkg", work / "keys/ci.key.pub"


@pytest.fixture
def tour(tmp_path: Path, hello: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    for name in ("WFHOST_HOME", "WFHOST_DATABASE_URL", "WFHOST_TENANT", "WFHOST_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    cli = Cli(tmp_path / ".wfhost")
    archive, pub = hello
    cli.ok("tenant", "create", "acme")
    cli.ok("trust", str(pub), "--label", "ci")
    cli.ok("register", str(archive))
    yield cli


def test_signal_step_approves_a_waiting_execution(tour: Cli) -> None:
    eid = tour.ok("schedule", "hello::approval", "--input", '{"who": "bob"}').stdout.strip()
    tour.ok("signal", eid, "approval", "--payload", '{"approved": true}')
    proc = tour.run("schedule", "hello::approval", "--id", eid, "--input", '{"who": "bob"}',
                    "--wait", "--json")  # no worker: runs it here, to the end
    assert proc.returncode == 0, proc.stderr
    state = json.loads(proc.stdout)
    assert state["output"]["decision"] == "bob: approved"
    assert [t["state"] for t in state["tasks"]] == ["succeeded", "succeeded"]


def test_cancel_step_cancels_a_waiting_execution(tour: Cli) -> None:
    eid = tour.ok("schedule", "hello::approval", "--input", '{"who": "eve"}').stdout.strip()
    assert "cancellation requested" in tour.ok("cancel", eid, "--reason", "not needed").stdout
    proc = tour.run("schedule", "hello::approval", "--id", eid, "--input", '{"who": "eve"}', "--wait")
    assert proc.returncode == 1
    assert [r["id"] for r in tour.json("executions", "--status", "cancelled")] == [eid]


def test_readme_python_snippet_runs_as_written(tour: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (snippet,) = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    with Host(home=tour.home):  # the running `wfhost worker` the snippet talks about
        exec(compile(snippet, "README.md", "exec"), {})  # noqa: S102 - the README's own code
    printed = capsys.readouterr().out
    assert "'decision': 'ada: approved'" in printed, printed
