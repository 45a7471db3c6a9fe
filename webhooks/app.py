"""The Starlette application: routes and lifespan.

The Twilio routes hand the raw request to ``kaimen_core.messaging.TwilioWebhooks``
(built once in the lifespan): it checks the request, stores the raw event once and
answers; the worker applies the event afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kaimen_core import health, messaging

__all__ = ["app", "create_app"]


async def healthz(_request: Request) -> JSONResponse:
    """Liveness, including a round trip to the database."""
    report = await run_in_threadpool(health.check_database)
    return JSONResponse({"status": "ok" if report.ok else "unavailable", "database": report.detail},
                        status_code=200 if report.ok else 503)


_WANTED = (b"content-length", b"content-type", b"x-twilio-signature")


async def twilio(request: Request) -> Response:
    """Twilio's inbound texts and status callbacks: answered once the raw event is stored."""
    scope = request.scope
    headers: dict[bytes, str] = {}
    for name, value in scope["headers"]:  # the first of each, as request.headers.get gives
        if name in _WANTED and name not in headers:
            headers[name] = value.decode("latin-1")
    length = headers.get(b"content-length", "")
    if length.isdigit() and int(length) > messaging.MAX_BODY_BYTES:
        body = b"x" * (messaging.MAX_BODY_BYTES + 1)  # refused (and logged) without reading it
    else:
        body = await request.body()
    reply = await request.app.state.twilio.handle(
        path=scope["path"], query=scope["query_string"].decode("latin-1"),
        content_type=headers.get(b"content-type"), body=body, signature=headers.get(b"x-twilio-signature"),
    )
    return Response(reply.body, status_code=reply.status, media_type=reply.media_type)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """One Twilio request path (and its event writer) per process."""
    app.state.twilio = messaging.TwilioWebhooks()
    try:
        yield
    finally:
        await app.state.twilio.aclose()


def create_app() -> Starlette:
    return Starlette(lifespan=lifespan, routes=[
        Route("/healthz", healthz, methods=["GET"]),
        Route("/twilio/sms", twilio, methods=["POST"]),
        Route("/twilio/status", twilio, methods=["POST"]),
    ])


app = create_app()
