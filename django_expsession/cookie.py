"""The session's cookie: attributes, lifetime, stored JSON and Set-Cookie.

Internally times are integer milliseconds since the epoch, as in express,
so that the stored document and the ``Expires`` header match it exactly.
The Python API speaks seconds (Django's unit).
"""

from __future__ import annotations

import functools
import math
import re
from datetime import datetime, timedelta
from http.cookies import Morsel
from typing import Any

from .clock import (
    MAX_AGE_SECONDS,
    datetime_to_ms,
    format_iso,
    in_range,
    ms_to_datetime,
    now_ms,
    parse_iso,
    seconds_to_ms,
)

# Key order of express's Cookie#data, which is the stored JSON order.
JSON_KEYS = (
    "originalMaxAge",
    "partitioned",
    "priority",
    "expires",
    "secure",
    "httpOnly",
    "domain",
    "path",
    "sameSite",
)
ATTRIBUTE_KEYS = frozenset(JSON_KEYS) - {"originalMaxAge", "expires"}

NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_DOMAIN_RE = re.compile(
    r"^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\Z",
    re.IGNORECASE,
)
_PATH_RE = re.compile(r"^[\u0020-\u003A\u003C-\u007E]*\Z")
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
_PRIORITY = {"low": "Low", "medium": "Medium", "high": "High"}
_FLAGS = frozenset({"httpOnly", "secure", "partitioned"})
# The types each attribute may hold (the stored document's, see document.py).
_TYPES: dict[str, tuple[type, ...]] = {
    "httpOnly": (bool,),
    "secure": (bool,),
    "partitioned": (bool,),
    "sameSite": (str, bool, type(None)),
}


class CookieError(ValueError):
    """A cookie attribute that cannot be written into a Set-Cookie header."""


def _expiry(now: int, max_age_ms: float) -> int:
    expires = now + math.floor(max_age_ms)  # a JavaScript Date drops fractional ms
    if not in_range(expires):
        raise CookieError(
            f"A max age of {max_age_ms / 1000:g} seconds gives an expiry no HTTP date can hold; "
            "keep it within a thousand years either way."
        )
    return expires


def _attribute(name: str, default: Any, doc: str) -> Any:
    """A property over ``Cookie.attrs[name]`` (express's attribute name).

    Assignments are checked at once: a value the Set-Cookie serializer or
    the stored document would reject must fail in the view that set it, not
    after the session was saved.
    """

    def get(self: Cookie) -> Any:
        return self.attrs.get(name, default)

    def set_(self: Cookie, value: Any) -> None:
        if name in _FLAGS and not isinstance(value, bool):
            raise CookieError(f"The cookie's {name} should be True or False, not {value!r}.")
        if not isinstance(value, _TYPES.get(name, (str, type(None)))):
            # The serializer skips falsy values, so 0 or b"" would pass it and
            # then be stored: a document the next request refuses.
            raise CookieError(f"The cookie's {name} cannot be {value!r}: it should be a string or None.")
        if name == "path" and isinstance(value, str) and "," in value:
            # Allowed in Set-Cookie, but a header folded by a proxy would split there.
            raise CookieError(f"The cookie's path cannot be {value!r}: it should have no comma.")
        try:
            Cookie({name: value}).header("n", "v")
        except CookieError as exc:
            raise CookieError(f"The cookie's {name} cannot be {value!r}: {exc}.") from None
        self.attrs[name] = value

    return property(get, set_, doc=doc)


class Cookie:
    """A session cookie. Attributes absent from ``attrs`` are left unset."""

    __slots__ = ("_expires_ms", "_original_max_age_ms", "attrs")

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        *,
        expires_ms: int | None = None,
        original_max_age_ms: int | float | None = None,
    ) -> None:
        self.attrs: dict[str, Any] = {"path": "/", "httpOnly": True}
        if attrs:
            self.attrs.update(attrs)
        self._expires_ms = expires_ms
        self._original_max_age_ms = original_max_age_ms

    # -- construction -----------------------------------------------------

    @classmethod
    def from_options(cls, options: dict[str, Any], now: int | None = None) -> Cookie:
        """Build a new session's cookie from express-style options.

        ``maxAge`` is in milliseconds and ``expires`` in epoch milliseconds;
        ``secure``/``sameSite`` must already be resolved (no ``"auto"``).
        """
        cookie = cls({k: v for k, v in options.items() if k in ATTRIBUTE_KEYS})
        if "maxAge" in options or "expires" in options:
            now = now_ms() if now is None else now
            for key, value in options.items():
                # express copies keys in order, so the later of the two wins.
                if key == "maxAge":
                    cookie._set_max_age_ms(value, now)
                elif key == "expires":
                    cookie._set_expires_ms(value, now)
        return cookie

    @classmethod
    def from_json(cls, data: dict[str, Any], expires_ms: int | None = None) -> Cookie:
        """Rebuild a cookie from the stored express JSON shape (already checked).

        ``expires_ms``: the expiry, when the caller has already parsed it.
        """
        cookie = cls.__new__(cls)
        attrs = {"path": "/", "httpOnly": True}
        for key, value in data.items():
            if key in ATTRIBUTE_KEYS:
                attrs[key] = value
        cookie.attrs = attrs
        if expires_ms is None:
            expires = data.get("expires")
            expires_ms = parse_iso(expires) if isinstance(expires, str) else None
        cookie._expires_ms = expires_ms
        original = data.get("originalMaxAge")
        cookie._original_max_age_ms = original
        return cookie

    def to_json(self) -> dict[str, Any]:
        attrs = self.attrs
        data: dict[str, Any] = {"originalMaxAge": self._original_max_age_ms}
        if "partitioned" in attrs:
            data["partitioned"] = attrs["partitioned"]
        if "priority" in attrs:
            data["priority"] = attrs["priority"]
        data["expires"] = None if self._expires_ms is None else format_iso(self._expires_ms)
        for key in ("secure", "httpOnly", "domain", "path", "sameSite"):
            if key in attrs:
                data[key] = attrs[key]
        return data

    def copy(self) -> Cookie:
        return Cookie(
            dict(self.attrs),
            expires_ms=self._expires_ms,
            original_max_age_ms=self._original_max_age_ms,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cookie):
            return NotImplemented
        return (self.attrs, self._expires_ms, self._original_max_age_ms) == (
            other.attrs,
            other._expires_ms,
            other._original_max_age_ms,
        )

    __hash__ = None  # type: ignore[assignment]

    # -- lifetime (milliseconds inside) -----------------------------------

    @property
    def expires_ms(self) -> int | None:
        return self._expires_ms

    @property
    def original_max_age_ms(self) -> int | float | None:
        return self._original_max_age_ms

    def _max_age_ms(self, now: int) -> int | None:
        return None if self._expires_ms is None else self._expires_ms - now

    def _set_expires_ms(self, value: int | None, now: int) -> None:
        self._expires_ms = value
        self._original_max_age_ms = self._max_age_ms(now)

    def _set_max_age_ms(self, value: float | None, now: int) -> None:
        self._set_expires_ms(None if value is None else _expiry(now, value), now)

    def reset_max_age(self, now: int | None = None) -> None:
        """express's ``touch()``: restart the lifetime from now."""
        original = self._original_max_age_ms
        if original is None:
            self._expires_ms = None
            return
        self._set_max_age_ms(original, now_ms() if now is None else now)

    @property
    def expires(self) -> datetime | None:
        return None if self._expires_ms is None else ms_to_datetime(self._expires_ms)

    @expires.setter
    def expires(self, value: datetime | None) -> None:
        if value is not None and not isinstance(value, datetime):
            # express's serializer: "option expires is invalid".
            raise TypeError("expires must be a timezone-aware datetime or None.")
        ms = None if value is None else datetime_to_ms(value)
        now = now_ms()
        # The stored originalMaxAge is expires - now: keep it a lifetime the
        # document may hold (a thousand years either way), or the session
        # would be saved and then refused when it is next read.
        if ms is not None and abs(ms - now) > MAX_AGE_SECONDS * 1000:
            raise CookieError(
                f"The cookie's expires cannot be {value!r}: keep it within a thousand years of now."
            )
        self._set_expires_ms(ms, now)

    @property
    def max_age(self) -> float | None:
        """Remaining lifetime in seconds (negative once past), or None."""
        remaining = self._max_age_ms(now_ms())
        return None if remaining is None else remaining / 1000

    @max_age.setter
    def max_age(self, value: float | timedelta | None) -> None:
        self._set_max_age_ms(None if value is None else seconds_to_ms(value), now_ms())

    @property
    def original_max_age(self) -> float | None:
        ms = self._original_max_age_ms
        return None if ms is None else ms / 1000

    # -- attributes -------------------------------------------------------

    path = _attribute("path", "/", "The cookie's Path.")
    domain = _attribute("domain", None, "The cookie's Domain, or None.")
    httponly = _attribute("httpOnly", True, "Whether the cookie is HttpOnly.")
    secure = _attribute("secure", False, "Whether the cookie is Secure.")
    samesite = _attribute("sameSite", None, "SameSite: None, 'Lax', 'Strict', 'None'.")
    priority = _attribute("priority", None, "Priority: None, 'Low', 'Medium', 'High'.")
    partitioned = _attribute("partitioned", False, "Whether the cookie is Partitioned.")

    def __repr__(self) -> str:
        return f"<Cookie {self.to_json()!r}>"

    # -- Set-Cookie -------------------------------------------------------

    def header(self, name: str, value: str) -> str:
        """The Set-Cookie header value, attribute for attribute as express."""
        attrs = self.attrs
        before, after = _attribute_parts(
            name,
            attrs.get("domain"),
            attrs.get("path"),
            attrs.get("httpOnly"),
            attrs.get("secure"),
            attrs.get("partitioned"),
            attrs.get("priority"),
            attrs.get("sameSite"),
        )
        expires = "" if self._expires_ms is None else "; Expires=" + http_date(self._expires_ms)
        return f"{name}={value}{before}{expires}{after}"

    def morsel(self, name: str, value: str) -> Morsel[str]:
        return SetCookieMorsel(self, name, value)


def check_attributes(attrs: dict[str, Any]) -> None:
    """Raise CookieError when the serializer would refuse these attributes."""
    _attribute_parts(
        "n",
        attrs.get("domain"),
        attrs.get("path", "/"),
        attrs.get("httpOnly"),
        attrs.get("secure"),
        attrs.get("partitioned"),
        attrs.get("priority"),
        attrs.get("sameSite"),
    )


# typed: 1 and True (or 0 and False) are equal keys to an untyped cache, so
# sameSite=1 would be served the header checked for sameSite=True.
@functools.lru_cache(maxsize=256, typed=True)
def _attribute_parts(
    name: str,
    domain: Any,
    path: Any,
    httponly: Any,
    secure: Any,
    partitioned: Any,
    priority: Any,
    samesite: Any,
) -> tuple[str, str]:
    """The attributes before and after ``Expires``, checked as express's serializer checks them.

    Sessions share a handful of attribute sets, so each is checked and
    written once.
    """
    if not NAME_RE.match(name):
        raise CookieError("argument name is invalid")
    before = []
    if domain:
        if not isinstance(domain, str) or not _DOMAIN_RE.match(domain):
            raise CookieError("option domain is invalid")
        before.append(f"; Domain={domain}")
    if path:
        if not isinstance(path, str) or not _PATH_RE.match(path):
            raise CookieError("option path is invalid")
        before.append(f"; Path={path}")
    after = []
    if httponly:
        after.append("; HttpOnly")
    if secure:
        after.append("; Secure")
    if partitioned:
        after.append("; Partitioned")
    if priority:
        canonical = _PRIORITY.get(priority.lower()) if isinstance(priority, str) else None
        if canonical is None:
            raise CookieError("option priority is invalid")
        after.append(f"; Priority={canonical}")
    if samesite:
        canonical = (
            "Strict"
            if samesite is True
            else _SAMESITE.get(samesite.lower())
            if isinstance(samesite, str)
            else None
        )
        if canonical is None:
            raise CookieError("option sameSite is invalid")
        after.append(f"; SameSite={canonical}")
    return "".join(before), "".join(after)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(ms: int) -> str:
    """``Date#toUTCString``: ``Wed, 02 Jan 2030 03:04:05 GMT``, seconds truncated."""
    d = ms_to_datetime(ms)
    return (
        f"{_DAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year:04d} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} GMT"
    )


class SetCookieMorsel(Morsel[str]):
    """A Morsel whose output is exactly express's Set-Cookie header.

    Django writes ``response.cookies`` out through ``Morsel.output()``; this
    subclass keeps express's attribute order and ``Expires`` format, and
    still exposes the usual Morsel keys for code that inspects them.
    """

    def __init__(self, cookie: Cookie, name: str, value: str) -> None:
        super().__init__()
        self._header = cookie.header(name, value)
        self.set(name, value, value)
        attrs = cookie.attrs
        self["path"] = attrs.get("path") or ""
        self["domain"] = attrs.get("domain") or ""
        self["httponly"] = bool(attrs.get("httpOnly"))
        self["secure"] = bool(attrs.get("secure"))
        samesite = attrs.get("sameSite")
        self["samesite"] = "Strict" if samesite is True else (samesite or "")
        if cookie.expires_ms is not None:
            self["expires"] = http_date(cookie.expires_ms)

    def OutputString(self, attrs: Any = None) -> str:  # noqa: N802 - stdlib name
        return self._header

    # Morsel's own pickling and copy() keep only key/value: carry the header
    # too, or a cached (pickled) response could not be written out again.
    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_morsel, (self._header, self.key, self.value, dict(self)))

    def copy(self) -> SetCookieMorsel:
        return _restore_morsel(self._header, self.key, self.value, dict(self))


def _restore_morsel(header: str, key: str, value: str, attrs: dict[str, Any]) -> SetCookieMorsel:
    morsel = SetCookieMorsel.__new__(SetCookieMorsel)
    Morsel.__init__(morsel)
    morsel._header = header
    morsel.set(key, value, value)
    dict.update(morsel, attrs)
    return morsel
