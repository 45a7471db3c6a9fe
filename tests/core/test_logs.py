"""Masking (kaimen_core.logs): personal data never reaches a log in full."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaimen_core.logs import Masked, failure_report, mask_email, mask_name, mask_phone

fast = settings(max_examples=100, deadline=None)
phones = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True) | st.from_regex(r"[0-9]{7,15}", fullmatch=True)
words = st.text(alphabet=st.characters(categories=("Lu", "Ll")), min_size=2, max_size=12)
emails = st.builds(
    lambda local, host, tld: f"{local}@{host}.{tld}",
    st.from_regex(r"[a-z0-9._+-]{2,20}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{2,20}", fullmatch=True),
    st.sampled_from(["com", "co.uk", "example", "io"]),
)


@pytest.mark.parametrize(
    ("masked", "expected"),
    [
        (mask_phone("+15555550100"), "+1******0100"),
        (mask_email("dana@example.com"), "d***@e***.com"),
        (mask_name("Dana Owner"), "D*** O***"),
        (mask_phone(None), ""),
        (mask_email(""), ""),
        (mask_email("not-an-email"), "***"),
        (mask_name(None), ""),
    ],
)
def test_masks_look_like_this(masked, expected):
    assert masked == expected


@fast
@given(phones)
def test_a_masked_phone_keeps_only_its_last_digits(phone):
    masked = mask_phone(phone)
    assert phone not in masked
    assert masked.endswith(phone[-4:])
    assert len(masked) == len(phone)  # the shape is kept, so a reader can tell it was a number
    assert sum(ch.isdigit() for ch in masked) <= 5  # country code digit(s) and the last four


@fast
@given(emails)
def test_a_masked_email_hides_the_person_and_the_host(email):
    masked = mask_email(email)
    local, _, domain = email.partition("@")
    host = domain.split(".")[0]
    masked_local, _, masked_domain = masked.partition("@")
    masked_host = masked_domain.rpartition(".")[0]  # the top-level domain is kept as it is
    assert email not in masked
    assert local not in masked_local
    assert host not in masked_host


@fast
@given(st.lists(words, min_size=1, max_size=4))
def test_a_masked_name_hides_every_part(parts):
    name = " ".join(parts)
    masked = mask_name(name)
    assert name not in masked
    for part in parts:
        assert part not in masked
    assert [p[:1] for p in masked.split()] == [p[:1] for p in parts]


def test_masked_values_never_reach_the_log_in_full(caplog):
    log = logging.getLogger("kaimen_core.test")
    with caplog.at_level(logging.INFO, logger="kaimen_core.test"):
        log.info("texted %s (%s, %s)", Masked.phone("+15555550100"), Masked.name("Ava Martinez"),
                 Masked.email("ava.martinez@example.com"))
        log.info("customer %r", Masked.name("Ava Martinez"))
    logged = caplog.text + "".join(f"{r.args!r}" for r in caplog.records)
    for secret in ("+15555550100", "5555550100", "Ava", "Martinez", "ava.martinez", "example"):
        assert secret not in logged
    assert "+1******0100" in caplog.text and "A*** M***" in caplog.text


def test_a_masked_value_keeps_no_copy_of_the_original():
    masked = Masked.phone("+15555550100")
    assert not hasattr(masked, "__dict__")
    assert "5555550100" not in repr([getattr(masked, slot) for slot in Masked.__slots__])


def _failing_query():
    params = {"name": "Dana Reyes", "phone": "+12125550123"}
    try:
        raise ValueError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    except ValueError as exc:
        raise RuntimeError(f"(psycopg.DataError) refused\n[SQL: SELECT 1]\n[parameters: {params}]") from exc


def test_a_failure_report_tells_where_and_what_but_no_values():
    with pytest.raises(RuntimeError) as failed:
        _failing_query()
    report = failure_report(failed.value)
    assert report.startswith("RuntimeError: (psycopg.DataError) refused")
    assert "ValueError: PostgreSQL text fields cannot contain NUL (0x00) bytes" in report  # the cause too
    assert "in _failing_query" in report and "test_logs.py" in report
    assert "Dana" not in report and "12125550123" not in report and "SELECT" not in report
    assert "params" not in report  # source lines are left out: a line can hold a value
