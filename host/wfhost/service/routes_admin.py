"""Admin routes: tenants, their trusted keys, their tokens and their quotas."""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select

from wfhost.store._db import EV, E, J, S, T, W
from wfregistry.models import PackageVersion, Tenant, TrustedKey

from .auth import AdminDep, ServiceDep
from .problems import PROBLEM_RESPONSES, ApiError
from .schemas import KeyTrusted, QuotaLimits, TenantCreated, TenantList, TokenCreated

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
