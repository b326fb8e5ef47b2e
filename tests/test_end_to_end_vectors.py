"""express-session's own end-to-end runs, replayed through Django's request cycle.

Each vector was produced by the real middleware with ``Date.now`` frozen and
a fixed ``genid`` (EXPRESS-SESSION.md 6.4). Here the same options become
EXPSESSION, the same request goes through the test Client, and the
Set-Cookie headers and stored documents must be byte-for-byte express's,
key order included, on every store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.http import HttpRequest, HttpResponse
from freezegun import freeze_time

from . import vectors
from .conftest import REDIS_SERVICES, STORES

END_TO_END = vectors.entries("end_to_end_vectors")
END_TO_END_IDS = vectors.ids("end_to_end_vectors", "description")

# express option -> EXPSESSION key; cookie options -> EXPSESSION["COOKIE"] keys.
OPTION_KEYS = {
    "secret": "SECRET",
    "name": "NAME",
    "resave": "RESAVE",
    "saveUninitialized": "SAVE_UNINITIALIZED",
    "rolling": "ROLLING",
    "proxy": "PROXY",
    "unset": "UNSET",
}
COOKIE_KEYS = {
    "path": "PATH",
    "domain": "DOMAIN",
    "httpOnly": "HTTPONLY",
    "secure": "SECURE",
    "sameSite": "SAMESITE",
    "priority": "PRIORITY",
    "partitioned": "PARTITIONED",
}


def expsession_setting(options: dict[str, Any]) -> dict[str, Any]:
    """Translate express-session options into EXPSESSION (ms become seconds)."""
    setting: dict[str, Any] = {}
    for key, value in options.items():
        if key == "cookie":
            setting["COOKIE"] = {
                ("MAX_AGE" if k == "maxAge" else COOKIE_KEYS[k]): (v / 1000 if k == "maxAge" else v)
                for k, v in value.items()
            }
        else:
            setting[OPTION_KEYS[key]] = value
    setting.setdefault("COOKIE", {})
    return setting


def request_meta(headers: dict[str, str]) -> dict[str, str]:
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


def nothing(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")


def set_user_bob(request: HttpRequest) -> HttpResponse:
    request.session["user"] = "bob"
    return HttpResponse("")


HANDLERS = {"nothing": nothing, 'req.session.user = "bob"': set_user_bob}


def set_cookie_headers(response: Any) -> list[str]:
    """The Set-Cookie header values exactly as Django's handlers write them."""
    return [morsel.OutputString() for morsel in response.cookies.values()]


@pytest.mark.parametrize("vector", END_TO_END, ids=END_TO_END_IDS)
def test_express_end_to_end_run(vector, app, expsession, client):
    genid_calls: list[HttpRequest] = []

    def genid(request: HttpRequest) -> str:
        genid_calls.append(request)
        return vector["genid_returns"]

    with freeze_time(vector["now_iso"]):
        store = expsession.configure(GENID=genid, **expsession_setting(vector["options"]))
        app(HANDLERS[vector["handler"]])
        response = client.get(vector["request_path"], **request_meta(vector["request_headers"]))

        assert response.status_code == 200
        assert set_cookie_headers(response) == (vector["set_cookie"] or [])
        # express calls genid for every new session; here an id is made only
        # when the session needs one (it is saved or its cookie is sent).
        assert len(genid_calls) == (1 if vector["set_cookie"] or vector["store_after"] else 0)

        expected_store = {sid: json.loads(text) for sid, text in vector["store_after"].items()}
        assert store.length() == len(expected_store)
        assert dict(store.all()) == expected_store
        for sid, expected in expected_store.items():
            stored = store.get(sid)
            assert stored == expected
            assert list(stored) == list(expected)
            assert list(stored["cookie"]) == list(expected["cookie"])
        if not expected_store:
            assert store.get(vector["genid_returns"]) is None


async def anothing(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")


async def aset_user_bob(request: HttpRequest) -> HttpResponse:
    await request.session.aset("user", "bob")
    return HttpResponse("")


ASYNC_HANDLERS = {"nothing": anothing, 'req.session.user = "bob"': aset_user_bob}


@pytest.fixture
async def close_thread_connections():
    """Close the connections the sync thread opened, or the test database cannot be dropped."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.mark.parametrize("vector", END_TO_END, ids=END_TO_END_IDS)
async def test_express_end_to_end_run_through_the_async_path(
    vector, async_app, expsession, async_client, close_thread_connections
):
    with freeze_time(vector["now_iso"]):
        # configure() clears the store synchronously: keep it off the event loop.
        store = await sync_to_async(expsession.configure)(
            GENID=lambda request: vector["genid_returns"], **expsession_setting(vector["options"])
        )
        async_app(ASYNC_HANDLERS[vector["handler"]])
        response = await async_client.get(vector["request_path"], headers=vector["request_headers"] or None)

        assert response.status_code == 200
        assert set_cookie_headers(response) == (vector["set_cookie"] or [])
        expected_store = {sid: json.loads(text) for sid, text in vector["store_after"].items()}
        assert await store.alength() == len(expected_store)
        for sid, expected in expected_store.items():
            stored = await store.aget(sid)
            assert stored == expected
            assert list(stored) == list(expected)
            assert list(stored["cookie"]) == list(expected["cookie"])


# Runs where express both set a cookie and stored the session.
ECHOED = [
    (v, i) for v, i in zip(END_TO_END, END_TO_END_IDS, strict=True) if v["set_cookie"] and v["store_after"]
]


@pytest.mark.parametrize("vector", [v for v, _ in ECHOED], ids=[i for _, i in ECHOED])
def test_the_cookie_express_set_loads_the_stored_session_on_the_next_request(vector, app, expsession, client):
    """The second request of each run: the browser echoes the cookie back."""
    sid = vector["genid_returns"]
    with freeze_time(vector["now_iso"]) as frozen:
        store = expsession.configure(
            GENID=lambda request: "SECOND-ID-MUST-NOT-BE-USED", **expsession_setting(vector["options"])
        )
        for stored_sid, text in vector["store_after"].items():
            store.set(stored_sid, json.loads(text))
        frozen.tick(0.25)
        seen: list[Any] = []

        @app
        def view(request):
            seen.append((request.session.id, dict(request.session)))
            return HttpResponse("")

        name, _, value = vector["set_cookie"][0].partition(";")[0].partition("=")
        response = client.get(
            vector["request_path"],
            **request_meta({**vector["request_headers"], "Cookie": f"{name}={value}"}),
        )
        assert response.status_code == 200
        expected_data = {k: v for k, v in json.loads(vector["store_after"][sid]).items() if k != "cookie"}
        assert seen == [(sid, expected_data)]
        assert store.get("SECOND-ID-MUST-NOT-BE-USED") is None


# These instants lose a millisecond if converted through a float timestamp.
# A real Redis server, whose clock freezegun cannot move, drops a key at
# once when its expiry is in the (real) past: the stores on Redis (RedisStore,
# CacheStore on django-redis) get the future ones.
ROUND_TRIP_INSTANTS = ["2039-03-08T19:46:13.411Z", "2004-03-15T07:55:47.472Z", "2038-08-15T15:00:50.430Z"]
_REAL_NOW = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
ROUND_TRIP_CASES = [
    (store_name, expires)
    for expires in ROUND_TRIP_INSTANTS
    for store_name in STORES
    if not (STORES[store_name].service in REDIS_SERVICES and expires < _REAL_NOW)
]


@pytest.mark.parametrize(("store_name", "expires"), ROUND_TRIP_CASES)
def test_a_stored_expiry_round_trips_to_the_millisecond(expsession, expires):
    store = expsession.configure()
    with freeze_time("2000-01-01T00:00:00Z"):
        document = {
            "cookie": {"originalMaxAge": 1000, "expires": expires, "httpOnly": True, "path": "/"},
            "n": 1,
        }
        store.set("sid", document)
        assert store.get("sid") == document
