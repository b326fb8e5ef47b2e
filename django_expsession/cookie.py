"""The session's cookie: attributes, lifetime, stored JSON and Set-Cookie.

Internally times are integer milliseconds since the epoch, as in express,
so that the stored document and the ``Expires`` header match it exactly.
The Python API speaks seconds (Django's unit).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.cookies import Morsel
from typing import Any

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

NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DOMAIN_RE = re.compile(
    r"^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
    re.IGNORECASE,
)
_PATH_RE = re.compile(r"^[\u0020-\u003A\u003C-\u007E]*$")
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
_PRIORITY = {"low": "Low", "medium": "Medium", "high": "High"}


class CookieError(ValueError):
    """A cookie attribute that cannot be written into a Set-Cookie header."""


def now_ms() -> int:
    # Integer arithmetic on datetime: int(time.time() * 1000) is off by one
    # millisecond for some instants (float rounding), which a frozen clock
    # in tests exposes and express never shows.
    return datetime_to_ms(datetime.now(UTC))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def ms_to_datetime(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def datetime_to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("Cookie expiry datetimes must be timezone-aware.")
    return (value - _EPOCH) // _MS


def format_iso(ms: int) -> str:
    """``Date#toISOString``: always milliseconds and a ``Z``."""
    d = ms_to_datetime(ms)
    return (
        f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{ms % 1000:03d}Z"
    )


def parse_iso(value: str) -> int:
    return datetime_to_ms(datetime.fromisoformat(value.replace("Z", "+00:00")))


def seconds_to_ms(value: float | timedelta) -> int:
    if isinstance(value, timedelta):
        return value // timedelta(milliseconds=1)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError("max_age must be a number of seconds, a timedelta or None.")
    # JavaScript's Date truncates fractional milliseconds (the sum now + ms
    # is positive, so that is a floor). Rounding first undoes float noise:
    # 1.001 * 1000 is 1000.9999999999999, which must still be 1001 ms.
    return math.floor(round(value * 1000, 6))


_FLAGS = frozenset({"httpOnly", "secure", "partitioned"})


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
        try:
            Cookie({name: value}).header("n", "v")
        except CookieError as exc:
            raise CookieError(f"The cookie's {name} cannot be {value!r}: {exc}.") from None
        self.attrs[name] = value

    return property(get, set_, doc=doc)


class Cookie:
    """A session cookie. Attributes absent from ``attrs`` are left unset."""

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        *,
        expires_ms: int | None = None,
        original_max_age_ms: int | None = None,
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
        now = now_ms() if now is None else now
        cookie = cls({k: v for k, v in options.items() if k in ATTRIBUTE_KEYS})
        for key, value in options.items():
            # express copies keys in order, so the later of the two wins.
            if key == "maxAge":
                cookie._set_max_age_ms(value, now)
            elif key == "expires":
                cookie._set_expires_ms(value, now)
        if cookie._original_max_age_ms is None:
            cookie._original_max_age_ms = cookie._max_age_ms(now)
        return cookie

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cookie:
        """Rebuild a cookie from the stored express JSON shape."""
        expires = data.get("expires")
        original = data.get("originalMaxAge")
        return cls(
            {k: v for k, v in data.items() if k in ATTRIBUTE_KEYS},
            expires_ms=parse_iso(expires) if isinstance(expires, str) else None,
            original_max_age_ms=int(original) if original is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key in JSON_KEYS:
            if key == "originalMaxAge":
                data[key] = self._original_max_age_ms
            elif key == "expires":
                data[key] = None if self._expires_ms is None else format_iso(self._expires_ms)
            elif key in self.attrs:
                data[key] = self.attrs[key]
        return data

    def copy(self) -> Cookie:
        return Cookie(
            dict(self.attrs),
            expires_ms=self._expires_ms,
            original_max_age_ms=self._original_max_age_ms,
        )

    # -- lifetime (milliseconds inside) -----------------------------------

    @property
    def expires_ms(self) -> int | None:
        return self._expires_ms

    @property
    def original_max_age_ms(self) -> int | None:
        return self._original_max_age_ms

    def _max_age_ms(self, now: int) -> int | None:
        return None if self._expires_ms is None else self._expires_ms - now

    def _set_expires_ms(self, value: int | None, now: int) -> None:
        self._expires_ms = value
        self._original_max_age_ms = self._max_age_ms(now)

    def _set_max_age_ms(self, value: float | None, now: int) -> None:
        # A JavaScript Date drops fractional milliseconds.
        self._set_expires_ms(None if value is None else now + math.floor(value), now)

    def reset_max_age(self) -> None:
        """express's ``touch()``: restart the lifetime from now."""
        self._set_max_age_ms(self._original_max_age_ms, now_ms())

    @property
    def expires(self) -> datetime | None:
        return None if self._expires_ms is None else ms_to_datetime(self._expires_ms)

    @expires.setter
    def expires(self, value: datetime | None) -> None:
        if value is not None and not isinstance(value, datetime):
            # express's serializer: "option expires is invalid".
            raise TypeError("expires must be a timezone-aware datetime or None.")
        self._set_expires_ms(None if value is None else datetime_to_ms(value), now_ms())

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
        if not NAME_RE.match(name):
            raise CookieError("argument name is invalid")
        parts = [f"{name}={value}"]
        domain = self.attrs.get("domain")
        if domain:
            if not isinstance(domain, str) or not _DOMAIN_RE.match(domain):
                raise CookieError("option domain is invalid")
            parts.append(f"Domain={domain}")
        path = self.attrs.get("path")
        if path:
            if not isinstance(path, str) or not _PATH_RE.match(path):
                raise CookieError("option path is invalid")
            parts.append(f"Path={path}")
        if self._expires_ms is not None:
            when = ms_to_datetime(self._expires_ms)
            parts.append("Expires=" + format_datetime(when.replace(microsecond=0), usegmt=True))
        if self.attrs.get("httpOnly"):
            parts.append("HttpOnly")
        if self.attrs.get("secure"):
            parts.append("Secure")
        if self.attrs.get("partitioned"):
            parts.append("Partitioned")
        priority = self.attrs.get("priority")
        if priority:
            canonical = _PRIORITY.get(priority.lower()) if isinstance(priority, str) else None
            if canonical is None:
                raise CookieError("option priority is invalid")
            parts.append(f"Priority={canonical}")
        samesite = self.attrs.get("sameSite")
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
            parts.append(f"SameSite={canonical}")
        return "; ".join(parts)

    def morsel(self, name: str, value: str) -> Morsel[str]:
        return SetCookieMorsel(self, name, value)


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
        self["path"] = cookie.attrs.get("path") or ""
        self["domain"] = cookie.attrs.get("domain") or ""
        self["httponly"] = bool(cookie.attrs.get("httpOnly"))
        self["secure"] = bool(cookie.attrs.get("secure"))
        samesite = cookie.attrs.get("sameSite")
        self["samesite"] = "Strict" if samesite is True else (samesite or "")
        if cookie.expires_ms is not None:
            when = ms_to_datetime(cookie.expires_ms).replace(microsecond=0)
            self["expires"] = format_datetime(when, usegmt=True)

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
