"""The ``EXPSESSION`` setting as an immutable, validated snapshot.

:func:`current` parses and checks the setting once and hands out the same
frozen :class:`Settings` until the ``setting_changed`` receiver (see
``apps.py``) calls :func:`reset`. The request path only reads attributes
of the snapshot. What is wrong with the setting is kept as
:class:`Problem` values: :func:`current` raises the first error as
``ImproperlyConfigured`` and the system checks report all of them.
"""

from __future__ import annotations

import math
import secrets as _secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .clock import MAX_AGE_SECONDS, seconds_to_ms
from .cookie import NAME_RE, Cookie, CookieError

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .signing import Secret

SETTING = "EXPSESSION"
DEFAULT_STORE = "django_expsession.stores.db.DatabaseStore"
DOCS = "See the Settings page of django-expsession's documentation."

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
    "ABSOLUTE_TIMEOUT": None,
    "RENEW_AFTER": None,
    "RENEW_GRACE": 30,
    "TRACK_IP": False,
    "LOGOUT_EVERYWHERE_ON_PASSWORD_CHANGE": False,
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
BOOLEANS = ("RESAVE", "SAVE_UNINITIALIZED", "ROLLING", "TRACK_IP", "LOGOUT_EVERYWHERE_ON_PASSWORD_CHANGE")
DURATIONS = ("ABSOLUTE_TIMEOUT", "RENEW_AFTER", "RENEW_GRACE")


def default_genid(request: HttpRequest) -> str:
    """24 random bytes, base64url: 32 characters, like uid-safe."""
    return _secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the setting: a system check message's parts."""

    id: str  # "E003" or "W001"
    msg: str
    hint: str = DOCS

    @property
    def is_error(self) -> bool:
        return self.id.startswith("E")


@dataclass(frozen=True, slots=True)
class Settings:
    """The parsed ``EXPSESSION`` setting. Durations are seconds (floats)."""

    secrets: tuple[Secret, ...]
    keys: tuple[bytes, ...]  # the secrets as HMAC keys; keys[0] signs
    secret_from_django: bool  # SECRET unset: the secrets are SECRET_KEY and its fallbacks
    name: str
    genid: Callable[[HttpRequest], Any]
    custom_genid: bool
    resave: bool
    save_uninitialized: bool
    rolling: bool
    unset: Literal["keep", "destroy"]
    proxy: bool | None
    cookie: Mapping[str, Any] | None  # static express options, or None when dynamic
    cookie_factory: Callable[[HttpRequest], Any] | None
    path: str  # the static cookie path ("/" when COOKIE is dynamic: see cookie_options)
    store: Mapping[str, Any]
    concurrency: Literal["merge", "overwrite"]
    on_store_error: Literal["raise", "anonymous"]
    absolute_timeout: float | None = None
    renew_after: float | None = None
    renew_grace: float = 30.0
    track_ip: bool = False
    logout_everywhere_on_password_change: bool = False
    given: frozenset[str] = field(default=frozenset())  # the keys the user set

    @property
    def merge(self) -> bool:
        return self.concurrency == "merge"

    @property
    def prefixed(self) -> bool:
        """A ``__Host-`` or ``__Secure-`` cookie name (it must be Secure)."""
        return self.name.startswith(("__Host-", "__Secure-"))

    def cookie_options(self, request: HttpRequest) -> Mapping[str, Any]:
        """The express cookie options for this request (a dynamic COOKIE is called)."""
        if self.cookie is not None:
            return self.cookie
        assert self.cookie_factory is not None
        result = self.cookie_factory(request)
        try:
            return cookie_options(result)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(
                f"The EXPSESSION['COOKIE'] callable {self.cookie_factory!r} returned bad options: {exc}"
            ) from exc


# -- cookie options -----------------------------------------------------------


def cookie_options(raw: Any) -> dict[str, Any]:
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
        except (TypeError, ValueError):
            raise bad(
                f"None, a timedelta or a number of seconds between -{MAX_AGE_SECONDS} and "
                f"{MAX_AGE_SECONDS} (a thousand years)"
            ) from None
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
        if (
            not isinstance(value, str)
            or not value.startswith("/")
            or "," in value
            or not _writable("path", value)
        ):
            raise bad('a URL path starting with "/", of printable ASCII without ";" or ","')
        return value
    raise AssertionError(key)  # pragma: no cover


def _writable(attr: str, value: Any) -> bool:
    """Whether the Set-Cookie serializer accepts the value (else every response would fail)."""
    try:
        Cookie({attr: value}).header("n", "v")
    except CookieError:
        return False
    return True


def prefix_problem(name: str, options: Mapping[str, Any]) -> str | None:
    """What a ``__Host-``/``__Secure-`` cookie name needs that ``options`` lack."""
    secure = options.get("secure") in (True, "auto")
    if name.startswith("__Host-"):
        if not secure or options.get("path", "/") != "/" or options.get("domain"):
            return "a __Host- cookie needs SECURE True (or 'auto' behind TLS), PATH '/' and no DOMAIN"
    elif name.startswith("__Secure-") and not secure:
        return "a __Secure- cookie needs SECURE True (or 'auto' behind TLS)"
    return None


# -- building the snapshot ------------------------------------------------------


def _import(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"EXPSESSION[{what!r}] names {value!r}, which cannot be imported: {exc}. "
                "Give a dotted path to an importable callable."
            ) from exc
    if not callable(value):
        raise ImproperlyConfigured(f"EXPSESSION[{what!r}] should be callable; {value!r} is not.")
    return value


def _secrets_of(secret: Any, found: list[Problem]) -> tuple[Secret, ...]:
    hint = "Give a non-empty string, or a non-empty list of them (the first signs, all verify)."
    if secret is None:
        try:
            key = django_settings.SECRET_KEY
        except ImproperlyConfigured:  # Django refuses to hand out an empty SECRET_KEY
            key = None
        if not key:
            found.append(Problem("E002", "EXPSESSION['SECRET'] is unset and SECRET_KEY is empty.", hint))
            return ()
        fallbacks = getattr(django_settings, "SECRET_KEY_FALLBACKS", None) or []
        return (key, *(item for item in fallbacks if item))
    items = [secret] if isinstance(secret, str | bytes) else secret
    if not isinstance(items, list | tuple) or not items:
        found.append(
            Problem("E002", "EXPSESSION['SECRET'] should be a string or a non-empty list of strings.", hint)
        )
        return ()
    if not all(isinstance(item, str | bytes) and item for item in items):
        found.append(Problem("E002", "Every EXPSESSION['SECRET'] item should be a non-empty string.", hint))
        return ()
    return tuple(items)


def _duration(key: str, value: Any, found: list[Problem]) -> float | None:
    """A duration setting in seconds: RENEW_GRACE may be 0, the others None or more than 0."""
    optional = key != "RENEW_GRACE"
    if value is None and optional:
        return None
    if (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value > 0 if optional else value >= 0)
        and value <= MAX_AGE_SECONDS
    ):
        return float(value)
    expected = "None or a number of seconds more than 0" if optional else "a number of seconds, 0 or more,"
    found.append(
        Problem(
            "E015", f"EXPSESSION[{key!r}] should be {expected} and at most {MAX_AGE_SECONDS}, not {value!r}."
        )
    )
    return None


def build(user: Any) -> tuple[Settings | None, tuple[Problem, ...]]:
    """Parse and check one value of the setting: (snapshot or None, problems)."""
    if user is None:
        user = {}
    if not isinstance(user, Mapping):
        return None, (Problem("E001", "The EXPSESSION setting should be a dict.", DOCS),)
    found: list[Problem] = []
    unknown = sorted(str(key) for key in user if key not in DEFAULTS)
    if unknown:
        found.append(
            Problem(
                "E012",
                f"EXPSESSION has unknown keys: {', '.join(unknown)}.",
                f"The keys are {', '.join(DEFAULTS)}.",
            )
        )
    value = {**DEFAULTS, **user}
    secrets = _secrets_of(value["SECRET"], found)
    name = value["NAME"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        found.append(
            Problem(
                "E003",
                f"EXPSESSION['NAME'] should be a cookie name token, not {name!r}.",
                "Use letters, digits and !#$%&'*+-.^_`|~, e.g. 'connect.sid'.",
            )
        )
    genid: Callable[[HttpRequest], Any] = default_genid
    if value["GENID"] is not None:
        try:
            genid = _import(value["GENID"], "GENID")
        except ImproperlyConfigured as exc:
            found.append(
                Problem("E004", str(exc), "EXPSESSION['GENID'] takes a callable or its dotted path.")
            )
    for key in BOOLEANS:
        if not isinstance(value[key], bool):
            found.append(Problem("E005", f"EXPSESSION[{key!r}] should be True or False, not {value[key]!r}."))
    for key, id in (("UNSET", "E006"), ("CONCURRENCY", "E010"), ("ON_STORE_ERROR", "E011")):
        if value[key] not in CHOICES[key]:
            choices = " or ".join(repr(c) for c in CHOICES[key])
            found.append(Problem(id, f"EXPSESSION[{key!r}] should be {choices}, not {value[key]!r}."))
    proxy = value["PROXY"]
    if proxy is not None and not isinstance(proxy, bool):  # 1 == True
        found.append(
            Problem(
                "E007",
                f"EXPSESSION['PROXY'] should be None, True or False, not {proxy!r}.",
                "None uses request.is_secure() (SECURE_PROXY_SSL_HEADER); True trusts "
                "X-Forwarded-Proto; False trusts only a direct TLS connection.",
            )
        )
    static, factory, path = _cookie(value["COOKIE"], found)
    if static is not None and isinstance(name, str):
        reason = prefix_problem(name, static)
        if reason is not None:
            found.append(
                Problem(
                    "E016",
                    f"EXPSESSION['NAME'] is {name!r}, but {reason}.",
                    "Browsers drop such a cookie silently; fix COOKIE or choose a name without the prefix.",
                )
            )
    store = value["STORE"]
    if not isinstance(store, Mapping):
        found.append(
            Problem(
                "E009",
                "EXPSESSION['STORE'] should be a dict with a 'BACKEND', e.g. "
                '{"BACKEND": "django_expsession.stores.db.DatabaseStore"}.',
                "Check EXPSESSION['STORE'] against the Stores page of the documentation.",
            )
        )
        store = DEFAULTS["STORE"]
    durations = {key: _duration(key, value[key], found) for key in DURATIONS}
    if any(p.is_error for p in found):
        return None, tuple(found)
    for key, id in (("RESAVE", "W001"), ("SAVE_UNINITIALIZED", "W002")):
        if key not in user:
            found.append(
                Problem(
                    id,
                    f"EXPSESSION[{key!r}] is not set; it defaults to True as in express-session.",
                    f"Set EXPSESSION[{key!r}] explicitly (False is the usual choice).",
                )
            )
    snapshot = Settings(
        secrets=secrets,
        keys=tuple(item if isinstance(item, bytes) else item.encode("utf-8") for item in secrets),
        secret_from_django=value["SECRET"] is None,
        name=name,
        genid=genid,
        custom_genid=value["GENID"] is not None,
        resave=value["RESAVE"],
        save_uninitialized=value["SAVE_UNINITIALIZED"],
        rolling=value["ROLLING"],
        unset=value["UNSET"],
        proxy=proxy,
        cookie=static,
        cookie_factory=factory,
        path=path,
        store=MappingProxyType(dict(store)),
        concurrency=value["CONCURRENCY"],
        on_store_error=value["ON_STORE_ERROR"],
        absolute_timeout=durations["ABSOLUTE_TIMEOUT"],
        renew_after=durations["RENEW_AFTER"],
        renew_grace=durations["RENEW_GRACE"] if durations["RENEW_GRACE"] is not None else 30.0,
        track_ip=value["TRACK_IP"],
        logout_everywhere_on_password_change=value["LOGOUT_EVERYWHERE_ON_PASSWORD_CHANGE"],
        given=frozenset(str(key) for key in user),
    )
    return snapshot, tuple(found)


def _cookie(
    raw: Any, found: list[Problem]
) -> tuple[Mapping[str, Any] | None, Callable[[HttpRequest], Any] | None, str]:
    """(static options, factory, static path) from the COOKIE value."""
    if raw is None:
        raw = {}
    if callable(raw) or isinstance(raw, str):
        try:
            return None, _import(raw, "COOKIE"), "/"
        except ImproperlyConfigured as exc:
            found.append(
                Problem("E008", str(exc), "EXPSESSION['COOKIE'] takes a dict, a callable or its dotted path.")
            )
            return None, None, "/"
    try:
        options = cookie_options(raw)
    except ImproperlyConfigured as exc:
        found.append(Problem("E008", str(exc)))
        return None, None, "/"
    return MappingProxyType(options), None, options.get("path") or "/"


# -- the current snapshot ----------------------------------------------------------

_lock = threading.Lock()
_snapshot: Settings | None = None
_problems: tuple[Problem, ...] | None = None


def _load() -> tuple[Settings | None, tuple[Problem, ...]]:
    global _snapshot, _problems
    with _lock:
        if _problems is None:
            _snapshot, _problems = build(getattr(django_settings, SETTING, None))
        return _snapshot, _problems


def current() -> Settings:
    """The snapshot of the current setting; ImproperlyConfigured when it is invalid."""
    snapshot = _snapshot
    if snapshot is not None:
        return snapshot
    snapshot, found = _load()
    if snapshot is None:
        first = next(p for p in found if p.is_error)
        raise ImproperlyConfigured(f"{first.msg} {first.hint}".strip())
    return snapshot


def store_setting() -> Any:
    """``EXPSESSION["STORE"]`` (or the default), whether or not the rest of the setting is valid."""
    snapshot = _snapshot
    if snapshot is not None:
        return snapshot.store
    user = getattr(django_settings, SETTING, None) or {}
    return user.get("STORE", DEFAULTS["STORE"]) if isinstance(user, Mapping) else DEFAULTS["STORE"]


def problems() -> tuple[Problem, ...]:
    """Everything wrong with the current setting (errors and warnings); never raises."""
    return _load()[1]


def reset() -> None:
    """Forget the snapshot (the setting, or one it depends on, changed)."""
    global _snapshot, _problems
    with _lock:
        _snapshot, _problems = None, None
