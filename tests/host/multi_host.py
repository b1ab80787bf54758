"""A host process for the multi-host test: runs chains on a shared database until all are done.

Usage: python multi_host.py DATABASE_URL HOME RUNS_FILE EXECUTIONS GO_FILE.
Schedules executions ``multi-0`` ... (idempotent: every host schedules the
same ids), writes ``HOME/ready``, starts scheduling once GO_FILE exists (so
that the test starts both hosts together), records every task run in
RUNS_FILE as ``execution task pid``, exits 0 when every execution has finished.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from recorded_chain import recorded_chain

from wfhost import Host
from wfpkg.protocol import TERMINAL_EXECUTION

TASKS = 5


def main(url: str, home: str, runs_file: str, executions: int, go: str) -> None:
    chain = recorded_chain(TASKS, runs_file, pause=0.002)
    host = Host(home=Path(home), database_url=url, max_concurrency=4)
    host.add_workflow(chain)
    ids = host.client.schedule_many("local::chain", [{}] * executions,
                                    ids=[f"multi-{k}" for k in range(executions)])
    done = threading.Event()

    def check(_uid: str = "", _status: str = "") -> None:
        if all(s["status"] in TERMINAL_EXECUTION
               for s in (host.client.status(i) for i in ids)):
            done.set()

    host.scheduler.add_finished_listener(check)
    (Path(home) / "ready").touch()
    deadline = time.monotonic() + 60
    while not Path(go).exists():
        if time.monotonic() > deadline:
            sys.exit("the test never said go")
        time.sleep(0.01)
    host.start()
    while not done.wait(0.5):  # the other host may finish the last ones
        check()
    host.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
