"""A host process for the crash test: runs a 200-task chain, recording each task run in a file.

Usage: python crash_host.py HOME RUNS_FILE. Schedules execution ``crash-chain``
(idempotent, so every restart finds the same one), runs until it finishes, exits 0.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from recorded_chain import recorded_chain

from wfhost import Host
from wfpkg.protocol import TERMINAL_EXECUTION

TASKS = 200


def main(home: str, runs_file: str) -> None:
    chain = recorded_chain(TASKS, runs_file, pause=0.003)
    host = Host(home=Path(home))
    host.add_workflow(chain)
    eid = host.client.schedule("local::chain", {}, id="crash-chain")
    done = threading.Event()
    host.scheduler.add_finished_listener(lambda uid, status: done.set())
    if host.client.status(eid)["status"] in TERMINAL_EXECUTION:
        done.set()
    host.start()
    done.wait()
    host.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
