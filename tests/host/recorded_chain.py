"""A chain workflow whose tasks record every run in a file, for the host-process test scripts.

Each run appends one line, ``"{execution} t{i} {pid}"``, with O_APPEND so that
concurrent writers (threads, host processes) never interleave.
"""

from __future__ import annotations

import os
import time

from wfpkg import Context, Workflow


def recorded_chain(tasks: int, runs_file: str, pause: float) -> Workflow:
    """``t0 -> t1 -> ...``; each task records its run, pauses, and counts ``n``."""
    chain = Workflow("chain")
    prev = None
    for i in range(tasks):
        def step(ctx: Context, i: int = i) -> None:
            fd = os.open(runs_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            os.write(fd, f"{ctx.execution_id} t{i} {os.getpid()}\n".encode())
            os.close(fd)
            time.sleep(pause)
            ctx["n"] = ctx.get("n", 0) + 1
        chain.add_task(step, id=f"t{i}", depends_on=[prev] if prev else [])
        prev = f"t{i}"
    return chain
