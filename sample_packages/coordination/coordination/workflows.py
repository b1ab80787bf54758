"""The workflows of package `coordination`: executions signalling and cancelling each other by id.

``orchestrator`` and ``managed_task``
    The orchestrator's input lists the executions it manages, each an
    already-scheduled ``managed_task``: ``{"tasks": [{"id": "job-a"},
    {"id": "job-b", "after": "job-a"}, {"id": "job-c", "after": "job-b",
    "parameters": {...}}]}``. It sends each an ``execute_task`` signal; a task
    with ``after`` then waits for ``upstream_done`` before it works. Each
    reports back with a ``task_report`` signal. When one reports success the
    orchestrator releases its dependents; when one reports failure it cancels
    every execution that depends on it, directly or not. A managed task
    fails if its parameters say ``{"fail": true}``.

``producer`` and ``consumer``
    The producer makes a batch of data (once, in a step) and sends
    ``data_ready`` to every consumer id in its input, noting which it could
    not reach. A consumer collects ``expected`` (default 1) signals named
    ``signal`` (default ``data_ready``), giving up when none arrives for
    ``timeout_seconds``; it reports what it received and whether it timed out.

``timer_signal``
    Sleeps ``delay_seconds`` durably, then sends ``timer_expired`` to
    ``target`` and reports whether the target could be reached.
"""

from __future__ import annotations

from typing import Any

from wfpkg import (
    Context,
    ExecutionFinished,
    ExecutionNotFound,
    FatalTaskError,
    WaitTimeout,
    Workflow,
    hookimpl,
)

HOUR = 3600.0

# -- orchestrator ----------------------------------------------------------------------

orchestrator = Workflow("orchestrator", description="signal managed executions; cancel dependents of a failure")


@orchestrator.task()
def dispatch(ctx: Context) -> None:
    """Send ``execute_task`` to every managed execution."""
    sent = []
    for spec in ctx["tasks"]:
        ctx.signal_execution(spec["id"], "execute_task", {
            "task_id": spec["id"],
            "task_type": spec.get("type", "generic"),
            "parameters": spec.get("parameters", {}),
            "after": spec.get("after"),
            "reply_to": ctx.execution_id,
        })
        sent.append(spec["id"])
    ctx["signalled"] = sent


def _dependents(tasks: list[dict[str, Any]], failed: str) -> list[str]:
    """Every task that depends on ``failed``, directly or through others, in input order."""
    out: list[str] = []
    frontier = {failed}
    while frontier:
        nxt = {t["id"] for t in tasks if t.get("after") in frontier and t["id"] not in out}
        out.extend(t["id"] for t in tasks if t["id"] in nxt)
        frontier = nxt
    return out


@orchestrator.task(depends_on=[dispatch])
def monitor(ctx: Context) -> None:
    """Collect reports; release dependents of a success, cancel dependents of a failure."""
    tasks: list[dict[str, Any]] = ctx["tasks"]
    pending = [t["id"] for t in tasks]
    completed: list[str] = []
    failed: list[str] = []
    cancelled: list[str] = []
    timeout = float(ctx.get("report_timeout_seconds", HOUR))
    while pending:
        try:
            report = ctx.wait_for_signal("task_report", timeout=timeout)
        except WaitTimeout:
            break
        who = report["task_id"]
        if who not in pending:
            continue
        pending.remove(who)
        if report["ok"]:
            completed.append(who)
            for t in tasks:
                if t.get("after") == who and t["id"] in pending:
                    ctx.signal_execution(t["id"], "upstream_done", {"upstream": who})
        else:
            failed.append(who)
            for dep in _dependents(tasks, who):
                if dep in pending:
                    ctx.cancel_execution(dep, reason=f"dependency {who} failed")
                    pending.remove(dep)
                    cancelled.append(dep)
    ctx.update(completed=completed, failed=failed, cancelled=cancelled, unanswered=pending)


managed_task = Workflow("managed_task", description="wait for execute_task, do the work, report back")


@managed_task.task()
def execute(ctx: Context) -> None:
    """Wait for orders (and for the upstream, if any), work, and report to the orchestrator."""
    command = ctx.wait_for_signal("execute_task", timeout=float(ctx.get("timeout_seconds", HOUR)))
    if command.get("after"):
        ctx["upstream"] = ctx.wait_for_signal(
            "upstream_done", timeout=float(ctx.get("timeout_seconds", HOUR))
        )
    params = command.get("parameters") or {}
    ok = not params.get("fail", False)
    result = {"task_id": command["task_id"], "ok": ok,
              "output": sum(params.get("values", [])) if ok else None}
    ctx.signal_execution(command["reply_to"], "task_report", result)
    if not ok:
        raise FatalTaskError(f"task {command['task_id']} failed as its parameters asked")
    ctx["result"] = result


# -- producer / consumer -----------------------------------------------------------------

producer = Workflow("producer", description="produce data and notify the consumers")


def make_batch(execution_id: str, size: int) -> dict[str, Any]:
    """The data a producer makes (a real one would write it somewhere and return where)."""
    return {"data_id": f"{execution_id}-batch", "data_location": f"memory://{execution_id}",
            "values": list(range(size))}


@producer.task()
def produce(ctx: Context) -> None:
    """Make the data once."""
    ctx["batch"] = ctx.step("make_batch", make_batch, ctx.execution_id, int(ctx.get("size", 5)))


@producer.task(depends_on=[produce])
def notify_consumers(ctx: Context) -> None:
    """Send ``data_ready`` to each consumer; note those that could not be reached."""
    notified, unreachable = [], []
    for consumer_id in ctx["consumers"]:
        try:
            ctx.signal_execution(consumer_id, "data_ready", {
                "data_id": ctx["batch"]["data_id"],
                "data_location": ctx["batch"]["data_location"],
                "values": ctx["batch"]["values"],
                "producer_workflow_id": ctx.execution_id,
            })
            notified.append(consumer_id)
        except (ExecutionNotFound, ExecutionFinished) as exc:
            unreachable.append({"id": consumer_id, "error": str(exc)})
    ctx.update(notified=notified, unreachable=unreachable)


consumer = Workflow("consumer", description="collect data_ready signals, or time out")


@consumer.task()
def collect(ctx: Context) -> None:
    """Collect ``expected`` signals; stop when none arrives for ``timeout_seconds``."""
    name = str(ctx.get("signal", "data_ready"))
    expected = int(ctx.get("expected", 1))
    timeout = float(ctx.get("timeout_seconds", HOUR))
    received: list[Any] = []
    timed_out = False
    while len(received) < expected:
        got = ctx.wait_any({"signal": ctx.signal(name), "timeout": ctx.timer(timeout)})
        if got.key == "timeout":
            timed_out = True
            break
        received.append(got.value)
    total = sum(sum(r.get("values", [])) for r in received if isinstance(r, dict))
    ctx.update(received=received, timed_out=timed_out, total=total)


# -- timer -------------------------------------------------------------------------------

timer_signal = Workflow("timer_signal", description="sleep, then signal another execution")


@timer_signal.task()
def wait_then_signal(ctx: Context) -> None:
    """Sleep durably, then send ``timer_expired`` to the target."""
    ctx.sleep(float(ctx.get("delay_seconds", 60)))
    target = ctx["target"]
    try:
        ctx.signal_execution(target, "timer_expired", {
            "timer_id": ctx.execution_id, "target_workflow_id": target})
        ctx["notified"] = True
    except (ExecutionNotFound, ExecutionFinished) as exc:
        ctx.update(notified=False, error=str(exc))


@hookimpl
def wfhost_workflows() -> list[Workflow]:
    """The workflows this package provides."""
    return [orchestrator, managed_task, producer, consumer, timer_signal]
