"""Which CPUs a host process runs on: ``all`` (the default) or ``one``.

A host's own work is Python threads (the scheduler, the task threads, the
service), which the GIL runs one at a time; what they do is hand work to
each other. Each handoff wakes a thread, and waking one on another CPU costs
an inter-processor interrupt: on this project's 2-core VM a two-thread
round trip took 41–72 µs across CPUs and 4.5 µs on one (`bench`, see
docs/benchmarks.md), enough to make the scheduler's hot path 1.5–3× slower.
``one`` pins every thread of the host process to one CPU (chosen by pid, so
several hosts on a machine spread out); the worker processes of packages
widen back to every CPU when they start (`wfregistry._worker_main`), so
tenants' code keeps the machine.
The cost: plain-Python tasks run in the host's threads share that CPU, which
matters only for tasks that release the GIL to compute (numpy, say).
"""

from __future__ import annotations

import os

__all__ = ["CPUS", "CPUS_ENV", "pin_to_one_cpu", "resolve_cpus"]

CPUS = ("all", "one")
CPUS_ENV = "WFHOST_CPUS"


def resolve_cpus(cpus: str | None = None) -> str:
    """The CPU setting: explicit, else ``$WFHOST_CPUS``, else ``all``.

    Raises:
        InvalidRequest: anything but ``all`` or ``one``.
    """
    value = (cpus or os.environ.get(CPUS_ENV) or "all").strip().lower()
    if value not in CPUS:
        from wfhost.errors import InvalidRequest

        raise InvalidRequest(f"cpus {value!r} is not one of: all, one (--cpus or {CPUS_ENV})")
    return value


def pin_to_one_cpu() -> int | None:
    """Pin every thread of this process to one of its allowed CPUs; returns it (None: nothing to do).

    Threads started later inherit the pin from the thread that starts them.
    """
    if not hasattr(os, "sched_setaffinity"):  # not Linux
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) <= 1:
        return None
    cpu = allowed[os.getpid() % len(allowed)]
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except OSError:  # a thread that just ended
            pass
    return cpu

