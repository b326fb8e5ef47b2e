"""ON_STORE_ERROR: what a request does when the session store's server fails.

The servers are real: a private redis-server started for the test and shut
down in the middle of a request, or a local port nothing listens on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponse
from django.test import AsyncClient, Client
from redis.backoff import NoBackoff
from redis.retry import Retry

from django_expsession.signing import cookie_value

from . import services
from .conftest import PrivateRedis, free_port

CACHE = "django_expsession.stores.cache.CacheStore"


def _configure(settings: Any, port: int, policy: str | None, **overrides: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "outage": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                # No reconnect attempts: the test is about the failure itself.
                "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 0)},
            },
        },
    }
    value: dict[str, Any] = {
        "SECRET": "keyboard cat",
        "COOKIE": {"MAX_AGE": 60},
        "STORE": {"BACKEND": CACHE, "OPTIONS": {"CACHE": "outage"}},
        **overrides,
    }
    if policy is not None:
        value["ON_STORE_ERROR"] = policy
    settings.EXPSESSION = value


class Requests:
    """The same request through the sync (WSGI) or async (ASGI) handler."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def get(self, path: str = "/", cookie: str | None = None) -> Any:
        headers = {"cookie": cookie} if cookie else {}
        if self.mode == "sync":
            return Client().get(path, headers=headers)
        return async_to_sync(AsyncClient().get)(path, headers=headers)


@pytest.fixture(params=["sync", "async"])
def requests(request: pytest.FixtureRequest, settings: Any, app: Any) -> Requests:
    settings.ROOT_URLCONF = "tests.app" if request.param == "sync" else "tests.app_async"
    return Requests(request.param)


@pytest.fixture
def view(app: Any) -> dict[str, Any]:
    """Counts in the session; ``?down`` first calls ``view["crash"]()``.

    One plain function serves both handlers (the async URLconf awaits
    nothing from it); what it saw is recorded for the assertions.
    """
    seen: dict[str, Any] = {}

    @app
    def handler(request: Any) -> HttpResponse:
        if "down" in request.GET:
            seen["crash"]()
        seen["session"] = request.session
        seen["user"] = request.user
        request.session["n"] = request.session.get("n", 0) + 1
        return HttpResponse(f"n={request.session['n']}")

    return seen


def _signed(sid: str) -> str:
    return "connect.sid=" + cookie_value(sid, "keyboard cat")


def test_by_default_an_unreachable_store_answers_503_and_logs(
    settings: Any, requests: Requests, view: Any, caplog: Any
) -> None:
    _configure(settings, free_port(), None)
    with caplog.at_level(logging.ERROR, logger="django_expsession"):
        response = requests.get(cookie=_signed("a" * 32))
    assert response.status_code == 503
    assert "connect.sid" not in response.cookies
    assert "session" not in view  # the view never ran
    assert any("session store failed" in r.getMessage() for r in caplog.records)


def test_anonymous_policy_serves_the_request_without_a_session(
    settings: Any, requests: Requests, view: Any, caplog: Any
) -> None:
    _configure(settings, free_port(), "anonymous")
    with caplog.at_level(logging.ERROR, logger="django_expsession"):
        response = requests.get(cookie=_signed("a" * 32))
    assert response.status_code == 200
    assert response.content == b"n=1"  # an empty session: nothing was loaded
    assert not view["session"] and view["session"].id is None
    assert view["user"].is_anonymous
    assert "connect.sid" not in response.cookies  # the client's cookie is left alone
    assert any("session store failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("policy", "status"), [("raise", 503), ("anonymous", 200)])
def test_store_failing_during_the_request(
    settings: Any, requests: Requests, view: Any, private_redis: PrivateRedis, policy: str, status: int
) -> None:
    _configure(settings, private_redis.port, policy)
    view["crash"] = private_redis.crash
    first = requests.get()
    assert first.status_code == 200
    cookie = "connect.sid=" + first.cookies["connect.sid"].coded_value
    assert requests.get(cookie=cookie).content == b"n=2"  # the store works

    # The server goes away after the session was loaded: the save fails.
    response = requests.get("/?down", cookie=cookie)

    assert response.status_code == status
    assert "connect.sid" not in response.cookies
    if policy == "anonymous":
        assert response.content == b"n=3"  # the view's response, unsaved


def test_a_new_session_that_cannot_be_saved_sets_no_cookie(
    settings: Any, requests: Requests, view: Any
) -> None:
    _configure(settings, free_port(), "anonymous")
    response = requests.get()  # no cookie: nothing to load, the save fails
    assert response.status_code == 200
    assert "connect.sid" not in response.cookies


@pytest.fixture
def unreachable_mysql(django_db_blocker: Any) -> Iterator[str]:
    """A MySQL/MariaDB alias whose server is down, in a process that never reached it."""
    services.require_driver("mariadb")  # closing the alias loads the driver
    from django.db import connections

    alias = "unreachable_mysql"
    config = {
        "ENGINE": "django.db.backends.mysql",
        "HOST": "127.0.0.1",
        "PORT": free_port(),
        "USER": "root",
        "NAME": "expsession_down",
        "OPTIONS": {"connect_timeout": 2},
    }
    configured = connections.configure_settings({"default": connections.settings["default"], alias: config})
    connections.settings[alias] = configured[alias]
    with django_db_blocker.unblock():
        yield alias
    connections[alias].close()
    del connections[alias]
    del connections.settings[alias]


# Found by benchmarks/load.py (a fresh gunicorn worker, MariaDB killed): on
# MySQL/MariaDB, DatabaseStore builds its SQL from the server's version; a
# process whose first request meets the outage answers by the policy, not 500.
@pytest.mark.parametrize(("policy", "status"), [("raise", 503), ("anonymous", 200)])
def test_database_store_on_mysql_down_since_the_process_started(
    settings: Any, view: Any, unreachable_mysql: str, policy: str, status: int
) -> None:
    settings.EXPSESSION = {
        "SECRET": "keyboard cat",
        "STORE": {
            "BACKEND": "django_expsession.stores.db.DatabaseStore",
            "OPTIONS": {"USING": unreachable_mysql},
        },
        "ON_STORE_ERROR": policy,
    }
    response = Client(raise_request_exception=False).get("/", headers={"cookie": _signed("a" * 32)})
    assert response.status_code == status
