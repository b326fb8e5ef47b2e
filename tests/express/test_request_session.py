"""express's ``req.session`` tests: persistence, the express methods and the
cookie (catalogue #100-#136)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.http import HttpResponse
from freezegun import freeze_time

from django_expsession.session import SessionError

from ..conftest import BOTH_CONCURRENCIES

# save/reload/touch and the cookie behave the same whichever way a save writes.
pytestmark = BOTH_CONCURRENCIES

NOW = "2030-01-02 03:04:05"
NOW_DT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.all_stores
def test_session_persists_across_requests(http, expsession):
    # express #100
    store = expsession.configure()

    @http.view
    async def view(request):
        request.session["hits"] = request.session.get("hits", 0) + 1
        return f"hits: {request.session['hits']}"

    first = http.get()
    assert first.body == "hits: 1"
    assert store.get(first.sid)["hits"] == 1

    assert http.get(cookie=first.cookie).body == "hits: 2"
    assert store.get(first.sid)["hits"] == 2


def test_cookie_is_set_only_when_the_session_is_modified(http, expsession):
    # express #101
    expsession.configure()

    @http.view
    async def view(request):
        if request.path != "/read":
            request.session["count"] = request.session.get("count", 0) + 1
        return str(request.session["count"])

    first = http.get()
    second = http.get(cookie=first.cookie)
    third = http.get("/read", cookie=first.cookie)
    fourth = http.get(cookie=first.cookie)

    assert first.cookie is not None and first.body == "1"
    assert second.cookie is not None and second.body == "2"
    assert third.cookie is None and third.body == "2"
    assert fourth.cookie is not None and fourth.body == "3"


def test_session_keys_are_the_data_keys_only(http, expsession):
    # express #14, #102 (the cookie is an attribute here, never a key)
    expsession.configure()

    @http.view
    async def view(request):
        request.session["test1"] = 1
        request.session["test2"] = "b"
        return ",".join(request.session)

    assert http.get().body == "test1,test2"


# -- .destroy() ---------------------------------------------------------------


@pytest.mark.all_stores
def test_destroy_removes_the_session_and_sends_no_cookie(http, expsession):
    # express #105
    store = expsession.configure()

    @http.view
    async def view(request):
        if request.path == "/destroy":
            await http.io(request.session).destroy()
            return f"{bool(request.session)} {request.session.id}"
        request.session["n"] = 1
        return "created"

    first = http.get()
    res = http.get("/destroy", cookie=first.cookie)

    assert res.body == "False None"
    assert res.set_cookie == []
    assert store.get(first.sid) is None
    assert store.length() == 0


def test_destroy_of_a_new_session_leaves_the_store_empty(http, expsession):
    # express #105, as express runs it: on the first request
    store = expsession.configure()

    @http.view
    async def view(request):
        request.session["n"] = 1
        await http.io(request.session).destroy()
        return "destroyed"

    res = http.get()

    assert res.set_cookie == []
    assert store.length() == 0
    assert expsession.calls["set"] == 0


# -- .regenerate() --------------------------------------------------------------


@pytest.mark.all_stores
def test_regenerate_replaces_the_session_with_a_new_id(http, expsession):
    # express #106
    store = expsession.configure()

    @http.view
    async def view(request):
        if request.path == "/regenerate":
            old = request.session.id
            await http.io(request.session).regenerate()
            return f"{request.session.id == old} {dict(request.session)}"
        request.session["n"] = 1
        return "created"

    first = http.get()
    res = http.get("/regenerate", cookie=first.cookie)

    assert res.body == "False {}"
    assert res.sid != first.sid
    assert store.get(first.sid) is None
    assert store.get(res.sid) is not None
    assert store.length() == 1


def test_regenerated_session_saved_explicitly_is_not_saved_again(http, expsession):
    # express issue #935 (express saves it twice; fixed here)
    store = expsession.configure()

    @http.view
    async def view(request):
        if request.path == "/regenerate":
            await http.io(request.session).regenerate()
            request.session["user"] = "bob"
            await http.io(request.session).save()
        return "ok"

    first = http.get()
    expsession.calls.clear()
    res = http.get("/regenerate", cookie=first.cookie)

    assert expsession.calls["set"] == 1
    assert res.sid != first.sid
    assert store.get(res.sid)["user"] == "bob"


# -- .reload() --------------------------------------------------------------------


@pytest.mark.all_stores
def test_reload_reads_what_another_request_saved(http, expsession):
    # express #107
    expsession.configure()

    @http.view
    async def view(request):
        if request.path == "/":
            request.session["active"] = True
            return "session created"
        request.session["url"] = request.path
        if request.path != "/foo":
            return "updated"
        await http.nested("/bar", cookie=request.headers["Cookie"])
        await http.io(request.session).reload()
        return "saw " + request.session["url"]

    first = http.get()
    res = http.get("/foo", cookie=first.cookie)

    assert res.body == "saw /bar"


def test_reload_of_a_session_gone_from_the_store_is_an_error(http, expsession):
    # express #108
    expsession.configure()

    @http.view
    async def view(request):
        if request.path == "/reload":
            await http.io(expsession.store).clear()
            await http.io(request.session).reload()
        request.session["n"] = 1
        return "ok"

    first = http.get()
    res = http.get("/reload", cookie=first.cookie, raise_exc=False)

    assert res.status == 500
    assert isinstance(res.exc, SessionError)
    assert str(res.exc) == "failed to load session"
    assert res.set_cookie == []


# -- .save() ------------------------------------------------------------------------


def test_save_stores_the_session_at_once(http, expsession):
    # express #110
    expsession.configure()

    @http.view
    async def view(request):
        request.session["n"] = 1
        await http.io(request.session).save()
        stored = await http.io(expsession.store).get(request.session.id)
        return "stored" if stored and stored["n"] == 1 else "missing"

    assert http.get().body == "stored"


@pytest.mark.all_stores
@pytest.mark.parametrize(
    ("options", "express"),
    [({}, 111), ({"SAVE_UNINITIALIZED": False}, 113)],
    ids=["default", "save-uninitialized-false"],
)
def test_save_prevents_the_end_of_request_save(http, expsession, options, express):
    # express #111, #113: exactly one set per request
    expsession.configure(**options)

    @http.view
    async def view(request):
        request.session["hit"] = request.session.get("hit", 0) + 1
        await http.io(request.session).save()
        return "saved"

    first = http.get()
    assert expsession.calls["set"] == 1
    assert first.cookie is not None

    expsession.calls.clear()
    http.get(cookie=first.cookie)
    assert expsession.calls["set"] == 1


def test_save_after_reload_prevents_the_end_of_request_save(http, expsession):
    # express #112
    store = expsession.configure()

    @http.view
    async def view(request):
        if request.path == "/":
            request.session["n"] = 1
            return "created"
        await http.io(request.session).reload()
        request.session["n"] += 1
        await http.io(request.session).save()
        return "saved"

    first = http.get()
    expsession.calls.clear()
    http.get("/again", cookie=first.cookie)

    assert expsession.calls["set"] == 1
    assert store.get(first.sid)["n"] == 2


# -- .touch() -------------------------------------------------------------------------


@pytest.mark.all_stores
def test_touch_resets_the_stored_expiry(http, expsession):
    # express #114
    store = expsession.configure(RESAVE=False)

    @http.view
    async def view(request):
        request.session.touch()
        return "touched"

    with freeze_time(NOW) as frozen:
        first = http.get()
        before = store.get(first.sid)["cookie"]["expires"]
        expsession.calls.clear()
        frozen.tick(1)
        res = http.get(cookie=first.cookie)
        after = store.get(first.sid)["cookie"]["expires"]

    assert res.cookie is None
    assert expsession.calls["set"] == 0
    assert expsession.calls["touch"] == 1
    assert before == "2030-01-02T03:05:05.000Z"
    assert after == "2030-01-02T03:05:06.000Z"


# -- .cookie ----------------------------------------------------------------------------


def test_cookie_attributes_changed_by_the_view_are_serialized(http, expsession):
    # express #115
    expsession.configure(PROXY=True)

    @http.view
    async def view(request):
        request.session.cookie.httponly = False
        request.session.cookie.secure = True
        return "ok"

    res = http.get(headers={"x-forwarded-proto": "https"})

    assert "HttpOnly" not in res.attrs
    assert "Secure" in res.attrs


def test_cookie_without_max_age_is_a_browser_session_cookie(http, expsession):
    # express #116
    expsession.configure(COOKIE={"PATH": "/admin"})

    res = http.get("/admin")

    assert res.cookie == f"connect.sid={res.value}; Path=/admin; HttpOnly"
    assert "Expires" not in res.attrs


def test_browser_session_cookie_is_set_only_once(http, expsession):
    # express #117
    expsession.configure(COOKIE={"PATH": "/admin"})

    @http.view
    async def view(request):
        request.session["n"] = request.session.get("n", 0) + 1  # modified every time
        return str(request.session["n"])

    first = http.get("/admin")
    second = http.get("/admin", cookie=first.cookie)

    assert first.cookie is not None
    assert second.body == "2"
    assert second.set_cookie == []


def test_cookie_options_override_the_defaults(http, expsession):
    # express #118
    expsession.configure(
        COOKIE={"HTTPONLY": False, "MAX_AGE": 5, "PATH": "/admin", "PRIORITY": "high", "SECURE": True}
    )

    @http.view
    async def view(request):
        request.session.cookie.secure = False
        return "ok"

    with freeze_time(NOW):
        res = http.get("/admin")

    assert res.cookie == (
        f"connect.sid={res.value}; Path=/admin; Expires=Wed, 02 Jan 2030 03:04:10 GMT; Priority=High"
    )


@pytest.mark.parametrize("how", ["set_cookie", "header"])
def test_cookies_the_view_set_are_kept_before_the_session_cookie(http, expsession, how):
    # express #120 (set before the headers), #121 (through writeHead)
    expsession.configure()

    @http.view
    async def view(request):
        response = HttpResponse("ok")
        if how == "set_cookie":
            response.set_cookie("previous", "cookieValue")
        else:
            response["Set-Cookie"] = "previous=cookieValue; Path=/"
        return response

    res = http.get()

    assert res.set_cookie[0] == "previous=cookieValue; Path=/"
    assert res.set_cookie[1] == res.cookie
    assert len(res.set_cookie) == 2


def test_view_cookie_of_the_same_name_is_replaced(http, expsession):
    # a documented difference (README): one header for the session cookie
    expsession.configure()

    @http.view
    async def view(request):
        response = HttpResponse("ok")
        response.set_cookie("connect.sid", "mine")
        return response

    res = http.get()

    assert len(res.set_cookie) == 1
    assert res.value.startswith("s%3A")


# -- .cookie.originalMaxAge --------------------------------------------------------


def test_original_max_age_is_the_configured_max_age(http, expsession):
    # express #122, #123, #124: also on later requests, restored from the store
    expsession.configure(COOKIE={"MAX_AGE": 2})

    @http.view
    async def view(request):
        request.session["n"] = 1
        return repr(request.session.cookie.original_max_age)

    with freeze_time(NOW) as frozen:
        first = http.get()
        frozen.tick(0.1)
        second = http.get(cookie=first.cookie)

    assert first.body == "2.0"
    assert second.body == "2.0"


# -- .cookie.secure ---------------------------------------------------------------------


def test_secure_cookie_is_set_over_https(http, expsession):
    # express #125
    expsession.configure(COOKIE={"SECURE": True, "MAX_AGE": 60})

    res = http.get(secure=True)

    assert "Secure" in res.attrs


def test_secure_cookie_is_not_set_over_http(http, expsession):
    # express #126
    store = expsession.configure(COOKIE={"SECURE": True, "MAX_AGE": 60})

    res = http.get()

    assert res.set_cookie == []
    assert store.length() == 1  # saved all the same (express)


# -- .cookie.maxAge ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_age", "seconds"),
    [
        (None, 2),  # express #127
        (5, 5),  # express #128
        (3_000_000, 3_000_000),  # express #129: 3e9 ms
        (timedelta(minutes=1), 60),
    ],
    ids=["configured", "changed", "large", "timedelta"],
)
def test_cookie_expires_is_relative_to_max_age(http, expsession, max_age, seconds):
    # express #127-#129
    store = expsession.configure(COOKIE={"MAX_AGE": 2})

    @http.view
    async def view(request):
        if max_age is not None:
            request.session.cookie.max_age = max_age
        request.session["count"] = request.session.get("count", 0) + 1
        return str(request.session["count"])

    with freeze_time(NOW):
        res = http.get()

    assert res.body == "1"
    assert res.expires - NOW_DT == timedelta(seconds=seconds)
    assert store.get(res.sid)["cookie"]["originalMaxAge"] == seconds * 1000


def test_max_age_change_alone_sends_no_cookie(http, expsession):
    # EXPRESS-SESSION.md §3.5 / issue #452: the cookie is not part of the
    # comparison, though the new expiry is saved
    store = expsession.configure(COOKIE={"MAX_AGE": 2})

    @http.view
    async def view(request):
        if request.path == "/longer":
            request.session.cookie.max_age = 5
        return "ok"

    with freeze_time(NOW):
        first = http.get()
        res = http.get("/longer", cookie=first.cookie)

    assert res.cookie is None
    assert store.get(first.sid)["cookie"]["originalMaxAge"] == 5000


# -- .cookie.expires --------------------------------------------------------------------


def test_cookie_expires_can_be_set_to_an_absolute_date(http, expsession):
    # express #130
    expsession.configure()

    @http.view
    async def view(request):
        request.session.cookie.expires = datetime(1970, 1, 1, tzinfo=UTC)
        return "ok"

    res = http.get()

    assert res.attrs["Expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"


def test_cookie_expires_none_makes_a_browser_session_cookie(http, expsession):
    # express #131, #132
    expsession.configure()

    @http.view
    async def view(request):
        request.session.cookie.expires = None
        return "ok"

    first = http.get()
    second = http.get(cookie=first.cookie)

    assert first.cookie is not None
    assert "Expires" not in first.attrs
    assert second.set_cookie == []


def test_browser_session_cookie_is_not_reset_when_modified(http, expsession):
    # express #133
    store = expsession.configure()

    @http.view
    async def view(request):
        request.session.cookie.expires = None
        request.session["n"] = request.session.get("n", 0) + 1
        return str(request.session["n"])

    first = http.get()
    second = http.get(cookie=first.cookie)

    assert second.body == "2"
    assert second.set_cookie == []
    assert store.get(first.sid)["n"] == 2


# -- .cookie.partitioned ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie", "partitioned"),
    [
        ({"MAX_AGE": 60}, False),  # express #134
        ({"MAX_AGE": 60, "PARTITIONED": False}, False),  # express #135
        ({"MAX_AGE": 60, "PARTITIONED": True}, True),  # express #136
    ],
    ids=["default", "false", "true"],
)
def test_partitioned_attribute_follows_the_option(http, expsession, cookie, partitioned):
    # express #134-#136
    expsession.configure(COOKIE=cookie)

    res = http.get()

    assert ("Partitioned" in res.attrs) is partitioned
