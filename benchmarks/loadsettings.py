"""Settings of the load run (``load.py``): the demo site's, with the store chosen by the environment.

    LOAD_STORE           postgres | mariadb | redis | cache-redis
    LOAD_PORT            port of the store's server on 127.0.0.1
    LOAD_SQLITE          SQLite file of the Redis runs (the site's own database; unused by them)
    LOAD_ON_STORE_ERROR  raise | anonymous (default raise)

Everything else is the demo's (``testproject/settings.py``): RESAVE and
SAVE_UNINITIALIZED off, ROLLING on, one-hour cookies, CONCURRENCY merge.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from testproject.settings import *  # noqa: F403
from testproject.settings import EXPSESSION as DEMO_EXPSESSION

DEBUG = False
ROOT_URLCONF = "loadurls"

_STORE = os.environ["LOAD_STORE"]
_PORT = int(os.environ["LOAD_PORT"])
_DATABASE = "expsession_load"
_REDIS = f"redis://127.0.0.1:{_PORT}/10"
# Persistent connections, checked before reuse: what a production site runs,
# and the harder case after a crash (every worker holds a dead connection).
_CONNECTIONS: dict[str, Any] = {"CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True}

_database: dict[str, Any]
if _STORE == "postgres":
    _database = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": _PORT,
        "USER": "postgres",
        "NAME": _DATABASE,
        "OPTIONS": {"connect_timeout": 2},
        **_CONNECTIONS,
    }
elif _STORE == "mariadb":
    _database = {
        "ENGINE": "django.db.backends.mysql",
        "HOST": "127.0.0.1",
        "PORT": _PORT,
        "USER": "root",
        "NAME": _DATABASE,
        "OPTIONS": {"charset": "utf8mb4", "connect_timeout": 2},
        **_CONNECTIONS,
    }
elif _STORE in ("redis", "cache-redis"):
    _database = {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["LOAD_SQLITE"]}
else:
    raise ValueError(f"LOAD_STORE should be postgres, mariadb, redis or cache-redis, not {_STORE!r}.")
DATABASES = {"default": _database}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "sessions": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": _REDIS,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    },
}

_STORES = {
    "postgres": {"BACKEND": "django_expsession.stores.db.DatabaseStore"},
    "mariadb": {"BACKEND": "django_expsession.stores.db.DatabaseStore"},
    "redis": {
        "BACKEND": "django_expsession.stores.redis.RedisStore",
        "OPTIONS": {"URL": f"{_REDIS}?socket_timeout=2&socket_connect_timeout=2"},
    },
    "cache-redis": {"BACKEND": "django_expsession.stores.cache.CacheStore", "OPTIONS": {"CACHE": "sessions"}},
}
EXPSESSION = {
    **DEMO_EXPSESSION,
    "STORE": _STORES[_STORE],
    "ON_STORE_ERROR": os.environ.get("LOAD_ON_STORE_ERROR", "raise"),
}


class OneLine(logging.Formatter):
    """The message without its traceback: a store failure's message names the cause."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return ""


# One line per logged store failure in the server's log (load.py counts them).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"()": OneLine, "format": "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"}
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "line"},
        "tracebacks": {"class": "logging.StreamHandler"},
    },
    "loggers": {
        "django_expsession": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        # A server error (which the load run counts as a failure) with its traceback.
        "django.request": {"handlers": ["tracebacks"], "level": "ERROR", "propagate": False},
    },
}
