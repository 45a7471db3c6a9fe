"""What every page shares: the signed-in actor, the sign-in cookie, calling kaimen_core
(:func:`act`), people's words shown as text (:func:`plain`), failures kept off the screen
(:func:`failures_logged`, :func:`fragment`), uploads read once (:func:`checked_upload`), dates.

Not a page: Home.py never lists it, and run on its own it sends the visitor to Home.py.
The sign-in cookie holds an opaque, signed token; kaimen_core checks it against the
database on every run, so signing out, a password change, removal or suspension take
effect at once.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import NoReturn, TypeVar
from zoneinfo import ZoneInfo

import streamlit as st

from kaimen_core import auth, db
from kaimen_core.actors import Actor, Origin
from kaimen_core.exceptions import KaimenError, SessionInvalid
from kaimen_core.logs import failure_report
from kaimen_core.models import utcnow

COOKIE = "kaimen_session"
_STATE_COOKIE = "kaimen_cookie"
_STATE_REFUSED = "kaimen_refused_cookie"
_STATE_COOKIE_OP = "kaimen_cookie_op"
_STATE_NOTICE = "kaimen_notice"
_STATE_ACTOR = "kaimen_actor"
_STATE_ENTRY = "kaimen_entry"
_STATE_DONE = "kaimen_done"

T = TypeVar("T")
log = logging.getLogger(__name__)


@contextmanager
def entry() -> Iterator[None]:
    """Mark this run as one that went through Home.py's sign-in and navigation."""
    st.session_state[_STATE_ENTRY] = True
    try:
        yield
    finally:
        st.session_state.pop(_STATE_ENTRY, None)
        st.session_state.pop(_STATE_ACTOR, None)


@contextmanager
def failures_logged() -> Iterator[None]:
    """Keep an unexpected error off the screen: log it for Kaimen's operators, masked
    (:func:`kaimen_core.logs.failure_report`: where it happened, never the SQL's
    parameters), and show the person a notice with a reference to quote.

    Expected errors never get here (:func:`act` shows a :class:`KaimenError`'s message);
    ``st.rerun`` and ``st.stop`` pass through: they raise a ``BaseException``, not an ``Exception``.
    Home.py runs every page inside this, and :func:`fragment` every fragment's rerun.
    """
    try:
        yield
    except Exception as exc:
        reference = secrets.token_hex(4)
        log.error("a page failed (reference %s): %s", reference, failure_report(exc))
        st.error(f"Something went wrong on this page and it was logged (reference {reference}). "
                 "Try again; if it keeps happening, tell Kaimen support the reference.")


def fragment(*, run_every: str | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``st.fragment`` whose reruns go through :func:`failures_logged`: a fragment reruns
    on its own, outside Home.py's run."""

    def wrap(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def guarded(*args, **kwargs) -> None:
            with failures_logged():
                function(*args, **kwargs)

        return st.fragment(guarded, run_every=run_every)

    return wrap


def require_entry() -> None:
    """Send a run that did not start in Home.py back through it.

    Streamlit runs a file of a ``pages/`` folder directly, without the entry file, for
    the first requests a fresh server gets before any session has called
    ``st.navigation``. Every page calls this first, so no page ever renders without the
    sign-in check.
    """
    if not st.session_state.get(_STATE_ENTRY):
        st.switch_page("Home.py")


def origin() -> Origin:
    """Where this browser session comes from, for the audit log."""
    try:
        ip = st.context.ip_address
        agent = st.context.headers.get("User-Agent")
    except Exception:  # no request context (e.g. AppTest)
        ip, agent = None, None
    return Origin(
        ip_address=ip if isinstance(ip, str) else None,
        user_agent=agent if isinstance(agent, str) else None,
    )


def _browser_cookie() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no request context (e.g. AppTest)
        return None
    return value if isinstance(value, str) else None


def resolve_actor() -> Actor | None:
    """The signed-in actor for this run, or None. Checked against the database every run."""
    cookie = st.session_state.get(_STATE_COOKIE)
    if cookie is None:
        candidate = _browser_cookie()
        if candidate and candidate != st.session_state.get(_STATE_REFUSED):
            cookie = candidate
    st.session_state.pop(_STATE_ACTOR, None)
    if not cookie:
        return None
    try:
        actor = auth.resolve_session(cookie=cookie, origin=origin())
    except SessionInvalid as exc:
        st.session_state.pop(_STATE_COOKIE, None)
        st.session_state[_STATE_REFUSED] = cookie
        st.session_state[_STATE_NOTICE] = str(exc)
        st.session_state[_STATE_COOKIE_OP] = ("clear",)
        return None
    st.session_state[_STATE_COOKIE] = cookie
    st.session_state[_STATE_ACTOR] = actor
    return actor


def actor() -> Actor:
    """The actor Home.py resolved for this run (pages only run when someone is signed in)."""
    require_entry()
    current = st.session_state.get(_STATE_ACTOR)
    if current is None:
        st.error("Please sign in.")
        st.stop()
    return current


def remember_sign_in(signed_in: auth.SignedIn) -> None:
    """Keep a new sign-in for this tab and, through the cookie, for the next visit."""
    st.session_state[_STATE_COOKIE] = signed_in.cookie
    st.session_state.pop(_STATE_REFUSED, None)
    st.session_state.pop(_STATE_NOTICE, None)
    max_age = max(int((signed_in.expires_at - utcnow()).total_seconds()), 0)
    st.session_state[_STATE_COOKIE_OP] = ("set", signed_in.cookie, max_age)


def sign_out() -> None:
    """Revoke this tab's session on the server and forget the cookie."""
    auth.sign_out(cookie=st.session_state.get(_STATE_COOKIE), origin=origin())
    st.session_state.pop(_STATE_COOKIE, None)
    st.session_state.pop(_STATE_ACTOR, None)
    st.session_state[_STATE_NOTICE] = "You have signed out."
    st.session_state[_STATE_COOKIE_OP] = ("clear",)


def apply_cookie() -> None:
    """Write or clear the browser cookie when a sign-in or sign-out asked for it."""
    op = st.session_state.pop(_STATE_COOKIE_OP, None)
    if op is None:
        return
    if op[0] == "set":
        value, max_age = op[1], op[2]
        attributes = f"Path=/; Max-Age={max_age}; SameSite=Strict"
    else:
        value, attributes = "", "Path=/; Max-Age=0; SameSite=Strict"
    # The value is our own URL-safe token (letters, digits, '-', '_', '.'): json.dumps
    # makes it a JavaScript string literal either way.
    script = (
        "<script>(function(){var c=" + json.dumps(f"{COOKIE}={value}; {attributes}") + ";"
        "if (window.parent.location.protocol==='https:'){c+='; Secure';}"
        "window.parent.document.cookie=c;})();</script>"
    )
    st.iframe(script, height=1)


def take_notice() -> str | None:
    """A one-time message for the sign-in page (signed out, expired, suspended)."""
    return st.session_state.pop(_STATE_NOTICE, None)


def act(actor: Actor, call: Callable[..., T], *, done: str | Callable[[T], str] | None = None,
        forget: Iterable[str] = (), session: bool = True) -> T | None:
    """Run one kaimen_core call for ``actor``: show its error, or rerun with ``done``.

    ``call`` gets a tenant session for the actor's business, committed when ``call``
    returns and rolled back when it raises; with ``session=False`` it takes nothing (the
    kaimen_core functions that open their own sessions, such as an erasure, or need none).
    A :class:`KaimenError` is shown with ``st.error`` (its message only, as text) and ``act``
    returns None: nothing reruns, so the error stays on screen as the page goes on drawing.

    On success with ``done`` (the message, or a function making it from the result), the
    widgets named in ``forget`` are emptied and the page reruns, so it shows the change
    just written and the message (see :func:`done_and_rerun`). Without ``done``, ``act``
    returns the result for the page to show (a created id, a download, a list).

    The page passes its ``actor`` (it also hands it to the kaimen_core function) because
    an ``st.fragment`` reruns alone, without Home.py resolving the actor for that run.
    """
    try:
        if session:
            with db.tenant_session(actor) as tenant_session:
                result = call(tenant_session)
        else:
            result = call()
    except KaimenError as exc:
        st.error(plain(str(exc)))  # a message may quote what was typed
        return None
    if done is None:
        return result
    for key in forget:
        st.session_state.pop(key, None)
    done_and_rerun(done(result) if callable(done) else done)


def done_and_rerun(message: str) -> NoReturn:
    """Rerun the page so it shows the change just written, confirming it with ``message``
    (shown as text: it may hold a name, which the page passes as it is).

    ``st.rerun`` discards what this run drew, an ``st.success`` included, so the message
    waits in the session for :func:`show_done` on the next run.
    """
    st.session_state[_STATE_DONE] = message
    st.rerun()


def forget(*keys: str) -> None:
    """Empty these widgets on the next run (after a form's input was saved)."""
    for key in keys:
        st.session_state.pop(key, None)


def show_done() -> None:
    """Show the confirmation :func:`done_and_rerun` left for this run, if any."""
    message = st.session_state.pop(_STATE_DONE, None)
    if message:
        st.success(plain(message))


# Markdown wherever it stands: emphasis, code, links and images, HTML and <autolinks>,
# entities (&#x202E;), strikethrough, tables, LaTeX, headings and quotes.
_INLINE = re.compile(r"([\\`*_\[\]<>#|~$&])")
# Markdown only at the start of a line, before a space or the line's end: list items
# ("- ", "+ ", "1. ", "1) ") and the underline that makes the line above a heading ("===",
# "---"). "+1 212 555 0123", "-5" and "1.5 hours" stay as they are.
_LINE_MARKER = re.compile(r"^([-+=])(?=[-=\s]|$)", re.MULTILINE)
_LINE_NUMBER = re.compile(r"^(\d+)([.)])(?=\s|$)", re.MULTILINE)
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)  # four spaces make a code block
# An icon, emoji, colour directive or web address begins with a colon followed by a
# letter or a slash (":red[", ":material/", ":smile:", "http://"); "10:30" and "Note: x" do not.
_COLON = re.compile(r":(?=[^\s\d])")
_WWW = re.compile(r"(www)(?=\.)", re.IGNORECASE)
# Bidirectional controls reorder what follows them (U+202E shows "Dana\u202eevil" as
# "Dana live"), and the other control characters have no place on screen.
_INVISIBLE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: str | None) -> str:
    """Text a person (a customer, a business, a requester, a model) wrote, made safe for
    Streamlit's Markdown-rendering elements: it shows as the same text, never as
    Markdown.

    Every element that renders Markdown gets people's words through this: ``st.markdown``,
    ``st.caption``, ``st.write``, titles and subheaders, alerts and toasts, ``st.table``
    cells, and the labels of widgets, tabs, expanders and metrics (selectbox and
    multiselect options, ``st.dataframe`` cells and the values of text boxes are shown as
    text already and need none of it). Markdown syntax is escaped; a zero-width space
    after ``@``, after ``www`` and after a colon that starts an address, icon or directive
    stops Streamlit's renderer making links, icons and colours of text it finds after
    parsing (escaping alone does not: its autolinks read the unescaped text); leading
    indentation is dropped (it would make a code block); bidirectional and other control
    characters are removed; line breaks stay line breaks.
    """
    text = _INVISIBLE.sub("", (text or "").replace("\r\n", "\n").replace("\r", "\n"))
    text = _INLINE.sub(r"\\\1", _INDENT.sub("", text))
    text = _LINE_NUMBER.sub(r"\1\\\2", _LINE_MARKER.sub(r"\\\1", text))
    text = _WWW.sub("\\1\u200b", _COLON.sub(":\u200b", text.replace("@", "@\u200b")))
    return text.replace("\n", "  \n")


def checked_upload(upload, key: str, check: Callable[[bytes], T]) -> T | None:
    """``check`` run once on an upload's bytes: its result, or its refusal shown (None).

    Reading a large file takes seconds and every widget on a page reruns it, so the outcome
    is kept in the session under ``key`` for this upload (its ``file_id``) and the reruns
    reuse it; with no upload, the page calls :func:`forget` on ``key``.
    """
    kept = st.session_state.get(key)
    if kept is None or kept[0] != upload.file_id:
        try:
            kept = (upload.file_id, check(upload.getvalue()), None)
        except KaimenError as exc:
            kept = (upload.file_id, None, str(exc))
        st.session_state[key] = kept
    if kept[2]:
        st.error(plain(kept[2]))
    return kept[1]


def local_time(moment: datetime | None, zone: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC timestamp shown in the business's time zone."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone or "UTC")).strftime(fmt)


if __name__ == "__main__":
    # A fresh server runs files of pages/ directly until some session has called
    # st.navigation; this helper file is no page, so send such a visit through Home.py.
    require_entry()
