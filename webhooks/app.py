"""The Starlette application: routes and lifespan."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kaimen_core import health, messaging

__all__ = ["app", "create_app"]


async def healthz(_request: Request) -> JSONResponse:
    """Liveness, including a round trip to the database."""
    report = health.check_database()
    return JSONResponse({"status": "ok" if report.ok else "unavailable", "database": report.detail},
                        status_code=200 if report.ok else 503)


async def twilio(request: Request) -> Response:
    """Twilio's inbound texts and status callbacks: kaimen_core verifies, stores once and applies."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > messaging.MAX_BODY_BYTES:
        body = b"x" * (messaging.MAX_BODY_BYTES + 1)  # refused (and logged) without reading it
    else:
        body = await request.body()
    reply = await run_in_threadpool(
        messaging.handle_twilio, path=request.url.path, query=request.url.query,
        content_type=request.headers.get("content-type"), body=body,
        signature=request.headers.get("x-twilio-signature"),
    )
    return Response(reply.body, status_code=reply.status, media_type=reply.media_type)


def create_app() -> Starlette:
    return Starlette(routes=[
        Route("/healthz", healthz, methods=["GET"]),
        Route("/twilio/sms", twilio, methods=["POST"]),
        Route("/twilio/status", twilio, methods=["POST"]),
    ])


app = create_app()
