"""Adapters for outside services, each behind a small interface with an offline twin.

The SDKs log their requests and answers (Twilio's at INFO, with ``To`` and ``Body``;
the HTTP clients beneath Stripe and Anthropic at DEBUG, with URLs and bodies), which
would put customers' numbers and words in every process's log. Their loggers are held
at WARNING here, before any adapter is used: Kaimen's own log lines say what was sent,
masked (``kaimen_core.logs``).
"""

import logging

__all__: list[str] = []

#: The loggers of the SDKs (and their HTTP clients) that can print what was sent or received.
PROVIDER_LOGGERS = ("twilio", "stripe", "anthropic", "cloudinary", "httpx", "httpcore", "urllib3")

for _name in PROVIDER_LOGGERS:
    logging.getLogger(_name).setLevel(logging.WARNING)
