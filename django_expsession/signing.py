"""Cookie signing and parsing, byte-compatible with cookie-signature and cookie.

A signed cookie value is ``"s:" + sid + "." + sig`` where ``sig`` is the
unpadded standard base64 of HMAC-SHA256(secret, sid), percent-encoded the way
JavaScript's ``encodeURIComponent`` does it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote_to_bytes

Secret = str | bytes

SIGNED_PREFIX = "s:"
_ESCAPED = re.compile(r"(?:[^%]|%[0-9A-Fa-f]{2})*", re.DOTALL)
# The characters encodeURIComponent leaves alone, besides letters and digits.
_URI_COMPONENT_SAFE = "-_.!~*'()"


def _key(secret: Secret) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def signature(value: str, secret: Secret) -> str:
    digest = hmac.new(_key(secret), value.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii").rstrip("=")


def sign(value: str, secret: Secret) -> str:
    """Return ``value.signature`` as cookie-signature's ``sign()`` does."""
    return f"{value}.{signature(value, secret)}"


def unsign(signed: str, secrets: Iterable[Secret]) -> str | None:
    """Return the value when any secret produced the signature, else None."""
    # Cut at the last dot so that values may themselves contain dots.
    value, dot, _ = signed.rpartition(".")
    if not dot:
        return None
    for secret in secrets:
        if hmac.compare_digest(sign(value, secret).encode(), signed.encode()):
            return value
    return None


def encode_uri_component(value: str) -> str:
    return quote(value, safe=_URI_COMPONENT_SAFE)


def decode_uri_component(value: str) -> str | None:
    """Strict ``decodeURIComponent``: None for a bad escape or bad UTF-8."""
    if "%" not in value:
        return value
    if not _ESCAPED.fullmatch(value):
        return None  # a "%" not followed by two hex digits
    try:
        return unquote_to_bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return None


def cookie_value(sid: str, secret: Secret) -> str:
    """The encoded value that follows ``name=`` in Set-Cookie."""
    return encode_uri_component(SIGNED_PREFIX + sign(sid, secret))


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a Cookie header like the npm ``cookie`` package: first name wins."""
    cookies: dict[str, str] = {}
    if len(header) < 2:
        return cookies
    for pair in header.split(";"):
        name, eq, value = pair.partition("=")
        if not eq:
            continue
        name = name.strip(" \t")
        if name in cookies:
            continue
        value = value.strip(" \t")
        # cookie 0.7.2 also strips a lone '"' (to ""): one char is both quotes.
        if value and value[0] == value[-1] == '"':
            value = value[1:-1]
        decoded = decode_uri_component(value)
        cookies[name] = value if decoded is None else decoded
    return cookies


def unsign_cookie(raw: str | None, secrets: Iterable[Secret]) -> str | None:
    """The sid inside a decoded ``s:``-prefixed cookie value, or None."""
    if not raw or not raw.startswith(SIGNED_PREFIX):
        return None
    # An empty sid is falsy in express, hence treated as absent.
    return unsign(raw[len(SIGNED_PREFIX) :], secrets) or None


def sid_from_header(header: str | None, name: str, secrets: Iterable[Secret]) -> str | None:
    if not header:
        return None
    return unsign_cookie(parse_cookie_header(header).get(name), secrets)


def sid_from_cookies(cookies: Mapping[str, str], name: str, secrets: Iterable[Secret]) -> str | None:
    """Like :func:`sid_from_header` for an already-decoded mapping."""
    return unsign_cookie(cookies.get(name), secrets)
