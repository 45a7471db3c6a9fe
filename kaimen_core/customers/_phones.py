"""Phone numbers as customers' records need them: many read fast for a whole import
(:class:`PhoneReader`), and a search term that is a whole number (:func:`full_phone`)."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, REGION_CODE_FOR_NON_GEO_ENTITY, PhoneMetadata
from phonenumbers.phonenumberutil import _is_number_matching_desc  # the very check is_valid_number makes

from kaimen_core.exceptions import ValidationError
from kaimen_core.validators import clean_phone

__all__ = ["PhoneReader", "full_phone"]

class PhoneReader:
    """``clean_phone(value, region=region, required=False)`` for many values, each distinct
    text read once: the same E.164 result, or the same ValidationError, for every copy."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._seen: dict[str, str | ValidationError] = {}

    def __call__(self, value: str | None) -> str | None:
        text = (value or "").strip()
        if not text:
            return None
        found = self._seen.get(text)
        if found is None:
            found = self._seen[text] = self._read(text)
        if isinstance(found, ValidationError):
            raise ValidationError(str(found), field=found.field)
        return found

    def _read(self, text: str) -> str | ValidationError:
        try:
            number = phonenumbers.parse(text, self.region)
        except phonenumbers.NumberParseException:
            number = None
        valid = None if number is None else _quick_valid(number)
        if number is not None and (phonenumbers.is_valid_number(number) if valid is None else valid):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        try:  # refused: the general path words the reason
            return clean_phone(text, region=self.region, required=False) or ""
        except ValidationError as exc:
            return exc


def _quick_valid(number: phonenumbers.PhoneNumber) -> bool | None:
    """``phonenumbers.is_valid_number(number)`` where it is quick to know, else None.

    ``is_valid_number`` takes ``region_code_for_number`` and asks whether the number has a
    type there. A calling code with one region names that region; with several (+1), the
    first wins when it has no leading digits and the number has a type there, so that one
    check stands for both of ``is_valid_number``'s. Anything else is left to phonenumbers.
    """
    regions = COUNTRY_CODE_TO_REGION_CODE.get(number.country_code, ())
    if not regions or regions[0] == REGION_CODE_FOR_NON_GEO_ENTITY:
        return None
    metadata = PhoneMetadata.metadata_for_region(regions[0], None)
    if metadata is None or metadata.country_code != number.country_code:
        return None
    has_type = _has_type(phonenumbers.national_significant_number(number), metadata)
    if len(regions) == 1:
        return has_type
    return True if has_type and metadata.leading_digits is None else None


_RARER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")


def _has_type(national: str, metadata: PhoneMetadata) -> bool:
    """phonenumbers' ``_number_type_helper(national, metadata) != UNKNOWN``, asking about
    fixed lines and mobiles (nearly every number) before the rarer types."""
    matches = _is_number_matching_desc
    if not matches(national, metadata.general_desc):
        return False
    if matches(national, metadata.fixed_line) or (
            not metadata.same_mobile_and_fixed_line_pattern and matches(national, metadata.mobile)):
        return True
    return any(matches(national, getattr(metadata, kind)) for kind in _RARER_TYPES)


def full_phone(term: str, region: str) -> str | None:
    """The E.164 number when ``term`` is a whole valid phone number (in any format), else None."""
    if not re.fullmatch(r"[\d\s()+.\-/]+", term) or len(re.sub(r"\D", "", term)) < 6:
        return None
    try:
        number = phonenumbers.parse(term, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
