"""The Starlette application: routes and lifespan."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kaimen_core import health

__all__ = ["app", "create_app"]


async def healthz(_request: Request) -> JSONResponse:
    """Liveness, including a round trip to the database."""
    report = health.check_database()
    return JSONResponse({"status": "ok" if report.ok else "unavailable", "database": report.detail},
                        status_code=200 if report.ok else 503)


def create_app() -> Starlette:
    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"])])


app = create_app()
