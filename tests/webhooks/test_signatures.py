"""The request checks agree with the references they replace: the twilio SDK's RequestValidator, parse_qsl."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from kaimen_core.messaging._twilio_verifier import form_fields, valid_signature

TOKEN = "test-twilio-auth-token"
NAMES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
VALUES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
URLS = st.sampled_from(["https://kaimen.example.com/twilio/sms", "https://kaimen.example.com:443/twilio/sms",
                        "https://kaimen.example.com/twilio/status?m=12", "http://kaimen.example.com/twilio/sms",
                        "https://kaimen.example.com:8443/twilio/sms"])


@settings(max_examples=200)
@given(st.dictionaries(NAMES, VALUES, max_size=8), URLS, URLS, st.sampled_from([TOKEN, "another-token"]))
def test_the_same_verdict_as_the_sdk(params, signed_url, checked_url, signing_token):
    signature = RequestValidator(signing_token).compute_signature(signed_url, params)
    expected = RequestValidator(TOKEN).validate(checked_url, params, signature)
    assert valid_signature(token=TOKEN, url=checked_url, params=params, signature=signature) is expected


def test_no_signature_or_no_token_is_invalid():
    assert not valid_signature(token=TOKEN, url="https://kaimen.example.com/twilio/sms", params={}, signature=None)
    assert not valid_signature(token="", url="https://kaimen.example.com/twilio/sms", params={}, signature="x")


FORM_TEXT = st.lists(st.sampled_from([*list("ab=&+%2Fz "), "%20", "%E2%9C%93", "%zz", "%C3", "é"]),
                     max_size=30).map("".join)


@settings(max_examples=300)
@given(FORM_TEXT)
def test_form_fields_read_a_body_as_parse_qsl_does(text):
    try:
        expected: dict[str, str] | None = {}
        for name, value in parse_qsl(text, keep_blank_values=True, strict_parsing=True):
            expected.setdefault(name, value)
    except ValueError:
        expected = None
    try:
        got: dict[str, str] | None = form_fields(text)
    except ValueError:
        got = None
    assert got == expected
