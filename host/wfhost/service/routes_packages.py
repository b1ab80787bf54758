"""``/v1/tenants/{tenant}/packages``: upload, list, activate (roll back), unregister."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ._json import package_json
from .auth import ServiceDep, TenantDep
from .problems import PROBLEM_RESPONSES, ApiError
from .schemas import Package

__all__ = ["router"]

router = APIRouter(prefix="/v1/tenants/{tenant}/packages", tags=["packages"], responses=PROBLEM_RESPONSES)

_CHUNK = 1 << 20


class Activate(BaseModel):
    """The version to make active."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=100)


@router.post("", status_code=201, summary="Upload and register a package", response_model=Package,
             responses={200: {"model": Package, "description": "This archive was already registered."}})
def upload_package(tenant: TenantDep, svc: ServiceDep, request: Request,
                   archive: Annotated[UploadFile, File(description="A signed .wfpkg archive.")]) -> Any:
    """Verify and register a ``.wfpkg`` as `wfhost register` does; 200 if it was already registered."""
    limit = svc.quotas.get(tenant).package_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + 64 * 1024:
        svc.quotas.check_size(tenant, "package_bytes", int(declared))
    digest = hashlib.sha256()
    (svc.home / "uploads").mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{tenant}.", suffix=".wfpkg", dir=svc.home / "uploads")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := archive.file.read(_CHUNK):
                size += len(chunk)
                svc.quotas.check_size(tenant, "package_bytes", size)
                digest.update(chunk)
                out.write(chunk)
        svc.quotas.check_upload(tenant)
        sha = digest.hexdigest()
        known = any(p.archive_sha256 == sha and p.state != "retired" for p in svc.client.packages(tenant))
        info = svc.client.register(Path(name), tenant=tenant)
    finally:
        os.unlink(name)
    body = package_json(info)
    return JSONResponse(body, status_code=200) if known else body


@router.get("", summary="List packages and versions", response_model=list[Package])
def list_packages(tenant: TenantDep, svc: ServiceDep) -> Any:
    """Every registered version of the tenant's packages."""
    return [package_json(p) for p in svc.client.packages(tenant)]


@router.post("/{package}/activate", summary="Make a version active (roll back)", response_model=Package)
def activate_package(tenant: TenantDep, package: str, body: Activate, svc: ServiceDep) -> Any:
    """New executions of ``package::workflow`` use this version from now on."""
    return package_json(svc.client.registry.activate(tenant, package, body.version))


@router.delete("/{package}", status_code=202, summary="Unregister a package version",
               response_model=Package)
def unregister_package(tenant: TenantDep, package: str, svc: ServiceDep,
                       version: Annotated[str | None, Query(max_length=100)] = None) -> Any:
    """Retire the active version (or ``version``): no new executions; running ones drain."""
    info = svc.client.unregister(package, version, tenant=tenant)
    if info is None:
        raise ApiError(404, "not_found", f"no package {package!r}")
    return package_json(info)
