"""Cookie signing and parsing, byte-compatible with cookie-signature and cookie.

A signed cookie value is ``"s:" + sid + "." + sig`` where ``sig`` is the
unpadded standard base64 of HMAC-SHA256(secret, sid), percent-encoded the way
JavaScript's ``encodeURIComponent`` does it.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote_to_bytes

from django.utils.crypto import salted_hmac

Secret = str | bytes

SIGNED_PREFIX = "s:"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# The characters encodeURIComponent leaves alone, besides letters and digits.
_URI_COMPONENT_SAFE = "-_.!~*'()"
_ID_HASH_SALT = "django_expsession.id_hash"


def key(secret: Secret) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


def signature(value: str, secret: Secret) -> str:
    digest = hmac.digest(key(secret), value.encode("utf-8"), "sha256")
    return base64.b64encode(digest).decode("ascii").rstrip("=")


def sign(value: str, secret: Secret) -> str:
    """Return ``value.signature`` as cookie-signature's ``sign()`` does."""
    return f"{value}.{signature(value, secret)}"


def unsign(signed: str, secrets: Iterable[Secret]) -> str | None:
    """Return the value when any secret produced the signature, else None."""
    # Cut at the last dot so that values may themselves contain dots.
    value, dot, given = signed.rpartition(".")
    if not dot:
        return None
    try:
        given_bytes = given.encode("ascii")
    except UnicodeEncodeError:
        return None  # no base64 signature has such characters
    message = value.encode("utf-8", "surrogatepass")
    for secret in secrets:
        digest = hmac.digest(key(secret), message, "sha256")
        expected = base64.b64encode(digest).rstrip(b"=")
        if hmac.compare_digest(expected, given_bytes):
            return value
    return None


def encode_uri_component(value: str) -> str:
    return quote(value, safe=_URI_COMPONENT_SAFE)


def decode_uri_component(value: str) -> str | None:
    """Strict ``decodeURIComponent``: None for a bad escape or bad UTF-8."""
    if "%" not in value:
        return value
    if _BAD_ESCAPE.search(value):
        return None  # a "%" not followed by two hex digits
    try:
        return unquote_to_bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return None


_URL_SAFE = re.compile(r"[A-Za-z0-9_.!~*'()-]*")


def cookie_value(sid: str, secret: Secret) -> str:
    """The encoded value that follows ``name=`` in Set-Cookie."""
    if _URL_SAFE.fullmatch(sid):
        # The usual id (base64url): only the signature's base64 needs escaping.
        return "s%3A" + sid + "." + signature(sid, secret).replace("+", "%2B").replace("/", "%2F")
    return encode_uri_component(SIGNED_PREFIX + sign(sid, secret))


def decode_cookie_value(value: str) -> str:
    """A raw cookie value as the npm ``cookie`` package decodes it (quotes, then %-escapes)."""
    value = value.strip(" \t")
    # cookie 0.7.2 also strips a lone '"' (to ""): one char is both quotes.
    if value and value[0] == value[-1] == '"':
        value = value[1:-1]
    decoded = decode_uri_component(value)
    return value if decoded is None else decoded


def raw_cookie(header: str, name: str) -> str | None:
    """The first cookie called ``name``, as the header has it (not decoded); None when absent."""
    if len(header) < 2 or name not in header:
        return None
    for pair in header.split(";"):
        found, eq, value = pair.partition("=")
        if eq and found.strip(" \t") == name:
            return value
    return None


class Verifier:
    """Session ids from cookie values, for one set of secrets.

    Values that verified are remembered (a bounded map from the exact value
    to its id): a returning visitor's signature is checked once, not on
    every request. Only verified values are kept, so a flood of forged
    cookies costs an HMAC each and can evict nothing it did not sign.
    """

    SIZE = 10_000

    def __init__(self, keys: tuple[bytes, ...]) -> None:
        self.keys = keys
        self._known: dict[str, str] = {}

    def sid(self, raw: str) -> str | None:
        """The id a raw (undecoded) cookie value carries; None when unsigned or forged."""
        known = self._known.get(raw)
        if known is not None:
            return known
        sid = unsign_cookie(decode_cookie_value(raw), self.keys)
        if sid is not None:
            if len(self._known) >= self.SIZE:
                self._known.clear()  # rare; cheaper than keeping an order
            self._known[raw] = sid
        return sid

    def forged(self, raw: str) -> bool:
        """Whether a value that gave no id was a signed one (a bad signature)."""
        return decode_cookie_value(raw).startswith(SIGNED_PREFIX)


def unsign_cookie(raw: str | None, secrets: Iterable[Secret]) -> str | None:
    """The sid inside a decoded ``s:``-prefixed cookie value, or None."""
    if not raw or not raw.startswith(SIGNED_PREFIX):
        return None
    # An empty sid is falsy in express, hence treated as absent.
    return unsign(raw[len(SIGNED_PREFIX) :], secrets) or None


def id_hash(sid: str) -> str:
    """A keyed hash of a session id: the same for one session, useless to an attacker.

    Logs and signals carry this instead of the id or the cookie. The key is
    derived from ``SECRET_KEY``, so it cannot be recomputed without it.
    """
    return salted_hmac(_ID_HASH_SALT, sid, algorithm="sha256").hexdigest()[:32]
