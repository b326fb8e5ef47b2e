"""Settings, variants, scenarios and prepared requests for ``compare.py``.

One process benchmarks one store. It holds three (or four) request stacks,
each a ``WSGIHandler`` built with its own ``MIDDLEWARE``: none, Django's
``SessionMiddleware`` with the engine equivalent to the store, and
django-expsession's middleware on the store (on Redis twice: CacheStore and
RedisStore on the same server). A handler instantiates its middleware
once, and Django's middleware binds its engine then, so each Django stack
keeps its engine. django-expsession reads its settings snapshot and store
per request, so before each of its requests (outside the timed region) the
variant's snapshot and store are put in place.
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
TOUCH_AFTER = 600
OURS = {
    "RESAVE": False,  # Django saves when modified: the comparable express settings
    "SAVE_UNINITIALIZED": False,
    "COOKIE": {"MAX_AGE": COOKIE_AGE, "SAMESITE": "Lax"},
    "SECRET": "benchmark-secret",
}
DJANGO_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
EXPSESSION_MIDDLEWARE = "django_expsession.middleware.SessionMiddleware"
VISITORS = 1000

SCENARIOS = {
    "new": "no cookie; the view writes one value (a new session is stored)",
    "untouched": "no cookie; the view never touches request.session",
    "untouched-cookie": "a session cookie; the view never touches request.session",
    "read": "a session cookie; the view reads one value",
    "write": "a session cookie; the view changes one value",
    "visitors": f"{VISITORS} distinct returning visitors in turn; the view reads one value",
    "login": "a session cookie; the view sets several keys and a nested dict, then cycle_key()",
}
PATHS = {
    "new": "/write",
    "untouched": "/none",
    "untouched-cookie": "/none",
    "read": "/read",
    "write": "/write",
    "visitors": "/read",
    "login": "/login",
}
# Scenarios whose requests carry a seeded session's cookie.
WITH_COOKIE = ("untouched-cookie", "read", "write", "visitors", "login")


# -- the store under test -----------------------------------------------------


@dataclass(frozen=True)
class StoreSetup:
    """A store row: Django's equivalent engine and ours, on the same service."""

    name: str
    database: dict[str, Any]
    django_engine: str
    django_cache: str | None  # SESSION_CACHE_ALIAS for Django's cache engine
    ours: dict[str, dict[str, Any]]  # variant name -> EXPSESSION STORE


def sqlite_database(directory: str) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(directory, "bench.sqlite3"),
        # Persistent connection and WAL, as SQLite is tuned for a web site.
        "CONN_MAX_AGE": None,
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"},
    }


def store_setups(directory: str, postgres: dict[str, Any], mariadb: dict[str, Any]) -> dict[str, StoreSetup]:
    sqlite = sqlite_database(directory)
    db = {"BACKEND": "django_expsession.stores.db.DatabaseStore", "OPTIONS": {"TOUCH_AFTER": TOUCH_AFTER}}
    return {
        "memory": StoreSetup(
            "memory",
            sqlite,
            "django.contrib.sessions.backends.cache",
            "default",
            {
                "ours": {
                    "BACKEND": "django_expsession.stores.memory.MemoryStore",
                    "OPTIONS": {"MAX_ENTRIES": 1_000_000, "TOUCH_AFTER": TOUCH_AFTER},
                }
            },
        ),
        "sqlite": StoreSetup("sqlite", sqlite, "django.contrib.sessions.backends.db", None, {"ours": db}),
        "postgres": StoreSetup(
            "postgres", postgres, "django.contrib.sessions.backends.db", None, {"ours": db}
        ),
        "mariadb": StoreSetup("mariadb", mariadb, "django.contrib.sessions.backends.db", None, {"ours": db}),
        "redis": StoreSetup(
            "redis",
            sqlite,
            "django.contrib.sessions.backends.cache",
            "redis",
            {
                "ours CacheStore": {
                    "BACKEND": "django_expsession.stores.cache.CacheStore",
                    "OPTIONS": {"CACHE": "redis", "TOUCH_AFTER": TOUCH_AFTER},
                },
                "ours RedisStore": {
                    "BACKEND": "django_expsession.stores.redis.RedisStore",
                    "OPTIONS": {"CACHE": "redis", "TOUCH_AFTER": TOUCH_AFTER},
                },
            },
        ),
    }


def configure(setup: StoreSetup, redis_url: str) -> None:
    """Configure Django for one store: both session apps, one database."""
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-secret-key-not-for-production-use-0123456789",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django.contrib.sessions", "django_expsession"],
        MIDDLEWARE=[],
        ROOT_URLCONF=__name__,
        DATABASES={"default": setup.database},
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "bench",
                # No culling: the store under test should never lose a session.
                "OPTIONS": {"MAX_ENTRIES": 1_000_000},
            },
            "redis": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": redis_url,
                "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
            },
        },
        USE_TZ=True,
        SESSION_COOKIE_AGE=COOKIE_AGE,
        SESSION_SAVE_EVERY_REQUEST=False,
        SESSION_CACHE_ALIAS=setup.django_cache or "default",
        EXPSESSION=OURS,
        LOGGING_CONFIG=None,
        SILENCED_SYSTEM_CHECKS=["expsession.W006", "expsession.W007", "expsession.W008"],
    )
    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# -- the views ----------------------------------------------------------------


def read_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.session.get("n")))


def write_view(request: HttpRequest) -> HttpResponse:
    n = request.session.get("n", 0) + 1
    request.session["n"] = n
    return HttpResponse(str(n))


def none_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def login_view(request: HttpRequest) -> HttpResponse:
    # What contrib.auth's login() and a typical post-login step store.
    session = request.session
    session.cycle_key()
    session["_auth_user_id"] = "42"
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = "5f4dcc3b5aa765d61d8327deb882cf99" * 2
    session["profile"] = {"name": "Ada", "roles": ["admin", "editor"], "prefs": {"theme": "dark"}}
    return HttpResponse("in")


urlpatterns = [
    path("read", read_view),
    path("write", write_view),
    path("none", none_view),
    path("login", login_view),
]


# -- requests -------------------------------------------------------------------

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


# -- variants -------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    handler: Callable[..., Iterable[bytes]]
    cookie_name: str | None  # None: no session middleware
    snapshot: Any = None  # django-expsession's settings snapshot
    store: Any = None
    cookies: dict[str, list[str]] = field(default_factory=dict)  # scenario -> cookies to send, in turn
    turn: int = 0

    @property
    def ours(self) -> bool:
        return self.snapshot is not None

    def scenarios(self) -> tuple[str, ...]:
        return ("untouched",) if self.cookie_name is None else tuple(SCENARIOS)

    def activate(self) -> None:
        if self.ours:
            from django_expsession import conf, stores

            conf._snapshot, conf._problems = self.snapshot, ()
            stores._store = self.store

    def prepare(self, scenario: str) -> dict[str, Any]:
        cookies = self.cookies.get(scenario)
        cookie = None
        if cookies:
            cookie = cookies[self.turn % len(cookies)]
            if scenario in ("visitors",):
                self.turn += 1
        return environ(PATHS[scenario], cookie)

    def check(self, scenario: str, result: Result) -> None:
        """Fail loudly when a response shows the variant did not do the work."""
        cookie = None if self.cookie_name is None else result.set_cookie(self.cookie_name)
        expected: dict[str, tuple[bytes | None, bool]] = {
            "new": (b"1", True),
            "untouched": (b"ok", False),
            "untouched-cookie": (b"ok", False),
            "read": (b"1", False),
            "write": (None, True),
            "visitors": (b"1", False),
            "login": (b"in", True),
        }
        body, wants_cookie = expected[scenario]
        problems = []
        if result.status != "200 OK":
            problems.append(f"status {result.status}")
        if body is not None and result.body != body:
            problems.append(f"body {result.body!r}, expected {body!r}")
        if body is None and not result.body.isdigit():
            problems.append(f"body {result.body!r}, expected a number")
        if self.cookie_name is not None and (cookie is not None) != wants_cookie:
            problems.append(f"Set-Cookie {'missing' if wants_cookie else 'unexpected'}")
        if problems:
            raise SystemExit(f"{self.name} / {scenario}: {'; '.join(problems)}.")

    def after(self, scenario: str, result: Result) -> None:
        """A login gave the visitor a new id: the next login request carries it."""
        if scenario == "login" and self.cookie_name is not None:
            cookie = result.set_cookie(self.cookie_name)
            assert cookie is not None
            self.cookies["login"] = [cookie]

    def seed(self) -> None:
        """Store the sessions the scenarios with a cookie send."""
        self.cookies.clear()
        self.turn = 0
        if self.cookie_name is None:
            return
        for scenario in WITH_COOKIE:
            count = VISITORS if scenario == "visitors" else 1
            for _ in range(count):
                self.activate()
                result = call(self.handler, environ("/write", None))
                self.check("new", result)
                cookie = result.set_cookie(self.cookie_name)
                assert cookie is not None
                self.cookies.setdefault(scenario, []).append(cookie)


def build_variants(setup: StoreSetup) -> list[Variant]:
    """No session middleware, Django's on the equivalent engine, and ours on the store."""
    from django_expsession import conf
    from django_expsession.stores import build_store

    variants = [
        Variant("no session middleware", build_handler([]), None),
        Variant(
            f"django {setup.django_engine.rsplit('.', 1)[-1]}",
            build_handler([DJANGO_MIDDLEWARE], SESSION_ENGINE=setup.django_engine),
            "sessionid",
        ),
    ]
    for name, store in setup.ours.items():
        config = {**OURS, "STORE": store}
        snapshot, problems = conf.build(config)
        assert snapshot is not None, problems
        handler = build_handler([EXPSESSION_MIDDLEWARE], EXPSESSION=config)
        variants.append(Variant(name, handler, "connect.sid", snapshot, build_store(store)))
    return variants


def reset(variants: list[Variant]) -> None:
    """Empty every store and seed fresh sessions (between timed rounds)."""
    from django.contrib.sessions.models import Session as DjangoSession
    from django.core.cache import caches

    from django_expsession.models import Session as ExpSession

    DjangoSession.objects.all().delete()
    ExpSession.objects.all().delete()
    caches["default"].clear()
    caches["redis"].clear()
    for variant in variants:
        if variant.store is not None and variant.store.supports("clear"):
            variant.store.clear()
    for variant in variants:
        variant.seed()
