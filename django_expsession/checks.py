"""System checks: ``expsession.E0xx`` errors and ``expsession.W0xx`` warnings.

Ids are never reused. What is wrong with ``EXPSESSION`` itself comes from
the settings snapshot (``conf.problems()``); the checks here add what needs
the rest of the project (the store, MIDDLEWARE, other settings). A check
never raises: one that cannot decide reports an error with a hint.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import conf

ENGINE = "django_expsession.engine"
Messages = list[checks.CheckMessage]


def _safe(check: Callable[..., Messages]) -> Callable[..., Messages]:
    @functools.wraps(check)
    def run(app_configs: Any = None, **kwargs: Any) -> Messages:
        try:
            return check(app_configs, **kwargs)
        except Exception as exc:  # a check must report, never crash `manage.py check`
            return [
                checks.Error(
                    f"django-expsession could not run its check {check.__name__}: "
                    f"{type(exc).__name__}: {exc}",
                    hint="Check the EXPSESSION, STORE and MIDDLEWARE settings; if they look right, "
                    "please report this with the traceback of `manage.py check --traceback`.",
                    id="expsession.E099",
                )
            ]

    return run


def _message(problem: conf.Problem) -> checks.CheckMessage:
    kind = checks.Error if problem.is_error else checks.Warning
    return kind(problem.msg, hint=problem.hint, id=f"expsession.{problem.id}")


def setting_errors() -> Messages:
    """The errors in EXPSESSION, the store's included (what the middleware refuses to start with)."""
    messages = [_message(p) for p in conf.problems() if p.is_error]
    if not messages:
        messages += _store_errors()
    return messages


def _store_errors() -> Messages:
    from .stores import build_store

    try:
        build_store(conf.current().store).close()
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                str(exc),
                hint="Check EXPSESSION['STORE'] against the Stores page of the documentation.",
                id="expsession.E009",
            )
        ]
    return []


def _backend() -> type | None:
    """The configured store's class, or None when E009 reports why there is none."""
    from .stores import backend_class

    try:
        return backend_class(conf.current().store.get("BACKEND"))
    except ImproperlyConfigured:
        return None


@checks.register("expsession")
@_safe
def check_settings(app_configs: Any = None, **kwargs: Any) -> Messages:
    messages = setting_errors()
    messages += [_message(p) for p in conf.problems() if not p.is_error]
    return messages


@checks.register("expsession", checks.Tags.security, deploy=True)
@_safe
def check_deployment(app_configs: Any = None, **kwargs: Any) -> Messages:
    if any(p.is_error for p in conf.problems()):
        return []  # check_settings reports them
    snapshot = conf.current()
    warnings: Messages = []
    from .stores.memory import MemoryStore

    backend = _backend()
    if backend is not None and issubclass(backend, MemoryStore) and not settings.DEBUG:
        warnings.append(
            checks.Warning(
                "The session store is a MemoryStore while DEBUG is off.",
                hint="MemoryStore keeps sessions in one process and loses them on restart; "
                "use DatabaseStore, CacheStore or RedisStore in production.",
                id="expsession.W003",
            )
        )
    cookie = snapshot.cookie
    if cookie is not None:
        if cookie.get("secure") not in (True, "auto"):
            warnings.append(
                checks.Warning(
                    "The session cookie is not Secure.",
                    hint="Set EXPSESSION['COOKIE']['SECURE'] to 'auto' (or True) so that the "
                    "session id is only sent over HTTPS.",
                    id="expsession.W004",
                )
            )
        if cookie.get("httpOnly") is False:
            warnings.append(
                checks.Warning(
                    "The session cookie is not HttpOnly.",
                    hint="Leave EXPSESSION['COOKIE']['HTTPONLY'] at True so that scripts "
                    "cannot read the session id.",
                    id="expsession.W005",
                )
            )
    return warnings


@checks.register("expsession")
@_safe
def check_shared_secret(app_configs: Any = None, **kwargs: Any) -> Messages:
    """A store Express can share, signed with SECRET_KEY: Express cannot verify those cookies."""
    if any(p.is_error for p in conf.problems()) or not conf.current().secret_from_django:
        return []
    from .stores import get_store

    try:
        layout = get_store().shared_layout
    except ImproperlyConfigured:
        return []  # E009 says why there is no store
    if layout is None:
        return []
    return [
        checks.Warning(
            f"The session store uses {layout}'s layout, but EXPSESSION['SECRET'] is unset, "
            "so cookies are signed with SECRET_KEY.",
            hint="An Express app sharing the store cannot know SECRET_KEY: its session() would "
            "refuse every cookie Django signs and start a new session. Set EXPSESSION['SECRET'] "
            "to the secret (or list of secrets) Express is given. If no Express app shares the "
            "store, silence this with SILENCED_SYSTEM_CHECKS = ['expsession.W011'].",
            id="expsession.W011",
        )
    ]


@checks.register("expsession")
@_safe
def check_secure_in_development(app_configs: Any = None, **kwargs: Any) -> Messages:
    """SECURE True on runserver (plain HTTP): the browser drops the cookie, login silently fails."""
    if not settings.DEBUG or any(p.is_error for p in conf.problems()):
        return []
    cookie = conf.current().cookie
    if cookie is None or cookie.get("secure") is not True:
        return []
    return [
        checks.Warning(
            "EXPSESSION['COOKIE']['SECURE'] is True while DEBUG is on.",
            hint="Browsers drop a Secure cookie sent over plain HTTP (runserver), so nobody stays "
            "logged in. Use 'auto': Secure over HTTPS, not over HTTP.",
            id="expsession.W009",
        )
    ]


# Django's session settings, and what replaces each here.
REPLACED_SETTINGS = {
    "SESSION_COOKIE_AGE": (
        "EXPSESSION['COOKIE']['MAX_AGE'] (seconds; None, the default here, is a browser-session cookie)"
    ),
    "SESSION_COOKIE_DOMAIN": "EXPSESSION['COOKIE']['DOMAIN']",
    "SESSION_COOKIE_HTTPONLY": "EXPSESSION['COOKIE']['HTTPONLY']",
    "SESSION_COOKIE_PATH": "EXPSESSION['COOKIE']['PATH']",
    "SESSION_COOKIE_SAMESITE": "EXPSESSION['COOKIE']['SAMESITE']",
    "SESSION_COOKIE_SECURE": "EXPSESSION['COOKIE']['SECURE']",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE": "EXPSESSION['COOKIE']['MAX_AGE'] = None",
    "SESSION_SAVE_EVERY_REQUEST": "EXPSESSION['RESAVE'] and EXPSESSION['ROLLING']",
    "SESSION_SERIALIZER": "nothing: sessions are always stored as express's JSON",
    "SESSION_FILE_PATH": "EXPSESSION['STORE'] (there is no file store)",
    "SESSION_CACHE_ALIAS": "EXPSESSION['STORE'] with CacheStore's CACHE option",
}


@checks.register("expsession")
@_safe
def check_ignored_django_settings(app_configs: Any = None, **kwargs: Any) -> Messages:
    """Django's SESSION_* settings that a project moving over still sets."""
    ignored = [name for name in REPLACED_SETTINGS if settings.is_overridden(name)]  # type: ignore[misc]
    return [
        checks.Warning(
            f"{name} is set, but django-expsession does not read it.",
            hint=f"Use {REPLACED_SETTINGS[name]} instead, then remove {name}.",
            id="expsession.W010",
        )
        for name in ignored
    ]


# -- replacing django.contrib.sessions --------------------------------------


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
@_safe
def check_django_sessions(app_configs: Any = None, **kwargs: Any) -> Messages:
    """Settings left over from django.contrib.sessions that would fight this app."""
    from django.apps import apps
    from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware

    from .middleware import SessionMiddleware

    messages: Messages = []
    classes = _middleware_classes()
    if any(issubclass(c, SessionMiddleware) for c in classes) and any(
        issubclass(c, DjangoSessionMiddleware) and not issubclass(c, SessionMiddleware) for c in classes
    ):
        messages.append(
            checks.Error(
                "MIDDLEWARE has Django's SessionMiddleware as well as "
                "django_expsession.middleware.SessionMiddleware.",
                hint="Remove 'django.contrib.sessions.middleware.SessionMiddleware' from MIDDLEWARE: "
                "two session middlewares would each replace request.session.",
                id="expsession.E013",
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
    problems = conf.problems()
    expected = conf.DEFAULTS["NAME"] if any(p.is_error for p in problems) else conf.current().name
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
@_safe
def check_time_zone_support(app_configs: Any = None, **kwargs: Any) -> Messages:
    """The database store keeps aware UTC expiries, which need USE_TZ."""
    if getattr(settings, "USE_TZ", True) or any(p.is_error for p in conf.problems()):
        return []
    from .stores.db import DatabaseStore

    backend = _backend()
    if backend is None or not issubclass(backend, DatabaseStore):
        return []  # a bad BACKEND is reported by expsession.E009
    return [
        checks.Error(
            "USE_TZ should be True when the session store is a DatabaseStore.",
            hint="The store writes timezone-aware expiry times; set USE_TZ = True (Django's default), "
            "or use another store.",
            id="expsession.E014",
        )
    ]


@checks.register("expsession", checks.Tags.database)
@_safe
def check_connect_pg_simple_table(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> Messages:
    """connect-pg-simple's table, when the store uses it.

    A database check, as Django's own: it runs with ``migrate`` and
    ``check --database <alias>``, never on every start of a server. That
    the database is PostgreSQL is checked without it (E009).
    """
    if not databases or any(p.is_error for p in conf.problems()):
        return []
    from .stores import get_store
    from .stores.base import StoreError
    from .stores.db import DatabaseStore

    try:
        store = get_store()
    except ImproperlyConfigured:
        return []  # E009 says why there is no store
    if not isinstance(store, DatabaseStore) or store.pg_simple_table is None:
        return []
    table, alias = store.pg_simple_table, store.db_for_write()
    if alias not in databases:
        return []
    where = f"{table.table.label!r} in database {alias!r}"
    try:
        state = table.inspect(store, alias)
        zone = table.zone_problem(alias)
    except StoreError as exc:
        return [
            checks.Warning(
                f"connect-pg-simple's table {where} could not be checked: {exc.__cause__ or exc}",
                hint="Check that the database is running and reachable; the check runs again with "
                "`manage.py check --database` or `migrate`.",
                id="expsession.W012",
            )
        ]
    if not state.exists:
        return [
            checks.Error(
                f"connect-pg-simple's table {where} should exist: the session store keeps sessions there.",
                hint="Run `python manage.py expsession_createtable`, or start the Express app once "
                "with connect-pg-simple's createTableIfMissing: true (then also run the command if "
                "USER_INDEX is True).",
                id="expsession.E017",
            )
        ]
    messages: Messages = []
    if state.problems:
        messages.append(
            checks.Error(
                f"The table {where} should have connect-pg-simple's layout, but {'; '.join(state.problems)}.",
                hint="connect-pg-simple's table.sql has sid varchar primary key, sess json NOT NULL "
                "and expire timestamp(6) NOT NULL (without time zone); alter the table, or set TABLE "
                "to one that has them.",
                id="expsession.E018",
            )
        )
    if zone is not None:
        messages.append(
            checks.Error(
                f"EXPSESSION['STORE']['OPTIONS']['TIME_ZONE'] should be a time zone PostgreSQL knows: {zone}",
                hint="Give the TimeZone the Express app's connections use (SHOW TimeZone there), "
                "or leave TIME_ZONE out to use the database's own.",
                id="expsession.E019",
            )
        )
    if state.missing_indexes:
        messages.append(
            checks.Warning(
                f"The table {where} has no {' and no '.join(state.missing_indexes)}.",
                hint="Run `python manage.py expsession_createtable`: it adds the missing indexes (the "
                "expire index is connect-pg-simple's; the user index serves user_sessions() when "
                "USER_INDEX is True). Without them those queries scan the table.",
                id="expsession.W013",
            )
        )
    return messages
