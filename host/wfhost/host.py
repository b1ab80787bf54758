"""`Host`: the store, the registry, the scheduler and its executors, in one process.

Example::

    from wfhost import Host
    from wfpkg import Workflow

    wf = Workflow("hello")

    @wf.task
    def greet(ctx):
        ctx["greeting"] = f"hello {ctx['name']}"

    with Host(home=tmp_dir) as host:
        host.add_workflow(wf)
        eid = host.client.schedule("local::hello", {"name": "ada"})
        print(host.wait(eid)["output"])      # {'name': ..., 'greeting': 'hello ada'}

The host owns its engine, its worker processes and its threads; `close`
(or leaving the ``with`` block) stops them all.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

from sqlalchemy import insert, update

from wfpkg import Workflow
from wfpkg.errors import Timeout
from wfregistry.hooks import call_hook
from wfregistry.task_threads import TaskThreads

from .client import Client
from .engine.catalog import LOCAL_PACKAGE, Catalog
from .engine.notify import PgListener, WakeListener, notify_hosts
from .engine.scheduler import Scheduler, new_host_id
from .engine.schedules import Ticker
from .results import Execution
from .store._db import H, now
from .store.engine import default_home, migrate, open_engine, resolve_url
from .walls import check_isolation, resolve_isolation, secure_home, walls_for

__all__ = ["Host"]

log = logging.getLogger("wfhost.host")

HOOKS_GRACE_SECONDS = 10.0  # how long `close` waits for extensions still handling finish notices


class Host:
    """A running host.

    Args:
        home: its home directory (store, packages, worker logs).
        database_url: a SQLAlchemy URL instead of SQLite in ``home``.
        max_concurrency: task attempts run at once by this host.
        tenant_concurrency: attempts one tenant may run at once on this host.
        load_timeout: seconds a package's worker may take to load.
        tenant: the tenant `client` acts for (see `Client`); plain-Python
            workflows are added for it (``default`` if none).
        isolation: ``strict`` (the default, or ``$WFHOST_ISOLATION``): every
            worker sandboxed, and the host refuses to start where a wall is
            missing; ``none``: no sandbox (a single-tenant machine).
        durability: ``normal`` or ``full`` (default ``$WFHOST_DURABILITY`` or
            ``normal``): what a power loss may cost, see docs/executions.md.
        cpus: ``all`` (default ``$WFHOST_CPUS`` or ``all``) or ``one``: once
            started, every thread of this process runs on one CPU (the workers
            of packages still use all); see `wfhost.cpus` and docs/executions.md.

    Raises:
        IsolationUnavailable: strict isolation on a machine lacking a wall (named).
    """

    def __init__(self, home: Path | None = None, database_url: str | None = None, *,
                 max_concurrency: int = 32, tenant_concurrency: int | None = None,
                 load_timeout: float = 30.0, tenant: str | None = None,
                 isolation: str | None = None, durability: str | None = None,
                 cpus: str | None = None) -> None:
        from wfregistry import Registry, extension_manager

        from .cpus import resolve_cpus

        self.cpus = resolve_cpus(cpus)

        self.isolation = resolve_isolation(isolation)
        check_isolation(self.isolation)
        self.home = Path(home) if home else default_home()
        self.url = resolve_url(self.home, database_url)
        secure_home(self.home, self.url)
        self.engine = open_engine(self.url, durability)
        migrate(self.engine)
        secure_home(self.home, self.url)
        self.hooks = extension_manager()
        self.registry = Registry(self.engine, self.home / "packages", hooks=self.hooks)
        walls = walls_for(self.home, self.url, self.isolation, self.registry.policy)
        self.registry.walls = walls
        self.catalog = Catalog(self.registry)
        self.host_id = new_host_id()
        self.scheduler = Scheduler(
            self.engine, self.catalog, self.host_id, max_concurrency=max_concurrency,
            tenant_concurrency=tenant_concurrency, log_dir=self.home / "logs",
            load_timeout=load_timeout, on_finished=self._finished, walls=walls,
            on_change=lambda: notify_hosts(self.engine, exclude=self.host_id))
        self.client = Client(self.home, tenant=tenant, engine=self.engine, catalog=self.catalog,
                             on_change=self._changed, waiter=self.wait,
                             writes=self.scheduler.writes)
        self._listener: WakeListener | None = None
        self._pg_listener: PgListener | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        self._generation = 0  # bumped under _done whenever a waited-for execution may have ended
        self.scheduler.add_finished_listener(self._note_finished)
        self.ticker = Ticker(self.engine, self.catalog, on_started=self._changed)
        self._cron: threading.Thread | None = None
        # Extensions hear of finished executions in order, on a thread of their own: a slow one
        # never holds up the scheduler, and one that waits for a write of this host cannot
        # wait for the scheduler's next turn.
        self._hook_thread = TaskThreads(1, "wfhost-hooks")

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Host:
        """Register this host and start scheduling on a background thread."""
        self._register()
        self._thread = threading.Thread(target=self._run, name="wfhost-scheduler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        self.scheduler.run(self._stop)

    def run_forever(self) -> None:
        """Schedule in the calling thread until `close` is called from another."""
        self._register()
        self.scheduler.run(self._stop)

    def _register(self) -> None:
        """Listen for wake-ups and record this host (its id holds the leases it takes)."""
        if self._listener is not None:
            return
        if self.cpus == "one":  # before this host starts a thread: they inherit it
            from .cpus import pin_to_one_cpu

            pin_to_one_cpu()
        self._listener = WakeListener(self._woken)
        self._listener.start()
        if self.engine.dialect.name == "postgresql":
            self._pg_listener = PgListener(self.url, self._woken, ignore=self.host_id)
            self._pg_listener.start()
        with self.engine.begin() as conn:
            conn.execute(insert(H).values(id=self.host_id, hostname=socket.gethostname(),
                                          pid=os.getpid(), started_at=now(), heartbeat_at=now(),
                                          wake_port=self._listener.port, stopped=False))
        self._cron = threading.Thread(target=self.ticker.run, args=(self._stop,), name="wfhost-cron",
                                      daemon=True)
        self._cron.start()

    def close(self) -> None:
        """Stop scheduling, stop workers and threads, dispose of the engine."""
        self._stop.set()
        self.scheduler.wake()
        self.ticker.wake()
        if self._cron is not None:
            self._cron.join(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._pg_listener is not None:
            self._pg_listener.close()
        if self._listener is not None:
            self._listener.close()
            with self.engine.begin() as conn:
                conn.execute(update(H).where(H.c.id == self.host_id).values(stopped=True))
        if not self._hook_thread.drain(timeout=HOOKS_GRACE_SECONDS):
            log.warning("extensions still busy after %.0fs; their pending notices are dropped",
                        HOOKS_GRACE_SECONDS)
        self._hook_thread.shutdown()
        self.scheduler.dispatcher.close()
        self.engine.dispose()

    def stop_claiming(self) -> None:
        """Claim no new task attempts from now on; those in flight still record their outcomes."""
        self.scheduler.max_concurrency = 0  # no room: turns still record outcomes, claim nothing
        self.scheduler.wake(scan=False)

    def drain(self, grace: float) -> int:
        """Stop claiming tasks and give those in flight ``grace`` seconds to finish.

        Returns how many attempts still run; `close` then releases them (the
        host is marked stopped, so any host re-runs them at once).
        """
        import time

        self.stop_claiming()
        deadline = time.monotonic() + grace
        while self.scheduler.busy and time.monotonic() < deadline:
            with self._done:
                self._done.wait(timeout=0.05)
        return self.scheduler.busy

    def __enter__(self) -> Host:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workflows and executions -------------------------------------------------------------

    def add_workflow(self, workflow: Workflow, *, tenant: str | None = None,
                     package: str = LOCAL_PACKAGE) -> None:
        """Make a plain-Python workflow runnable here as ``package::workflow``."""
        self.catalog.add_local(workflow, tenant or self.client.tenant, package)

    def _changed(self, scan: bool = False) -> None:
        # New ready tasks need only a claiming turn; a cancellation needs a scan.
        self.scheduler.wake(scan=scan)
        notify_hosts(self.engine, exclude=self.host_id)

    def _note_finished(self, _uid: str = "", _status: str = "") -> None:
        with self._done:
            self._generation += 1
            self._done.notify_all()

    def _woken(self) -> None:
        # Another process changed the store: new work, a finished execution someone here
        # awaits, or a schedule added or resumed.
        self.scheduler.wake(scan=True)
        self.ticker.wake()
        self._note_finished()

    def _finished(self, tenant: str, execution_id: str, workflow: str, status: str) -> None:
        try:
            self._hook_thread.submit(lambda: call_hook(
                self.hooks, "wfhost_execution_finished", tenant=tenant, execution_id=execution_id,
                workflow=workflow, status=status))
        except RuntimeError:  # closed: a turn that outlived `close`'s wait for the scheduler
            log.warning("host closed; extensions not told that %s::%s %s", tenant, execution_id, status)

    def wait(self, execution_id: str, *, tenant: str | None = None,
             timeout: float | None = None) -> Execution:
        """Block until an execution finishes here or on another host; return its status.

        Returns as soon as it ends: finishes on this host and wake-ups from
        other hosts bump a generation under ``_done``; a status read that
        started before a bump is followed by another read, never by a sleep.

        Raises:
            Timeout: ``timeout`` seconds passed first (a `wfpkg.WfpkgError`, and a `TimeoutError`).
        """
        import time

        from .engine.watch import FALLBACK_POLL_SECONDS

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._done:
                seen = self._generation
            state = self.client.status(execution_id, tenant=tenant)
            if state.finished:
                return state
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise Timeout(f"execution {execution_id!r} still {state.status} after {timeout}s")
            with self._done:
                # The bound only covers a wake-up lost between machines.
                bound = FALLBACK_POLL_SECONDS if remaining is None else min(remaining, FALLBACK_POLL_SECONDS)
                if self._generation == seen:
                    self._done.wait(timeout=bound)
