"""express's option tests: genid, name, rolling, resave, saveUninitialized,
secret and unset (catalogue #61-#96)."""

from __future__ import annotations

import os
import re

import pytest

from ..conftest import BOTH_CONCURRENCIES
from .faults import BoomError
from .harness import configure_failing, sign_cookie

# resave, saveUninitialized and rolling decide whether a save happens, never
# how it writes: the same under both CONCURRENCY settings.
pytestmark = BOTH_CONCURRENCIES

SID = re.compile(r"^[A-Za-z0-9_-]{32}$")


def counter(http):
    @http.view
    async def view(request):
        request.session["n"] = request.session.get("n", 0) + 1
        return str(request.session["n"])


def untouched(http):
    """A view that does not change the session."""

    @http.view
    async def view(request):
        return str(request.session.get("n"))


# -- genid ----------------------------------------------------------------


def test_default_genid_makes_32_base64url_characters(http, expsession):
    # express #61
    expsession.configure()

    res = http.get()

    assert res.cookie.startswith("connect.sid=")
    assert SID.match(res.sid)


def genid_apple(request):
    return "apple"


@pytest.mark.parametrize(
    ("genid", "path", "sid", "value"),
    [
        # express #62: a dotted path
        (
            f"{__name__}.genid_apple",
            "/",
            "apple",
            "s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU",
        ),
        # express #63: unsafe characters are encoded
        (lambda request: "%", "/", "%", "s%3A%25.kzQ6x52kKVdF35Qh62AWk4ZekS28K5XYCXKa%2FOTZ01g"),
        # express #64: the request is passed in
        (
            lambda request: request.path,
            "/foo",
            "/foo",
            "s%3A%2Ffoo.paEKBtAHbV5s1IB8B2zPnzAgYmmnRPIqObW4VRYj%2FMQ",
        ),
    ],
    ids=["apple", "percent", "request-path"],
)
def test_custom_genid_ids_are_signed_and_encoded(http, expsession, genid, path, sid, value):
    # express #62, #63, #64
    store = expsession.configure(GENID=genid, COOKIE={})

    res = http.get(path)

    assert res.cookie == f"connect.sid={value}; Path=/; HttpOnly"
    assert [stored for stored, _ in store.all()] == [sid]


@pytest.mark.parametrize("returned", [42, None, b"bytes", ""], ids=["int", "none", "bytes", "empty"])
def test_genid_returning_a_non_string_is_a_clear_error(http, expsession, returned):
    # express silently saves nothing and sets no cookie (EXPRESS-SESSION.md §1)
    store = expsession.configure(GENID=lambda request: returned)

    with pytest.raises(TypeError, match="GENID"):
        http.get()
    assert store.length() == 0


# -- key / name ---------------------------------------------------------------


def test_cookie_name_defaults_to_connect_sid(http, expsession):
    # express #65, #67
    expsession.configure()

    res = http.get()

    assert [line.split("=", 1)[0] for line in res.set_cookie] == ["connect.sid"]


def test_cookie_name_is_configurable(http, expsession):
    # express #66, #68 (express's legacy "key" alias has no counterpart: NAME only)
    expsession.configure(NAME="session_id")
    counter(http)

    first = http.get()
    second = http.get(cookie=first.cookie)

    assert [line.split("=", 1)[0] for line in first.set_cookie] == ["session_id"]
    assert second.body == "2"
    assert http.get(cookie=f"connect.sid={first.value}").body == "1"


# -- rolling ------------------------------------------------------------------


def test_rolling_defaults_to_false(http, expsession):
    # express #69: re-assigning the same value is not a modification
    expsession.configure()

    @http.view
    async def view(request):
        request.session["user"] = "bob"
        return "ok"

    first = http.get()
    second = http.get(cookie=first.cookie)

    assert first.cookie is not None
    assert second.cookie is None


@pytest.mark.all_stores
def test_rolling_forces_the_cookie_on_an_unmodified_session(http, expsession):
    # express #70
    expsession.configure(ROLLING=True)
    untouched(http)

    first = http.get()
    second = http.get(cookie=first.cookie)

    assert second.sid == first.sid


def test_rolling_does_not_force_an_uninitialized_session(http, expsession):
    # express #71
    store = expsession.configure(ROLLING=True, SAVE_UNINITIALIZED=False)
    untouched(http)

    res = http.get()

    assert res.set_cookie == []
    assert expsession.calls["set"] == 0
    assert store.length() == 0


def test_rolling_with_save_uninitialized_sets_and_saves_a_new_session(http, expsession):
    # express #72
    store = expsession.configure(ROLLING=True, SAVE_UNINITIALIZED=True)
    untouched(http)

    res = http.get()

    assert res.cookie is not None
    assert expsession.calls["set"] == 1
    assert store.length() == 1


def test_rolling_sets_and_saves_a_modified_new_session(http, expsession):
    # express #73
    store = expsession.configure(ROLLING=True, SAVE_UNINITIALIZED=False)
    counter(http)

    res = http.get()

    assert res.cookie is not None
    assert expsession.calls["set"] == 1
    assert store.get(res.sid)["n"] == 1


# -- resave -------------------------------------------------------------------


@pytest.mark.parametrize("resave", [None, True], ids=["default", "true"])
def test_resave_saves_an_unmodified_session(http, expsession, resave):
    # express #74, #75
    expsession.configure(**({} if resave is None else {"RESAVE": resave}))
    untouched(http)
    first = http.get()
    expsession.calls.clear()

    second = http.get(cookie=first.cookie)

    assert second.cookie is None
    assert expsession.calls["set"] == 1


@pytest.mark.all_stores
def test_resave_false_does_not_save_an_unmodified_session(http, expsession):
    # express #76
    expsession.configure(RESAVE=False)
    untouched(http)
    first = http.get()
    expsession.calls.clear()

    http.get(cookie=first.cookie)

    assert expsession.calls["set"] == 0
    assert expsession.calls["touch"] == 1  # the expiry is refreshed instead


@pytest.mark.all_stores
def test_resave_false_still_saves_a_modified_session(http, expsession):
    # express #77
    store = expsession.configure(RESAVE=False)

    @http.view
    async def view(request):
        if request.method == "PUT":
            request.session["token"] = request.path[1:]
        return str(request.session.get("token"))

    first = http.put("/w6RHhwaA")
    assert first.body == "w6RHhwaA"
    assert expsession.calls["set"] == 1

    expsession.calls.clear()
    assert http.get(cookie=first.cookie).body == "w6RHhwaA"
    assert expsession.calls["set"] == 0

    third = http.put("/zfQ3rzM3", cookie=first.cookie)
    assert third.body == "zfQ3rzM3"
    assert expsession.calls["set"] == 1
    assert store.get(first.sid)["token"] == "zfQ3rzM3"


def test_resave_false_detects_a_nested_cookie_key_as_modified(http, expsession):
    # express #78: only the top-level "cookie" is left out of the comparison
    store = expsession.configure(RESAVE=False)

    @http.view
    async def view(request):
        user = request.session.setdefault("user", {"cookie": 0})
        user["cookie"] += 1  # in place: still a modification
        return str(user["cookie"])

    first = http.get()
    expsession.calls.clear()
    second = http.get(cookie=first.cookie)

    assert second.body == "2"
    assert expsession.calls["set"] == 1
    assert store.get(first.sid)["user"] == {"cookie": 2}


@pytest.mark.parametrize(
    ("op", "options", "express"),
    [
        ("touch", {"RESAVE": False}, 79),
        ("set", {}, 84),
    ],
    ids=["touch", "save"],
)
def test_store_error_at_the_end_fails_the_request(http, expsession, op, options, express):
    # express #79, #84 (express reports the error after a normal response;
    # here the request fails instead of the error being lost)
    configure_failing(expsession, op, **options)
    untouched(http)
    first = http.get(raise_exc=False) if op == "touch" else None
    if op == "touch":
        assert first.status == 200

    res = http.get(cookie=first.cookie if first else None, raise_exc=False)

    assert res.status >= 500
    assert isinstance(res.exc, BoomError)
    assert expsession.calls[op] == 1


# -- saveUninitialized ----------------------------------------------------------


@pytest.mark.parametrize("value", [None, True], ids=["default", "true"])
def test_save_uninitialized_saves_an_empty_new_session(http, expsession, value):
    # express #80, #81
    store = expsession.configure(**({} if value is None else {"SAVE_UNINITIALIZED": value}))
    untouched(http)

    res = http.get()

    assert res.cookie is not None
    assert expsession.calls["set"] == 1
    assert store.length() == 1


def test_save_uninitialized_false_neither_saves_nor_sets_an_empty_session(http, expsession):
    # express #82
    store = expsession.configure(SAVE_UNINITIALIZED=False)
    untouched(http)

    res = http.get()

    assert res.set_cookie == []
    assert expsession.calls["set"] == 0
    assert store.length() == 0


def test_save_uninitialized_false_still_saves_a_modified_session(http, expsession):
    # express #83
    store = expsession.configure(SAVE_UNINITIALIZED=False)
    counter(http)

    res = http.get()

    assert res.cookie is not None
    assert expsession.calls["set"] == 1
    assert store.get(res.sid)["n"] == 1


@pytest.mark.all_stores
def test_uninitialized_session_is_never_touched(http, expsession):
    # express #85
    expsession.configure(SAVE_UNINITIALIZED=False, RESAVE=False)
    untouched(http)

    http.get()
    http.get(cookie="connect.sid=" + sign_cookie("abcdefghijklmnopqrstuvwxyz012345"))

    assert expsession.calls["touch"] == 0
    assert expsession.calls["set"] == 0


# -- secret ----------------------------------------------------------------------


def bob(http):
    @http.view
    async def view(request):
        if request.path == "/set":
            request.session["user"] = "bob"
        return str(request.session.get("user"))


@pytest.mark.parametrize(
    "secret",
    [
        "awesome cat",  # express #87
        os.urandom(32),  # express #88: a byte string
        ["keyboard cat", "nyan cat"],  # express #89
    ],
    ids=["str", "bytes", "list"],
)
def test_sessions_round_trip_with_any_secret(http, expsession, secret):
    # express #87, #88, #89
    expsession.configure(SECRET=secret)
    bob(http)

    first = http.get("/set")
    second = http.get(cookie=first.cookie)

    first_secret = secret[0] if isinstance(secret, list) else secret
    assert first.value == sign_cookie(first.sid, first_secret)
    assert second.body == "bob"


def test_cookies_are_signed_with_the_first_secret_only(http, expsession):
    # express #90: a server knowing only the second secret cannot read it
    store = expsession.configure(SECRET=["keyboard cat", "nyan cat"])
    bob(http)
    first = http.get("/set")
    document = store.get(first.sid)
    assert first.value == sign_cookie(first.sid, "keyboard cat")

    store = expsession.configure(SECRET="nyan cat")
    store.set(first.sid, document)  # the same store contents
    res = http.get(cookie=first.cookie)

    assert res.body == "None"
    assert res.sid != first.sid
    assert expsession.calls["get"] == 0


def test_cookies_signed_with_any_listed_secret_are_read(http, expsession):
    # express #91
    expsession.configure(SECRET=["keyboard cat", "nyan cat"])
    bob(http)
    first = http.get("/set")

    res = http.get(cookie="connect.sid=" + sign_cookie(first.sid, "nyan cat"))

    assert res.body == "bob"


def test_secret_defaults_to_secret_key_and_its_fallbacks(http, expsession, settings):
    # SPEC §1: SECRET None -> [SECRET_KEY, *SECRET_KEY_FALLBACKS]
    settings.SECRET_KEY = "new key"
    settings.SECRET_KEY_FALLBACKS = ["old key"]
    expsession.configure(SECRET=None)
    bob(http)
    first = http.get("/set")

    assert first.value == sign_cookie(first.sid, "new key")
    assert http.get(cookie="connect.sid=" + sign_cookie(first.sid, "old key")).body == "bob"


# -- unset ------------------------------------------------------------------------


def unsetting(http, how):
    @http.view
    async def view(request):
        if request.path == "/unset":
            if how == "del":
                del request.session
            else:
                request.session = None
            return "unset"
        request.session["n"] = 1
        return "created"


@pytest.mark.parametrize("how", ["none", "del"])
def test_unset_keeps_the_stored_session_by_default(http, expsession, how):
    # express #93
    store = expsession.configure()
    unsetting(http, how)
    first = http.get()
    expsession.calls.clear()

    res = http.get("/unset", cookie=first.cookie)

    assert res.set_cookie == []
    assert store.length() == 1
    assert store.get(first.sid)["n"] == 1
    assert expsession.calls["set"] == expsession.calls["destroy"] == 0


@pytest.mark.all_stores
@pytest.mark.parametrize("how", ["none", "del"])
def test_unset_destroy_destroys_the_stored_session(http, expsession, how):
    # express #94
    store = expsession.configure(UNSET="destroy")
    unsetting(http, how)
    first = http.get()

    res = http.get("/unset", cookie=first.cookie)

    assert res.set_cookie == []
    assert store.length() == 0
    assert expsession.calls["destroy"] == 1


def test_unset_destroy_on_a_new_session_sets_no_cookie(http, expsession):
    # express #95
    store = expsession.configure(UNSET="destroy")
    unsetting(http, "none")

    res = http.get("/unset")

    assert res.set_cookie == []
    assert store.length() == 0
    assert expsession.calls["set"] == 0


def test_unset_destroy_error_fails_the_request(http, expsession):
    # express #96 (express reports it after a normal response)
    configure_failing(expsession, "destroy", UNSET="destroy")
    unsetting(http, "none")
    first = http.get()

    res = http.get("/unset", cookie=first.cookie, raise_exc=False)

    assert res.status >= 500
    assert isinstance(res.exc, BoomError)
