"""The workflows of package `approvals`: humans and outside systems driving executions by signal.

``multi_stage_approval``
    manager -> director -> vp -> outcome. Each stage waits for its own
    signal (``manager_decision``, ``director_decision``, ``vp_decision``,
    payload ``{"approved": bool, "by": name, "reason": text}``) or its
    timeout (input ``stage_timeout_seconds``, default a week). A rejection or
    a timeout at any stage skips the later stages; ``outcome`` reports
    ``status`` (``approved``/``rejected``), ``rejected_at`` and the trail.

``order_fulfillment``
    await_payment -> await_shipment -> await_delivery -> complete, waiting
    on ``payment_confirmed``, ``shipped`` and ``delivered`` in turn. A signal
    sent early is buffered until its stage waits for it.

``webhook_processor``
    Consumes ``webhook_event`` signals in the order they were sent until a
    ``terminate`` signal, keeping a running ``count`` and ``checksum``. Every
    ``events_per_run`` events (input, default 100) it continues as new,
    carrying only the running totals, so its journal never grows past one
    run's worth of events. Events sent before ``terminate`` are drained first.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from wfpkg import Context, TriggerRule, WaitTimeout, When, Workflow, hookimpl

WEEK = 7 * 24 * 3600.0

# -- multi-stage approval --------------------------------------------------------------

multi_stage_approval = Workflow(
    "multi_stage_approval", description="manager, director and vp approve in turn; any may reject"
)


def _stage(ctx: Context, stage: str) -> None:
    try:
        answer = ctx.wait_for_signal(
            f"{stage}_decision", timeout=float(ctx.get("stage_timeout_seconds", WEEK))
        )
    except WaitTimeout:
        answer = {"approved": False, "by": None, "reason": "timed out"}
    answer = answer if isinstance(answer, dict) else {}
    approved = bool(answer.get("approved"))
    ctx[stage] = {"approved": approved, "by": answer.get("by"), "reason": answer.get("reason")}
    ctx["approved"] = approved
    if not approved:
        ctx["rejected_at"] = stage


@multi_stage_approval.task()
def manager(ctx: Context) -> None:
    """The manager's decision."""
    _stage(ctx, "manager")


@multi_stage_approval.task(depends_on=[manager], when=When("approved", "==", True))
def director(ctx: Context) -> None:
    """The director's decision, once the manager approved."""
    _stage(ctx, "director")


@multi_stage_approval.task(depends_on=[director], when=When("approved", "==", True))
def vp(ctx: Context) -> None:
    """The vp's decision, once the director approved."""
    _stage(ctx, "vp")


@multi_stage_approval.task(depends_on=[manager, director, vp], trigger=TriggerRule.ALL_DONE)
def outcome(ctx: Context) -> None:
    """Summarize: approved only if every stage approved."""
    trail = [{"stage": s, **ctx[s]} for s in ("manager", "director", "vp") if s in ctx]
    approved = len(trail) == 3 and all(t["approved"] for t in trail)
    ctx["status"] = "approved" if approved else "rejected"
    ctx["trail"] = trail


# -- order fulfilment ------------------------------------------------------------------

order_fulfillment = Workflow(
    "order_fulfillment", description="wait for payment, shipping and delivery signals in turn"
)


def _await(ctx: Context, signal: str, key: str) -> None:
    timeout = ctx.get("stage_timeout_seconds")
    ctx[key] = ctx.wait_for_signal(signal, timeout=float(timeout) if timeout else None)


@order_fulfillment.task()
def await_payment(ctx: Context) -> None:
    """Wait for ``payment_confirmed``."""
    _await(ctx, "payment_confirmed", "payment")


@order_fulfillment.task(depends_on=[await_payment])
def await_shipment(ctx: Context) -> None:
    """Wait for ``shipped``."""
    _await(ctx, "shipped", "shipment")


@order_fulfillment.task(depends_on=[await_shipment])
def await_delivery(ctx: Context) -> None:
    """Wait for ``delivered``."""
    _await(ctx, "delivered", "delivery")


@order_fulfillment.task(depends_on=[await_delivery])
def complete(ctx: Context) -> None:
    """Mark the order fulfilled."""
    ctx["order_status"] = "fulfilled"


# -- webhook stream processor ------------------------------------------------------------

webhook_processor = Workflow(
    "webhook_processor", description="consume webhook_event signals until terminate, continuing as new"
)


def fold(checksum: str, event: Any) -> str:
    """The running checksum after one more event (order-sensitive, deterministic)."""
    data = (checksum + json.dumps(event, sort_keys=True, separators=(",", ":"))).encode()
    return hashlib.sha256(data).hexdigest()[:16]


@webhook_processor.task()
def consume(ctx: Context) -> None:
    """Fold events into the running totals; continue as new every ``events_per_run`` events."""
    count = int(ctx.get("count", 0))
    checksum = str(ctx.get("checksum", ""))
    runs = int(ctx.get("runs", 1))
    per_run = int(ctx.get("events_per_run", 100))
    for _ in range(per_run):
        # Events first: a terminate sent after some events lets those be processed.
        got = ctx.wait_any({"event": ctx.signal("webhook_event"), "terminate": ctx.signal("terminate")})
        if got.key == "terminate":
            ctx.update(count=count, checksum=checksum, runs=runs, terminated_by=got.value)
            return
        count += 1
        checksum = fold(checksum, got.value)
    ctx.continue_as_new(
        {"count": count, "checksum": checksum, "runs": runs + 1, "events_per_run": per_run}
    )


@hookimpl
def wfhost_workflows() -> list[Workflow]:
    """The workflows this package provides."""
    return [multi_stage_approval, order_fulfillment, webhook_processor]
