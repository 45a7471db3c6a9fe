"""Kaimen's signature check agrees with the twilio SDK's RequestValidator on any form body and URL."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from kaimen_core.messaging._inbound import valid_signature

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
