"""The stored session document: express's JSON shape, read defensively.

A document is ``{"cookie": {...}, **user_data}``. Stored documents are
untrusted input (another program, a bug or an attacker may have written
them), so everything a store hands back passes :func:`parse` (text) and
:func:`check` (shape): anything malformed raises :class:`InvalidDocumentError`,
which the caller turns into "no session" and a log line, never a 5xx.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .clock import MAX_AGE_SECONDS, in_range, now_ms, parse_iso
from .cookie import CookieError, check_attributes

Document = dict[str, Any]

#: Documents longer than this (characters of JSON) are refused.
MAX_CHARS = 4 * 1024 * 1024
#: Deeper nesting of objects and arrays than this is refused.
MAX_DEPTH = 64

_COOKIE_TYPES: dict[str, tuple[type, ...]] = {
    "originalMaxAge": (int, float, type(None)),
    "expires": (str, type(None)),
    "secure": (bool,),
    "httpOnly": (bool,),
    "partitioned": (bool,),
    "domain": (str, type(None)),
    "path": (str, type(None)),
    "sameSite": (str, bool, type(None)),
    "priority": (str, type(None)),
}
_SCALARS = (str, int, float, bool, type(None))
#: The longest cookie lifetime a stored document may hold, either way: the
#: settings' bound, so that a touch (now + originalMaxAge) is an HTTP date.
MAX_ORIGINAL_MS = MAX_AGE_SECONDS * 1000


class InvalidDocumentError(ValueError):
    """A stored document that is not a session; ``reason`` says why, in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Encoded(dict[str, Any]):
    """A document that carries its JSON text, so that no store serialises it again.

    ``deadline`` (epoch ms) caps how long a store may keep it (ABSOLUTE_TIMEOUT).
    """

    __slots__ = ("deadline", "text")

    def __init__(self, document: Document, text: str, deadline: int | None = None) -> None:
        super().__init__(document)
        self.text = text
        self.deadline = deadline


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(value: Any) -> str:
    """Compact JSON, key order kept, non-ASCII kept as is (like JSON.stringify).

    A lone UTF-16 surrogate (which a JavaScript string may hold, and JSON
    carries as ``\\udXXX``) is escaped as JSON.stringify escapes it; kept
    raw it could not be encoded as UTF-8 for the store.
    """
    text = _ENCODER.encode(value)
    if not text.isascii() and _LONE_SURROGATE.search(text):
        text = _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return text


def text_of(document: Document) -> str:
    """The document's JSON text (computed once by the session that wrote it)."""
    return document.text if isinstance(document, Encoded) else dumps(document)


def _no_constants(name: str) -> Any:
    raise InvalidDocumentError(f"it holds {name}, which JSON does not allow")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidDocumentError("it holds a number too large for a float")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite)


def parse(text: str | bytes) -> Document:
    """The JSON object in ``text``; InvalidDocumentError when it is not a sane one."""
    if len(text) > MAX_CHARS:
        raise InvalidDocumentError(f"it is longer than {MAX_CHARS} characters")
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if text[:1].isspace():
            text = text.lstrip(" \t\n\r")
        value, end = _DECODER.raw_decode(text)
        if end != len(text) and text[end:].strip():
            raise ValueError("extra data")
    except InvalidDocumentError:
        raise
    except RecursionError:
        raise InvalidDocumentError("it is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidDocumentError("it is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidDocumentError("it is not a JSON object")
    # Every level of nesting opens a bracket: few brackets, shallow enough.
    if text.count("{") + text.count("[") > MAX_DEPTH:
        _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidDocumentError(f"it is nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values() if isinstance(child, dict | list))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))


def check_tree(value: Any) -> None:
    """For documents that did not come from :func:`parse` (a custom store's objects):
    JSON types only, finite numbers, string keys, bounded depth."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidDocumentError(f"it is nested more than {MAX_DEPTH} levels deep")
        # Scalars are checked at their parent's depth: only containers nest,
        # as in parse()'s check.
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InvalidDocumentError("it has a key that is not a string")
                stack.append((child, depth + 1 if isinstance(child, dict | list) else depth))
        elif isinstance(item, list):
            stack.extend((child, depth + 1 if isinstance(child, dict | list) else depth) for child in item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidDocumentError("it holds a number that is not finite")
        elif not isinstance(item, _SCALARS):
            raise InvalidDocumentError(f"it holds a {type(item).__name__}, which is not JSON")


def check(document: Any) -> int | None:
    """Check express's shape; return the cookie's expiry in epoch ms (None: browser session)."""
    if not isinstance(document, dict):
        raise InvalidDocumentError("it is not a JSON object")
    cookie = document.get("cookie")
    if not isinstance(cookie, dict):
        raise InvalidDocumentError("it has no cookie object")
    for key, value in cookie.items():
        types = _COOKIE_TYPES.get(key)
        if types is not None and (type(value) not in types):
            raise InvalidDocumentError(f"its cookie.{key} has the wrong type")
    original = cookie.get("originalMaxAge")
    # Comparisons, not math.isfinite(): that converts an int to a float, which
    # overflows for one of 310 digits. NaN and infinities fail them too.
    if original is not None and not -MAX_ORIGINAL_MS <= original <= MAX_ORIGINAL_MS:
        raise InvalidDocumentError("its cookie.originalMaxAge is out of range")
    try:
        # What the Set-Cookie header will need (a stored path with a ";" would fail every response).
        check_attributes(cookie)
    except CookieError as exc:
        raise InvalidDocumentError(f"its cookie cannot be sent ({exc})") from None
    expires = cookie.get("expires")
    if expires is None:
        return None
    try:
        ms = parse_iso(expires)
    except (ValueError, OverflowError):
        raise InvalidDocumentError("its cookie.expires is not an ISO date") from None
    if not in_range(ms):
        raise InvalidDocumentError("its cookie.expires is out of range")
    return ms


def expires_ms(document: Document) -> int | None:
    """The cookie's expiry in epoch milliseconds, or None for a browser session."""
    expires = document["cookie"].get("expires")
    return parse_iso(expires) if isinstance(expires, str) else None


def store_expiry_ms(document: Document, ttl: float) -> int:
    """When a store should forget the document: the cookie expiry, or now + TTL.

    Never after the document's deadline, when it has one (see ``Encoded``).
    """
    expires = expires_ms(document)
    expiry = expires if expires is not None else now_ms() + int(ttl * 1000)
    deadline = document.deadline if isinstance(document, Encoded) else None
    return expiry if deadline is None else min(expiry, deadline)


def is_expired(document: Document, now: int | None = None) -> bool:
    expires = expires_ms(document)
    return expires is not None and expires <= (now_ms() if now is None else now)


def user_id(document: Document) -> str | None:
    """The logged-in user's id as contrib.auth stores it, for per-user lookups."""
    value = document.get("_auth_user_id")
    return None if value is None else str(value)
