"""The stored session document: express's JSON shape, read defensively.

A document is ``{"cookie": {...}, **user_data}``. Everything that comes back
from a store passes through :func:`loads`/:func:`validate`, so tampered or
corrupt records become "no session" (logged) instead of a server error.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .cookie import now_ms, parse_iso

logger = logging.getLogger("django.security.SuspiciousSession")

Document = dict[str, Any]

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


def dumps(document: Document) -> str:
    """Compact JSON, key order kept, non-ASCII kept as is (like JSON.stringify)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def loads(text: str | bytes | None, sid: str = "?") -> Document | None:
    if text is None:
        return None
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        logger.warning("Session %r: stored data is not valid JSON; treated as no session.", sid)
        return None
    return validate(document, sid)


def validate(document: Any, sid: str = "?") -> Document | None:
    """Return the document when it has express's shape, else log and None."""
    problem = _problem(document)
    if problem is None:
        return document  # type: ignore[no-any-return]
    logger.warning("Session %r: %s; treated as no session.", sid, problem)
    return None


def _problem(document: Any) -> str | None:
    if not isinstance(document, dict):
        return "stored data is not a JSON object"
    cookie = document.get("cookie")
    if not isinstance(cookie, dict):
        return "stored data has no cookie object"
    for key, types in _COOKIE_TYPES.items():
        if key in cookie and (
            not isinstance(cookie[key], types) or (isinstance(cookie[key], bool) and bool not in types)
        ):
            return f"stored cookie.{key} has the wrong type"
    expires = cookie.get("expires")
    if isinstance(expires, str):
        try:
            parse_iso(expires)
        except ValueError:
            return "stored cookie.expires is not an ISO date"
    return None


def expires_ms(document: Document) -> int | None:
    """The cookie's expiry in epoch milliseconds, or None for a browser session."""
    expires = document.get("cookie", {}).get("expires")
    return parse_iso(expires) if isinstance(expires, str) else None


def store_expiry_ms(document: Document, ttl: float) -> int:
    """When a store should forget the document: the cookie expiry, or now + TTL."""
    expires = expires_ms(document)
    return expires if expires is not None else now_ms() + int(ttl * 1000)


def is_expired(document: Document, now: int | None = None) -> bool:
    expires = expires_ms(document)
    return expires is not None and expires <= (now_ms() if now is None else now)


def user_id(document: Document) -> str | None:
    """The logged-in user's id as contrib.auth stores it, for per-user lookups."""
    value = document.get("_auth_user_id")
    return None if value is None else str(value)
