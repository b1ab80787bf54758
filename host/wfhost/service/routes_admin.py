"""Admin routes: tenants, their trusted keys, their tokens, their quotas and their walls' policy."""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select

from wfhost.store._db import EV, SC, SR, E, J, S, T, W
from wfregistry.models import PackageVersion, Tenant, TenantPolicy, TrustedKey

from .auth import AdminDep, ServiceDep
from .problems import PROBLEM_RESPONSES, ApiError
from .schemas import KeyTrusted, QuotaLimits, TenantCreated, TenantList, TenantPolicyOut, TokenCreated

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["admin"], responses=PROBLEM_RESPONSES)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantCreate(_Body):
    """A new tenant."""

    name: str = Field(min_length=1, max_length=63)


class KeyTrust(_Body):
    """A public key (PEM) to trust for the tenant's packages."""

    public_key: str = Field(min_length=1, max_length=4096)
    label: str | None = Field(default=None, max_length=200)


class TokenCreate(_Body):
    """A name for the new token."""

    label: str | None = Field(default=None, max_length=200)


class QuotaChange(_Body):
    """New limits; a field left out keeps its value, ``null`` restores the service default."""

    concurrent_tasks: int | None = Field(default=None, ge=1, le=1_000_000)
    starts_per_minute: int | None = Field(default=None, ge=1, le=10_000_000)
    waiting_executions: int | None = Field(default=None, ge=1, le=100_000_000)
    package_bytes: int | None = Field(default=None, ge=1, le=1 << 40)
    signal_bytes: int | None = Field(default=None, ge=1, le=1 << 30)
    uploads_per_hour: int | None = Field(default=None, ge=1, le=1_000_000)


def _tenant(svc: Any, tenant: str) -> str:
    if not svc.tenant_exists(tenant):
        raise ApiError(404, "not_found", f"tenant {tenant!r} not found")
    return tenant


@router.post("/tenants", status_code=201, summary="Create a tenant", response_model=TenantCreated)
def create_tenant(_: AdminDep, body: TenantCreate, svc: ServiceDep) -> Any:
    """A new, empty tenant."""
    svc.client.create_tenant(body.name)
    return {"name": body.name}


@router.get("/tenants", summary="List tenants", response_model=TenantList)
def list_tenants(_: AdminDep, svc: ServiceDep) -> Any:
    """Every tenant's name."""
    return {"items": svc.client.registry.tenants()}


@router.delete("/tenants/{tenant}", status_code=204, response_class=Response, summary="Delete a tenant")
def delete_tenant(_: AdminDep, tenant: str, svc: ServiceDep) -> Response:
    """Delete a tenant with no active execution: its tokens, keys, packages and executions."""
    _tenant(svc, tenant)
    if svc.client.executions(tenant=tenant, status="active", limit=1):
        raise ApiError(409, "conflict", f"tenant {tenant!r} has active executions; cancel them first")
    versions = svc.client.packages(tenant)
    for v in versions:  # their worker processes first: nothing of the tenant keeps running
        svc.host.scheduler.dispatcher.stop_version(tenant, v.name, v.version)
    dirs = [v.install_dir for v in versions]
    with svc.engine.begin() as conn:
        svc.tokens.forget_tenant(conn, tenant)
        svc.quotas.forget_tenant(conn, tenant)
        uids = select(E.c.uid).where(E.c.tenant == tenant).scalar_subquery()
        for table in (T, J, W, S, EV):
            conn.execute(delete(table).where(table.c.execution_uid.in_(uids)))
        conn.execute(delete(E).where(E.c.tenant == tenant))
        schedules = select(SC.c.id).where(SC.c.tenant == tenant).scalar_subquery()
        conn.execute(delete(SR).where(SR.c.schedule_id.in_(schedules)))
        conn.execute(delete(SC).where(SC.c.tenant == tenant))
        conn.execute(delete(TenantPolicy).where(TenantPolicy.tenant == tenant))  # type: ignore[arg-type]
        conn.execute(delete(PackageVersion).where(PackageVersion.tenant == tenant))  # type: ignore[arg-type]
        conn.execute(delete(TrustedKey).where(TrustedKey.tenant == tenant))  # type: ignore[arg-type]
        conn.execute(delete(Tenant).where(Tenant.name == tenant))  # type: ignore[arg-type]
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
    return Response(status_code=204)


@router.post("/tenants/{tenant}/keys", status_code=201, summary="Trust a signing key",
             response_model=KeyTrusted)
def trust_key(_: AdminDep, tenant: str, body: KeyTrust, svc: ServiceDep) -> Any:
    """The tenant accepts packages signed by this key from now on."""
    kid = svc.client.trust(_tenant(svc, tenant), body.public_key, body.label)
    return {"tenant": tenant, "key_id": kid}


@router.delete("/tenants/{tenant}/keys/{key_id}", status_code=204, response_class=Response,
               summary="Revoke a signing key")
def revoke_key(_: AdminDep, tenant: str, key_id: str, svc: ServiceDep) -> Response:
    """Refuse new packages signed by this key (registered versions stay)."""
    from wfregistry.errors import TrustError

    try:
        svc.client.revoke(_tenant(svc, tenant), key_id)
    except TrustError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return Response(status_code=204)


@router.post("/tenants/{tenant}/tokens", status_code=201, summary="Create a tenant token",
             response_model=TokenCreated)
def create_token(_: AdminDep, tenant: str, svc: ServiceDep, body: TokenCreate | None = None) -> Any:
    """A new token for the tenant; the token is shown in this answer only."""
    token_id, token = svc.tokens.create(_tenant(svc, tenant), label=body.label if body else None)
    return {"id": token_id, "tenant": tenant, "token": token}


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response, summary="Revoke a token")
def revoke_token(_: AdminDep, token_id: str, svc: ServiceDep) -> Response:
    """The next request with this token answers 401."""
    svc.tokens.revoke(token_id)
    return Response(status_code=204)


@router.get("/tenants/{tenant}/quotas", summary="A tenant's quotas", response_model=QuotaLimits)
def get_quotas(_: AdminDep, tenant: str, svc: ServiceDep) -> Any:
    """The limits in force for the tenant."""
    return svc.quotas.get(_tenant(svc, tenant)).to_dict()


@router.put("/tenants/{tenant}/quotas", summary="Change a tenant's quotas", response_model=QuotaLimits)
def set_quotas(_: AdminDep, tenant: str, body: QuotaChange, svc: ServiceDep) -> Any:
    """Change some limits; returns all of them."""
    return svc.quotas.set(_tenant(svc, tenant), body.model_dump(exclude_unset=True)).to_dict()


class PolicyChange(BaseModel):
    """What a tenant's workers may do; fields left out keep their value (see docs/security.md)."""

    model_config = ConfigDict(extra="forbid")
    allow_connect: list[int] | None = Field(default=None, max_length=64,
                                            description="TCP ports its code may connect to (replaces the list).")
    env: dict[str, str] | None = Field(default=None, description="Variables its workers see (replaces the set).")
    memory: int | None = Field(default=None, ge=-1, description="Bytes of memory per worker; -1: unlimited.")
    cpu_seconds: int | None = Field(default=None, ge=-1, description="CPU seconds per attempt; -1: unlimited.")
    max_procs: int | None = Field(default=None, ge=-1, description="Processes and threads; -1: unlimited.")
    open_files: int | None = Field(default=None, ge=-1, description="Open files; -1: unlimited.")
    file_size: int | None = Field(default=None, ge=-1, description="Bytes one file may grow to; -1: unlimited.")


def _policy_json(tenant: str, policy: Any) -> dict[str, Any]:
    return {"tenant": tenant, "allow_connect": list(policy.allow_connect), "env": dict(policy.env),
            **{k: getattr(policy.limits, k) for k in ("memory", "cpu_seconds", "max_procs", "open_files",
                                                       "file_size")}}


@router.get("/tenants/{tenant}/policy", summary="A tenant's walls policy", response_model=TenantPolicyOut)
def get_policy(_: AdminDep, tenant: str, svc: ServiceDep) -> Any:
    """The ports, environment and limits the tenant's workers get (``null`` limit: unlimited)."""
    registry = svc.client.registry
    assert registry is not None
    return _policy_json(tenant, registry.policy(_tenant(svc, tenant)))


@router.put("/tenants/{tenant}/policy", summary="Change a tenant's walls policy", response_model=TenantPolicyOut)
def set_policy(_: AdminDep, tenant: str, body: PolicyChange, svc: ServiceDep) -> Any:
    """As `wfhost tenant policy`: workers started after the change get it."""
    registry = svc.client.registry
    assert registry is not None
    given = body.model_dump(exclude_unset=True)
    limits = {k: v for k, v in given.items() if k not in ("allow_connect", "env")}
    policy = registry.set_policy(_tenant(svc, tenant), allow_connect=given.get("allow_connect"),
                                 env=given.get("env"), **limits)
    return _policy_json(tenant, policy)
