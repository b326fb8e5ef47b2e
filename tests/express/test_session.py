"""express's top-level ``session()`` tests (catalogue #2-#29).

Each test runs on every store and through the sync and the async path
(the ``http`` fixture). ``# express #N`` maps a test to the catalogue in
EXPRESS-SESSION.md §10.
"""

from __future__ import annotations

import logging
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from freezegun import freeze_time

from .faults import BoomError
from .harness import configure_cookieless, configure_failing

SID = re.compile(r"^[A-Za-z0-9_-]{32}$")
SESSION_MIDDLEWARE = "django_expsession.middleware.SessionMiddleware"


def counter(http):
    """The view most tests use: count the session's requests."""

    @http.view
    async def view(request):
        request.session["n"] = request.session.get("n", 0) + 1
        return f"session {request.session['n']}"


# -- session() ------------------------------------------------------------


def test_middleware_listed_twice_handles_the_session_once(http, expsession, settings):
    # express #2: a request that already has a session is left alone.
    settings.MIDDLEWARE = [SESSION_MIDDLEWARE, *settings.MIDDLEWARE]
    store = expsession.configure()
    counter(http)

    res = http.get()

    assert res.body == "session 1"
    assert len(res.set_cookie) == 1
    assert expsession.calls["set"] == 1
    assert store.length() == 1


@pytest.mark.parametrize(
    ("preset", "seen"), [("preset_session", "{'preset': True}"), ("preset_empty_session", "{}")]
)
def test_session_put_in_place_by_an_earlier_middleware_is_left_alone(
    http, expsession, settings, preset, seen
):
    # express #2 (an empty object is present too, though falsy in Python)
    settings.MIDDLEWARE = [f"tests.express.middleware.{preset}", *settings.MIDDLEWARE]
    store = expsession.configure()

    @http.view
    async def view(request):
        return repr(request.session)

    res = http.get()

    assert res.status == 200
    assert res.body == seen
    assert res.set_cookie == []
    assert expsession.calls["get"] == expsession.calls["set"] == 0
    assert store.length() == 0


@pytest.mark.parametrize("secret", ["", [], [""]])
def test_missing_secret_fails_at_startup_not_per_request(http, expsession, secret):
    # express #3 (express answers 500 per request; an empty secret is a
    # configuration error here, raised when the middleware is loaded)
    expsession.configure(SECRET=secret)

    with pytest.raises(ImproperlyConfigured, match="SECRET"):
        http.get()


@pytest.mark.all_stores
def test_new_session_sets_cookie_and_is_stored(http, expsession):
    # express #5
    store = expsession.configure()

    @http.view
    async def view(request):
        request.session["active"] = True
        return "session active"

    res = http.get()

    assert res.status == 200
    assert res.body == "session active"
    assert res.cookie.startswith("connect.sid=s%3A")
    assert SID.match(res.sid)
    assert store.length() == 1
    assert store.get(res.sid)["active"] is True


@pytest.mark.all_stores
def test_session_is_loaded_from_the_cookie_sid(http, expsession):
    # express #6
    expsession.configure()
    counter(http)

    first = http.get()
    second = http.get(cookie=first.cookie)

    assert first.body == "session 1"
    assert second.body == "session 2"


def test_store_read_error_fails_a_request_with_a_cookie(http, expsession):
    # express #7: a cookieless request never reads the store
    configure_failing(expsession, "get")
    counter(http)

    first = http.get()
    assert first.status == 200
    assert first.body == "session 1"
    assert expsession.calls["get"] == 0

    with pytest.raises(BoomError, match="boom!"):
        http.get(cookie=first.cookie)
    assert expsession.calls["get"] == 1


def test_store_read_error_is_a_server_error_response(http, expsession):
    # express #7: the 500 itself, with nothing saved and no cookie
    configure_failing(expsession, "get")
    counter(http)
    first = http.get()
    expsession.calls.clear()

    res = http.get(cookie=first.cookie, raise_exc=False)

    assert res.status == 500
    assert isinstance(res.exc, BoomError)
    assert res.set_cookie == []
    assert expsession.calls["set"] == 0


def test_two_cookieless_requests_create_two_sessions(http, expsession):
    # express #9
    store = expsession.configure()

    @http.view
    async def view(request):
        request.session["created"] = True
        return "session created"

    first, second = http.get(), http.get()

    assert first.body == second.body == "session created"
    assert first.sid != second.sid
    assert sorted(sid for sid, _ in store.all()) == sorted([first.sid, second.sid])


def test_stored_keys_named_like_session_methods_stay_plain_data(http, expsession):
    # express #13 (express drops such keys on load; here data is a mapping,
    # so they cannot shadow the session's methods and are kept)
    store = expsession.configure()

    @http.view
    async def view(request):
        if request.path == "/":
            request.session["n"] = 1
            return "created"
        await http.io(request.session).save()
        return f"session saved {request.session['save']} {request.session.id == request.session['id']}"

    first = http.get()
    document = store.get(first.sid)
    document.update(save="nope", id=first.sid, regenerate=1, destroy=None)
    store.set(first.sid, document)

    res = http.get("/again", cookie=first.cookie)

    assert res.status == 200
    assert res.body == "session saved nope True"
    assert store.get(first.sid)["save"] == "nope"


@pytest.mark.parametrize("streaming", [False, True], ids=["buffered", "streaming"])
def test_rolling_cookie_expiry_moves_on_a_later_request(http, expsession, streaming):
    # express #16
    expsession.configure(ROLLING=True)

    @http.view
    async def view(request):
        request.session["n"] = 1
        return http.stream(["hello, ", "world"]) if streaming else "hello, world"

    with freeze_time("2030-01-02 03:04:05") as frozen:
        first = http.get()
        frozen.tick(2)
        second = http.get(cookie=first.cookie)

    assert second.body == "hello, world"
    assert second.cookie is not None
    assert (second.expires - first.expires).total_seconds() == 2


# -- when response ended ---------------------------------------------------


def _respond(http, kind):
    from django.http import HttpResponse

    if kind == "empty":
        response = HttpResponse("")
        response["Content-Length"] = "0"
        return response
    if kind == "content-length":
        response = HttpResponse("hello, world!")
        response["Content-Length"] = "13"
        return response
    if kind == "multi-write":
        response = HttpResponse()
        response.write("hello, ")
        response.write("world")
        return response
    return http.stream(["hello, ", "world"])


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("empty", ""),  # express #18
        ("multi-write", "hello, world"),  # express #19
        ("content-length", "hello, world!"),  # express #20
        ("streaming", "hello, world"),  # express #17
    ],
    ids=["empty", "multi-write", "content-length", "streaming"],
)
def test_session_is_saved_before_the_response_is_returned(http, expsession, kind, body):
    # express #17-#20: the client never sees a response before the save
    store = expsession.configure()

    @http.view
    async def view(request):
        request.session["n"] = 1
        return _respond(http, kind)

    res = http.get()

    assert res.status == 200
    assert res.body == body
    assert expsession.calls["set"] == 1
    assert store.get(res.sid)["n"] == 1


@pytest.mark.all_stores
def test_saved_expiry_matches_the_cookie_and_moves_on_a_later_save(http, expsession):
    # express #21
    store = expsession.configure()

    with freeze_time("2030-01-02T03:04:05.678Z") as frozen:
        first = http.get()
        stored = store.get(first.sid)["cookie"]["expires"]
        assert stored == "2030-01-02T03:05:05.678Z"
        assert first.attrs["Expires"] == "Wed, 02 Jan 2030 03:05:05 GMT"

        expsession.calls.clear()
        frozen.tick(2)
        http.get(cookie=first.cookie)

    assert expsession.calls["set"] == 1  # resave: an unmodified session is saved
    assert store.get(first.sid)["cookie"]["expires"] == "2030-01-02T03:05:07.678Z"


# -- when sid not in store --------------------------------------------------


@pytest.mark.all_stores
def test_unknown_sid_gets_a_new_session_with_a_new_sid(http, expsession):
    # express #22, #23 (and #8: a store's "not found" is None, never an error)
    store = expsession.configure()
    counter(http)
    first = http.get()
    store.clear()

    res = http.get(cookie=first.cookie)

    assert res.body == "session 1"
    assert res.cookie is not None
    assert res.sid != first.sid
    assert store.get(first.sid) is None
    assert [sid for sid, _ in store.all()] == [res.sid]


# -- when sid not properly signed -----------------------------------------


def test_unsigned_sid_gets_a_new_session_without_a_store_read(http, expsession):
    # express #24
    expsession.configure()
    counter(http)
    first = http.get()
    expsession.calls.clear()

    res = http.get(cookie=f"connect.sid={first.sid}")

    assert res.body == "session 1"
    assert res.sid != first.sid
    assert expsession.calls["get"] == 0


def test_tampered_signature_gets_a_new_session_without_a_store_read(http, expsession):
    # express #25 (which does not assert the missing fetch; this does)
    expsession.configure()
    counter(http)
    first = http.get()
    value = first.value
    dot = value.rindex(".")
    tampered = value[: dot - 3] + value[dot:]
    expsession.calls.clear()

    res = http.get(cookie=f"connect.sid={tampered}")

    assert res.body == "session 1"
    assert res.cookie is not None
    assert res.sid != first.sid
    assert expsession.calls["get"] == 0


# -- when session expired in store ----------------------------------------


@pytest.mark.all_stores
def test_expired_session_is_replaced_by_a_new_one(http, expsession):
    # express #26, #27
    expsession.configure(COOKIE={"MAX_AGE": 5})
    counter(http)

    with freeze_time("2030-01-02 03:04:05") as frozen:
        first = http.get()
        frozen.tick(20)
        res = http.get(cookie=first.cookie)

    assert res.body == "session 1"
    assert res.cookie is not None
    assert res.sid != first.sid


def test_expired_session_is_gone_from_the_store(http, expsession):
    # express #28
    store = expsession.configure(COOKIE={"MAX_AGE": 5})
    counter(http)

    with freeze_time("2030-01-02 03:04:05") as frozen:
        first = http.get()
        assert [sid for sid, _ in store.all()] == [first.sid]
        frozen.tick(10)
        assert list(store.all()) == []
        assert store.get(first.sid) is None
        assert store.length() == 0


# -- when session without cookie property in store -------------------------


@pytest.mark.all_stores
def test_stored_record_without_cookie_is_no_session(http, expsession, caplog):
    # express #29 (express answers 500; a record that is not express's
    # shape is logged and treated as no session)
    configure_cookieless(expsession)
    counter(http)
    first = http.get()

    with caplog.at_level(logging.WARNING, logger="django.security"):
        res = http.get(cookie=first.cookie)

    assert res.status == 200
    assert res.body == "session 1"
    assert res.sid != first.sid
    assert any(r.name.startswith("django.security") for r in caplog.records)
