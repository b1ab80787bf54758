"""`create_app`: the FastAPI application over a running `Host`.

Example::

    with Host(home=home) as host:
        app = create_app(host)          # serve it with uvicorn
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wfhost import __version__

from . import problems, routes_admin, routes_executions, routes_overview, routes_packages, routes_schedules
from .auth import principal
from .problems import ApiError
from .schemas import WhoAmI
from .state import Service, ServiceConfig
from .tokens import Principal

__all__ = ["create_app"]

STATIC = Path(__file__).with_name("static")


def create_app(host: Any, config: ServiceConfig | None = None) -> FastAPI:
    """The API over ``host`` (started, owned by the caller). ``app.state.service`` holds its state.

    Starting the app starts following the event log for metrics; stopping it stops that.
    """
    svc = Service(host, config)
    app = FastAPI(
        title="wfhost", version=__version__,
        description="Run signed workflow packages as a shared service: every tenant operation lives "
                    "under `/v1/tenants/{tenant}/`; errors are RFC 9457 problem details with a `code`.",
        on_startup=[svc.metrics.start], on_shutdown=[svc.metrics.close],
    )
    app.state.service = svc
    problems.install(app)

    @app.middleware("http")
    async def refuse_while_draining(request: Request, call_next: Any) -> Any:
        if not svc.accepting and request.url.path.startswith("/v1/"):
            err = ApiError(503, "draining", "the service is shutting down; retry on another host",
                           {"Retry-After": "5"})
            return JSONResponse({"type": problems.TYPE_BASE + err.problem, "title": "Service Unavailable",
                                 "status": 503, "detail": err.detail, "code": err.problem},
                                status_code=503, headers=err.headers, media_type=problems.MEDIA_TYPE)
        return await call_next(request)

    @app.get("/healthz", tags=["service"], summary="Liveness")
    def healthz() -> dict[str, Any]:
        """``ok`` while the service accepts requests (``draining`` during shutdown)."""
        return {"status": "ok" if svc.accepting else "draining", "host": host.host_id,
                "version": __version__}

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics",
             response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                              "description": "The Prometheus text format."}})
    def metrics() -> Response:
        """Every metric, labelled by tenant."""
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/whoami", tags=["service"], summary="Who this token is", response_model=WhoAmI,
             responses=problems.PROBLEM_RESPONSES)
    def whoami(who: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
        """The token's id, its tenant (``null`` for an admin token) and whether it is an admin's."""
        return {"token_id": who.token_id, "tenant": who.tenant, "admin": who.admin}

    app.include_router(routes_packages.router)
    app.include_router(routes_executions.router)
    app.include_router(routes_schedules.router)
    app.include_router(routes_overview.router)
    app.include_router(routes_admin.router)
    # The dashboard: static files calling the API above with the user's token (docs/dashboard.md).
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="dashboard")
    return app
