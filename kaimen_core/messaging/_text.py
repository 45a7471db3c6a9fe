"""Pure text rules: keywords, plain-words stop requests, segments, number hashing, screening."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "HELP_KEYWORDS",
    "OPT_IN_KEYWORDS",
    "OPT_OUT_KEYWORDS",
    "Segments",
    "asks_to_stop",
    "classify_keyword",
    "phone_hash",
    "screen",
    "segments",
]

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

# Whole message, any case; surrounding spaces and punctuation (any Unicode P* or S*) ignored.
def _strip_edges(text: str) -> str:
    chars = list(text)
    def junk(c: str) -> bool:
        return c.isspace() or unicodedata.category(c)[0] in "PSZC"
    while chars and junk(chars[0]):
        chars.pop(0)
    while chars and junk(chars[-1]):
        chars.pop()
    return "".join(chars)


def classify_keyword(body: str) -> str | None:
    """"opt_out", "opt_in", "help" when the whole message is one of the keywords, else None."""
    word = _strip_edges(body or "").upper()
    if word in OPT_OUT_KEYWORDS:
        return "opt_out"
    if word in OPT_IN_KEYWORDS:
        return "opt_in"
    if word in HELP_KEYWORDS:
        return "help"
    return None


_STOP_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(stop|quit|cease)\b.{0,20}\b(text|texting|message|messaging|contact|contacting|sms|sending)\b",
        r"\b(don'?t|do not|never)\b.{0,15}\b(text|message|contact|sms)\b.{0,10}\b(me|us|again|anymore)\b",
        r"\b(remove|delete|take)\b.{0,15}\b(me|my number|us)\b.{0,25}\b(list|lists|contacts|database|system)\b",
        r"\bunsubscribe\b",
        r"\bopt(-| )?out\b",
        r"\bno more (texts|messages)\b",
        r"\bleave me alone\b",
    )
]


def asks_to_stop(body: str) -> bool:
    """A message that plainly asks, in other words, to stop being texted."""
    text = (body or "").strip()
    if classify_keyword(text) is not None:
        return False
    return any(pattern.search(text) for pattern in _STOP_PATTERNS)


_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")


@dataclass(frozen=True, slots=True)
class Segments:
    """How a text will be billed: its encoding, length in units, and number of segments."""

    encoding: str
    units: int
    segments: int
    per_segment: int


def segments(body: str) -> Segments:
    """GSM-7 (160 a segment, 153 when split; extension characters count twice) or UCS-2 (70/67)."""
    body = body or ""
    if all(c in _GSM7 or c in _GSM7_EXT for c in body):
        units = sum(2 if c in _GSM7_EXT else 1 for c in body)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        return Segments(encoding, 0, 0, single)
    count = 1 if units <= single else -(-units // multi)
    return Segments(encoding, units, count, single if count == 1 else multi)


def phone_hash(business_id: int, phone_e164: str) -> str:
    """The one-way hash kept on the suppression list (per business, so lists cannot be joined)."""
    return hashlib.sha256(f"kaimen-suppression:{business_id}:{phone_e164}".encode()).hexdigest()


#: Built-in prohibited content (the SHAFT categories carriers refuse, and common phishing bait).
BUILT_IN_TERMS: dict[str, str] = {
    "cannabis": "cannabis content is prohibited by carriers",
    "marijuana": "cannabis content is prohibited by carriers",
    "thc": "cannabis content is prohibited by carriers",
    "casino": "gambling content is prohibited by carriers",
    "sweepstakes": "gambling content is prohibited by carriers",
    "payday loan": "high-risk lending is prohibited by carriers",
    "debt relief": "high-risk financial offers are prohibited by carriers",
    "firearm": "firearms content is prohibited by carriers",
    "verify your account": "looks like phishing",
}


def screen(body: str, extra_terms: dict[str, str]) -> str | None:
    """The reason a text is refused for its content, or None when it may go."""
    lowered = " ".join((body or "").lower().split())
    for term, reason in {**BUILT_IN_TERMS, **extra_terms}.items():
        if re.search(r"(?<![a-z0-9])" + re.escape(term.lower()) + r"(?![a-z0-9])", lowered):
            return f'contains "{term}": {reason}'
    return None
