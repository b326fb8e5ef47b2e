"""System checks: ``expsession.E0xx`` errors and ``expsession.W0xx`` warnings.

Ids are never reused. The middleware also runs :func:`setting_errors` at
startup, so a bad setting fails before the first request even when checks
are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import CHOICES, DEFAULTS, cookie_options
from .cookie import NAME_RE

DOCS = "See the Configuration section of django-expsession's README."


def _error(msg: str, hint: str, id: int) -> checks.Error:
    return checks.Error(msg, hint=hint, id=f"expsession.E{id:03d}")


def _settings() -> Mapping[str, Any] | None:
    return getattr(settings, "EXPSESSION", None) or {}


def setting_errors() -> list[checks.CheckMessage]:
    user = _settings()
    if not isinstance(user, Mapping):
        return [_error("The EXPSESSION setting should be a dict.", DOCS, 1)]
    errors: list[checks.CheckMessage] = []
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        errors.append(
            _error(
                f"EXPSESSION has unknown keys: {', '.join(map(str, unknown))}.",
                f"The keys are {', '.join(DEFAULTS)}.",
                12,
            )
        )
    value = {**DEFAULTS, **user}
    errors += _secret_errors(value["SECRET"])
    if not isinstance(value["NAME"], str) or not NAME_RE.match(value["NAME"]):
        errors.append(
            _error(
                f"EXPSESSION['NAME'] should be a cookie name token, not {value['NAME']!r}.",
                "Use letters, digits and !#$%&'*+-.^_`|~, e.g. 'connect.sid'.",
                3,
            )
        )
    errors += _import_errors("GENID", value["GENID"], 4)
    for key in ("RESAVE", "SAVE_UNINITIALIZED", "ROLLING"):
        if not isinstance(value[key], bool):
            errors.append(
                _error(f"EXPSESSION[{key!r}] should be True or False, not {value[key]!r}.", DOCS, 5)
            )
    for key, id in (("UNSET", 6), ("CONCURRENCY", 10), ("ON_STORE_ERROR", 11)):
        if value[key] not in CHOICES[key]:
            choices = " or ".join(repr(c) for c in CHOICES[key])
            errors.append(_error(f"EXPSESSION[{key!r}] should be {choices}, not {value[key]!r}.", DOCS, id))
    if value["PROXY"] is not None and not isinstance(value["PROXY"], bool):  # 1 == True
        errors.append(
            _error(
                f"EXPSESSION['PROXY'] should be None, True or False, not {value['PROXY']!r}.",
                "None uses request.is_secure() (SECURE_PROXY_SSL_HEADER); True trusts "
                "X-Forwarded-Proto; False trusts only a direct TLS connection.",
                7,
            )
        )
    errors += _cookie_errors(value["COOKIE"])
    errors += _store_errors(value["STORE"])
    return errors


def _secret_errors(secret: Any) -> list[checks.CheckMessage]:
    hint = "Give a non-empty string, or a non-empty list of them (the first signs, all verify)."
    if secret is None:
        try:
            key = settings.SECRET_KEY
        except ImproperlyConfigured:  # Django refuses to hand out an empty SECRET_KEY
            key = None
        if not key:
            return [_error("EXPSESSION['SECRET'] is unset and SECRET_KEY is empty.", hint, 2)]
        return []
    items = [secret] if isinstance(secret, str | bytes) else secret
    if not isinstance(items, list | tuple) or not items:
        return [_error("EXPSESSION['SECRET'] should be a string or a non-empty list of strings.", hint, 2)]
    if not all(isinstance(item, str | bytes) and item for item in items):
        return [_error("Every EXPSESSION['SECRET'] item should be a non-empty string.", hint, 2)]
    return []


def _import_errors(key: str, value: Any, id: int) -> list[checks.CheckMessage]:
    from .conf import _cached_import

    if value is None:
        return []
    try:
        _cached_import(key, value)
    except ImproperlyConfigured as exc:
        return [_error(str(exc), f"EXPSESSION[{key!r}] takes a callable or its dotted path.", id)]
    return []


def _cookie_errors(value: Any) -> list[checks.CheckMessage]:
    if value is None or callable(value) or isinstance(value, str):
        return _import_errors("COOKIE", value, 8)
    try:
        cookie_options(value)
    except ImproperlyConfigured as exc:
        return [_error(str(exc), DOCS, 8)]
    return []


def _store_errors(value: Any) -> list[checks.CheckMessage]:
    from .stores import build_store

    try:
        build_store(value)
    except ImproperlyConfigured as exc:
        return [_error(str(exc), "Check EXPSESSION['STORE'] against the Stores section of the README.", 9)]
    return []


@checks.register("expsession")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors = setting_errors()
    user = _settings()
    if isinstance(user, Mapping):
        for key, id in (("RESAVE", 1), ("SAVE_UNINITIALIZED", 2)):
            if key not in user:
                errors.append(
                    checks.Warning(
                        f"EXPSESSION[{key!r}] is not set; it defaults to True as in express-session.",
                        hint=f"Set EXPSESSION[{key!r}] explicitly (False is the usual choice).",
                        id=f"expsession.W{id:03d}",
                    )
                )
    return errors


@checks.register("expsession", deploy=True)
def check_deployment(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    user = _settings()
    if not isinstance(user, Mapping):
        return []
    warnings: list[checks.CheckMessage] = []
    store = user.get("STORE") or DEFAULTS["STORE"]
    backend = store.get("BACKEND") if isinstance(store, Mapping) else None  # else E009 says why
    if isinstance(backend, str) and backend.endswith("MemoryStore") and not settings.DEBUG:
        warnings.append(
            checks.Warning(
                "The session store is a MemoryStore while DEBUG is off.",
                hint="MemoryStore keeps sessions in one process and loses them on restart; "
                "use DatabaseStore, CacheStore or RedisStore in production.",
                id="expsession.W003",
            )
        )
    cookie = user.get("COOKIE") or {}  # None means the defaults: not Secure
    if isinstance(cookie, Mapping):
        upper = {str(k).upper(): v for k, v in cookie.items()}
        if upper.get("SECURE") not in (True, "auto"):
            warnings.append(
                checks.Warning(
                    "The session cookie is not Secure.",
                    hint="Set EXPSESSION['COOKIE']['SECURE'] to True (or 'auto') so the "
                    "session id is only sent over HTTPS.",
                    id="expsession.W004",
                )
            )
        if upper.get("HTTPONLY") is False:
            warnings.append(
                checks.Warning(
                    "The session cookie is not HttpOnly.",
                    hint="Leave EXPSESSION['COOKIE']['HTTPONLY'] at True so that scripts "
                    "cannot read the session id.",
                    id="expsession.W005",
                )
            )
    return warnings


# -- replacing django.contrib.sessions --------------------------------------

ENGINE = "django_expsession.engine"


def _middleware_classes() -> list[type]:
    from django.utils.module_loading import import_string

    classes = []
    for path in getattr(settings, "MIDDLEWARE", None) or []:
        try:
            cls = import_string(path)
        except ImportError:
            continue  # Django's own checks report unimportable middleware
        if isinstance(cls, type):
            classes.append(cls)
    return classes


def _engine_is_ours(path: str) -> bool:
    from importlib import import_module

    if path == ENGINE:
        return True
    from .engine import SessionStore

    try:
        store = getattr(import_module(path), "SessionStore", None)
    except ImportError:
        return False
    return isinstance(store, type) and issubclass(store, SessionStore)


@checks.register("expsession")
def check_django_sessions(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Settings left over from django.contrib.sessions that would fight this app."""
    from django.apps import apps
    from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware

    from .middleware import SessionMiddleware

    messages: list[checks.CheckMessage] = []
    classes = _middleware_classes()
    if any(issubclass(c, SessionMiddleware) for c in classes) and any(
        issubclass(c, DjangoSessionMiddleware) and not issubclass(c, SessionMiddleware) for c in classes
    ):
        messages.append(
            _error(
                "MIDDLEWARE has Django's SessionMiddleware as well as "
                "django_expsession.middleware.SessionMiddleware.",
                "Remove 'django.contrib.sessions.middleware.SessionMiddleware' from MIDDLEWARE: "
                "two session middlewares would each replace request.session.",
                13,
            )
        )
    engine = str(getattr(settings, "SESSION_ENGINE", ""))
    if not _engine_is_ours(engine):
        messages.append(
            checks.Warning(
                f"SESSION_ENGINE should be {ENGINE!r}, not {engine!r}.",
                hint=f"Set SESSION_ENGINE = {ENGINE!r} so that Django's test Client (login(), "
                "client.session), clearsessions and Channels use this app's store and signed cookie.",
                id="expsession.W006",
            )
        )
    name = getattr(settings, "SESSION_COOKIE_NAME", None)
    user = _settings()
    expected = user.get("NAME", DEFAULTS["NAME"]) if isinstance(user, Mapping) else DEFAULTS["NAME"]
    if name != expected:
        messages.append(
            checks.Warning(
                f"SESSION_COOKIE_NAME should equal EXPSESSION['NAME'] ({expected!r}), not {name!r}.",
                hint=f"Set SESSION_COOKIE_NAME = {expected!r}: the test Client and Channels put the "
                "session in the cookie of that name, and the middleware reads EXPSESSION['NAME'].",
                id="expsession.W007",
            )
        )
    if apps.is_installed("django.contrib.sessions"):
        messages.append(
            checks.Warning(
                "'django.contrib.sessions' is in INSTALLED_APPS beside django_expsession.",
                hint="Remove 'django.contrib.sessions' from INSTALLED_APPS: this app replaces it and "
                "its django_session table is no longer used (to drop the table, run "
                "'manage.py migrate sessions zero' before removing the app).",
                id="expsession.W008",
            )
        )
    return messages


@checks.register("expsession")
def check_time_zone_support(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The database store keeps aware UTC expiries, which need USE_TZ."""
    if getattr(settings, "USE_TZ", True):
        return []
    user = _settings()
    store = user.get("STORE") if isinstance(user, Mapping) else None
    backend = (store if isinstance(store, Mapping) else DEFAULTS["STORE"]).get("BACKEND", "")
    try:
        from django.utils.module_loading import import_string

        from .stores.db import DatabaseStore

        uses_database = issubclass(import_string(backend), DatabaseStore)
    except (ImportError, TypeError):
        return []  # a bad BACKEND is reported by expsession.E009
    if not uses_database:
        return []
    return [
        _error(
            "USE_TZ should be True when the session store is a DatabaseStore.",
            "The store writes timezone-aware expiry times; set USE_TZ = True (Django's default), "
            "or use another store.",
            14,
        )
    ]
