"""Task threads: no more than the limit at once, started as needed, drained on stop, shut down."""

from __future__ import annotations

import threading

from wfregistry.task_threads import TaskThreads


def test_items_run_on_at_most_limit_threads_and_drain_waits_for_all() -> None:
    gate = threading.Event()
    lock = threading.Lock()
    running: list[int] = []
    peak = [0]
    names: set[str] = set()
    ran: list[int] = []

    def run(item: int) -> None:
        with lock:
            running.append(item)
            peak[0] = max(peak[0], len(running))
            names.add(threading.current_thread().name)
        assert gate.wait(30)
        with lock:
            running.remove(item)
            ran.append(item)

    threads = TaskThreads(3, "task")
    for i in range(20):
        threads.submit(run, i)
    gate.set()
    threads.drain()
    assert sorted(ran) == list(range(20))
    assert peak[0] <= 3 and len(names) == 3 and all(n.startswith("task_") for n in names)


def test_one_item_at_a_time_needs_one_thread() -> None:
    done = threading.Event()
    names: set[str] = set()

    def run(item: int) -> None:
        names.add(threading.current_thread().name)
        if item == 9:
            done.set()

    threads = TaskThreads(8, "task")
    for i in range(10):
        threads.submit(run, i)
        threads.drain()  # the previous item has ended: its thread is idle and takes the next
    assert done.is_set() and names == {"task_0"}


def test_shutdown_drops_what_has_not_started_and_refuses_more() -> None:
    import pytest

    gate = threading.Event()
    started = threading.Event()
    ran: list[int] = []

    def run(item: int) -> None:
        started.set()
        assert gate.wait(30)
        ran.append(item)

    threads = TaskThreads(1, "task")
    for i in range(5):
        threads.submit(run, i)
    assert started.wait(30)
    threads.shutdown()  # item 0 is running; 1-4 have not started
    gate.set()
    threads.drain()
    assert ran == [0]
    with pytest.raises(RuntimeError, match="shut down"):
        threads.submit(run, 9)


def test_a_call_that_raises_does_not_end_its_thread() -> None:
    names: list[str] = []

    def run(item: int) -> None:
        names.append(threading.current_thread().name)
        if item == 0:
            raise ValueError("boom")

    threads = TaskThreads(1, "task")
    threads.submit(run, 0)
    threads.drain()
    threads.submit(run, 1)
    threads.drain()
    assert names == ["task_0", "task_0"]
