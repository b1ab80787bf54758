"""`wfhost schedules`: cron schedules that start a workflow at each tick.

Every running host fires the due ticks (exactly once between them); these
commands only change the rows, so they work whether or not a host runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from . import render
from .app import JsonOption, _client, _json_arg, _print_json, command

if TYPE_CHECKING:
    from wfhost.engine.schedules import ScheduleInfo

__all__ = ["schedules_app"]

schedules_app = typer.Typer(
    help="Cron schedules: start a workflow at each tick (add, list, pause, resume, delete, trigger).",
    no_args_is_help=True,
)
out = render.out


def schedules_table(infos: list[ScheduleInfo]) -> Table:
    """One row per schedule: its cron, next tick and most recent run."""
    table = Table(box=None, pad_edge=False)
    for col in ("name", "workflow", "cron", "next tick", "catch-up", "overlap", "last run"):
        table.add_column(col, overflow="fold")
    for s in infos:
        last = s.runs[0] if s.runs else None
        last_text = "-" if last is None else (
            f"{last.outcome} {last.execution_id or last.detail or ''}".strip())
        table.add_row(escape(s.name), escape(s.workflow), escape(f"{s.cron} ({s.timezone})"),
                      "paused" if s.paused else render.fmt_time(s.next_tick_at),
                      s.catchup.value, s.overlap.value, escape(last_text))
    return table


def runs_table(info: ScheduleInfo) -> Table:
    """A schedule's last runs, newest first."""
    table = Table(box=None, pad_edge=False, title=f"{escape(info.name)}: last {len(info.runs)} runs")
    for col in ("tick", "outcome", "execution / reason"):
        table.add_column(col, overflow="fold")
    for r in info.runs:
        table.add_row(render.fmt_time(r.tick_at), r.outcome, escape(r.execution_id or r.detail or ""))
    return table


def _show(info: ScheduleInfo, as_json: bool) -> None:
    if as_json:
        _print_json(info.to_dict())
    else:
        out.print(schedules_table([info]))


@command(schedules_app, "add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Schedule name: lowercase letters, digits, '_'.")],
    workflow: Annotated[str, typer.Argument(help="package::workflow or package@1.0.0::workflow.")],
    cron: Annotated[str, typer.Option("--cron", help='Cron expression, e.g. "0 9 * * MON-FRI".')],
    timezone: Annotated[str, typer.Option(
        "--timezone", help="IANA time zone the expression is read in.")] = "UTC",
    input_: Annotated[str | None, typer.Option(  # noqa: UP007
        "--input", "-i", help="Input of every run: a JSON object, or @FILE.")] = None,
    catchup: Annotated[str, typer.Option(
        "--catchup", help="Ticks missed while no host ran: skip, one (the latest) or all.")] = "skip",
    overlap: Annotated[str, typer.Option(
        "--overlap", help="A tick while the previous run still runs: allow or skip.")] = "allow",
    as_json: JsonOption = False,
) -> None:
    """Add a schedule; it fires from its next tick on, on any running host."""
    payload: Any = _json_arg(input_, "--input")
    with _client(ctx) as client:
        info = client.add_schedule(name, workflow, cron, timezone=timezone, input=payload,
                                   catchup=catchup, overlap=overlap)
    _show(info, as_json)


@command(schedules_app, "list")
def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(  # noqa: UP007
        help="Show this schedule's last 20 runs.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List schedules with their next tick and last run (or one schedule's last 20 runs)."""
    with _client(ctx) as client:
        infos = [client.get_schedule(name)] if name else client.schedules()
    if as_json:
        _print_json([i.to_dict() for i in infos] if name is None else infos[0].to_dict())
    elif name:
        out.print(schedules_table(infos))
        out.print(runs_table(infos[0]))
    else:
        out.print(schedules_table(infos))


@command(schedules_app, "pause")
def pause(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The schedule.")],
          as_json: JsonOption = False) -> None:
    """Stop a schedule firing (ticks while paused are not caught up)."""
    with _client(ctx) as client:
        _show(client.pause_schedule(name), as_json)


@command(schedules_app, "resume")
def resume(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The schedule.")],
           as_json: JsonOption = False) -> None:
    """Fire a paused schedule again, from its next tick."""
    with _client(ctx) as client:
        _show(client.resume_schedule(name), as_json)


@command(schedules_app, "delete")
def delete(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The schedule.")]) -> None:
    """Delete a schedule (executions it started stay)."""
    with _client(ctx) as client:
        client.delete_schedule(name)
    out.print(f"deleted schedule [bold]{escape(name)}[/bold]")


@command(schedules_app, "trigger")
def trigger(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The schedule.")],
            as_json: JsonOption = False) -> None:
    """Run a schedule's workflow now; print the execution id."""
    with _client(ctx) as client:
        eid = client.trigger_schedule(name)
    if as_json:
        _print_json({"id": eid})
    else:
        typer.echo(eid)
