"""Settings, handlers and prepared requests for ``compare.py``.

One process holds both session apps. Each variant owns a ``WSGIHandler``
built while ``override_settings`` gave it its own ``MIDDLEWARE`` (and, for
contrib.sessions, its ``SESSION_ENGINE``): a handler instantiates its
middleware once, at construction, and Django's ``SessionMiddleware`` binds
the engine in its ``__init__``, so the handler keeps that stack after the
override ends. django-expsession reads ``EXPSESSION`` and its store at
request time instead, so an expsession variant is *activated* before each
of its requests, outside the timed region: ``settings.EXPSESSION`` is set
to the variant's configuration and ``stores._store`` (the instance
``get_store()`` hands out) to the variant's store, built once so that a
MemoryStore keeps its records between requests.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The copy of django_expsession next to this script wins over any installed
# one, so a scratch copy of the repository benchmarks its own code.
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

# contrib.sessions' defaults, restated on the expsession side: a persistent
# cookie of two weeks, HttpOnly, SameSite=Lax, Path=/.
COOKIE_AGE = 1_209_600
EXPSESSION_COOKIE = {"MAX_AGE": COOKIE_AGE, "SAMESITE": "Lax"}
COMPARABLE = {"RESAVE": False, "SAVE_UNINITIALIZED": False}  # Django saves when modified
EXPRESS_DEFAULTS = {"RESAVE": True, "SAVE_UNINITIALIZED": True}
DJANGO_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
EXPSESSION_MIDDLEWARE = "django_expsession.middleware.SessionMiddleware"

SCENARIOS = {
    "read": "a session cookie; the view reads one value",
    "write": "a session cookie; the view changes one value",
    "new": "no cookie; the view writes one value (a new session is stored)",
    "none": "no cookie; the view never touches request.session",
}


def configure(database: dict[str, Any]) -> None:
    """Configure Django for the benchmark: both session apps, one database."""
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-secret-key-not-for-production-use-0123456789",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django.contrib.sessions", "django_expsession"],
        MIDDLEWARE=[],
        ROOT_URLCONF=__name__,
        DATABASES={"default": database},
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "bench",
                # No culling: the store under test should never lose a session.
                "OPTIONS": {"MAX_ENTRIES": 1_000_000},
            }
        },
        USE_TZ=True,
        SESSION_COOKIE_AGE=COOKIE_AGE,
        SESSION_SAVE_EVERY_REQUEST=False,
        EXPSESSION={**COMPARABLE, "COOKIE": EXPSESSION_COOKIE},
        LOGGING_CONFIG=None,
    )
    django.setup()


def sqlite_database(directory: str) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(directory, "bench.sqlite3"),
        # Persistent connection and WAL, as SQLite is tuned for a web site:
        # a commit then appends to the log instead of waiting for an fsync.
        "CONN_MAX_AGE": None,
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"},
    }


def postgres_database(name: str, host: str, port: int, user: str, password: str) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "HOST": host,
        "PORT": port,
        "USER": user,
        "PASSWORD": password,
        "CONN_MAX_AGE": None,
    }


# -- the views --------------------------------------------------------------


def read_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.session.get("n")))


def write_view(request: HttpRequest) -> HttpResponse:
    n = request.session.get("n", 0) + 1
    request.session["n"] = n
    return HttpResponse(str(n))


def none_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("read", read_view), path("write", write_view), path("none", none_view)]
PATHS = {"read": "/read", "write": "/write", "new": "/write", "none": "/none"}


# -- requests ---------------------------------------------------------------

_ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "QUERY_STRING": "",
    "SERVER_NAME": "testserver",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_HOST": "testserver",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}


def environ(path: str, cookie: str | None) -> dict[str, Any]:
    """A fresh WSGI environ, as gunicorn would pass it (RAW_URI included)."""
    env = dict(_ENVIRON, PATH_INFO=path, RAW_URI=path)
    env["wsgi.input"] = io.BytesIO()
    if cookie is not None:
        env["HTTP_COOKIE"] = cookie
    return env


@dataclass
class Result:
    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        self.status, self.headers = status, headers

    def set_cookie(self, name: str) -> str | None:
        """``name=value`` of the Set-Cookie header for ``name``, if any."""
        for header, value in self.headers:
            if header.lower() == "set-cookie" and value.startswith(name + "="):
                return value.split(";", 1)[0]
        return None


# -- variants ---------------------------------------------------------------


@dataclass
class Variant:
    name: str
    handler: Callable[..., Iterable[bytes]]
    cookie_name: str | None  # None: no session middleware
    baseline: str | None = None  # the contrib.sessions variant it is compared with
    expsession: dict[str, Any] | None = None
    store: Any = None
    cookies: dict[str, str] = field(default_factory=dict)  # scenario -> "name=value"

    @property
    def scenarios(self) -> tuple[str, ...]:
        return ("none",) if self.cookie_name is None else tuple(SCENARIOS)

    @property
    def saves_uninitialized(self) -> bool:
        return bool(self.expsession and self.expsession["SAVE_UNINITIALIZED"])

    def activate(self) -> None:
        if self.expsession is not None:
            from django_expsession import stores

            settings.EXPSESSION = self.expsession
            stores._store = self.store

    def prepare(self, scenario: str) -> dict[str, Any]:
        return environ(PATHS[scenario], self.cookies.get(scenario))

    def check(self, scenario: str, result: Result) -> None:
        """Fail loudly when a response shows the variant did not do the work."""
        cookie = None if self.cookie_name is None else result.set_cookie(self.cookie_name)
        expected: dict[str, tuple[bytes | None, bool]] = {
            "read": (b"1", False),
            "write": (None, True),
            "new": (b"1", True),
            "none": (b"ok", self.saves_uninitialized),
        }
        body, wants_cookie = expected[scenario]
        problems = []
        if result.status != "200 OK":
            problems.append(f"status {result.status}")
        if body is not None and result.body != body:
            problems.append(f"body {result.body!r}, expected {body!r}")
        if body is None and not result.body.isdigit():
            problems.append(f"body {result.body!r}, expected a number")
        if (cookie is not None) != wants_cookie:
            problems.append(f"Set-Cookie {'missing' if wants_cookie else 'unexpected'}")
        if problems:
            raise SystemExit(f"{self.name} / {scenario}: {'; '.join(problems)}.")

    def seed(self) -> None:
        """Store the sessions the read and write scenarios send cookies for."""
        self.cookies.clear()
        if self.cookie_name is None:
            return
        for scenario in ("read", "write"):
            self.activate()
            result = call(self.handler, self.prepare("new"))
            self.check("new", result)
            cookie = result.set_cookie(self.cookie_name)
            assert cookie is not None
            self.cookies[scenario] = cookie


def call(handler: Callable[..., Iterable[bytes]], env: dict[str, Any]) -> Result:
    result = Result()
    response = handler(env, result.start_response)
    result.body = b"".join(response)
    response.close()  # type: ignore[attr-defined]  # request_finished, as a server does
    return result


def build_handler(middleware: list[str], **overrides: Any) -> Callable[..., Iterable[bytes]]:
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    with override_settings(MIDDLEWARE=middleware, **overrides):
        return WSGIHandler()


def build_variants(database_only: bool) -> list[Variant]:
    """The contrib.sessions variants, then the expsession ones paired with them."""
    from django_expsession.stores import build_store

    def expsession(
        name: str, baseline: str, backend: str, options: dict[str, Any], mode: dict[str, Any]
    ) -> Variant:
        config = {**mode, "COOKIE": EXPSESSION_COOKIE}
        store = build_store({"BACKEND": f"django_expsession.stores.{backend}", "OPTIONS": options})
        handler = build_handler([EXPSESSION_MIDDLEWARE], EXPSESSION=config)
        return Variant(name, handler, "connect.sid", baseline, config, store)

    variants = [
        Variant("no session middleware", build_handler([]), None),
        Variant(
            "django db",
            build_handler([DJANGO_MIDDLEWARE], SESSION_ENGINE="django.contrib.sessions.backends.db"),
            "sessionid",
        ),
        expsession("expsession db", "django db", "db.DatabaseStore", {}, COMPARABLE),
        expsession(
            "expsession db touch_after=60", "django db", "db.DatabaseStore", {"TOUCH_AFTER": 60}, COMPARABLE
        ),
        expsession("expsession db (express defaults)", "django db", "db.DatabaseStore", {}, EXPRESS_DEFAULTS),
    ]
    if not database_only:
        variants += [
            Variant(
                "django cache",
                build_handler([DJANGO_MIDDLEWARE], SESSION_ENGINE="django.contrib.sessions.backends.cache"),
                "sessionid",
            ),
            expsession("expsession cache", "django cache", "cache.CacheStore", {}, COMPARABLE),
            expsession(
                "expsession cache (express defaults)",
                "django cache",
                "cache.CacheStore",
                {},
                EXPRESS_DEFAULTS,
            ),
            expsession(
                "expsession memory",
                "django cache",
                "memory.MemoryStore",
                {"MAX_ENTRIES": 1_000_000},
                COMPARABLE,
            ),
            expsession(
                "expsession memory (express defaults)",
                "django cache",
                "memory.MemoryStore",
                {"MAX_ENTRIES": 1_000_000},
                EXPRESS_DEFAULTS,
            ),
        ]
    return variants


def reset(variants: list[Variant]) -> None:
    """Empty every store and seed fresh sessions (between timed rounds)."""
    from django.contrib.sessions.models import Session as DjangoSession
    from django.core.cache import cache

    from django_expsession.models import Session as ExpSession
    from django_expsession.stores.memory import MemoryStore

    DjangoSession.objects.all().delete()
    ExpSession.objects.all().delete()
    cache.clear()
    for variant in variants:
        if isinstance(variant.store, MemoryStore):
            variant.store.clear()
    for variant in variants:
        variant.seed()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
