"""The site ``http.py`` serves under gunicorn and uvicorn: one module, settings by environment.

    BENCH_STACK   django | ours       which session middleware
    BENCH_STORE   sqlite | postgres | redis
    BENCH_SQLITE  path of the SQLite file; BENCH_REDIS  a redis:// URL
    BENCH_PG      JSON of PostgreSQL connection settings (HOST, PORT, USER, PASSWORD, NAME)

Views: ``/write`` starts or changes a session, ``/read`` reads one value.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path

STACK = os.environ.get("BENCH_STACK", "ours")
STORE = os.environ.get("BENCH_STORE", "sqlite")
COOKIE_AGE = 1_209_600
# Under ASGI, Django's persistent connections are not reused across requests
# (each request may run in another thread), so they would pile up until the
# server refuses more; Django's documentation says to disable them there.
CONN_MAX_AGE = 0 if os.environ.get("BENCH_ASGI") else None


def _database() -> dict[str, object]:
    if STORE == "postgres":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "CONN_MAX_AGE": CONN_MAX_AGE,
            **json.loads(os.environ["BENCH_PG"]),
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_SQLITE", "/tmp/bench-http.sqlite3"),
        "CONN_MAX_AGE": CONN_MAX_AGE,
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", "timeout": 20},
    }


def _session_settings() -> dict[str, object]:
    if STACK == "django":
        engine = "cache" if STORE == "redis" else "db"
        return {
            "MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware"],
            "SESSION_ENGINE": f"django.contrib.sessions.backends.{engine}",
            "SESSION_CACHE_ALIAS": "redis",
        }
    store = (
        {
            "BACKEND": "django_expsession.stores.redis.RedisStore",
            "OPTIONS": {"CACHE": "redis", "TOUCH_AFTER": 600},
        }
        if STORE == "redis"
        else {"BACKEND": "django_expsession.stores.db.DatabaseStore", "OPTIONS": {"TOUCH_AFTER": 600}}
    )
    return {
        "MIDDLEWARE": ["django_expsession.middleware.SessionMiddleware"],
        "EXPSESSION": {
            "SECRET": "benchmark-secret",
            "RESAVE": False,
            "SAVE_UNINITIALIZED": False,
            "COOKIE": {"MAX_AGE": COOKIE_AGE, "SAMESITE": "Lax"},
            "STORE": store,
        },
    }


if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-secret-key-not-for-production-use-0123456789",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["django.contrib.sessions", "django_expsession"],
        ROOT_URLCONF=__name__,
        DATABASES={"default": _database()},
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "redis": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/15"),
            },
        },
        USE_TZ=True,
        SESSION_COOKIE_AGE=COOKIE_AGE,
        LOGGING_CONFIG=None,
        SILENCED_SYSTEM_CHECKS=["expsession.W006", "expsession.W007", "expsession.W008"],
        **_session_settings(),
    )
    django.setup()


def read_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.session.get("n")))


def write_view(request: HttpRequest) -> HttpResponse:
    n = request.session.get("n", 0) + 1
    request.session["n"] = n
    return HttpResponse(str(n))


urlpatterns = [path("read", read_view), path("write", write_view)]

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

wsgi = get_wsgi_application()
asgi = get_asgi_application()
