"""The Starlette application: routes and lifespan.

Every provider's paths (``kaimen_core.webhook_providers.PROVIDERS``) route to one
handler that hands the path, query, headers and the body's stream to the process's
``kaimen_core.webhooks.WebhookReceiver`` (built once in the lifespan). It reads the body
within the provider's size limit, verifies it, stores the raw event once and answers;
the worker applies the event afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kaimen_core import health, webhooks
from kaimen_core.webhook_providers import PROVIDERS

__all__ = ["app", "create_app"]


async def healthz(_request: Request) -> JSONResponse:
    """Liveness, including a round trip to the database."""
    report = await run_in_threadpool(health.check_database)
    return JSONResponse({"status": "ok" if report.ok else "unavailable", "database": report.detail},
                        status_code=200 if report.ok else 503)


async def provider_webhook(request: Request) -> Response:
    """A provider's event: answered once the raw event is stored, or with why it was refused."""
    headers: dict[str, str] = {}
    for name, value in request.scope["headers"]:  # the first of each, as request.headers.get gives
        headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    try:
        reply = await request.app.state.webhooks.receive(
            path=request.scope["path"], query=request.scope["query_string"].decode("latin-1"), headers=headers,
            chunks=request.stream())
    except ClientDisconnect:  # the caller went away mid-body: nothing was stored and no one is listening
        return Response(status_code=400)
    return Response(reply.body, status_code=reply.status, media_type=reply.media_type)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """One request path (with each provider's verifier) per process."""
    app.state.webhooks = webhooks.WebhookReceiver(PROVIDERS)
    try:
        yield
    finally:
        await app.state.webhooks.aclose()


def create_app() -> Starlette:
    paths = [path for provider in PROVIDERS for path in provider.paths]
    return Starlette(lifespan=lifespan, routes=[
        Route("/healthz", healthz, methods=["GET"]),
        *(Route(path, provider_webhook, methods=["POST"]) for path in paths),
    ])


app = create_app()
