"""The host's task threads: a fixed number of threads running the attempts handed to them.

`concurrent.futures.ThreadPoolExecutor` makes a `Future` (with its
`Condition`) for every call and resolves it afterwards; the dispatcher never
looks at one, since an attempt reports its outcome through a callback. On a
stream of no-op tasks that bookkeeping was a tenth of the scheduler's time,
so attempts go on a `queue.SimpleQueue` read by threads started as needed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["TaskThreads"]

log = logging.getLogger("wfhost.dispatch")


class TaskThreads:
    """Up to ``size`` threads named ``{name}_N`` running what `submit` hands them, in order."""

    def __init__(self, size: int, name: str) -> None:
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = \
            queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # released by a thread each time it goes idle
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in one of the threads (an exception is logged, never raised here)."""
        if self._closed:
            raise RuntimeError("the task threads are shut down")
        self._queue.put((fn, args))
        if self._idle.acquire(blocking=False):
            return  # an idle thread will take it
        with self._lock:
            if len(self._threads) < self._size and not self._closed:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self._name}_{len(self._threads)}")
                self._threads.append(thread)
                thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except BaseException:  # noqa: BLE001 - a thread must outlive what it runs
                log.exception("a task thread's call failed")
            del item, fn, args
            self._idle.release()

    def shutdown(self) -> None:
        """Drop what has not started and let every thread end after its current call."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        for _ in threads:
            self._queue.put(None)
