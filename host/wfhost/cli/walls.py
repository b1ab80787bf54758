"""`wfhost tenant policy`, `wfhost tenant show` and `wfhost doctor`: the tenant walls from the CLI.

Imported by `wfhost.cli.app` once its commands exist; the work is done by
`wfregistry.Registry.set_policy` and `wfhost.walls.doctor`, which return data.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .app import BadInput, JsonOption, _client, _print_json, _settings, command, out, tenant_app
from .app import app as root_app

__all__: list[str] = []

_LIMIT_HELP = "Use -1 for unlimited."


def _policy_dict(tenant: str, policy: Any) -> dict[str, Any]:
    from wfregistry.sandbox import format_size

    limits = policy.limits
    return {"tenant": tenant, "allow_connect": list(policy.allow_connect), "env": dict(policy.env),
            "limits": {"memory": limits.memory, "cpu_seconds": limits.cpu_seconds,
                       "max_procs": limits.max_procs, "open_files": limits.open_files,
                       "file_size": limits.file_size},
            "shown": {**limits.describe(), "memory": format_size(limits.memory) if limits.memory else "unlimited"}}


def _policy_table(data: dict[str, Any]) -> Table:
    table = Table("setting", "value", box=None, header_style="bold", title=f"tenant {escape(data['tenant'])}",
                  title_justify="left")
    table.add_row("allow connect", ", ".join(map(str, data["allow_connect"])) or "none (no network)")
    for name, shown in data["shown"].items():
        table.add_row(name.replace("_", " "), escape(shown))
    env = data["env"]
    table.add_row("env", escape(", ".join(f"{k}=…" for k in env)) if env else "none")
    return table


def _size(value: str | None, what: str) -> int | None:
    from wfregistry.sandbox import parse_size

    if value is None:
        return None
    if value.strip() == "-1":
        return -1
    try:
        return parse_size(value)
    except ValueError as exc:
        raise BadInput(f"{what}: {exc}") from None


@command(tenant_app, "policy")
def tenant_policy(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="The tenant whose workers this applies to.")],
    allow_connect: Annotated[list[int] | None, typer.Option(  # noqa: UP007
        "--allow-connect", help="A TCP port its code may connect to (repeat; replaces the list).")] = None,
    no_connect: Annotated[bool, typer.Option("--no-connect", help="Allow no TCP port.")] = False,
    memory: Annotated[str | None, typer.Option(help="Address space per worker process, e.g. 512M. "  # noqa: UP007
                                                    + _LIMIT_HELP)] = None,
    cpu_seconds: Annotated[int | None, typer.Option(help="CPU seconds per attempt. " + _LIMIT_HELP)] = None,  # noqa: UP007
    max_procs: Annotated[int | None, typer.Option(help="Processes and threads per worker. "  # noqa: UP007
                                                       + _LIMIT_HELP)] = None,
    open_files: Annotated[int | None, typer.Option(help="Open files per worker. " + _LIMIT_HELP)] = None,  # noqa: UP007
    file_size: Annotated[str | None, typer.Option(help="Largest file a task may write, e.g. 64M. "  # noqa: UP007
                                                       + _LIMIT_HELP)] = None,
    env: Annotated[list[str] | None, typer.Option(  # noqa: UP007
        "--env", help="KEY=VALUE its workers see (repeat; replaces the set).")] = None,
    clear_env: Annotated[bool, typer.Option("--clear-env", help="Give its workers no extra variables.")] = False,
    reset: Annotated[bool, typer.Option("--reset", help="Start from the defaults.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Set what a tenant's workers may do: ports, limits, environment (new workers get it)."""
    pairs: dict[str, str] | None = None
    if env is not None or clear_env:
        pairs = {}
        for item in env or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise BadInput(f"--env {item!r}: expected KEY=VALUE")
            pairs[key] = value
    ports = [] if no_connect else allow_connect
    with _client(ctx) as client:
        try:
            policy = client.registry.set_policy(
                tenant, allow_connect=ports, env=pairs, reset=reset, memory=_size(memory, "--memory"),
                cpu_seconds=cpu_seconds, max_procs=max_procs, open_files=open_files,
                file_size=_size(file_size, "--file-size"))
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    data = _policy_dict(tenant, policy)
    if as_json:
        _print_json(data)
    else:
        out.print(_policy_table(data))


@command(tenant_app, "show")
def tenant_show(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="The tenant.")],
    as_json: JsonOption = False,
) -> None:
    """Show a tenant's policy: allowed ports, limits, environment variable names."""
    from wfregistry.errors import UnknownTenant

    with _client(ctx) as client:
        if tenant not in client.registry.tenants():
            raise UnknownTenant(f"tenant {tenant!r} does not exist")
        data = _policy_dict(tenant, client.registry.policy(tenant))
    if as_json:
        _print_json(data)
    else:
        out.print(_policy_table(data))


@command(root_app, "doctor")
def doctor(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print what isolation is in force here: Landlock ABI, each wall and limit, file modes, the store."""
    from wfhost.store.engine import default_home, resolve_url
    from wfhost.walls import doctor as run_doctor
    from wfhost.walls import resolve_isolation

    settings = _settings(ctx)
    home = settings.home or default_home()
    report = run_doctor(home, resolve_url(home, settings.db), resolve_isolation(None))
    if as_json:
        _print_json(report)
        return
    table = Table("check", "state", box=None, header_style="bold")
    table.add_row("isolation", report["isolation"])
    table.add_row("landlock ABI", str(report["landlock_abi"]))
    table.add_row("running as root", "yes" if report["running_as_root"] else "no")
    for problem in report["missing_walls"]:
        table.add_row("[red]missing wall[/red]", escape(problem))
    worker = report["worker"]
    if worker.get("error"):
        table.add_row("[red]worker sandbox[/red]", escape(worker["error"]))
    walls = worker.get("walls")
    if walls:
        table.add_row("worker uid", str(walls["uid"]))
        table.add_row("worker network", escape(walls["network"]))
        table.add_row("worker filesystem", "new root of read-only runtime + install dir, private scratch")
        table.add_row("signals, ptrace", "scoped to the worker (Landlock)")
    elif report["isolation"] == "none":
        table.add_row("[yellow]worker sandbox[/yellow]", "none: tenant code runs with this host's authority")
    for name in ("store", "tcp", "unix"):
        if name in worker:
            what = {"store": "store file", "tcp": "database over TCP", "unix": "database over its Unix socket"}
            style = "red" if worker[name] == "reachable" else "green"
            table.add_row(f"{what[name]} from a worker", f"[{style}]{escape(worker[name])}[/{style}]")
    for name, shown in report["default_limits"].items():
        table.add_row(f"default {name.replace('_', ' ')}", shown)
    for path, mode in report["file_modes"].items():
        table.add_row(f"mode {escape(path)}", mode)
    out.print(table)
