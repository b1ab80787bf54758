"""``/v1/tenants/{tenant}/executions``: schedule, list, inspect, stream, signal, cancel, retry.

Every handler is one `Client` call for the tenant the token acts for; the
engine's rules (idempotent ids, buffered signals, cancellation) live there.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from wfhost.errors import NotFound
from wfhost.store._db import E

from . import sse
from ._json import to_json
from .auth import ServiceDep, TenantDep
from .problems import PROBLEM_RESPONSES, ApiError
from .schemas import (
    BulkCancelResult,
    CancelAccepted,
    Event,
    ExecutionPage,
    ExecutionStatus,
    RetryAccepted,
    SignalAccepted,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/tenants/{tenant}", tags=["executions"], responses=PROBLEM_RESPONSES)

Status = Literal["pending", "running", "waiting", "succeeded", "failed", "cancelled", "active"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExecutionCreate(_Body):
    """A new execution."""

    workflow: str = Field(description="package::workflow or package@version::workflow.",
                          min_length=1, max_length=300)
    input: dict[str, Any] = Field(default_factory=dict, description="The input, a JSON object.")
    id: str | None = Field(default=None, description="Your id: scheduling it again with the same "
                           "input answers the existing execution.", min_length=1, max_length=128)
    timeout: float | None = Field(default=None, gt=0, le=10 * 365 * 86400,
                                  description="Fail the execution after this many seconds.")


class SignalSend(_Body):
    """A signal for an execution."""

    name: str = Field(min_length=1, max_length=128)
    payload: Any = None


class CancelRequest(_Body):
    """Why an execution is cancelled (kept in its history)."""

    reason: str | None = Field(default=None, max_length=200)


class BulkCancel(_Body):
    """Cancel the executions named, or every active one matching a filter."""

    ids: list[str] | None = Field(default=None, max_length=1000)
    workflow: str | None = Field(default=None, max_length=300)
    status: Literal["pending", "running", "waiting", "active"] | None = None
    reason: str | None = Field(default=None, max_length=200)


def _encode_cursor(row: dict[str, Any]) -> str:
    raw = json.dumps([row["created_at"], row["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        created, eid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return float(created), str(eid)
    except (ValueError, TypeError, binascii.Error):
        raise ApiError(422, "invalid_request", "cursor: not a cursor this API gave") from None


@router.post("/executions", status_code=201, summary="Start an execution", response_model=ExecutionStatus,
             responses={200: {"model": ExecutionStatus, "description": "The execution with this id."}})
def create_execution(tenant: TenantDep, body: ExecutionCreate, svc: ServiceDep) -> Any:
    """Start ``workflow`` with ``input``; 200 with the existing execution if ``id`` repeats."""
    svc.quotas.check_start(tenant)
    asked_at = time.time()
    eid = svc.client.schedule(body.workflow, body.input, id=body.id, tenant=tenant, timeout=body.timeout)
    state = svc.client.status(eid, tenant=tenant)
    # The client stamps a new execution with this process's clock: older means it existed.
    existed = _created_at(state) < asked_at
    return JSONResponse(to_json(state), status_code=200) if existed else to_json(state)


def _created_at(state: Any) -> float:
    value = state["created_at"] if isinstance(state, dict) else state.created_at
    return float(value)


@router.get("/executions", summary="List executions", response_model=ExecutionPage)
def list_executions(
    tenant: TenantDep, svc: ServiceDep,
    status: Annotated[Status | None, Query(description="Only this status ('active': not finished).")] = None,
    workflow: Annotated[str | None, Query(max_length=300, description="workflow or package::workflow")] = None,
    parent: Annotated[str | None, Query(max_length=128, description="Children of this execution id.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=400, description="next_cursor of the previous page.")] = None,
    retrying: Annotated[bool, Query(description="Only executions with a task retrying after a failed attempt.")]
    = False,
    root: Annotated[bool, Query(description="Only executions that are not children.")] = False,
) -> Any:
    """Executions, newest first, a page at a time; ``children`` counts each one's child executions."""
    after = _decode_cursor(cursor) if cursor else None
    rows = svc.client.executions(tenant=tenant, status=status, workflow=workflow, limit=limit + 1,
                                 parent=parent, after=after, retrying=retrying, root=root)
    page = rows[:limit]
    more = len(rows) > limit
    counts = _child_counts(svc, tenant, [r["id"] for r in page])
    items = [{**to_json(r), "children": counts.get(r["id"], 0)} for r in page]
    return {"items": items, "next_cursor": _encode_cursor(page[-1]) if more else None}


def _child_counts(svc: Any, tenant: str, ids: list[str]) -> dict[str, int]:
    """How many child executions each of ``ids`` has (one grouped query over the parent index)."""
    if not ids:
        return {}
    child = E.alias("child")
    q = (select(E.c.id, func.count()).select_from(E.join(child, child.c.parent_uid == E.c.uid))
         .where(E.c.tenant == tenant, E.c.id.in_(ids)).group_by(E.c.id))
    with svc.engine.connect() as conn:
        return {eid: int(n) for eid, n in conn.execute(q)}


@router.get("/executions/{execution_id}", summary="An execution's status", response_model=ExecutionStatus)
def get_execution(tenant: TenantDep, execution_id: str, svc: ServiceDep) -> Any:
    """Its tasks, attempts, waits, children, output or error."""
    return to_json(svc.client.status(execution_id, tenant=tenant))


@router.get("/executions/{execution_id}/history", summary="An execution's event log",
            response_model=list[Event])
def get_history(tenant: TenantDep, execution_id: str, svc: ServiceDep) -> Any:
    """Its history, oldest first."""
    return to_json(svc.client.history(execution_id, tenant=tenant))


@router.get("/executions/{execution_id}/events", summary="Live updates (Server-Sent Events)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "`history` events, `status` events, then `end`."}})
def stream_events(tenant: TenantDep, execution_id: str, svc: ServiceDep, request: Request) -> Any:
    """``history`` for each new event, ``status`` on each change, ``end`` when it finishes."""
    svc.client.status(execution_id, tenant=tenant)  # 404 before the stream starts
    return StreamingResponse(sse.stream(svc, tenant, execution_id, request),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.post("/executions/{execution_id}/signals", status_code=202, summary="Send a signal",
             response_model=SignalAccepted)
def send_signal(tenant: TenantDep, execution_id: str, body: SignalSend, svc: ServiceDep) -> Any:
    """Buffered until a wait consumes it; 409 if the execution has finished."""
    size = len(json.dumps(body.payload, separators=(",", ":")).encode())
    svc.quotas.check_size(tenant, "signal_bytes", size)
    svc.client.signal(execution_id, body.name, body.payload, tenant=tenant, sender=f"api:{tenant}")
    return {"execution": execution_id, "signal": body.name, "accepted": True}


@router.post("/executions/{execution_id}/cancel", status_code=202, summary="Cancel an execution",
             response_model=CancelAccepted)
def cancel_execution(tenant: TenantDep, execution_id: str, svc: ServiceDep,
                     body: CancelRequest | None = None) -> Any:
    """Request cancellation (children too); 409 if it has already finished."""
    asked = svc.client.cancel(execution_id, tenant=tenant, reason=body.reason if body else None,
                              by=f"api:{tenant}")
    if not asked:
        raise ApiError(409, "finished", f"execution {execution_id!r} has already finished")
    return {"execution": execution_id, "cancel_requested": True}


@router.post("/executions/{execution_id}/retry", status_code=202, summary="Retry a failed execution",
             response_model=RetryAccepted)
def retry_execution(tenant: TenantDep, execution_id: str, svc: ServiceDep) -> Any:
    """Run it again from its failed tasks; succeeded tasks keep their results."""
    reset = svc.client.retry(execution_id, tenant=tenant, by=f"api:{tenant}")
    return {"execution": execution_id, "tasks": reset}


@router.post("/executions:cancel", summary="Cancel many executions", response_model=BulkCancelResult)
def bulk_cancel(tenant: TenantDep, body: BulkCancel, svc: ServiceDep) -> Any:
    """Cancel ``ids``, or the active executions matching ``workflow``/``status``; a result per id."""
    if body.ids is None and body.workflow is None and body.status is None:
        raise ApiError(422, "invalid_request", "give ids, or a filter (workflow, status)")
    ids = body.ids
    if ids is None:
        rows = svc.client.executions(tenant=tenant, status=body.status or "active",
                                     workflow=body.workflow, limit=1000)
        ids = [r["id"] for r in rows if r["status"] not in ("succeeded", "failed", "cancelled")]
    results = []
    for eid in ids:
        try:
            asked = svc.client.cancel(eid, tenant=tenant, reason=body.reason, by=f"api:{tenant}")
            results.append({"id": eid, "result": "cancel_requested" if asked else "finished"})
        except NotFound:
            results.append({"id": eid, "result": "not_found"})
    return {"results": results}
