"""`wfhost demo` end to end, in a subprocess, in a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.packages import SAMPLES


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFHOST_")}
    # The demo must not touch these even when they are set.
    env["WFHOST_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    env["COLUMNS"] = "200"
    return env


def _demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wfhost", "demo", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=300)


def test_demo_builds_registers_and_runs_the_samples(tmp_path: Path) -> None:
    proc = _demo(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    home = tmp_path / ".wfhost-demo"
    assert (home / "wfhost.db").is_file()
    assert "data_processing" in proc.stdout and "✗" not in proc.stdout
    assert "Traceback" not in proc.stderr
    present = [p.name for p in SAMPLES.iterdir() if (p / "pyproject.toml").is_file()]
    for name in present:
        assert list((home / "dist").glob(f"{name}-*.wfpkg")), name
    if "purchase_approval" in present:
        assert "waited for signal 'approval'" in proc.stdout
        assert '"decision": "approved"' in proc.stdout
    if "child_workflows" in present:
        assert "children (5)" in proc.stdout
        # The note names the failing child as its tree does.
        assert "item-3 (value -4) fails" in proc.stdout and "item-3" in proc.stdout.split("fails", 1)[1]

    # A second run starts afresh in the same home.
    again = _demo(tmp_path)
    assert again.returncode == 0, again.stderr


def test_demo_refuses_a_home_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep me", encoding="utf-8")
    proc = _demo(tmp_path, "--home", str(precious))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert (precious / "data.txt").read_text(encoding="utf-8") == "keep me"


def test_demo_without_samples_is_a_clear_error(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--samples", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert "no sample packages" in proc.stderr and "--samples" in proc.stderr
