"""The Python client: every operation of the CLI, from code.

Example::

    from wfhost import Client

    client = Client(tenant="acme")
    eid = client.schedule("simple_demo::data_processing", {"source": "s3://bucket"})
    client.signal(eid, "approval", {"approved": True})
    print(client.wait(eid)["status"])

A client talks to the store directly (no server needed) and wakes running
hosts on this machine, so a host picks up new work at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine

from wfpkg.errors import Timeout

from .engine import executions as ops
from .engine.notify import notify_hosts
from .errors import HostError, InvalidRequest
from .results import Event, Execution, ExecutionSummary
from .store._db import now
from .store.engine import default_home, migrate, open_engine, reader, resolve_url
from .walls import resolve_isolation, secure_home, walls_for

if TYPE_CHECKING:
    from wfregistry import PackageInfo, Registry

    from .engine.catalog import Catalog
    from .engine.group_commit import GroupCommit, WriteFn
    from .engine.schedules import ScheduleInfo, Schedules

__all__ = ["Client"]

T = TypeVar("T")


class Client:
    """Operations on one store, acting for a tenant.

    Args:
        home: the host's home directory (default ``$WFHOST_HOME`` or the user data dir).
        database_url: a SQLAlchemy URL (default ``$WFHOST_DATABASE_URL`` or SQLite in home).
        tenant: the tenant acted for when a call does not name one. A client
            with no tenant acts for the tenant a full name
            (``tenant::package::workflow``) names, else for ``default``; one
            with a tenant refuses names of other tenants.
        durability: ``normal`` or ``full`` for the engine this client creates
            (default ``$WFHOST_DURABILITY`` or ``normal``).
        engine, catalog, on_change, waiter, writes: given by a `Host` to share
            its own (``waiter`` is its `Host.wait`, ``writes`` its scheduler's
            `GroupCommit`); a standalone client creates (and owns) its engine.
    """

    def __init__(self, home: Path | None = None, database_url: str | None = None, *,
                 tenant: str | None = None, engine: Engine | None = None,
                 catalog: Catalog | None = None, on_change: Callable[..., None] | None = None,
                 waiter: Callable[..., Execution] | None = None,
                 writes: GroupCommit | None = None,
                 durability: str | None = None) -> None:
        self.home = Path(home) if home else default_home()
        self.tenant = tenant or "default"
        self._acting_for = tenant
        self._owns_engine = engine is None
        if engine is None:
            url = resolve_url(self.home, database_url)
            secure_home(self.home, url)
            engine = open_engine(url, durability)
            migrate(engine)
            secure_home(self.home, url)
        self.engine = engine
        self._reader = reader(engine)
        self._catalog = catalog  # made on first use: reading status needs no registry
        # Called after a commit that created work; ``scan=True`` when hosts must also look
        # beyond ready tasks (a cancellation to carry out).
        self._on_change = on_change or (lambda scan=False: notify_hosts(self.engine))
        self._waiter = waiter
        self._writes = writes

    @property
    def catalog(self) -> Catalog:
        """Resolves workflow names (the host's own, or one over this client's registry)."""
        if self._catalog is None:
            from wfregistry import Registry

            from .engine.catalog import Catalog

            registry = Registry(self.engine, self.home / "packages")
            # A registration's trial load runs behind the same walls as a host's workers.
            registry.walls = walls_for(self.home, self.engine.url.render_as_string(hide_password=False),
                                       resolve_isolation(None), registry.policy)
            self._catalog = Catalog(registry)
        return self._catalog

    @staticmethod
    def connect(url: str, token: str, *, tenant: str | None = None) -> Any:
        """A `RemoteClient`: these operations against a service (``wfhost serve``) over HTTP."""
        from .remote import RemoteClient

        return RemoteClient(url, token, tenant=tenant)

    @property
    def registry(self) -> Registry | None:
        """The package registry (tenants, keys, packages)."""
        return self.catalog.registry

    def close(self) -> None:
        """Release the engine if this client created it."""
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tenant(self, tenant: str | None) -> str:
        return tenant or self.tenant

    def _write(self, fn: WriteFn[T]) -> T:
        """Run ``fn(conn, at)`` in one transaction and tell the hosts; a host's client groups it.

        A running host's own client hands the write to its scheduler, which
        commits it with its next turn (`wfhost.engine.group_commit`).
        """
        if self._writes is not None:
            return self._writes.transact(fn)
        with self.engine.begin() as conn:
            result = fn(conn, now())
        self._on_change()
        return result

    # -- executions -------------------------------------------------------------------

    def schedule(self, workflow: str, input: Mapping[str, Any] | None = None, *,  # noqa: A002
                 id: str | None = None, tenant: str | None = None,  # noqa: A002
                 timeout: float | None = None) -> str:
        """Start an execution of ``workflow`` (``[tenant::]package[@version]::workflow``).

        Returns its id. Scheduling an existing id with the same workflow and
        input returns that execution (idempotent).
        """
        return self.schedule_many(workflow, [input or {}], ids=[id], tenant=tenant,
                                  timeout=timeout)[0]

    def schedule_many(self, workflow: str, inputs: Sequence[Mapping[str, Any]], *,
                      ids: Sequence[str | None] | None = None, tenant: str | None = None,
                      timeout: float | None = None) -> list[str]:
        """Start one execution per input, all in one transaction (all or none); returns their ids."""
        owner = tenant or self._acting_for
        if owner is None:
            owner = workflow.split("::", 1)[0] if workflow.count("::") == 2 else self.tenant
        target = self.catalog.resolve(owner, workflow)
        ids = list(ids) if ids is not None else [None] * len(inputs)
        if len(ids) != len(inputs):
            raise InvalidRequest(f"{len(inputs)} inputs but {len(ids)} ids")
        for item in inputs:
            if not isinstance(item, Mapping):
                raise InvalidRequest(
                    f"execution input must be a JSON object, not {type(item).__name__}")
        plan, package, version, pvid = (target.plan, target.package, target.version,
                                         target.package_version_id)
        # Serialized here, in the caller's thread: the write may run on the scheduler's.
        payloads = [ops.check_input(dict(item)) for item in inputs]

        def create(conn: Connection, at: float) -> list[str]:
            if not any(ids):  # fresh ids: all in a few statements
                return [c.id for c in ops.create_executions(
                    conn, tenant=owner, plan=plan, package=package, version=version,
                    package_version_id=pvid, inputs=[], payloads=payloads, at=at, timeout=timeout)]
            # each given id is created once (idempotent)
            return [ops.create_execution(
                conn, tenant=owner, plan=plan, package=package, version=version,
                package_version_id=pvid, input={}, payload=payload, at=at, execution_id=eid,
                timeout=timeout).id
                for payload, eid in zip(payloads, ids, strict=True)]

        return self._write(create)

    def signal(self, execution_id: str, name: str, payload: Any = None, *,
               tenant: str | None = None, sender: str = "client") -> None:
        """Send signal ``name`` with a JSON payload; buffered until a wait consumes it."""
        owner = self._tenant(tenant)
        encoded = ops.check_signal(name, payload)  # here, in the caller's thread (see schedule_many)
        self._write(lambda conn, at: ops.send_signal(conn, owner, execution_id, name, None, sender, at,
                                                     encoded=encoded))

    def cancel(self, execution_id: str, *, tenant: str | None = None, reason: str | None = None,
               by: str = "client") -> bool:
        """Request cancellation. Returns False if the execution had already finished."""
        with self.engine.begin() as conn:
            asked = ops.request_cancel(conn, self._tenant(tenant), execution_id, by, reason, now())
        if asked:
            self._on_change(scan=True)
        return asked

    def status(self, execution_id: str, *, tenant: str | None = None) -> Execution:
        """The execution, its tasks (with what waiting ones wait for) and its children."""
        with self._reader.connect() as conn:
            return ops.execution_status(conn, self._tenant(tenant), execution_id)

    def history(self, execution_id: str, *, tenant: str | None = None) -> list[Event]:
        """The execution's event log, oldest first."""
        with self._reader.connect() as conn:
            return ops.execution_history(conn, self._tenant(tenant), execution_id)

    def executions(self, *, tenant: str | None = None, status: str | None = None,
                   workflow: str | None = None, limit: int = 100, parent: str | None = None,
                   after: tuple[float, str] | None = None, retrying: bool = False,
                   root: bool = False) -> list[ExecutionSummary]:
        """Executions, newest first (all tenants if ``tenant`` is ``"*"``).

        ``parent`` keeps the children of that execution id; ``after`` is the
        ``(created_at, id)`` of the last one of a previous page; ``retrying``
        keeps those with a task retrying; ``root`` those that are not children.
        """
        owner = None if tenant == "*" else self._tenant(tenant)
        with self._reader.connect() as conn:
            return ops.list_executions(conn, owner, status, workflow, limit, parent=parent, after=after,
                                       retrying=retrying, root=root)

    def retry(self, execution_id: str, *, tenant: str | None = None, by: str = "client") -> list[str]:
        """Run a failed or cancelled execution again from its failed tasks; returns the tasks reset.

        Succeeded tasks keep their results; the history records ``by``.

        Raises:
            NotFound: no such execution for this tenant.
            Conflict: it has not failed and was not cancelled.
        """
        owner = self._tenant(tenant)
        with self.engine.begin() as conn:
            row = ops.find_execution(conn, owner, execution_id)
            plan = self.catalog.plan(row.package_version_id, row.tenant, row.package, row.workflow)
            reset = ops.retry_execution(conn, row, plan, by, now())
        self._on_change(scan=True)
        return reset

    def wait(self, execution_id: str, *, tenant: str | None = None,
             timeout: float | None = None) -> Execution:
        """Block until the execution finishes (a running host must be working on it).

        Woken, not polled: a `Host`'s own client waits on the host's finish
        notice; a standalone one on the store (``LISTEN`` on PostgreSQL,
        inotify on SQLite), re-reading the status only when it changed.

        Raises:
            Timeout: ``timeout`` seconds passed first (a `wfpkg.WfpkgError`, and a `TimeoutError`).
        """
        if self._waiter is not None:
            return self._waiter(execution_id, tenant=tenant, timeout=timeout)
        from .engine.watch import open_watch

        deadline = None if timeout is None else time.monotonic() + timeout
        with open_watch(self.engine) as watch:  # before the first read: no change goes unseen
            while True:
                state = self.status(execution_id, tenant=tenant)
                if state.finished:
                    return state
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise Timeout(f"execution {execution_id!r} still {state.status} after {timeout}s")
                watch.wait(remaining)

    # -- schedules ---------------------------------------------------------------------------

    @property
    def _schedules(self) -> Schedules:
        from .engine.schedules import Schedules  # cron parsing: only for schedule operations

        return Schedules(self.engine, self.catalog)

    def add_schedule(self, name: str, workflow: str, cron: str, *, timezone: str = "UTC",
                     input: Mapping[str, Any] | None = None,  # noqa: A002
                     catchup: str = "skip", overlap: str = "allow",
                     tenant: str | None = None) -> ScheduleInfo:
        """Start ``workflow`` at every tick of ``cron`` (in ``timezone``), as execution ``NAME@<tick>``.

        ``catchup`` (``skip``, ``one``, ``all``) says what happens to ticks missed
        while no host ran; ``overlap`` (``allow``, ``skip``) whether a tick starts
        while the previous run still runs. See docs/schedules.md.
        """
        info = self._schedules.add(self._tenant(tenant), name, workflow, cron, timezone=timezone,
                                   input=dict(input) if isinstance(input, Mapping) else input,
                                   catchup=catchup, overlap=overlap, at=now())
        self._on_change()
        return info

    def schedules(self, *, tenant: str | None = None) -> list[ScheduleInfo]:
        """The tenant's schedules, each with its next tick and its last 20 runs."""
        return self._schedules.for_tenant(self._tenant(tenant))

    def get_schedule(self, name: str, *, tenant: str | None = None) -> ScheduleInfo:
        """One schedule, with its next tick and its last 20 runs."""
        return self._schedules.get(self._tenant(tenant), name)

    def pause_schedule(self, name: str, *, tenant: str | None = None) -> ScheduleInfo:
        """Stop a schedule firing; ticks while paused are not caught up."""
        return self._schedules.pause(self._tenant(tenant), name)

    def resume_schedule(self, name: str, *, tenant: str | None = None) -> ScheduleInfo:
        """Fire again from the next tick."""
        info = self._schedules.resume(self._tenant(tenant), name, at=now())
        self._on_change()
        return info

    def delete_schedule(self, name: str, *, tenant: str | None = None) -> None:
        """Remove a schedule (the executions it started stay)."""
        self._schedules.delete(self._tenant(tenant), name)

    def trigger_schedule(self, name: str, *, tenant: str | None = None) -> str:
        """Run a schedule's workflow now; returns the execution id."""
        eid = self._schedules.trigger(self._tenant(tenant), name, at=now())
        self._on_change()
        return eid

    # -- packages and trust -----------------------------------------------------------------

    def create_tenant(self, name: str) -> None:
        """Create a tenant (operator)."""
        self._need_registry().create_tenant(name)

    def trust(self, tenant: str, public_key_pem: str, label: str | None = None) -> str:
        """Trust a public key for a tenant; returns its key id."""
        return self._need_registry().trust(tenant, public_key_pem, label=label)

    def revoke(self, tenant: str, key_id: str) -> None:
        """Revoke a key for a tenant, effective immediately."""
        self._need_registry().revoke(tenant, key_id)

    def register(self, archive: Path, *, tenant: str | None = None,
                 allow_downgrade: bool = False) -> PackageInfo:
        """Verify, install and activate a `.wfpkg` for a tenant."""
        info = self._need_registry().register(Path(archive), self._tenant(tenant),
                                              allow_downgrade=allow_downgrade)
        self._on_change()
        return info

    def unregister(self, package: str, version: str | None = None, *,
                   tenant: str | None = None) -> PackageInfo:
        """Retire a package version: no new executions; running ones finish on it."""
        return self._need_registry().unregister(self._tenant(tenant), package, version)

    def activate(self, package: str, version: str, *, tenant: str | None = None) -> PackageInfo:
        """Make a registered version the active one (a rollback); running executions keep theirs."""
        info = self._need_registry().activate(self._tenant(tenant), package, version)
        self._on_change()
        return info

    def packages(self, tenant: str | None = None) -> list[PackageInfo]:
        """Registered package versions (all tenants if ``tenant`` is ``"*"``)."""
        return list(self._need_registry().packages(None if tenant == "*" else self._tenant(tenant)))

    def _need_registry(self) -> Registry:
        if self.registry is None:
            raise HostError("this client has no package registry")
        return self.registry
