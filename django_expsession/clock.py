"""Time in integer milliseconds since the epoch, as express-session keeps it.

Everything below the Python API (the stored document, ``Expires``, store
expiries) is in milliseconds; the Python API speaks seconds. Integer
arithmetic on datetimes keeps the two exact: ``int(time.time() * 1000)`` is
off by one for some instants, which a frozen test clock exposes.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)

#: The instants a cookie expiry may take: those a datetime (and so an HTTP
#: date with a four-digit year) can represent.
MIN_MS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // _MS
MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // _MS
#: The longest lifetime a cookie may be given, either way, in seconds: a
#: thousand years, so that now + max_age is a date for millennia to come.
MAX_AGE_SECONDS = 1000 * 365 * 86400


def now_ms() -> int:
    return (datetime.now(UTC) - _EPOCH) // _MS


def datetime_to_ms(value: datetime) -> int:
    """An aware datetime in epoch milliseconds (a naive one raises ValueError)."""
    if value.tzinfo is None:
        raise ValueError("Cookie expiry datetimes must be timezone-aware.")
    return (value - _EPOCH) // _MS


def utc_naive_to_ms(value: datetime) -> int:
    """A naive datetime that is known to be UTC (as databases return it)."""
    if value.tzinfo is not None:
        return (value - _EPOCH) // _MS
    return (value - _NAIVE_EPOCH) // _MS


def ms_to_datetime(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def in_range(ms: int) -> bool:
    return MIN_MS <= ms <= MAX_MS


def format_iso(ms: int) -> str:
    """``Date#toISOString``: always milliseconds and a ``Z``."""
    # Naive UTC: isoformat() then has no offset to strip; it pads the year to four digits.
    return (_NAIVE_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds") + "Z"


def iso_of(value: datetime) -> str:
    """An aware datetime as ``Date#toISOString`` writes it (milliseconds, ``Z``)."""
    return format_iso(datetime_to_ms(value))


def parse_iso(value: str) -> int:
    """Epoch milliseconds of an ISO 8601 string; ValueError when it is none."""
    parsed = datetime.fromisoformat(value)  # a "Z" suffix included
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone.")
    return (parsed - _EPOCH) // _MS


def seconds_to_ms(value: float | timedelta) -> int:
    """A lifetime in seconds (or a timedelta) as whole milliseconds.

    TypeError for anything but a real number or a timedelta, ValueError for
    a lifetime no cookie can have (beyond :data:`MAX_AGE_SECONDS` either way).
    """
    if isinstance(value, timedelta):
        ms = value // _MS
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("max_age must be a number of seconds, a timedelta or None.")
    elif not math.isfinite(value):
        raise ValueError(f"max_age must be a finite number of seconds, not {value!r}.")
    elif abs(value) > MAX_AGE_SECONDS:
        ms = MAX_AGE_SECONDS * 1000 + 1  # reported below, without float overflow
    else:
        # JavaScript's Date truncates fractional milliseconds (a floor, the
        # sum now + ms being positive). Rounding first undoes float noise:
        # 1.001 * 1000 is 1000.9999999999999, which must still be 1001 ms.
        ms = math.floor(round(value * 1000, 6))
    if abs(ms) > MAX_AGE_SECONDS * 1000:
        raise ValueError(
            f"max_age must be between -{MAX_AGE_SECONDS} and {MAX_AGE_SECONDS} seconds "
            f"(a thousand years), not {value!r}."
        )
    return ms
