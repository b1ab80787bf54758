"""A host process for the crash test: runs a 200-task chain, recording each task run in a file.

Usage: python crash_host.py HOME RUNS_FILE. Schedules execution ``crash-chain``
(idempotent, so every restart finds the same one), runs until it finishes, exits 0.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from wfhost import Host
from wfpkg import Context, Workflow

TASKS = 200


def main(home: str, runs_file: str) -> None:
    chain = Workflow("chain")
    prev = None
    for i in range(TASKS):
        def step(ctx: Context, i: int = i) -> None:
            fd = os.open(runs_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            os.write(fd, f"t{i}\n".encode())
            os.close(fd)
            time.sleep(0.003)
            ctx["n"] = ctx.get("n", 0) + 1
        chain.add_task(step, id=f"t{i}", depends_on=[prev] if prev else [])
        prev = f"t{i}"
    host = Host(home=Path(home))
    host.add_workflow(chain)
    eid = host.client.schedule("local::chain", {}, id="crash-chain")
    done = threading.Event()
    host.scheduler.add_finished_listener(lambda uid, status: done.set())
    if host.client.status(eid)["status"] in ("succeeded", "failed", "cancelled"):
        done.set()
    host.start()
    done.wait()
    host.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
