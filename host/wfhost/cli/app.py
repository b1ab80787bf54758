"""The `wfhost` command: tenants, trust, packages, executions, a worker, the demo.

Rendering lives in `wfhost.cli.render`; the work is done by `Client`, `Host` and
`wfhost.cli.demo`, which return data. An expected failure is one red
``error: ...`` line on stderr, never a traceback (set ``WFHOST_DEBUG=1`` to
see one), and the exit status says what kind:

====  =====================================================================
0     success
1     the execution failed or was cancelled (``schedule --wait``, ``watch``);
      any other error
2     bad input: malformed JSON, a bad name, an archive or key refused
3     not found: execution, workflow, package, tenant
4     conflict: an id reused with other input, a version taken, a tenant that exists
130   interrupted (Ctrl-C)
====  =====================================================================
"""

from __future__ import annotations

import functools
import json
import os
import signal as signals
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from typer.core import TyperGroup

from wfhost import __version__
from wfhost.errors import HostError, InvalidRequest, NotFound
from wfpkg.protocol import TERMINAL_EXECUTION, ExecutionStatus

from . import render, started

__all__ = ["app", "exit_code_for", "main"]

F = TypeVar("F", bound=Callable[..., Any])

#: `wfhost --help` lists commands in the order the README's tour uses them; commands not
#: named here follow, in the order they were added.
COMMAND_ORDER = ("tenant", "trust", "revoke", "register", "packages", "activate", "unregister",
                 "schedule", "status", "watch", "executions", "history", "signal", "cancel", "retry",
                 "schedules", "worker", "serve", "token", "doctor", "demo")


class _TourOrder(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), names.index(n)))


app = typer.Typer(
    name="wfhost",
    cls=_TourOrder,
    help="Run signed workflow packages durably: register, schedule, signal, watch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tenant_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
token_app = typer.Typer(help="API tokens of the service (`wfhost serve`).", no_args_is_help=True)
app.add_typer(token_app, name="token")

out, err = render.out, render.err
TERMINAL = TERMINAL_EXECUTION

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout and nothing else.")]


#: What `wfhost executions --status` accepts: an execution state, or ``active`` (not finished).
StatusFilter = Enum(  # type: ignore[misc]  # derived from the one definition of the states
    "StatusFilter", {**{m.name: m.value for m in ExecutionStatus}, "ACTIVE": "active"}, type=str)


# -- settings and errors ------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The global options, shared by every command."""

    home: Path | None
    db: str | None
    #: ``None`` when not given: a full name (``tenant::package::workflow``) then picks it.
    given_tenant: str | None
    #: A service's URL and token: tenant commands then go over HTTP.
    url: str | None = None
    token: str | None = None

    @property
    def tenant(self) -> str:
        """The tenant acted for (``default`` if none was given; the token's on a service)."""
        if self.given_tenant:
            return self.given_tenant
        if self.url:
            with self.client() as client:  # the token's tenant, asked of the service
                return str(client.tenant)
        return "default"

    def client(self) -> Any:
        """A standalone client on this store, or on the service (the caller closes it)."""
        if self.url:
            from wfhost.remote import RemoteClient

            if not self.token:
                raise BadInput("--url needs a token: --token or WFHOST_TOKEN")
            client: Any = RemoteClient(self.url, self.token, tenant=self.given_tenant)
        else:
            from wfhost.client import Client

            client = Client(self.home, self.db, tenant=self.given_tenant)
        started()
        return client

    def host(self, **kwargs: Any) -> Any:
        """A host on this store, not started (the caller closes it)."""
        from wfhost.cli import owns_process
        from wfhost.cpus import CPUS_ENV
        from wfhost.host import Host

        # A process the `wfhost` command runs is wfhost's own: its host runs on one CPU
        # unless told otherwise (thread handoffs stay on one core; see wfhost.cpus). Called
        # in-process (tests, a program), it is the caller's process: all, as an embedded Host.
        kwargs.setdefault("cpus", os.environ.get(CPUS_ENV) or ("one" if owns_process() else "all"))
        host = Host(self.home, self.db, tenant=self.given_tenant, **kwargs)
        started()
        return host


class BadInput(InvalidRequest):
    """A command-line value that cannot be used (bad JSON, unreadable file)."""


def exit_code_for(exc: BaseException) -> int:
    """The exit status for an error (see the module docstring)."""
    from wfpkg.errors import WfpkgError
    from wfregistry import errors as reg

    if isinstance(exc, HostError):
        return exc.exit_code
    if isinstance(exc, (reg.UnknownTenant, reg.PackageNotFound)):
        return NotFound.exit_code
    if isinstance(exc, (reg.TenantExists, reg.VersionConflict)):
        return 4
    if isinstance(exc, (reg.RegistryError, WfpkgError)):
        return InvalidRequest.exit_code
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return InvalidRequest.exit_code
    return 1


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if type(exc).__module__.startswith(("sqlalchemy", "sqlite3", "psycopg")):
        # Driver errors carry the SQL and a link; the first sentence is what matters.
        text = text.split(" [SQL:")[0].split(" (Background on")[0]
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return text


def _fail(exc: BaseException) -> typer.Exit:
    code = exit_code_for(exc)
    prefix = "" if code != 1 or isinstance(exc, (HostError, TimeoutError, OSError)) else \
        f"{type(exc).__name__}: "
    err.print(f"[red]error:[/red] {escape(prefix + _one_line(exc))}", soft_wrap=True)
    return typer.Exit(code)


def _guarded(fn: F) -> F:
    """Turn any error into one line on stderr and its exit status."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/yellow]")
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("WFHOST_DEBUG"):
                raise
            raise _fail(exc) from None

    return wrapper  # type: ignore[return-value]


def command(parent: typer.Typer = app, name: str | None = None) -> Callable[[F], F]:
    """``@app.command()`` with the error handling of `_guarded`."""

    def deco(fn: F) -> F:
        parent.command(name)(_guarded(fn))
        return fn

    return deco


@contextmanager
def _client(ctx: typer.Context) -> Iterator[Any]:
    client = _settings(ctx).client()
    try:
        yield client
    finally:
        client.close()


def _settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings(None, None, None)


def _json_arg(value: str | None, what: str) -> Any:
    """Parse ``JSON`` or ``@file`` (``@-`` for stdin)."""
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        source = value[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"{what}: cannot read {source}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{what} is not valid JSON: {exc}") from None


def _print_json(data: Any) -> None:
    # render.to_json is the one place results take their JSON form (times RFC 3339 UTC).
    typer.echo(render.to_json(data))


def _no_host_note(client: Any, what: str) -> None:
    """Say on stderr that nothing will run ``what`` until a host starts (a service always runs one)."""
    if not _hosts_running(client):
        err.print(f"[yellow]no host is running: {escape(what)} stays pending until one does; "
                  "start one with `wfhost worker`, or use `wfhost schedule --wait`, "
                  "which runs one here[/yellow]", soft_wrap=True)


def _read_key_file(path: Path) -> str:
    """A public key file's text, or a one-line error saying what to give instead."""
    if not path.is_file():
        raise BadInput(f"no key file {path}; give the public key that `wfpkg keygen` wrote "
                       "(KEY.pub)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read key file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if "PRIVATE KEY" in text:
        pub = path.with_name(path.name + ".pub")
        raise BadInput(f"{path} is a private key: keep it secret and trust its public key "
                       f"instead ({pub})")
    return text


# -- root -----------------------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wfhost {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(  # noqa: UP007 - typer on 3.10 needs Optional
        "--home", envvar="WFHOST_HOME", show_envvar=True,
        help="The host's home (store, packages, logs) (default: the user data dir).")] = None,
    db: Annotated[str | None, typer.Option(  # noqa: UP007
        "--db", envvar="WFHOST_DATABASE_URL", show_envvar=True,
        help="Database URL (sqlite:///..., postgresql+psycopg://...) (default: SQLite in home).")] = None,
    tenant: Annotated[str | None, typer.Option(  # noqa: UP007
        "--tenant", "-t", envvar="WFHOST_TENANT", show_envvar=True,
        help="The tenant to act for (default: 'default', or the one a full workflow name gives).")] = None,
    url: Annotated[str | None, typer.Option(  # noqa: UP007
        "--url", envvar="WFHOST_URL", show_envvar=True,
        help="A service (`wfhost serve`): tenant commands go there over HTTP.")] = None,
    token: Annotated[str | None, typer.Option(  # noqa: UP007
        "--token", envvar="WFHOST_TOKEN", show_envvar=True, help="The service token (with --url).")] = None,
    isolation: Annotated[str | None, typer.Option(  # noqa: UP007
        "--isolation", envvar="WFHOST_ISOLATION", show_envvar=True,
        help="strict (default): every worker sandboxed, or refuse to start; none: no sandbox "
             "(a single-tenant machine only).")] = None,
    durability: Annotated[str | None, typer.Option(  # noqa: UP007
        "--durability", envvar="WFHOST_DURABILITY", show_envvar=True,
        help="normal (a power loss may lose the last commits) or full (fsync every commit).")] = None,
    cpus: Annotated[str | None, typer.Option(  # noqa: UP007
        "--cpus", envvar="WFHOST_CPUS", show_envvar=True,
        help="one (default for hosts this command runs: serve, worker, ...): the host's threads "
             "share one CPU, package workers still use all; all: no pinning.")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Run signed workflow packages durably: register, schedule, signal, watch."""
    if isolation is not None:
        from wfhost.walls import ISOLATION_ENV, resolve_isolation

        try:
            # Through the environment, so the trial load of `register` sees it as a host does.
            os.environ[ISOLATION_ENV] = resolve_isolation(isolation).value
        except InvalidRequest as exc:
            raise _fail(exc) from None
    if durability:  # every store this process opens (host and client) follows it
        os.environ["WFHOST_DURABILITY"] = durability
    if cpus is not None:
        from wfhost.cpus import CPUS_ENV, resolve_cpus

        try:
            os.environ[CPUS_ENV] = resolve_cpus(cpus)
        except InvalidRequest as exc:
            raise _fail(exc) from None
    ctx.obj = Settings(home, db or None, tenant or None, url or None, token or None)


# -- tenants and trust ----------------------------------------------------------------------------


@command(tenant_app, "create")
def tenant_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Tenant name: lowercase letters, digits, '_'.")],
) -> None:
    """Create a tenant."""
    with _client(ctx) as client:
        client.create_tenant(name)
    out.print(f"created tenant [bold]{escape(name)}[/bold]")


@command(tenant_app, "list")
def tenant_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List tenants."""
    with _client(ctx) as client:
        names = client.registry.tenants()
    if as_json:
        _print_json(names)
    else:
        out.print(render.tenants_table(names))


@command()
def trust(
    ctx: typer.Context,
    pubkey_file: Annotated[Path | None, typer.Argument(  # noqa: UP007
        help="A public key (PEM), as `wfpkg keygen` writes it (KEY.pub).")] = None,
    label: Annotated[str | None, typer.Option(help="A name for the key.")] = None,  # noqa: UP007
    list_keys: Annotated[bool, typer.Option("--list", help="List the tenant's keys instead.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Trust a signing key for --tenant's packages (or list its keys with --list)."""
    settings = _settings(ctx)
    with _client(ctx) as client:
        if list_keys:
            keys = client.registry.keys(settings.tenant)
            if as_json:
                _print_json([{"key_id": k.key_id, "label": k.label, "added_at": k.added_at,
                              "revoked_at": k.revoked_at, "public_key": k.public_key} for k in keys])
            else:
                out.print(render.keys_table(keys))
            return
        if pubkey_file is None:
            raise BadInput("give a public key file to trust, or --list")
        pem = _read_key_file(pubkey_file)
        kid = _trusted_key_id(client, settings.tenant, pem)
        already = kid is not None
        if kid is None:
            kid = client.trust(settings.tenant, pem, label)
    if as_json:
        _print_json({"tenant": settings.tenant, "key_id": kid, "already_trusted": already})
    elif already:
        out.print(f"tenant [bold]{escape(settings.tenant)}[/bold] already trusts key [bold]{kid}[/bold]")
    else:
        out.print(f"tenant [bold]{escape(settings.tenant)}[/bold] now trusts key [bold]{kid}[/bold]")


def _trusted_key_id(client: Any, tenant: str, pem: str) -> str | None:
    """The key's id if ``tenant`` trusts it now (so trusting it again is a no-op), else None."""
    from wfpkg.errors import WfpkgError
    from wfpkg.keys import key_id, load_public_key

    try:
        kid = key_id(load_public_key(pem))
    except WfpkgError:
        return None  # not a key: `trust` says why
    if getattr(client, "remote", False):
        return None  # a service's keys are the admin API's: it answers for itself
    trusted = {k.key_id for k in client.registry.keys(tenant) if k.revoked_at is None}
    return kid if kid in trusted else None


@command()
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key id (see `wfhost trust --list`).")],
) -> None:
    """Stop trusting a key for --tenant, effective at once (registered versions stay)."""
    settings = _settings(ctx)
    with _client(ctx) as client:
        if not getattr(client, "remote", False) and \
                key_id not in {k.key_id for k in client.registry.keys(settings.tenant)}:
            raise NotFound(f"tenant {settings.tenant!r} has no key {key_id!r}; "
                           "see `wfhost trust --list`")
        client.revoke(settings.tenant, key_id)
    out.print(f"tenant [bold]{escape(settings.tenant)}[/bold] no longer trusts key {escape(key_id)}")


# -- packages ----------------------------------------------------------------------------------


@command()
def register(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .wfpkg archive.")],
    allow_downgrade: Annotated[bool, typer.Option(
        "--allow-downgrade", help="Accept a version lower than one registered.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Verify, install and activate a package for --tenant."""
    if not file.is_file():
        raise BadInput(f"no such archive {file}; `wfpkg build` writes one to DIR/dist/")
    with _client(ctx) as client:
        before = _registered_archives(client)
        with err.status(f"registering {escape(file.name)} ..."):
            info = client.register(file, allow_downgrade=allow_downgrade)
    already = (info.name, info.version, info.archive_sha256) in before
    if as_json:
        _print_json({**render.package_json(info), "already_registered": already})
        return
    verb = "already registered" if already else "registered"
    out.print(f"{verb} [bold]{escape(info.label)}[/bold] ({render.state(info.state)}), "
              f"signed by key {info.key_id}")
    out.print(render.register_hint(info))


def _registered_archives(client: Any) -> set[tuple[str, str, str]]:
    """(package, version, archive sha256) of the tenant's versions, to tell a no-op register."""
    from wfregistry import UnknownTenant

    try:
        return {(i.name, i.version, i.archive_sha256) for i in client.packages()}
    except UnknownTenant:
        return set()  # `register` says so


@command()
def packages(
    ctx: typer.Context,
    all_tenants: Annotated[bool, typer.Option("--all-tenants", help="Every tenant's packages.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List registered package versions."""
    with _client(ctx) as client:
        infos = client.packages("*" if all_tenants else None)
    if as_json:
        _print_json([render.package_json(i) for i in infos])
    else:
        out.print(render.packages_table(infos))


@command()
def activate(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help="The package name.")],
    version: Annotated[str, typer.Argument(help="A registered version (see `wfhost packages`).")],
) -> None:
    """Make a registered version the active one (a rollback); running executions keep theirs."""
    with _client(ctx) as client:
        info = client.activate(package, version)
    out.print(f"[bold]{escape(info.label)}[/bold] is now the active version of "
              f"{escape(info.name)}")


@command()
def unregister(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help="The package name.")],
    version: Annotated[str | None, typer.Option(  # noqa: UP007
        help="The version (default: the active one).")] = None,
) -> None:
    """Retire a package version: no new executions; running ones finish on it."""
    with _client(ctx) as client:
        info = client.unregister(package, version)
    label = getattr(info, "label", package)
    out.print(f"retired [bold]{escape(label)}[/bold]")


# -- executions --------------------------------------------------------------------------------


def _embedded_wait(settings: Settings, eid: str, tenant: str,
                   timeout: float | None) -> dict[str, Any]:
    host = settings.host().start()
    try:
        return host.wait(eid, tenant=tenant, timeout=timeout)  # type: ignore[no-any-return]
    finally:
        host.close()


def _finish(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(status)
    else:
        out.print(render.result_view(status))
    if status["status"] != "succeeded":
        raise typer.Exit(1)


def _hosts_running(client: Any) -> bool:
    """Whether a host will run the work: always on a service, else one must be live."""
    from wfhost.engine.notify import live_hosts

    return bool(getattr(client, "remote", False) or live_hosts(client.engine))


@command()
def schedule(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(
        help="package::workflow, package@1.0.0::workflow or tenant::package::workflow.")],
    input_: Annotated[str | None, typer.Option(  # noqa: UP007
        "--input", "-i", help="The input: a JSON object, or @FILE (@- for stdin).")] = None,
    execution_id: Annotated[str | None, typer.Option(  # noqa: UP007
        "--id", help="The execution id; scheduling it again with the same input is a no-op.")] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Wait for the result (runs a host here if none is running).")] = False,
    timeout: Annotated[float | None, typer.Option(  # noqa: UP007
        help="Fail the execution if it runs longer than this many seconds.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Start an execution; print its id, or with --wait its result."""

    settings = _settings(ctx)
    payload = _json_arg(input_, "--input")
    with _client(ctx) as client:
        eid = client.schedule(name, payload, id=execution_id, timeout=timeout)
        if not wait:
            if as_json:
                _print_json({"id": eid})
            else:
                typer.echo(eid)
            _no_host_note(client, f"execution {eid}")
            return
        # The tenant the execution belongs to: --tenant, else the one a full name gives.
        owner = settings.given_tenant or (name.split("::", 1)[0] if name.count("::") == 2
                                          else settings.tenant)
        hosts = _hosts_running(client)
        # Bound the wait only when the execution itself is bounded (its timeout ends it).
        bound = None if timeout is None else timeout + 30.0
        if hosts:
            err.print(f"[dim]{escape(eid)}: waiting for a running host[/dim]")
            status = client.wait(eid, tenant=owner, timeout=bound)
    if not hosts:
        err.print(f"[dim]{escape(eid)}: no host running; running it here[/dim]")
        status = _embedded_wait(settings, eid, owner, bound)
    _finish(status, as_json)


@command()
def status(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(help="The execution id.")],
    as_json: JsonOption = False,
) -> None:
    """Show an execution: its tasks, what waiting ones wait for, its children."""
    with _client(ctx) as client:
        state = client.status(execution_id)
    if as_json:
        _print_json(state)
    else:
        out.print(render.status_tree(state))


@command()
def watch(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(help="The execution id.")],
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 0.2,
) -> None:
    """Follow an execution live until it ends; exit 1 if it failed or was cancelled."""
    with _client(ctx) as client:
        state = client.status(execution_id)
        if state["status"] not in TERMINAL:
            _no_host_note(client, f"execution {execution_id}")
        if out.is_terminal:
            from rich.live import Live

            with Live(render.progress_view(state), console=out, refresh_per_second=10) as live:
                while state["status"] not in TERMINAL:
                    time.sleep(interval)
                    state = client.status(execution_id)
                    live.update(render.progress_view(state))
        else:
            # Piped (`watch ID | cat`): no redrawing; the final view once, with its newlines.
            while state["status"] not in TERMINAL:
                time.sleep(interval)
                state = client.status(execution_id)
            out.print(render.progress_view(state))
    if state["status"] == "succeeded" and state.get("output") is not None:
        out.print(render.output_view(state["output"]))
    if state["status"] != "succeeded":
        raise typer.Exit(1)


@command()
def executions(
    ctx: typer.Context,
    status_: Annotated[StatusFilter | None, typer.Option(  # noqa: UP007
        "--status", help="Only this status; active means not finished.")] = None,
    workflow: Annotated[str | None, typer.Option(  # noqa: UP007
        help="Only this workflow (workflow or package::workflow).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    all_tenants: Annotated[bool, typer.Option("--all-tenants", help="Every tenant's executions.")] = False,
    children: Annotated[bool, typer.Option(
        "--children", help="Include child executions (started by other executions).")] = False,
    as_json: JsonOption = False,
) -> None:
    """List executions, newest first (top-level ones unless --children)."""
    settings = _settings(ctx)
    with _client(ctx) as client:
        rows = client.executions(tenant="*" if all_tenants else None,
                                 status=status_.value if status_ else None,
                                 workflow=workflow, limit=limit, root=not children)
        # (A service answers 404 for an unknown tenant itself.)
        if (not rows and not all_tenants and not getattr(client, "remote", False)
                and settings.tenant not in client.registry.tenants()):
            raise NotFound(f"tenant {settings.tenant!r} does not exist; see `wfhost tenant list`")
    if as_json:
        _print_json(rows)
    else:
        out.print(render.executions_table(rows, show_tenant=all_tenants))


@command()
def history(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(help="The execution id.")],
    as_json: JsonOption = False,
) -> None:
    """Show an execution's event log, oldest first."""
    with _client(ctx) as client:
        events = client.history(execution_id)
    if as_json:
        _print_json(events)
    else:
        out.print(render.events_table(events))


@command()
def signal(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(help="The execution id.")],
    name: Annotated[str, typer.Argument(help="The signal name.")],
    payload: Annotated[str | None, typer.Option(  # noqa: UP007
        "--payload", "-p", help="A JSON payload, or @FILE (@- for stdin).")] = None,
) -> None:
    """Send a signal to an execution (kept until a wait consumes it)."""
    value = _json_arg(payload, "--payload")
    with _client(ctx) as client:
        client.signal(execution_id, name, value)
    out.print(f"sent signal [bold]{escape(name)}[/bold] to {escape(execution_id)}")


@command()
def cancel(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(help="The execution id.")],
    reason: Annotated[str | None, typer.Option(help="Why; kept in its history.")] = None,  # noqa: UP007
) -> None:
    """Request cancellation of an execution (and its children)."""
    with _client(ctx) as client:
        asked = client.cancel(execution_id, reason=reason)
    if asked:
        out.print(f"cancellation requested for {escape(execution_id)}")
    else:
        out.print(f"{escape(execution_id)} had already finished; nothing to cancel")


# -- running -------------------------------------------------------------------------------------


@command()
def worker(
    ctx: typer.Context,
    concurrency: Annotated[int, typer.Option(min=1, help="Task attempts run at once.")] = 32,
) -> None:
    """Run a host (scheduler and workers, no HTTP) until Ctrl-C or SIGTERM."""
    settings = _settings(ctx)
    stop = threading.Event()
    previous = signals.signal(signals.SIGTERM, lambda *_: stop.set())
    host = settings.host(max_concurrency=concurrency)
    try:
        # The scheduler runs on the host's thread; this one only waits for a stop request,
        # so a signal never lands in the middle of a scheduler transaction.
        host.start()
        if host.isolation.value == "none":
            err.print("[yellow]warning:[/yellow] isolation none: tenant code runs without a sandbox, "
                      "with this host's authority (a single-tenant machine only)")
        err.print(f"worker [bold]{host.host_id}[/bold] running on {escape(_safe_url(host.url))} "
                  f"(concurrency {concurrency}); Ctrl-C to stop")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        err.print("stopping ...")
    finally:
        host.close()
        signals.signal(signals.SIGTERM, previous)
    err.print("stopped")


@command()
def retry(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(help="The execution id.")],
) -> None:
    """Run a failed or cancelled execution again from its failed tasks (successes are kept)."""
    with _client(ctx) as client:
        reset = client.retry(execution_id, by="cli")
    out.print(f"retrying {escape(execution_id)}: {escape(', '.join(reset))}")


@command()
def serve(
    ctx: typer.Context,
    bind: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
    concurrency: Annotated[int, typer.Option(min=1, help="Task attempts run at once.")] = 32,
    grace: Annotated[float, typer.Option(min=0, help="Seconds in-flight attempts get on SIGTERM.")] = 30.0,
) -> None:
    """Run the HTTP API with a scheduler and workers until SIGTERM (which drains)."""
    from wfhost.service import ServiceConfig
    from wfhost.service import serve as run_service

    host = _settings(ctx).host(max_concurrency=concurrency)
    try:
        left = run_service(host, bind=bind, port=port, config=ServiceConfig(grace=grace),
                           on_ready=lambda url: err.print(
                               f"serving [bold]{escape(url)}[/bold] (host {host.host_id}, database "
                               f"{escape(_safe_url(host.url))}); SIGTERM drains"))
    finally:
        host.close()
    err.print(f"stopped ({left} attempt(s) released to be re-run)" if left else "stopped")


@contextmanager
def _local_client(ctx: typer.Context) -> Iterator[Any]:
    """A client on the local home even when --url is given (operator commands)."""
    from wfhost.client import Client

    settings = _settings(ctx)
    client = Client(settings.home, settings.db)
    try:
        yield client
    finally:
        client.close()


@command(token_app, "create")
def token_create(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Argument(  # noqa: UP007
        help="The tenant the token acts for (omit with --admin).")] = None,
    label: Annotated[str | None, typer.Option(help="A name for the token.")] = None,  # noqa: UP007
    admin: Annotated[bool, typer.Option("--admin", help="An admin token (all routes).")] = False,
) -> None:
    """Create a token and print it alone on stdout (shown this once; kept hashed)."""
    from wfhost.service import TokenStore

    if admin == (tenant is not None):
        raise BadInput("give a TENANT, or --admin")
    with _local_client(ctx) as client:
        if tenant is not None and tenant not in client.registry.tenants():
            raise NotFound(f"tenant {tenant!r} does not exist; create it first")
        token_id, token = TokenStore(client.engine, client.home).create(tenant, label=label, admin=admin)
    err.print(f"[dim]token {token_id}; it is not shown again[/dim]")
    typer.echo(token)


@command(token_app, "list")
def token_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List tokens (never the tokens themselves)."""
    from wfhost.service import TokenStore

    with _local_client(ctx) as client:
        rows = TokenStore(client.engine, client.home).list()
    if as_json:
        from wfhost._time import rfc3339

        _print_json([{**r, "created_at": rfc3339(r["created_at"]),
                      "revoked_at": rfc3339(r["revoked_at"])} for r in rows])
    else:
        out.print(render.tokens_table(rows))


@command(token_app, "revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token's id (see `wfhost token list`).")],
) -> None:
    """Revoke a token: the next request with it answers 401."""
    from wfhost.service import TokenStore

    with _local_client(ctx) as client:
        TokenStore(client.engine, client.home).revoke(token_id)
    out.print(f"revoked token {escape(token_id)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return "the database"


@command()
def demo(
    home: Annotated[Path, typer.Option(
        "--home", help="The demo's own home; emptied and recreated on each run.")] = Path(".wfhost-demo"),
    samples: Annotated[Path | None, typer.Option(  # noqa: UP007
        help="The sample_packages folder (default: the one in the source checkout).")] = None,
) -> None:
    """Build, sign, register and run the sample packages in a fresh home."""
    from . import demo as demo_mod

    folder = demo_mod.find_samples(samples)
    started()  # the demo runs a host for a while
    with err.status("demo ...") as spinner:
        def progress(msg: str) -> None:
            spinner.update(escape(msg) + " ...")
            if ":" not in msg or msg.endswith(("succeeded", "failed", "cancelled")):
                err.print(f"[dim]·[/dim] {escape(msg)}")

        result = demo_mod.run_demo(home, folder, progress)
    out.print(render.demo_report(result))
    if not result.ok:
        raise typer.Exit(1)


from . import walls as _walls  # noqa: E402,F401 - registers `tenant policy`, `tenant show`, `doctor`
from .schedules import schedules_app  # noqa: E402 - its commands use the helpers above

app.add_typer(schedules_app, name="schedules")


def main() -> None:
    """Run the `wfhost` command line."""
    from wfpkg.cli import run_cli

    sys.exit(run_cli(app, err))


if __name__ == "__main__":
    main()
