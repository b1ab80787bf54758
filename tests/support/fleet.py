"""A package for tests of several hosts: a 10-task workflow and one that waits, built for real.

`fleet_package` writes the author's project (as `wfpkg init` would) and
builds and signs it with `wfpkg.build.build_package`, once per key.
"""

from __future__ import annotations

from pathlib import Path

from support.packages import TestKey
from wfpkg.build import build_package
from wfpkg.scaffold import write_project

__all__ = ["TASKS", "fleet_package"]

TASKS = 10

WORKFLOWS = '''\
"""Workflows for tests of several hosts."""
import time

from wfpkg import Context, WaitTimeout, Workflow, hookimpl

ten = Workflow("ten", description="ten tasks: a root, eight in parallel, a sink")


def _work(ctx: Context) -> None:
    time.sleep(ctx.get("pause", 0.0))  # the work itself: it keeps attempts in flight


@ten.task()
def t0(ctx: Context) -> None:
    _work(ctx)
    ctx["t0"] = ctx["n"]

{middle}

@ten.task(depends_on=[{deps}])
def t9(ctx: Context) -> None:
    _work(ctx)
    ctx["t9"] = sum(ctx[f"t{{i}}"] for i in range(1, 9))


waiter = Workflow("waiter", description="waits for a signal or its timer, whichever first")


@waiter.task()
def wait(ctx: Context) -> None:
    try:
        ctx["payload"] = ctx.wait_for_signal("go", timeout=ctx["timer"])
        ctx["woken_by"] = "signal"
    except WaitTimeout:
        ctx["woken_by"] = "timer"


@hookimpl
def wfhost_workflows():
    return [ten, waiter]
'''

MIDDLE = '''
@ten.task(depends_on=["t0"])
def t{i}(ctx: Context) -> None:
    _work(ctx)
    ctx["t{i}"] = ctx["t0"] + {i}
'''


def fleet_package(key: TestKey, dest: Path, version: str = "1.0.0") -> Path:
    """Write and build the ``fleet`` package signed by ``key``; returns the `.wfpkg`."""
    middle = "\n".join(MIDDLE.format(i=i) for i in range(1, 9))
    deps = ", ".join(f'"t{i}"' for i in range(1, 9))
    src = write_project(dest / f"fleet-src-{version}", "fleet", version=version,
                        files={"workflows.py": WORKFLOWS.format(middle=middle, deps=deps)})
    return build_package(src, key.private, dest / "dist")
