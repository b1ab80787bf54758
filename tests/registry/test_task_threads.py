"""A worker's task threads: no more than the limit at once, started as needed, drained on stop."""

from __future__ import annotations

import threading

from wfregistry._task_threads import TaskThreads


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

    threads = TaskThreads(3, run)
    for i in range(20):
        threads.submit(i)
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

    threads = TaskThreads(8, run)
    for i in range(10):
        threads.submit(i)
        threads.drain()  # the previous item has ended: its thread is idle and takes the next
    assert done.is_set() and names == {"task_0"}
