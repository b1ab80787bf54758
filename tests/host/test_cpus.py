"""`cpus=one`: a host's threads share one CPU; package workers widen back to every CPU."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import child_env
from support.waiting import until

ALLOWED = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
needs_two = pytest.mark.skipif(len(ALLOWED) < 2, reason="pinning needs a machine with two CPUs or more")

_HOST = """
import json, os, sys
from wfhost import Host
from wfpkg import Workflow
wf = Workflow("one")
wf.add_task(lambda ctx: None, id="t")
with Host(home=sys.argv[1], cpus=sys.argv[2]) as host:
    host.add_workflow(wf)
    assert host.wait(host.client.schedule("local::one", {}), timeout=60)["status"] == "succeeded"
    print(json.dumps({tid: sorted(os.sched_getaffinity(int(tid)))
                      for tid in os.listdir("/proc/self/task")}))
"""


def _thread_cpus(tmp_path: Path, cpus: str) -> dict[str, list[int]]:
    done = subprocess.run([sys.executable, "-c", _HOST, str(tmp_path / cpus), cpus],
                          capture_output=True, text=True, timeout=120, env=child_env())
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@needs_two
def test_a_host_on_one_cpu_runs_every_thread_there(tmp_path: Path) -> None:
    pinned = _thread_cpus(tmp_path, "one")
    assert len(pinned) >= 4  # main, scheduler, task thread, wake listener, ...
    assert len({tuple(c) for c in pinned.values()}) == 1  # all on the same CPU
    assert len(next(iter(pinned.values()))) == 1
    free = _thread_cpus(tmp_path, "all")
    assert all(c == ALLOWED for c in free.values())


@needs_two
def test_a_package_worker_widens_to_every_cpu(tmp_path: Path) -> None:
    """A worker started by a host pinned to one CPU runs on all of them."""
    ours, theirs = socket.socketpair()
    worker = subprocess.Popen(
        [sys.executable, "-m", "wfregistry._worker_main", "--fd", str(theirs.fileno())],
        pass_fds=[theirs.fileno()], preexec_fn=lambda: os.sched_setaffinity(0, {ALLOWED[0]}),
        env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs.close()
    try:
        until(lambda: sorted(os.sched_getaffinity(worker.pid)) == ALLOWED,
              "the worker to widen its CPUs", timeout=30)
    finally:
        ours.close()  # the worker's channel ends: it exits
        worker.wait(timeout=30)


def test_an_unknown_cpus_setting_is_refused_in_one_line(tmp_path: Path) -> None:
    from wfhost import Host, InvalidRequest

    with pytest.raises(InvalidRequest, match="cpus 'three' is not one of: all, one"):
        Host(home=tmp_path / "home", cpus="three")
    done = subprocess.run([sys.executable, "-m", "wfhost", "--home", str(tmp_path / "cli"),
                           "--cpus", "three", "status", "x"],
                          capture_output=True, text=True, timeout=60, env=child_env())
    assert done.returncode == 2
    assert done.stderr.startswith("error: cpus 'three' is not one of") and done.stderr.count("\n") == 1


@needs_two
def test_the_wfhost_command_runs_its_host_on_one_cpu_and_leaves_callers_alone(tmp_path: Path) -> None:
    from wfhost.cli import owns_process

    worker = subprocess.Popen([sys.executable, "-m", "wfhost", "--home", str(tmp_path), "worker"],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                              env=child_env())
    try:
        assert worker.stderr is not None
        for line in worker.stderr:  # the host has started its threads
            if "running on" in line:
                break
        tasks = Path(f"/proc/{worker.pid}/task")
        cpus = {tuple(sorted(os.sched_getaffinity(int(t.name)))) for t in tasks.iterdir()}
        assert len(cpus) == 1 and len(next(iter(cpus))) == 1, cpus
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    # Commands called in-process (these tests, a program) run in the caller's process: no pin.
    assert not owns_process()
    assert sorted(os.sched_getaffinity(0)) == ALLOWED
