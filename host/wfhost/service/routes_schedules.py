"""``/v1/tenants/{tenant}/schedules``: cron schedules, as `wfhost schedules` manages them."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from .auth import ServiceDep, TenantDep
from .problems import PROBLEM_RESPONSES
from .schemas import Schedule, ScheduleTriggered

__all__ = ["router"]

router = APIRouter(prefix="/v1/tenants/{tenant}/schedules", tags=["schedules"], responses=PROBLEM_RESPONSES)


class ScheduleCreate(BaseModel):
    """A new schedule: start ``workflow`` with ``input`` at every tick of ``cron`` in ``timezone``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, description="Lowercase letters, digits, '_'.")
    workflow: str = Field(min_length=1, max_length=200, description="package::workflow or package@version::workflow.")
    cron: str = Field(min_length=1, max_length=200, description='A cron expression, e.g. "0 9 * * MON-FRI".')
    timezone: str = Field(default="UTC", min_length=1, max_length=64, description="An IANA time zone.")
    input: dict[str, Any] = Field(default_factory=dict, description="The input of every run.")
    catchup: Literal["skip", "one", "all"] = Field(default="skip", description="Ticks missed while no host ran.")
    overlap: Literal["allow", "skip"] = Field(default="allow",
                                              description="A tick while the previous run still runs.")


@router.post("", status_code=201, summary="Add a schedule", response_model=Schedule)
def add_schedule(tenant: TenantDep, body: ScheduleCreate, svc: ServiceDep) -> Any:
    """Fires from its next tick on, on every host; 409 if the name is taken, 422 for a bad cron or zone."""
    return svc.client.add_schedule(body.name, body.workflow, body.cron, timezone=body.timezone,
                                   input=body.input, catchup=body.catchup, overlap=body.overlap,
                                   tenant=tenant).to_dict()


@router.get("", summary="List schedules", response_model=list[Schedule])
def list_schedules(tenant: TenantDep, svc: ServiceDep) -> Any:
    """Every schedule with its next tick and its last 20 runs."""
    return [s.to_dict() for s in svc.client.schedules(tenant=tenant)]


@router.get("/{name}", summary="A schedule", response_model=Schedule)
def get_schedule(tenant: TenantDep, name: str, svc: ServiceDep) -> Any:
    """One schedule with its next tick and its last 20 runs."""
    return svc.client.get_schedule(name, tenant=tenant).to_dict()


@router.post("/{name}/pause", summary="Pause a schedule", response_model=Schedule)
def pause_schedule(tenant: TenantDep, name: str, svc: ServiceDep) -> Any:
    """Stop firing; ticks while paused are not caught up."""
    return svc.client.pause_schedule(name, tenant=tenant).to_dict()


@router.post("/{name}/resume", summary="Resume a schedule", response_model=Schedule)
def resume_schedule(tenant: TenantDep, name: str, svc: ServiceDep) -> Any:
    """Fire again from the next tick."""
    return svc.client.resume_schedule(name, tenant=tenant).to_dict()


@router.post("/{name}/trigger", status_code=201, summary="Run a schedule now", response_model=ScheduleTriggered)
def trigger_schedule(tenant: TenantDep, name: str, svc: ServiceDep) -> Any:
    """Start the schedule's workflow now (paused or not); answers the execution id."""
    svc.quotas.check_start(tenant)
    return {"id": svc.client.trigger_schedule(name, tenant=tenant)}


@router.delete("/{name}", status_code=204, summary="Delete a schedule", response_class=Response)
def delete_schedule(tenant: TenantDep, name: str, svc: ServiceDep) -> Response:
    """Remove it; the executions it started stay."""
    svc.client.delete_schedule(name, tenant=tenant)
    return Response(status_code=204)
