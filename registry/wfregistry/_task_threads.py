"""A worker's task threads: up to ``limit`` threads taking attempts from one queue.

Leaner than `concurrent.futures.ThreadPoolExecutor` for this one use (no
`Future`, no semaphore per attempt: a handed-over attempt costs one C-level
queue put and get), with the same shape: threads start as they are needed,
and an attempt waits its turn when all are busy.

Example::

    threads = TaskThreads(8, run)
    threads.submit(frame)   # run(frame) on a task thread
    threads.drain()         # every submitted attempt has ended
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["TaskThreads"]


class TaskThreads:
    """Runs ``run(item)`` for each submitted item on up to ``limit`` threads named ``task_N``."""

    def __init__(self, limit: int, run: Callable[[Any], None]) -> None:
        self._limit = max(1, limit)
        self._run = run
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._threads = 0
        self._idle = 0  # threads waiting for an item that no submit has counted on yet
        self._busy = 0  # items submitted and not ended

    def submit(self, item: Any) -> None:
        """Queue ``item``; wakes an idle thread or starts one (while under ``limit``)."""
        with self._lock:
            self._busy += 1
            start = not self._idle and self._threads < self._limit
            if start:
                self._threads += 1
            elif self._idle:
                self._idle -= 1
        self._queue.put(item)
        if start:
            try:
                threading.Thread(target=self._work, name=f"task_{self._threads - 1}", daemon=True).start()
            except RuntimeError:  # no thread to be had (max_procs): the item waits for a busy one
                with self._lock:
                    self._threads -= 1

    def drain(self) -> None:
        """Block until every submitted item has ended."""
        with self._lock:
            self._drained.wait_for(lambda: not self._busy)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                self._run(item)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._idle += 1
                    if not self._busy:
                        self._drained.notify_all()
