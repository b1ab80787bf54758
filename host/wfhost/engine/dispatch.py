"""Running claimed task attempts: in the host's threads or in a package's worker process.

Plain-Python workflows run on a thread pool in this process; packaged
workflows run only in the worker process of their tenant and package
version (`wfregistry.WorkerPool`). Either way the outcome comes back to the
scheduler through ``on_outcome``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfpkg.runner import TaskOutcome, TaskRequest, run_task

from .catalog import Catalog
from .durable import DurableCalls, HostBackend, RunRef

if TYPE_CHECKING:
    from wfregistry import WorkerPool

__all__ = ["Dispatcher"]


class Dispatcher:
    """Sends attempts to the right executor and routes durable calls back.

    Args:
        catalog: finds plain-Python workflows and package versions.
        calls: performs durable calls.
        on_outcome: receives every attempt's outcome (from any thread).
        threads: size of the host's own thread pool.
        log_dir: where worker processes write their output (enables packages).
        walls: the `wfregistry.sandbox.Walls` around worker processes (default strict).
    """

    def __init__(self, catalog: Catalog, calls: DurableCalls,
                 on_outcome: Callable[[RunRef, TaskOutcome], None], *, threads: int = 32,
                 log_dir: Path | None = None, load_timeout: float = 30.0, walls: Any = None) -> None:
        self._catalog = catalog
        self._calls = calls
        self._on_outcome = on_outcome
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wfhost-task")
        self._runs: dict[str, RunRef] = {}
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._pool: WorkerPool | None = None
        if log_dir is not None and catalog.registry is not None:
            from wfregistry import WorkerPool

            self._pool = WorkerPool(self._remote_call, log_dir=log_dir, load_timeout=load_timeout,
                                    walls=walls)

    def _remote_call(self, run_id: str, seq: int, kind: str, name: str, request: Any) -> Any:
        run = self._runs.get(run_id)
        if run is None:
            from wfpkg import Cancelled

            raise Cancelled(f"attempt {run_id} is no longer current")
        return self._calls.execute(run, seq, kind, name, dict(request))

    def submit(self, run: RunRef, request: TaskRequest) -> None:
        """Start one attempt; its outcome goes to ``on_outcome``."""
        with self._lock:
            self._runs[run.run_id] = run
            flag = self._flags.setdefault(run.uid, threading.Event())

        def done(outcome: TaskOutcome) -> None:
            with self._lock:
                self._runs.pop(run.run_id, None)
            self._on_outcome(run, outcome)

        if run.package_version_id is None:
            self._threads.submit(self._run_local, run, request, flag, done)
        elif self._pool is None:
            done(TaskOutcome("failed", error="this host does not run packaged workflows"))
        else:
            try:
                info = self._catalog.package(run.package_version_id)
                self._pool.submit(info, request, done)
            except Exception as exc:  # noqa: BLE001 - reported as the attempt's failure
                done(TaskOutcome("failed", error=f"cannot start worker: {exc}", retryable=True))

    def _run_local(self, run: RunRef, request: TaskRequest, flag: threading.Event,
                   done: Callable[[TaskOutcome], None]) -> None:
        wf = self._catalog.local_workflow(run.tenant, run.package, run.workflow)
        if wf is None or run.task_id not in wf.tasks:
            done(TaskOutcome("failed", error=f"workflow {run.package}::{run.workflow} is not loaded "
                                              "in this host", retryable=False))
            return
        done(run_task(wf.tasks[run.task_id], request, HostBackend(self._calls, run, flag)))

    def cancel(self, uid: str, tenant: str, execution_id: str) -> None:
        """Make ``ctx.is_cancelled`` true for running attempts of an execution."""
        with self._lock:
            self._flags.setdefault(uid, threading.Event()).set()
        if self._pool is not None:
            self._pool.cancel_execution(tenant, execution_id)

    def forget(self, uid: str) -> None:
        """Drop the per-execution state of a finished execution."""
        with self._lock:
            self._flags.pop(uid, None)

    def stop_version(self, tenant: str, package: str, version: str) -> None:
        """Stop the worker of a package version (after it has drained)."""
        if self._pool is not None:
            self._pool.stop_version(tenant, package, version)

    def live_workers(self) -> dict[str, int]:
        """Worker processes running now: ``tenant::package@version`` -> pid."""
        return self._pool.live_workers() if self._pool is not None else {}

    def close(self) -> None:
        """Stop the thread pool and every worker process (owned here)."""
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            self._pool.close()
