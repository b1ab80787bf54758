"""Who is asking: bearer tokens, tenant scope and admin routes, as FastAPI dependencies.

The order of checks never reveals another tenant: a tenant token on a path of
any tenant not its own answers 404 exactly as a tenant that does not exist,
before the body is even read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .problems import ApiError
from .state import Service
from .tokens import Principal

__all__ = ["AdminDep", "ServiceDep", "TenantDep", "admin", "principal", "tenant_scope"]

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="A tenant token or an admin token (`wfhost token create`).")


def service(request: Request) -> Service:
    """The service behind this app."""
    svc: Service = request.app.state.service
    return svc


ServiceDep = Annotated[Service, Depends(service)]


def principal(svc: ServiceDep,
              cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """The token's principal, or 401."""
    if cred is None:
        raise ApiError(401, "unauthorized", "missing bearer token (Authorization: Bearer <token>)",
                       {"WWW-Authenticate": "Bearer"})
    who = svc.tokens.verify(cred.credentials)
    if who is None:
        raise ApiError(401, "unauthorized", "unknown or revoked token", {"WWW-Authenticate": "Bearer"})
    return who


PrincipalDep = Annotated[Principal, Depends(principal)]


def _no_tenant(tenant: str) -> ApiError:
    return ApiError(404, "not_found", f"tenant {tenant!r} not found")


def tenant_scope(tenant: Annotated[str, Path(description="The tenant's name.")],
                 who: PrincipalDep, svc: ServiceDep) -> str:
    """The path's tenant if the token may act for it; 404 otherwise (as for no such tenant)."""
    if who.admin:
        if not svc.tenant_exists(tenant):
            raise _no_tenant(tenant)
    elif who.tenant != tenant:
        raise _no_tenant(tenant)
    return tenant


def admin(who: PrincipalDep) -> Principal:
    """The principal if it is an admin; 403 otherwise."""
    if not who.admin:
        raise ApiError(403, "forbidden", "this route needs an admin token")
    return who


TenantDep = Annotated[str, Depends(tenant_scope)]
AdminDep = Annotated[Principal, Depends(admin)]
