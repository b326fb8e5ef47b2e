"""The one place that reads the ``EXPSESSION`` setting.

Every value is read at access time so that ``override_settings`` works;
imported callables are cached and the cache is dropped on ``setting_changed``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .cookie import Cookie, CookieError, seconds_to_ms

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .signing import Secret

SETTING = "EXPSESSION"
DEFAULT_STORE = "django_expsession.stores.db.DatabaseStore"

DEFAULTS: dict[str, Any] = {
    "SECRET": None,
    "NAME": "connect.sid",
    "GENID": None,
    "RESAVE": True,
    "SAVE_UNINITIALIZED": True,
    "ROLLING": False,
    "UNSET": "keep",
    "PROXY": None,
    "COOKIE": {},
    "STORE": {"BACKEND": DEFAULT_STORE, "OPTIONS": {}},
    "CONCURRENCY": "merge",
    "ON_STORE_ERROR": "raise",
}

# Settings key -> express Cookie option.
COOKIE_KEYS = {
    "PATH": "path",
    "DOMAIN": "domain",
    "HTTPONLY": "httpOnly",
    "SECURE": "secure",
    "MAX_AGE": "maxAge",
    "SAMESITE": "sameSite",
    "PRIORITY": "priority",
    "PARTITIONED": "partitioned",
}
CHOICES = {
    "UNSET": ("keep", "destroy"),
    "CONCURRENCY": ("merge", "overwrite"),
    "ON_STORE_ERROR": ("raise", "anonymous"),
}


def _import(value: Any, what: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return import_string(value)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"EXPSESSION[{what!r}] names {value!r}, which cannot be imported: {exc}. "
            "Give a dotted path to an importable callable."
        ) from exc


def cookie_options(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a COOKIE mapping (settings keys, seconds) to express options.

    Only the keys the user gave are kept: express stores exactly those.
    """
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(
            f"EXPSESSION['COOKIE'] should be a dict, a callable or a dotted path, not {type(raw).__name__}."
        )
    options: dict[str, Any] = {}
    for key, value in raw.items():
        upper = str(key).upper()
        if upper not in COOKIE_KEYS:
            raise ImproperlyConfigured(
                f"EXPSESSION['COOKIE'] has an unknown key {key!r}; the keys are {', '.join(COOKIE_KEYS)}."
            )
        options[COOKIE_KEYS[upper]] = _cookie_value(upper, value)
    return options


def _cookie_value(key: str, value: Any) -> Any:
    def bad(expected: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"EXPSESSION['COOKIE'][{key!r}] should be {expected}, not {value!r}.")

    if key == "MAX_AGE":
        if value is None:
            return None
        try:
            return seconds_to_ms(value)
        except TypeError:
            raise bad("a number of seconds, a timedelta or None") from None
    if key in ("HTTPONLY", "PARTITIONED"):
        if not isinstance(value, bool):
            raise bad("True or False")
        return value
    if key == "SECURE":
        # Not "in (True, False, ...)": 1 == True, and a stored 1 is not a bool.
        if not (isinstance(value, bool) or value == "auto"):
            raise bad('True, False or "auto"')
        return value
    if key == "SAMESITE":
        if (
            value is None
            or isinstance(value, bool)
            or (isinstance(value, str) and value.lower() in ("lax", "strict", "none", "auto"))
        ):
            return "auto" if isinstance(value, str) and value.lower() == "auto" else value
        raise bad('None, "Lax", "Strict", "None" or "auto"')
    if key == "PRIORITY":
        if value is None or (isinstance(value, str) and value.lower() in ("low", "medium", "high")):
            return value
        raise bad('None, "Low", "Medium" or "High"')
    if key == "DOMAIN":
        if value is not None and not (isinstance(value, str) and _writable("domain", value)):
            raise bad("a domain name or None")
        return value
    if key == "PATH":
        if not isinstance(value, str) or not value.startswith("/") or not _writable("path", value):
            raise bad('a URL path starting with "/", without ";" or control characters')
        return value
    raise AssertionError(key)  # pragma: no cover


def _writable(attr: str, value: Any) -> bool:
    """Whether the Set-Cookie serializer accepts the value (else every response would fail)."""
    try:
        Cookie({attr: value}).header("n", "v")
    except CookieError:
        return False
    return True


class ExpSessionSettings:
    """Typed access to ``settings.EXPSESSION`` merged over the defaults."""

    def _raw(self) -> dict[str, Any]:
        user = getattr(settings, SETTING, None) or {}
        if not isinstance(user, Mapping):
            raise ImproperlyConfigured("The EXPSESSION setting should be a dict.")
        return {**DEFAULTS, **user}

    def __getitem__(self, key: str) -> Any:
        return self._raw()[key]

    @property
    def secrets(self) -> list[Secret]:
        secret = self["SECRET"]
        if secret is None:
            return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        if isinstance(secret, str | bytes):
            return [secret]
        return list(secret)

    @property
    def name(self) -> str:
        return str(self["NAME"])

    @property
    def resave(self) -> bool:
        return bool(self["RESAVE"])

    @property
    def save_uninitialized(self) -> bool:
        return bool(self["SAVE_UNINITIALIZED"])

    @property
    def rolling(self) -> bool:
        return bool(self["ROLLING"])

    @property
    def unset(self) -> str:
        return str(self["UNSET"])

    @property
    def proxy(self) -> bool | None:
        value = self["PROXY"]
        return value if isinstance(value, bool) else None

    @property
    def on_store_error(self) -> str:
        return str(self["ON_STORE_ERROR"])

    @property
    def concurrency(self) -> str:
        return str(self["CONCURRENCY"])

    @property
    def genid(self) -> Callable[[HttpRequest], str] | None:
        func: Callable[[HttpRequest], str] | None = _cached_import("GENID", self["GENID"])
        return func

    def cookie_options(self, request: HttpRequest) -> dict[str, Any]:
        """The express cookie options for this request (dynamic COOKIE allowed)."""
        raw = self["COOKIE"]
        if raw is None:
            return {}
        if isinstance(raw, Mapping):
            return _static_cookie_options(_freeze(raw))
        func = _cached_import("COOKIE", raw)
        result = func(request)
        try:
            return cookie_options(result)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"The COOKIE callable {raw!r} returned bad options: {exc}") from exc

    def validate(self) -> None:
        """Raise ImproperlyConfigured for the first invalid value."""
        from .checks import setting_errors  # the checks own the rules

        errors = setting_errors()
        if errors:
            raise ImproperlyConfigured(f"{errors[0].msg} {errors[0].hint or ''}".strip())


def _freeze(raw: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((str(k), v) for k, v in raw.items())


@functools.lru_cache(maxsize=32)
def _static_cookie_options(frozen: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return cookie_options(dict(frozen))


_import_cache: dict[tuple[str, int], Any] = {}


def _cached_import(what: str, value: Any) -> Any:
    if value is None:
        return None
    key = (what, id(value))
    try:
        return _import_cache[key][1]
    except KeyError:
        func = _import(value, what)
        if not callable(func):
            raise ImproperlyConfigured(
                f"EXPSESSION[{what!r}] should be callable; {value!r} is not."
            ) from None
        # Keep the setting value alive so its id() cannot be reused.
        _import_cache[key] = (value, func)
        return func


def clear_caches() -> None:
    _import_cache.clear()
    _static_cookie_options.cache_clear()


conf = ExpSessionSettings()

__all__ = ["DEFAULTS", "CookieError", "clear_caches", "conf", "cookie_options"]
