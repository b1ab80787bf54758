"""The ``wfhost`` command line: commands (`app`), rendering (`render`) and the demo (`demo`).

`main` answers ``--version`` before importing the commands (and through
them the store), so it returns at interpreter start-up speed.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

__all__ = ["app", "main"]


def main() -> None:
    """Run the `wfhost` command line."""
    if sys.argv[1:] == ["--version"]:
        from wfhost import __version__

        print(f"wfhost {__version__}")
        return
    from .app import main as run

    try:
        run()
    finally:
        # The command is done and its store closed: spare the interpreter's last garbage
        # collections, which walk every object SQLAlchemy made (≈ 0.05 s of every command).
        gc.freeze()


def __getattr__(name: str) -> Any:
    if name == "app":
        from .app import app

        return app
    raise AttributeError(f"module 'wfhost.cli' has no attribute {name!r}")
