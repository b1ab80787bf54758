"""Errors as RFC 9457 problem details, each with a stable ``code``.

Every error the API answers is ``application/problem+json``::

    {"type": "https://wfhost.dev/problems/not_found", "title": "Not Found",
     "status": 404, "detail": "no execution 'x' for tenant 'acme'", "code": "not_found"}

`ApiError` is raised by the service's own checks; the host's and registry's
errors are mapped by `problem_for`, in one place.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from wfhost.errors import Conflict, HostError, InvalidRequest, NotFound

__all__ = ["PROBLEM_RESPONSES", "ApiError", "Problem", "install", "problem_for"]

_log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://wfhost.dev/problems/"


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, in a form programs can branch on (``code``)."""

    type: str
    title: str
    status: int
    detail: str
    code: str


class ApiError(HostError):
    """An error the API answers as a problem; ``headers`` go on the response (Retry-After).

    ``problem`` is the problem's stable ``code`` in the response body (the
    class's own ``code`` is the error-tree code every `WfpkgError` has; it
    never crosses a seam, so it keeps `HostError`'s).
    """

    def __init__(self, status: int, problem: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.problem, self.detail, self.headers = status, problem, detail, headers or {}


def _described(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": Problem, "description": HTTPStatus(c).phrase,
                "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for c in codes}


#: The error responses every authenticated route may give, for its OpenAPI entry.
PROBLEM_RESPONSES = _described(401, 403, 404, 409, 413, 422, 429)


def problem_for(exc: BaseException) -> ApiError:
    """The problem an error from the host, the registry or the SDK answers as."""
    from wfpkg.errors import InvalidName, WfpkgError
    from wfregistry import errors as reg

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, (NotFound, reg.UnknownTenant, reg.PackageNotFound)):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, (Conflict, reg.TenantExists)):
        return ApiError(409, "conflict", str(exc))
    if isinstance(exc, reg.VersionConflict):
        return ApiError(409, "version_conflict", str(exc))
    if isinstance(exc, reg.TrustError):
        return ApiError(422, "trust_error", str(exc))
    if isinstance(exc, reg.RegistrationError):
        return ApiError(422, "package_rejected", str(exc))
    if isinstance(exc, (InvalidRequest, InvalidName)):
        return ApiError(422, "invalid_request", str(exc))
    if isinstance(exc, (HostError, reg.RegistryError, WfpkgError)):
        return ApiError(422, "invalid_request", str(exc))
    raise exc


def _response(err: ApiError) -> JSONResponse:
    body = {"type": TYPE_BASE + err.problem, "title": HTTPStatus(err.status).phrase,
            "status": err.status, "detail": " ".join(err.detail.split()), "code": err.problem}
    return JSONResponse(body, status_code=err.status, headers=err.headers, media_type=MEDIA_TYPE)


def install(app: FastAPI) -> None:
    """Answer every error as a problem (ours, the host's, validation, unknown paths)."""
    from wfpkg.errors import WfpkgError
    from wfregistry.errors import RegistryError

    async def on_api(_: Request, exc: Exception) -> JSONResponse:
        return _response(problem_for(exc))

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _response(ApiError(422, "validation_error", f"{where}: {first.get('msg', 'invalid')}"))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _response(ApiError(exc.status_code, code, str(exc.detail),
                                  dict(exc.headers or {})))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _response(ApiError(500, "internal", "the service failed to answer; the error is in its log"))

    app.add_exception_handler(Exception, on_unexpected)
    for cls in (ApiError, HostError, RegistryError, WfpkgError):
        app.add_exception_handler(cls, on_api)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
