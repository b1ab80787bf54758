"""A host process for the restart test: workflows that wait on signals, timers and children.

Usage: python restart_host.py HOME EFFECTS_FILE. Schedules the executions below
with fixed ids (idempotent, so every restart finds the same ones), runs them,
and exits 0 once all of them have finished. The test SIGKILLs it while they
wait, acts on the store while it is down, and starts it again.

Every side effect is a line appended to EFFECTS_FILE from inside ``ctx.step``,
so the test can count how often each one happened.

Executions:

``rw-collect``  consumes five ``item`` signals, recording each payload.
``rw-sleep``    on ``arm``, sleeps ``SLEEP`` seconds durably.
``rw-timeout``  on ``arm``, waits for ``never`` with a timeout of ``SLEEP`` seconds
                (and handles the `WaitTimeout`), then for ``approve`` or a long timer.
``rw-parent``   starts three children: ``rw-child-0`` and ``rw-child-1`` wait for
                ``go``; ``rw-child-2`` waits for ``go`` and then sleeps ``SLEEP``.
                It gathers the first two and awaits the third with ``result()``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from wfhost import Host
from wfpkg import Context, WaitTimeout, Workflow
from wfpkg.protocol import TERMINAL_EXECUTION

SLEEP = 1.5
ITEMS = 5
ROOTS = ("rw-collect", "rw-sleep", "rw-timeout", "rw-parent")
TERMINAL = TERMINAL_EXECUTION


def workflows(effects: str) -> list[Workflow]:
    def effect(what: str) -> str:
        fd = os.open(effects, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{what}\n".encode())
        os.close(fd)
        return what

    def stamp(what: str) -> float:
        effect(what)
        return time.time()

    collect = Workflow("collect")

    @collect.task()
    def consume(ctx: Context) -> None:
        ctx.step("begin", effect, "collect:begin")
        items = []
        for _ in range(ITEMS):
            items.append(ctx.wait_for_signal("item"))
        ctx.step("end", effect, "collect:end")
        ctx["items"] = items

    sleeper = Workflow("sleeper")

    @sleeper.task()
    def nap(ctx: Context) -> None:
        ctx.step("before", effect, "sleep:before")
        ctx.wait_for_signal("arm")
        ctx.sleep(ctx["seconds"])
        ctx["woke_at"] = ctx.step("after", stamp, "sleep:after")

    deadline = Workflow("deadline")

    @deadline.task()
    def expect(ctx: Context) -> None:
        ctx.wait_for_signal("arm")
        try:
            ctx.wait_for_signal("never", timeout=ctx["seconds"])
            ctx["timed_out"] = False
        except WaitTimeout:
            ctx["timed_out"] = True
        won = ctx.wait_any(ctx.signal("approve"), ctx.timer(600))
        ctx["approval"] = {"index": won.index, "value": won.value}
        ctx.step("notify", effect, "timeout:notify")

    child = Workflow("child")

    @child.task()
    def work(ctx: Context) -> None:
        i = ctx["i"]
        ctx.step("effect", effect, f"child{i}:effect")
        got = ctx.wait_for_signal("go")
        if ctx.get("sleep"):
            ctx.sleep(ctx["sleep"])
        ctx["result"] = {"i": i, "got": got}

    parent = Workflow("parent")

    @parent.task()
    def fan_out(ctx: Context) -> None:
        handles = [ctx.start_child("child", {"i": i, **({"sleep": SLEEP} if i == 2 else {})},
                                   id=f"rw-child-{i}") for i in range(3)]
        gathered = ctx.gather(handles[:2])
        ctx["gathered"] = [{"id": r.id, "status": r.status, "output": r.output} for r in gathered]
        ctx["single"] = handles[2].result()
        ctx.step("report", effect, "parent:report")

    return [collect, sleeper, deadline, child, parent]


def main(home: str, effects: str) -> None:
    host = Host(home=Path(home))
    for wf in workflows(effects):
        host.add_workflow(wf)
    client = host.client
    inputs: dict[str, tuple[str, dict[str, Any]]] = {
        "rw-collect": ("local::collect", {}),
        "rw-sleep": ("local::sleeper", {"seconds": SLEEP}),
        "rw-timeout": ("local::deadline", {"seconds": SLEEP}),
        "rw-parent": ("local::parent", {}),
    }
    for eid, (workflow, data) in inputs.items():
        client.schedule(workflow, data, id=eid)
    host.start()
    try:
        while any(client.status(eid)["status"] not in TERMINAL for eid in ROOTS):
            time.sleep(0.05)
    finally:
        host.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
