"""Test settings: the demo's, plus every real service the stores run on."""

from __future__ import annotations

import os
import tempfile

from testproject.settings import *  # noqa: F403

from . import services

SECRET_KEY = "keyboard cat"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Parallel runs on one machine pick different test databases.
_suffix = os.environ.get("TEST_DB_SUFFIX", "")
DATABASES = {
    # A file, not SQLite's shared in-memory database: there, concurrent
    # writers fail at once with "database table is locked" instead of
    # waiting, and other threads' connections cannot be closed.
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"test_expsession{_suffix}.sqlite3")},
        # The thread tests' fifty writers queue on SQLite's one write lock;
        # under coverage on a busy machine the default 5 s wait ran out.
        "OPTIONS": {"timeout": 30},
    },
}
# Aliases exist only for reachable servers, so pytest-django never tries to
# create a test database on a server that is down (those tests skip, or
# fail under CI: see tests/services.py).
if services.UP["postgres"] or services.IN_CI:
    DATABASES["postgres"] = {
        "ENGINE": "django.db.backends.postgresql",
        **services.POSTGRES,
        # No dependency on "default": a run may set up this alias alone.
        "TEST": {"NAME": f"test_expsession{_suffix}", "DEPENDENCIES": []},
    }
if services.UP["mariadb"] or services.IN_CI:
    DATABASES["mariadb"] = {
        "ENGINE": "django.db.backends.mysql",
        **services.MARIADB,
        "OPTIONS": {"charset": "utf8mb4"},
        "TEST": {
            "NAME": f"test_expsession{_suffix}",
            "CHARSET": "utf8mb4",
            "COLLATION": "utf8mb4_bin",
            "DEPENDENCIES": [],
        },
    }

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "expsession-tests"},
    "redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": services.REDIS_URL,
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    },
}

EXPSESSION = {
    "RESAVE": True,
    "SAVE_UNINITIALIZED": True,
    "STORE": {"BACKEND": "django_expsession.stores.memory.MemoryStore"},
}
ROOT_URLCONF = "tests.app"
