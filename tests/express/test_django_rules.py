"""SPEC §2: where this project deliberately differs from express-session.

Inert sessions outside the cookie path and after destroy/unset, auth staying
anonymous, ``Vary: Cookie``, and the server-error rule.
"""

from __future__ import annotations

import pytest
from django.http import HttpResponse


async def describe(http, request):
    """``"<truthy> <id>"`` of request.session, after a write, with the user."""
    session = request.session
    session["written"] = True  # accepted, never persisted
    user = await http.user(request)
    return f"{bool(session)} {session.id} {user.is_authenticated} {session['written']}"


# -- inert sessions -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/elsewhere", "/Foo", "/%66oo"])
def test_outside_the_cookie_path_the_session_is_inert(http, expsession, path):
    store = expsession.configure(COOKIE={"PATH": "/foo"})

    @http.view
    async def view(request):
        return await describe(http, request)

    res = http.get(path)

    assert res.status == 200
    assert res.body == "False None False True"
    assert res.set_cookie == []
    assert expsession.calls["get"] == expsession.calls["set"] == 0
    assert store.length() == 0


def test_outside_the_cookie_path_a_valid_cookie_is_not_read(http, expsession):
    expsession.configure(COOKIE={"PATH": "/foo"})

    @http.view
    async def view(request):
        if request.path.startswith("/foo"):
            request.session["n"] = 1
            return "created"
        return await describe(http, request)

    first = http.get("/foo")
    expsession.calls.clear()
    res = http.get("/bar", cookie=first.cookie)

    assert res.body == "False None False True"
    assert expsession.calls["get"] == 0


@pytest.mark.parametrize("how", ["destroy", "del", "none"])
def test_after_destroy_or_unset_the_session_is_inert(http, expsession, how):
    store = expsession.configure()

    @http.view
    async def view(request):
        if request.path == "/":
            request.session["n"] = 1
            return "created"
        if how == "destroy":
            await http.io(request.session).destroy()
        elif how == "del":
            del request.session
        else:
            request.session = None
        return await describe(http, request)

    first = http.get()
    expsession.calls.clear()
    res = http.get("/gone", cookie=first.cookie)

    assert res.body == "False None False True"
    assert res.set_cookie == []
    assert expsession.calls["set"] == 0
    stored = store.get(first.sid)
    if how == "destroy":
        assert stored is None
    else:  # an unset with UNSET "keep" leaves the stored session as it was
        assert stored["n"] == 1
        assert "written" not in stored


def test_inert_session_methods_do_not_reach_the_store(http, expsession):
    expsession.configure(COOKIE={"PATH": "/foo"})

    @http.view
    async def view(request):
        await http.io(request.session).save()
        await http.io(request.session).destroy()
        return "ok"

    res = http.get("/elsewhere")

    assert res.status == 200
    assert sum(expsession.calls.values()) == 0


# -- Vary: Cookie --------------------------------------------------------------------


def test_vary_cookie_when_the_view_used_the_session(http, expsession):
    expsession.configure()

    @http.view
    async def view(request):
        return str(request.session.get("n"))

    res = http.get()

    assert "Cookie" in res.headers.get("Vary", "")


def test_no_vary_cookie_when_the_session_was_not_used(http, expsession):
    expsession.configure()

    @http.view
    async def view(request):
        return "ok"

    res = http.get()

    assert res.cookie is not None  # saveUninitialized: the session exists
    assert "Cookie" not in res.headers.get("Vary", "")


# -- server errors -----------------------------------------------------------------------


def failing_view(http, *, explicit=None):
    @http.view
    async def view(request):
        if request.path == "/":
            request.session["n"] = 1
            return "created"
        request.session["n"] = 2
        if explicit == "save":
            await http.io(request.session).save()
        elif explicit == "destroy":
            await http.io(request.session).destroy()
        elif explicit == "unset":
            request.session = None
        if request.path == "/raise":
            raise RuntimeError("view failed")
        return HttpResponse("failed", status=503)


@pytest.mark.parametrize("path", ["/fail", "/raise"], ids=["5xx-response", "exception"])
def test_server_error_saves_nothing_and_sets_no_cookie(http, expsession, path):
    store = expsession.configure(ROLLING=True)
    failing_view(http)
    first = http.get()
    expsession.calls.clear()

    res = http.get(path, cookie=first.cookie, raise_exc=False)
    new = http.get(path, raise_exc=False)

    assert res.status >= 500 and new.status >= 500
    assert res.set_cookie == [] and new.set_cookie == []
    assert expsession.calls["set"] == expsession.calls["touch"] == 0
    assert store.get(first.sid)["n"] == 1
    assert store.length() == 1


def test_server_error_does_not_touch_the_stored_expiry(http, expsession):
    store = expsession.configure(RESAVE=False)
    failing_view(http)
    first = http.get()
    expsession.calls.clear()

    http.get("/fail", cookie=first.cookie)

    assert expsession.calls["touch"] == 0
    assert store.get(first.sid)["n"] == 1


def test_server_error_does_not_destroy_an_unset_session(http, expsession):
    store = expsession.configure(UNSET="destroy")
    failing_view(http, explicit="unset")
    first = http.get()
    expsession.calls.clear()

    res = http.get("/fail", cookie=first.cookie)

    assert res.status == 503
    assert expsession.calls["destroy"] == 0
    assert store.get(first.sid) is not None


def test_server_error_keeps_an_explicit_save(http, expsession):
    store = expsession.configure()
    failing_view(http, explicit="save")
    first = http.get()

    res = http.get("/fail", cookie=first.cookie)

    assert res.status == 503
    assert res.set_cookie == []
    assert store.get(first.sid)["n"] == 2


def test_server_error_keeps_an_explicit_destroy(http, expsession):
    store = expsession.configure()
    failing_view(http, explicit="destroy")
    first = http.get()

    res = http.get("/raise", cookie=first.cookie, raise_exc=False)

    assert res.status == 500
    assert store.get(first.sid) is None


def test_client_error_still_saves(http, expsession):
    # only status >= 500 is a server error; a 404 view's session is saved
    store = expsession.configure()

    @http.view
    async def view(request):
        request.session["n"] = 1
        return HttpResponse("missing", status=404)

    res = http.get()

    assert res.status == 404
    assert res.cookie is not None
    assert store.get(res.sid)["n"] == 1
