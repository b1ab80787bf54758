"""Task threads: up to ``limit`` threads running the calls handed to them, from one queue.

Leaner than `concurrent.futures.ThreadPoolExecutor` for this use (no
`Future`, no semaphore per call: a handed-over attempt costs one C-level
queue put and get), with the same shape: threads start as they are needed,
and a call waits its turn when all are busy. The host runs plain-Python
attempts on one; a worker process runs its package's attempts on another.
On a stream of no-op tasks the `Future` bookkeeping was a tenth of the
scheduler's time and a third of a worker's.

Example::

    threads = TaskThreads(8, "task")
    threads.submit(run, frame)   # run(frame) on a thread named task_N
    threads.drain()              # every submitted call has ended
    threads.shutdown()           # calls not started are dropped; threads end
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["TaskThreads"]

log = logging.getLogger("wfregistry.threads")

_STOP = None


class TaskThreads:
    """Runs submitted calls on up to ``limit`` threads named ``{name}_N``."""

    def __init__(self, limit: int, name: str = "task") -> None:
        self._limit = max(1, limit)
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = \
            queue.SimpleQueue()
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._threads = 0
        self._idle = 0  # threads waiting for a call that no submit has counted on yet
        self._busy = 0  # calls submitted and not ended
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a task thread: wakes an idle one or starts one (under ``limit``).

        An exception it raises is logged, never raised here.

        Raises:
            RuntimeError: after `shutdown`.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the task threads are shut down")
            self._busy += 1
            start = not self._idle and self._threads < self._limit
            if start:
                self._threads += 1
            elif self._idle:
                self._idle -= 1
        self._queue.put((fn, args))
        if start:
            try:
                threading.Thread(target=self._work, name=f"{self._name}_{self._threads - 1}",
                                 daemon=True).start()
            except RuntimeError:  # no thread to be had (max_procs): the call waits for a busy one
                with self._lock:
                    self._threads -= 1

    def drain(self, timeout: float | None = None) -> bool:
        """Block until every submitted call has ended; False if ``timeout`` seconds passed first."""
        with self._lock:
            return self._drained.wait_for(lambda: not self._busy, timeout)

    def shutdown(self) -> None:
        """Drop the calls not started yet and let every thread end after its current one."""
        with self._lock:
            self._closed = True
            threads = self._threads
        dropped = 0
        try:
            while True:
                if self._queue.get_nowait() is not _STOP:
                    dropped += 1
        except queue.Empty:
            pass
        with self._lock:
            self._busy -= dropped
            if not self._busy:
                self._drained.notify_all()
        for _ in range(threads):
            self._queue.put(_STOP)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fn, args = item
            try:
                fn(*args)
            except BaseException:  # noqa: BLE001 - a thread must outlive what it runs
                log.exception("a task thread's call failed")
            finally:
                with self._lock:
                    self._busy -= 1
                    self._idle += 1
                    if not self._busy:
                        self._drained.notify_all()
            del item, fn, args
