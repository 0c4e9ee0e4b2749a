"""What a single field's value must look like, wherever it comes from (the API, an imported file).

Each check takes the value and returns it (perhaps normalised), or raises ``ValueError`` with a
plain-English reason that never quotes the value: it may be a patient's name or phone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

#: the years a date or time may fall in: a conversion to UTC can never overflow inside them
FIRST_YEAR, LAST_YEAR = 1900, 2200
PHONE_REASON = "must be a phone number (10 to 15 digits, e.g. +1 720 555 0100)"
#: the shape of a phone number; the API publishes it in its schema
PHONE_PATTERN = r"^\+?[0-9 ().-]{10,30}$"


def clean_text(value: str) -> str:
    """Text a database and a page can hold: no NUL characters, no lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def phone_number(value: str) -> str:
    """A phone number as people write it: digits, spaces, ``().-`` and a leading ``+``; 10 to 15 digits."""
    value = value.strip()
    if not re.match(PHONE_PATTERN, value) or not 10 <= sum(ch.isdigit() for ch in value) <= 15:
        raise ValueError(PHONE_REASON)
    return value


def sane_date(value: date) -> date:
    """A date from FIRST_YEAR to LAST_YEAR."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be a date from {FIRST_YEAR} to {LAST_YEAR}")
    return value


def sane_moment(value: datetime) -> datetime:
    """An aware time whose UTC date falls from FIRST_YEAR to LAST_YEAR."""
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"must be a time from {FIRST_YEAR} to {LAST_YEAR}") from None
    if not FIRST_YEAR <= in_utc.year <= LAST_YEAR:
        raise ValueError(f"must be a time from {FIRST_YEAR} to {LAST_YEAR}")
    return value
