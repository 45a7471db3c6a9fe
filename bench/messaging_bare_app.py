"""The baseline for bench/messaging_webhooks.py: a bare Starlette POST endpoint that answers 200."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def ok(request: Request) -> Response:
    await request.body()
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', media_type="text/xml")


app = Starlette(routes=[Route("/twilio/sms", ok, methods=["POST"])])
