"""Rendering for the `wfhost` command: every rich table, tree and live view.

The core (`Client`, `Host`, `wfhost.cli.demo`) returns plain data; this module
turns it into something a person reads. Nothing here touches the store.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from wfhost._time import rfc3339
from wfpkg.protocol import TERMINAL_EXECUTION

if TYPE_CHECKING:
    from .demo import DemoResult

__all__ = [
    "STATE_STYLES",
    "demo_report",
    "err",
    "events_table",
    "executions_table",
    "fmt_duration",
    "fmt_time",
    "json_ready",
    "keys_table",
    "output_view",
    "out",
    "package_json",
    "packages_table",
    "progress_view",
    "register_hint",
    "result_view",
    "state",
    "status_tree",
    "tenants_table",
    "to_json",
]


def _width(stream: Any) -> int | None:
    # Piped output is read by people too (less, CI logs): don't squeeze it into 80 columns.
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return None if tty or os.environ.get("COLUMNS") else 160


out = Console(highlight=False, soft_wrap=True, width=_width(sys.stdout))
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_width(sys.stderr))

STATE_STYLES: dict[str, str] = {
    "pending": "dim",
    "ready": "cyan",
    "running": "yellow",
    "waiting": "magenta",
    "succeeded": "green",
    "failed": "bold red",
    "skipped": "dim",
    "cancelled": "red",
    "active": "green",
    "inactive": "yellow",
    "retired": "dim",
    "trusted": "green",
    "revoked": "red",
}

TERMINAL = TERMINAL_EXECUTION


# -- small formatters ---------------------------------------------------------------


def state(value: str | None) -> str:
    """A state word in its colour, as rich markup."""
    if value is None:
        return "-"
    style = STATE_STYLES.get(value, "")
    return f"[{style}]{escape(value)}[/{style}]" if style else escape(value)


def fmt_time(ts: float | datetime | None) -> str:
    """A UNIX time or datetime as local ``YYYY-MM-DD HH:MM:SS``."""
    if ts is None:
        return "-"
    if isinstance(ts, datetime):
        return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _clock(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int((ts % 1) * 1000):03d}"


def fmt_duration(seconds: float | None) -> str:
    """``0.042s``, ``3.1s``, ``2m05s``, ``1h02m``."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds < 10:
        return f"{seconds:.3f}s" if seconds < 1 else f"{seconds:.1f}s"
    if seconds < 3600:
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m"


def _short(value: Any, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):  # the typed results of `wfhost.results`
        return value.to_dict()
    if isinstance(value, datetime):
        return _rfc3339(value)
    if isinstance(value, Path):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


#: Keys whose values are user data (an execution's input and output, a signal's payload):
#: printed as they are, never converted.
_USER_DATA = frozenset({"input", "output", "payload", "result", "value"})


def _rfc3339(value: float | datetime) -> str | None:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return rfc3339(aware.timestamp())
    return rfc3339(value)


def _is_time_key(key: str) -> bool:
    return key == "at" or key.endswith("_at")


def json_ready(data: Any) -> Any:
    """The JSON form of what the core returns: every time RFC 3339 UTC, flags booleans.

    The one place the CLI turns results into their JSON form. A typed result
    with ``to_dict()`` gives that form itself; plain dicts (and lists of them)
    get their times (``at`` and every ``*_at`` key, UNIX seconds or datetimes)
    rendered with `wfhost._time.rfc3339`, and ``cancel_requested`` as a
    boolean. Input, output and payloads are the user's and are left alone.
    """
    to_dict = getattr(data, "to_dict", None)
    if callable(to_dict) and not isinstance(data, type):
        return to_dict()
    if is_dataclass(data) and not isinstance(data, type):
        data = asdict(data)
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in _USER_DATA:
                out[key] = value
            elif _is_time_key(key) and isinstance(value, (int, float, datetime)) \
                    and not isinstance(value, bool):
                out[key] = _rfc3339(value)
            elif key == "cancel_requested":
                out[key] = bool(value)
            else:
                out[key] = json_ready(value)
        return out
    if isinstance(data, (list, tuple)):
        return [json_ready(v) for v in data]
    return data


def to_json(data: Any) -> str:
    """Machine output: indented JSON, times in RFC 3339 UTC (see `json_ready`)."""
    return json.dumps(json_ready(data), indent=2, sort_keys=True, default=_json_default)


# -- executions ----------------------------------------------------------------------


def _execution_duration(status: Mapping[str, Any]) -> float | None:
    start = status.get("started_at")
    end = status.get("finished_at")
    if start is None:
        return None
    return float((end if end is not None else time.time()) - start)


def status_tree(status: Mapping[str, Any]) -> Tree:
    """An execution: header, each task (state, attempts, duration, error, wait), children."""
    head = (f"[bold]{escape(status['workflow'])}"
            f"{'@' + escape(status['version']) if status.get('version') else ''}[/bold]  "
            f"{state(status['status'])}")
    if status.get("cancel_requested") and status["status"] not in TERMINAL:
        head += "  [red](cancel requested)[/red]"
    tree = Tree(head)
    facts = Table.grid(padding=(0, 2))
    facts.add_column()
    facts.add_column(overflow="fold")
    facts.add_row("[dim]id[/dim]", escape(status["id"]))
    facts.add_row("[dim]tenant[/dim]", escape(status.get("tenant") or "-"))
    facts.add_row("[dim]created[/dim]", fmt_time(status.get("created_at")))
    if status.get("started_at"):
        facts.add_row("[dim]duration[/dim]", fmt_duration(_execution_duration(status)))
    if status.get("run", 1) and status.get("run", 1) > 1:
        facts.add_row("[dim]run[/dim]", f"{status['run']} (continued as new)")
    if status.get("parent"):
        facts.add_row("[dim]parent[/dim]", escape(status["parent"]))
    error = status.get("error")
    if status.get("cancelled_by") and str(status["cancelled_by"]) not in str(error or ""):
        facts.add_row("[dim]cancelled by[/dim]", escape(str(status["cancelled_by"])))
    if error:
        facts.add_row("[dim]error[/dim]", f"[red]{escape(_short(status['error'], 200))}[/red]")
    tree.add(facts)
    tasks = status.get("tasks") or []
    if tasks:
        branch = tree.add("[dim]tasks[/dim]")
        table = Table.grid(padding=(0, 2))
        for t in tasks:
            attempts = t.get("attempts") or 0
            detail = ""
            if t.get("waiting_for"):
                detail = f"[magenta]waits for {escape(t['waiting_for'])}[/magenta]"
            elif t.get("error"):
                detail = f"[red]{escape(_short(t['error'], 120))}[/red]"
            table.add_row(escape(t["task"]), state(t["state"]),
                          f"attempt {attempts}" if attempts else "[dim]-[/dim]",
                          fmt_duration(t.get("duration")), detail)
        branch.add(table)
    children = status.get("children") or []
    if children:
        branch = tree.add(f"[dim]children ({len(children)})[/dim]")
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, min_width=max(len(c["id"]) for c in children))
        for c in children:
            table.add_row(escape(c["id"]), escape(c["workflow"]), state(c["status"]),
                          f"[dim]from {escape(c['parent_task'])}[/dim]" if c.get("parent_task") else "")
        branch.add(table)
    return tree


def result_view(status: Mapping[str, Any]) -> RenderableType:
    """A finished execution: its tree and, if it succeeded, its output."""
    parts: list[RenderableType] = [status_tree(status)]
    output = status.get("output")
    if output is not None and status["status"] == "succeeded":
        parts.append(output_view(output))
    return Group(*parts)


def output_view(output: Any) -> RenderableType:
    """An execution's output, one line per top-level key (``--json`` shows all of it)."""
    if not isinstance(output, Mapping):
        return Text.from_markup(f"[dim]output[/dim]  {escape(_short(output, 200))}")
    grid = Table.grid(padding=(0, 2))
    grid.add_row("[dim]output[/dim]", "")
    for key, value in output.items():
        grid.add_row(f"  {escape(str(key))}", escape(_short(value, 100)))
    return grid


def progress_view(status: Mapping[str, Any]) -> RenderableType:
    """What `wfhost watch` redraws: a progress bar over the tasks, then the tree."""
    tasks = status.get("tasks") or []
    done = sum(1 for t in tasks if t["state"] in ("succeeded", "failed", "skipped", "cancelled"))
    bar = Table.grid(padding=(0, 2))
    bar.add_row(ProgressBar(total=max(len(tasks), 1), completed=done, width=40),
                f"{done}/{len(tasks)} tasks", state(status["status"]),
                fmt_duration(_execution_duration(status)))
    return Group(bar, status_tree(status))


def executions_table(rows: Sequence[Mapping[str, Any]], *, show_tenant: bool = False) -> Table:
    """`wfhost executions`."""
    table = Table(box=None, header_style="bold")
    if show_tenant:
        table.add_column("tenant")
    # An id is for pasting: never cut it short; the other columns give way.
    table.add_column("id", no_wrap=True,
                     min_width=max((len(r["id"]) + (8 if r.get("child") else 0) for r in rows), default=2))
    table.add_column("workflow", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("status", no_wrap=True, min_width=9)
    table.add_column("created", no_wrap=True)
    table.add_column("duration", no_wrap=True)
    table.add_column("error")
    for r in rows:
        duration = (r["finished_at"] - r["created_at"]) if r.get("finished_at") else None
        cells = [escape(r["id"]) + (" [dim](child)[/dim]" if r.get("child") else ""),
                 escape(r["workflow"]), escape(r.get("version") or "-"), state(r["status"]),
                 fmt_time(r.get("created_at")), fmt_duration(duration),
                 f"[red]{escape(_short(r['error'], 60))}[/red]" if r.get("error") else ""]
        table.add_row(*([escape(r["tenant"])] if show_tenant else []), *cells)
    return table


def events_table(events: Iterable[Mapping[str, Any]]) -> Table:
    """`wfhost history`: one row per event, oldest first."""
    table = Table("at", "event", "task", "detail", box=None, header_style="bold")
    for e in events:
        detail = {k: v for k, v in e.items() if k not in ("at", "kind", "task") and v is not None}
        text = "  ".join(f"{k}={_short(v, 60)}" for k, v in sorted(detail.items()))
        table.add_row(_clock(e.get("at")), escape(e["kind"]), escape(e.get("task") or ""),
                      escape(text))
    return table


# -- packages, keys, tenants ---------------------------------------------------------------


def package_json(info: Any) -> dict[str, Any]:
    """The JSON shape of a registered version (`wfregistry.PackageInfo`)."""
    return {
        "tenant": info.tenant, "package": info.name, "version": info.version,
        "state": info.state, "key_id": info.key_id, "sha256": info.archive_sha256,
        "registered_at": info.registered_at, "id": info.id,
        "workflows": [wf["name"] for wf in info.manifest.workflows],
    }


def register_hint(info: Any) -> RenderableType:
    """After `wfhost register`: each workflow, the input fields it declares, a command to run it.

    The command names the version it was given when that is not the active one,
    so it runs what was just registered.
    """
    pin = "" if info.state == "active" else f"@{info.version}"
    lines: list[str] = []
    for wf in info.manifest.workflows:
        inputs: Mapping[str, str] = wf.get("inputs") or {}
        about = f"  [dim]{escape(wf['description'])}[/dim]" if wf.get("description") else ""
        lines.append(f"  [bold]{escape(wf['name'])}[/bold]{about}")
        for field_name, text in inputs.items():
            lines.append(f"    [dim]input[/dim] {escape(field_name)}: {escape(text)}")
        # Declared fields as a template to fill in (values are the caller's); none: an empty object.
        example = "{" + ", ".join(f'"{k}": ...' for k in inputs) + "}"
        lines.append(f"    [dim]run:[/dim] wfhost --tenant {escape(info.tenant)} schedule "
                     f"{escape(info.name)}{escape(pin)}::{escape(wf['name'])} "
                     f"--input '{escape(example)}' --wait")
    return Text.from_markup("\n".join(lines))


def packages_table(infos: Iterable[Any]) -> Table:
    """`wfhost packages`."""
    table = Table("tenant", "package", "version", "state", "signer key id", "registered",
                  "workflows", box=None, header_style="bold")
    for i in infos:
        table.add_row(escape(i.tenant), escape(i.name), escape(i.version), state(i.state),
                      escape(i.key_id), fmt_time(i.registered_at),
                      escape(", ".join(wf["name"] for wf in i.manifest.workflows)))
    return table


def keys_table(keys: Iterable[Any]) -> Table:
    """`wfhost trust --list`."""
    table = Table("key id", "label", "state", "added", "revoked", box=None, header_style="bold")
    for k in keys:
        table.add_row(escape(k.key_id), escape(k.label or ""),
                      state("revoked" if k.revoked_at else "trusted"),
                      fmt_time(k.added_at), fmt_time(k.revoked_at) if k.revoked_at else "")
    return table


def tenants_table(names: Iterable[str]) -> Table:
    """`wfhost tenant list`."""
    table = Table("tenant", box=None, header_style="bold")
    for n in names:
        table.add_row(escape(n))
    return table


def tokens_table(rows: Iterable[dict[str, Any]]) -> Table:
    """`wfhost token list`."""
    table = Table("id", "tenant", "label", "created", "revoked", box=None, header_style="bold")
    for r in rows:
        table.add_row(escape(r["id"]), "[bold]admin[/bold]" if r["admin"] else escape(r["tenant"] or ""),
                      escape(r["label"] or ""), fmt_time(r["created_at"]),
                      fmt_time(r["revoked_at"]) if r["revoked_at"] else "")
    return table


# -- demo ------------------------------------------------------------------------------------


def demo_report(result: DemoResult) -> RenderableType:
    """The end of `wfhost demo`: packages, each scenario's execution, and what to try next."""
    parts: list[RenderableType] = [Text(""), Text("registered packages", style="bold"),
                                   packages_table(result.packages), Text("")]
    for run in result.runs:
        ok = run.status.get("status") == run.expected
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        parts.append(Text.from_markup(f"{mark} [bold]{escape(run.title)}[/bold]"
                                      f"  [dim]{escape(run.note)}[/dim]"))
        parts.append(status_tree(run.status))
        if run.highlight is not None:
            parts.append(Text.from_markup(f"  [dim]result:[/dim] {escape(_short(run.highlight, 160))}"))
        parts.append(Text(""))
    for name, why in result.skipped:
        parts.append(Text.from_markup(f"[yellow]skipped[/yellow] {escape(name)}: {escape(why)}"))
    if result.registered_only:
        parts.append(Text.from_markup(
            f"[dim]also registered, to try by hand: {escape(', '.join(result.registered_only))}[/dim]"))
    home = str(result.home)
    parts.append(Text.from_markup(
        "\n[bold]try it yourself[/bold]\n"
        f"  export WFHOST_HOME={escape(home)} WFHOST_TENANT=demo\n"
        "  wfhost executions\n"
        f"  wfhost status {escape(result.runs[0].execution_id) if result.runs else 'ID'}\n"
        "  wfhost schedule data_processing::data_processing --input '{\"threshold\": 5}' --wait"))
    return Group(*parts)
