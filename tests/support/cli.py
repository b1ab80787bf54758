"""Running `wfhost` in tests: in-process through typer's `CliRunner`, or as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from wfhost.cli.app import app

__all__ = ["Cli", "assert_one_line_error", "child_env"]


class Cli:
    """Runs `wfhost` for one home and tenant, in-process or as a subprocess."""

    def __init__(self, home: Path, tenant: str = "acme") -> None:
        self.home = home
        self.tenant = tenant

    def argv(self, *args: str) -> list[str]:
        return ["--home", str(self.home), "--tenant", self.tenant, *args]

    def __call__(self, *args: str) -> Any:
        return CliRunner().invoke(app, self.argv(*args))

    def ok(self, *args: str) -> Any:
        result = self(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def run(self, *args: str, timeout: float = 90, columns: int = 200) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wfhost", *self.argv(*args)],
                              capture_output=True, text=True, timeout=timeout,
                              env=child_env(COLUMNS=str(columns)))

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "wfhost", *self.argv(*args)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=child_env())


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a `wfhost` subprocess: no WFHOST_* leaking in, 200 columns."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("WFHOST_HOME", "WFHOST_DATABASE_URL", "WFHOST_TENANT")}
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def assert_one_line_error(result: Any, code: int) -> str:
    """The failure is exactly one ``error:`` line on stderr, no traceback, nothing on stdout."""
    stderr = result.stderr
    assert result.exit_code == code, (result.exit_code, result.stdout, stderr, result.exception)
    assert stderr.startswith("error: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    assert result.stdout == ""
    return str(stderr)
