"""The ``wfhost`` command line: commands (`app`), rendering (`render`) and the demo (`demo`)."""

from .app import app, main

__all__ = ["app", "main"]
