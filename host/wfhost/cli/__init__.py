"""The ``wfhost`` command line: commands (`app`), rendering (`render`) and the demo (`demo`)."""

from .app import app, main
from .schedules import schedules_app

app.add_typer(schedules_app, name="schedules")

__all__ = ["app", "main"]
