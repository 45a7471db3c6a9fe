"""Reading what a page sent the browser as Markdown (tests/pages/test_people_words.py and the
page tests that compare a message with what the person reads).

Which elements render Markdown was checked in Chromium against Streamlit 1.67: widget
labels and help, radio and segmented-control options, tabs, expanders, metrics,
``st.table`` cells, alerts, toasts, progress text, captions, headings and ``st.write``
do; selectbox and multiselect options, ``st.dataframe`` cells, ``st.text``, ``st.code``,
``st.json`` and the values and placeholders of text boxes do not.
"""

from __future__ import annotations

import re

__all__ = ["BIDI", "active_markdown", "assert_shown_as_text", "markdown_sources", "readable", "shown"]

BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

# --- reading what the page sends ------------------------------------------------------

# Element types whose text is shown as it is, never as Markdown.
_SHOWN_AS_TEXT = {"text", "code", "json", "html", "exception", "iframe", "dataframe", "arrow_data_frame",
                  "divider"}  # st.divider's "---" is Kaimen's own
_MARKDOWN_FIELDS = ("body", "label", "help", "text", "delta")


def markdown_sources(at) -> list[str]:
    """Every string this run sent to an element that renders it as Markdown."""
    found: list[str] = []
    for root in (at.main, at.sidebar):
        for node in root:
            found += _sources(node)
    return found + [toast.value for toast in at.toast]


def _sources(node) -> list[str]:
    kind, proto = getattr(node, "type", ""), getattr(node, "proto", None)
    if proto is None or kind in _SHOWN_AS_TEXT:
        return []
    if kind == "table":
        frame = node.value
        return [str(cell) for cell in [*frame.columns, *frame.index, *frame.to_numpy().ravel()]]
    fields = proto.DESCRIPTOR.fields_by_name
    found = [getattr(proto, name) for name in _MARKDOWN_FIELDS
             if name in fields and isinstance(getattr(proto, name), str)]
    if kind == "radio":
        found += [*proto.options, *proto.captions]
    if kind == "button_group":
        found += [option.content for option in proto.options]
    return found


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def shown(source: str) -> str:
    """What the person reads: escapes resolved, invisible characters gone, spaces collapsed."""
    return " ".join(_ESCAPED.sub(r"\1", source).replace("\u200b", "").split())


def readable(hostile: str) -> str:
    """The hostile string as it should read on screen (bidirectional controls dropped)."""
    return " ".join(BIDI.sub("", hostile).split())


# What would still act as Markdown once every escaped character is set aside.
_SYNTAX = {
    "a link, image or directive": re.compile(r"[\[\]]"),
    "HTML or an <autolink>": re.compile(r"<"),
    "an icon, emoji or colour": re.compile(r":(?=[a-z])"),
    "a heading or quote": re.compile(r"^ {0,3}[#>]", re.MULTILINE),
    "a heading underline or rule": re.compile(r"^ {0,3}(=+|-{2,})\s*$", re.MULTILINE),
    "a code block": re.compile(r"```|~~~|^( {4}|\t)\S", re.MULTILINE),
    "a list item": re.compile(r"^ {0,3}(-|\+|\d+[.)])\s", re.MULTILINE),
    "an entity": re.compile(r"&#?\w+;"),
    # A lone * (Kaimen's own bold is **), a _ that is not inside a word (America/New_York is no emphasis)
    "emphasis, strikethrough or code": re.compile(r"(?<!\*)\*(?!\*)|(?<!\w)_|_(?!\w)|~|`"),
    "LaTeX": re.compile(r"\$"),
    "a bidirectional control": BIDI,
}
# Streamlit's renderer finds autolinks in the text after parsing, escapes resolved: an
# escaped "www\." still becomes a link, so these are looked for in the unescaped text.
_AUTOLINKS = {
    "a www autolink": re.compile(r"www\.", re.IGNORECASE),
    "an email autolink": re.compile(r"[\w.+-]@[\w-]"),
    "a web address": re.compile(r"(https?|mailto):(?!\u200b)", re.IGNORECASE),
}


_OWN_CODE = re.compile(r"`[a-z0-9._-]+`")  # Kaimen's code spans (a username, a slug): nothing renders inside


def active_markdown(source: str) -> list[str]:
    bare, unescaped = _OWN_CODE.sub("·", _ESCAPED.sub("·", source)), _ESCAPED.sub(r"\1", source)
    return ([what for what, pattern in _SYNTAX.items() if pattern.search(bare)]
            + [what for what, pattern in _AUTOLINKS.items() if pattern.search(unescaped)])


def assert_shown_as_text(at, *expected: str) -> None:
    """Nothing the run sent renders as Markdown, and each of ``expected`` reads as typed."""
    assert not at.exception, at.exception
    sources = markdown_sources(at)
    offending = {source: active_markdown(source) for source in sources if active_markdown(source)}
    assert not offending, offending
    on_screen = [shown(source) for source in sources]
    missing = [text for text in expected if not any(readable(text) in line for line in on_screen)]
    assert not missing, (missing, on_screen)
