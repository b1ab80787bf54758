"""The ``wfhost`` command line: commands (`app`), rendering (`render`) and the demo (`demo`).

`main` answers ``--version`` before importing the commands (and through
them the store), so it returns at interpreter start-up speed.

Start-up makes several hundred thousand objects (modules, classes,
SQLAlchemy's constructs) that live as long as the process; the garbage
collector would walk them over and over while they are made (≈ 0.04 s of
``wfhost status``). So `main` holds the collector until the command has its
client or host (`started`), then freezes what start-up made and lets it run.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

__all__ = ["app", "main", "owns_process", "started"]

_held = False  # `main` holds the collector until `started`
_own = False  # `main` runs this process: the command may set process-wide things (CPUs)


def main() -> None:
    """Run the `wfhost` command line."""
    if sys.argv[1:] == ["--version"]:
        from wfhost import __version__

        print(f"wfhost {__version__}")
        return
    global _held, _own
    _held = _own = True
    gc.disable()  # until `started` (or the end of a command that never opens a store)
    from .app import main as run

    try:
        run()
    finally:
        # The command is done and its store closed: spare the interpreter's last garbage
        # collections, which walk every object SQLAlchemy made (≈ 0.05 s of every command).
        gc.freeze()


def started() -> None:
    """The command has its client or host: start-up is over, collect garbage from now on.

    What start-up made is moved out of the collector's sight (`gc.freeze`):
    it lives until the process ends anyway. Only in a process `main` runs: the
    commands called in-process (tests, `typer.testing`) leave the collector alone.
    """
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()


def owns_process() -> bool:
    """Whether `main` runs this process (not a test or a program calling the commands)."""
    return _own


def __getattr__(name: str) -> Any:
    if name == "app":
        from .app import app

        return app
    raise AttributeError(f"module 'wfhost.cli' has no attribute {name!r}")
