"""Running claimed task attempts: in the host's threads or in a package's worker process.

Plain-Python workflows run on a thread pool in this process; packaged
workflows run only in the worker process of their tenant and package
version (`wfregistry.WorkerPool`). Either way the outcome comes back to the
scheduler through ``on_outcome``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfpkg.protocol import OutcomeStatus, TaskOutcome, TaskRequest
from wfpkg.runner import run_task
from wfregistry.inflight import Attempt, InFlight
from wfregistry.task_threads import TaskThreads

from .catalog import Catalog
from .durable import DurableCalls, HostBackend

if TYPE_CHECKING:
    from wfregistry import WorkerPool

__all__ = ["Dispatcher"]


class Dispatcher:
    """Sends attempts to the right executor and routes durable calls back.

    Every attempt it is given is in ``inflight`` until its outcome is handed
    to ``on_outcome`` (or someone gives it up first); the worker pool shares
    the same `InFlight`.

    Args:
        catalog: finds plain-Python workflows and package versions.
        calls: performs durable calls.
        inflight: the owner of in-flight attempts and cancellation (shared with the scheduler).
        on_outcome: receives every attempt's outcome (from any thread).
        threads: size of the host's own thread pool.
        log_dir: where worker processes write their output (enables packages).
        walls: the `wfregistry.sandbox.Walls` around worker processes (default strict).
    """

    def __init__(self, catalog: Catalog, calls: DurableCalls, inflight: InFlight,
                 on_outcome: Callable[[Attempt, TaskOutcome], None], *, threads: int = 32,
                 log_dir: Path | None = None, load_timeout: float = 30.0, walls: Any = None) -> None:
        self._catalog = catalog
        self._calls = calls
        self._inflight = inflight
        self._on_outcome = on_outcome
        self._threads = TaskThreads(threads, "wfhost-task")
        # The worker pool (and its module) is made for the first packaged attempt: a host
        # running only plain-Python workflows never needs it.
        self._log_dir = log_dir if catalog.registry is not None else None  # None: no packages here
        self._load_timeout, self._walls = load_timeout, walls
        self._pool: WorkerPool | None = None
        self._pool_lock = threading.Lock()

    def submit(self, run: Attempt) -> None:
        """Start one attempt; its outcome goes to ``on_outcome``."""
        self.submit_many([run])

    def submit_many(self, runs: list[Attempt]) -> None:
        """Start attempts claimed together; a worker gets its runs among them in one write."""
        packaged: list[tuple[Any, TaskRequest, Callable[[TaskOutcome], None]]] = []
        given: list[Attempt] = []
        for run in runs:
            done = self._done_callback(run)
            if run.package_version_id is None:
                self._threads.submit(self._run_local, run, done)
            elif self._log_dir is None:
                done(TaskOutcome(OutcomeStatus.FAILED, error="this host does not run packaged workflows"))
            else:
                from wfregistry import RegistryError

                try:
                    packaged.append((self._catalog.installed(run.package_version_id), run.request, done))
                    given.append(run)
                except RegistryError as exc:  # e.g. its key was revoked before this host installed it
                    done(TaskOutcome(OutcomeStatus.FAILED, error=str(exc), retryable=False))
                except Exception as exc:  # noqa: BLE001 - reported as the attempt's failure
                    done(TaskOutcome(OutcomeStatus.FAILED, error=f"cannot install package: {exc}",
                                     retryable=True))
        if packaged:
            try:
                self._worker_pool().submit_many(packaged)
            except Exception as exc:  # noqa: BLE001 - reported as the failure of those no worker holds
                for run in given:
                    if run.holder is None and run.on_done is not None:
                        run.on_done(TaskOutcome(OutcomeStatus.FAILED, error=f"cannot start worker: {exc}",
                                                retryable=True))

    def _done_callback(self, run: Attempt) -> Callable[[TaskOutcome], None]:
        """Put ``run`` in flight; what its outcome is handed to (once)."""
        self._inflight.add(run)

        def done(outcome: TaskOutcome) -> None:
            self._inflight.finish(run.run_id)
            self._on_outcome(run, outcome)

        run.on_done = done
        return done

    def _worker_pool(self) -> WorkerPool:
        with self._pool_lock:
            if self._pool is None:
                if self._log_dir is None:
                    raise RuntimeError("the dispatcher is closed")
                from wfregistry import WorkerPool

                self._pool = WorkerPool(self._calls.execute, log_dir=self._log_dir,
                                        load_timeout=self._load_timeout, inflight=self._inflight,
                                        walls=self._walls)
            return self._pool

    def _run_local(self, run: Attempt, done: Callable[[TaskOutcome], None]) -> None:
        wf = self._catalog.local_workflow(run.tenant, run.package, run.workflow)
        if wf is None or run.task_id not in wf.tasks:
            done(TaskOutcome(OutcomeStatus.FAILED, error=f"workflow {run.package}::{run.workflow} is not loaded "
                                              "in this host", retryable=False))
            return
        done(run_task(wf.tasks[run.task_id], run.request, HostBackend(self._calls, run, self._inflight)))

    def cancel(self, tenant: str, execution_id: str) -> None:
        """Make ``ctx.is_cancelled`` true for running attempts of an execution."""
        if self._pool is not None:
            self._pool.cancel_execution(tenant, execution_id)
        else:
            self._inflight.cancel(tenant, execution_id)

    def forget(self, tenant: str, execution_id: str) -> None:
        """Drop the per-execution state of a finished execution."""
        self._inflight.forget(tenant, execution_id)

    def stop_version(self, tenant: str, package: str, version: str) -> None:
        """Stop the worker of a package version (after it has drained)."""
        if self._pool is not None:
            self._pool.stop_version(tenant, package, version)

    def live_workers(self) -> dict[str, int]:
        """Worker processes running now: ``tenant::package@version`` -> pid."""
        return self._pool.live_workers() if self._pool is not None else {}

    def close(self) -> None:
        """Stop the thread pool and every worker process (owned here)."""
        self._threads.shutdown()
        with self._pool_lock:
            pool, self._log_dir = self._pool, None  # no pool is made after this
        if pool is not None:
            pool.close()

