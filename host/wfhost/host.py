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

import os
import socket
import threading
from pathlib import Path

from sqlalchemy import insert, update

from wfpkg import Workflow
from wfpkg.errors import Timeout
from wfregistry.hooks import call_hook

from .client import Client
from .engine.catalog import LOCAL_PACKAGE, Catalog
from .engine.notify import PgListener, WakeListener, notify_hosts
from .engine.scheduler import Scheduler, new_host_id
from .engine.schedules import Ticker
from .results import Execution
from .store._db import H, now
from .store.engine import default_home, migrate, open_engine, resolve_url

__all__ = ["Host"]


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
    """

    def __init__(self, home: Path | None = None, database_url: str | None = None, *,
                 max_concurrency: int = 32, tenant_concurrency: int | None = None,
                 load_timeout: float = 30.0, tenant: str | None = None) -> None:
        from wfregistry import Registry, extension_manager

        self.home = Path(home) if home else default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.url = resolve_url(self.home, database_url)
        self.engine = open_engine(self.url)
        migrate(self.engine)
        self.hooks = extension_manager()
        self.registry = Registry(self.engine, self.home / "packages", hooks=self.hooks)
        self.catalog = Catalog(self.registry)
        self.host_id = new_host_id()
        self.scheduler = Scheduler(
            self.engine, self.catalog, self.host_id, max_concurrency=max_concurrency,
            tenant_concurrency=tenant_concurrency, log_dir=self.home / "logs",
            load_timeout=load_timeout, on_finished=self._finished,
            on_change=lambda: notify_hosts(self.engine, exclude=self.host_id))
        self.client = Client(self.home, tenant=tenant, engine=self.engine, catalog=self.catalog,
                             on_change=self._changed)
        self._listener: WakeListener | None = None
        self._pg_listener: PgListener | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        self.scheduler.add_finished_listener(self._note_finished)
        self.ticker = Ticker(self.engine, self.catalog, on_started=self._changed)
        self._cron: threading.Thread | None = None

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
        self._listener = WakeListener(self._woken)
        self._listener.start()
        if self.engine.dialect.name == "postgresql":
            self._pg_listener = PgListener(self.url, self._woken)
            self._pg_listener.start()
        with self.engine.begin() as conn:
            conn.execute(insert(H).values(id=self.host_id, hostname=socket.gethostname(),
                                          pid=os.getpid(), started_at=now(), heartbeat_at=now(),
                                          wake_port=self._listener.port, stopped=False))
        self._cron = threading.Thread(target=self.ticker.run, args=(self._stop,), name="wfhost-cron",
                                      daemon=True)
        self._cron.start()

    def _woken(self) -> None:
        # Another process created work, or added or resumed a schedule.
        self.scheduler.wake(scan=True)
        self.ticker.wake()

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
        self.scheduler.dispatcher.close()
        self.engine.dispose()

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

    def _note_finished(self, _uid: str, _status: str) -> None:
        with self._done:
            self._done.notify_all()

    def _finished(self, tenant: str, execution_id: str, workflow: str, status: str) -> None:
        call_hook(self.hooks, "wfhost_execution_finished", tenant=tenant,
                  execution_id=execution_id, workflow=workflow, status=status)

    def wait(self, execution_id: str, *, tenant: str | None = None,
             timeout: float | None = None) -> Execution:
        """Block until an execution finishes here or on another host; return its status.

        Raises:
            Timeout: ``timeout`` seconds passed first (a `wfpkg.WfpkgError`, and a `TimeoutError`).
        """
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self.client.status(execution_id, tenant=tenant)
            if state.finished:
                return state
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise Timeout(f"execution {execution_id!r} still {state.status} after {timeout}s")
            with self._done:
                # Woken by any finish on this host; the bound covers finishes on other hosts.
                self._done.wait(timeout=min(0.5, remaining) if remaining is not None else 0.5)
