"""The workflow of package `purchase_approval` (the Dapr external-interaction pattern).

``check_order`` -> ``approval`` -> ``place_order`` | ``cancel_order``

Orders under the threshold (1000 by default) are approved at once. Larger
ones get an approval request (sent once, inside `Context.step`), then wait
for the ``approval`` signal or a timer, whichever comes first::

    client.signal(execution_id, "approval", {"approved": True, "approver": "ada"})

Input: ``order_id``, ``cost`` (unit cost), ``quantity`` (default 1),
``threshold`` (default 1000), ``timeout_seconds`` (default 48 hours) and,
optionally, ``outbox``: a file the approval request is appended to (one JSON
line per request sent), standing in for an e-mail to the approver.

Output: ``decision`` (``auto_approved``, ``approved``, ``rejected`` or
``timed_out``), ``approver``/``reason`` when a signal decided, and
``order_status`` (``placed`` or ``cancelled``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wfpkg import Context, When, Workflow, hookimpl

purchase_approval = Workflow(
    "purchase_approval",
    description="auto-approve small orders; otherwise wait for approval or a timeout",
    inputs={"order_id": "the order's id", "cost": "unit cost (required)",
            "quantity": "how many (default 1)"},
)

DEFAULT_THRESHOLD = 1000
DEFAULT_TIMEOUT_SECONDS = 48 * 3600


def send_approval_request(outbox: str | None, order: dict[str, Any]) -> dict[str, Any]:
    """The side effect: ask an approver (here, append one JSON line to the outbox file)."""
    message = {"to": "approvers", "subject": f"approve order {order['order_id']}", "order": order}
    if outbox:
        with Path(outbox).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(message, sort_keys=True) + "\n")
    return {"sent_to": message["to"], "subject": message["subject"]}


@purchase_approval.task()
def check_order(ctx: Context) -> None:
    """Price the order and decide whether it needs a human."""
    total = float(ctx["cost"]) * int(ctx.get("quantity", 1))
    ctx["total"] = total
    ctx["needs_approval"] = total >= float(ctx.get("threshold", DEFAULT_THRESHOLD))


@purchase_approval.task(depends_on=[check_order])
def approval(ctx: Context) -> None:
    """Auto-approve, or request approval and wait for the signal or the timeout."""
    if not ctx["needs_approval"]:
        ctx["decision"] = "auto_approved"
        return
    order = {"order_id": ctx.get("order_id", ctx.execution_id), "total": ctx["total"]}
    # A side effect before a wait goes in a step: this task runs again from the
    # top when the wait is satisfied, and the step then returns its recorded result.
    ctx["request"] = ctx.step("request_approval", send_approval_request, ctx.get("outbox"), order)
    first = ctx.wait_any({
        "approval": ctx.signal("approval"),
        "expired": ctx.timer(float(ctx.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS))),
    })
    if first.key == "expired":
        ctx["decision"] = "timed_out"
        ctx["reason"] = "no approval before the timeout"
        return
    answer = first.value if isinstance(first.value, dict) else {}
    ctx["approver"] = answer.get("approver")
    if answer.get("approved"):
        ctx["decision"] = "approved"
    else:
        ctx["decision"] = "rejected"
        ctx["reason"] = answer.get("reason") or "rejected by the approver"


@purchase_approval.task(
    depends_on=[approval], when=When("decision", "in", ["auto_approved", "approved"])
)
def place_order(ctx: Context) -> None:
    """Place an approved order."""
    ctx["order_status"] = "placed"


@purchase_approval.task(depends_on=[approval], when=When("decision", "in", ["rejected", "timed_out"]))
def cancel_order(ctx: Context) -> None:
    """Cancel an order that was rejected or never approved."""
    ctx["order_status"] = "cancelled"


@hookimpl
def wfhost_workflows() -> list[Workflow]:
    """The workflows this package provides."""
    return [purchase_approval]
