"""``python -m webhooks``: serve the sidecar on KAIMEN_WEBHOOK_HOST:KAIMEN_WEBHOOK_PORT."""

import sys

import uvicorn

from kaimen_core.config import get_settings
from kaimen_core.exceptions import ConfigurationError

try:
    settings = get_settings()
except ConfigurationError as exc:
    print(f"Configuration error: {exc}", file=sys.stderr)
    sys.exit(2)

uvicorn.run("webhooks.app:app", host=settings.webhook_host, port=settings.webhook_port,
            proxy_headers=True, log_level="info")
