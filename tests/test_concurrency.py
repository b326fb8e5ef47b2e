"""CONCURRENCY through the real request cycle, on every store.

Two requests of one visitor overlap: request A's view, while it runs, sends
request B on the same session through the test client (a nested request,
as express's own tests do for reload), so B finishes before A saves. With
"overwrite" (express's whole-document save) A's save undoes B's; with
"merge" (the default) each request writes only its own changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.http import HttpRequest
from django.test import AsyncClient, Client
from freezegun import freeze_time

from django_expsession import signing
from django_expsession.engine import SessionStore

NAME = "connect.sid"
NOW = "2030-01-02 03:04:05"  # in the future: Redis keeps what freezegun's clock keeps


def sid_of(client: Client | AsyncClient) -> str:
    sid = signing.unsign_cookie(unquote(client.cookies[NAME].value), ["keyboard cat"])
    assert sid is not None
    return sid


def stored_data(store: Any, sid: str) -> dict[str, Any] | None:
    document = store.get(sid)
    return None if document is None else {k: v for k, v in document.items() if k != "cookie"}


def during(request: HttpRequest, path: str) -> None:
    """Request B, sent and finished while request A's view runs."""
    response = Client().get(path, headers={"cookie": request.headers["cookie"]})
    assert response.status_code == 200


async def during_async(request: HttpRequest, path: str) -> None:
    response = await AsyncClient().get(path, headers={"cookie": request.headers["cookie"]})
    assert response.status_code == 200


def routes(app: Any, views: dict[str, Callable[[Any], Any]]) -> None:
    """One view per path; "/" starts the session with ``{"start": 1}``."""

    def start(request: HttpRequest) -> None:
        request.session["start"] = 1

    handlers = {"/": start, **views}

    @app
    def view(request: HttpRequest) -> str:
        handlers[request.path](request)
        return "ok"


def started(client: Client, store: Any, **data: Any) -> str:
    """A session stored with ``data``; the client holds its cookie."""
    client.get("/")
    sid = sid_of(client)
    store.set(sid, {**store.get(sid), **data})
    return sid


# -- two requests, two keys -------------------------------------------------------


@pytest.mark.parametrize(
    ("concurrency", "kept"),
    [
        ("merge", {"start": 1, "a": "A", "b": "B"}),
        ("overwrite", {"start": 1, "a": "A"}),  # express's race: B's change is lost
    ],
)
def test_two_overlapping_requests_changing_different_keys(expsession, app, client, concurrency, kept):
    store = expsession.configure(CONCURRENCY=concurrency)

    def a(request: HttpRequest) -> None:
        request.session["a"] = "A"
        during(request, "/b")

    def b(request: HttpRequest) -> None:
        request.session["b"] = "B"

    routes(app, {"/a": a, "/b": b})
    client.get("/")
    expsession.calls.clear()
    client.get("/a")

    assert stored_data(store, sid_of(client)) == kept
    if concurrency == "merge":
        # B's compare-and-set, then A's two: the first finds B's write and
        # loses, the second writes A's change on top of it.
        assert expsession.calls["merge"] == 3
        assert expsession.calls["set"] == 3  # each attempt is counted as the save it is


@pytest.mark.parametrize(
    ("concurrency", "b_deletes", "a_deletes"),
    [
        ("merge", {"start": 1, "y": 2}, {"start": 1, "y": 2}),
        # A's whole document wins: B's delete undone, or B's change lost.
        ("overwrite", {"start": 1, "x": 1, "y": 2}, {"start": 1, "y": 1}),
    ],
)
def test_a_key_one_request_deletes_while_another_changes_a_key(
    expsession, app, concurrency, b_deletes, a_deletes
):
    store = expsession.configure(CONCURRENCY=concurrency)

    def set_y(request: HttpRequest) -> None:
        request.session["y"] = 2

    def delete_x(request: HttpRequest) -> None:
        del request.session["x"]

    def a(request: HttpRequest) -> None:
        first, then = (set_y, "/delete") if request.path == "/a1" else (delete_x, "/set")
        first(request)
        during(request, then)

    routes(app, {"/a1": a, "/a2": a, "/delete": delete_x, "/set": set_y})
    for path, expected in (("/a1", b_deletes), ("/a2", a_deletes)):
        client = Client()
        sid = started(client, store, x=1, y=1)
        client.get(path)
        assert stored_data(store, sid) == expected


@pytest.mark.parametrize(("concurrency", "kept"), [("merge", True), ("overwrite", False)])
def test_an_unmodified_request_saved_by_resave_keeps_a_concurrent_change(
    expsession, app, client, concurrency, kept
):
    store = expsession.configure(CONCURRENCY=concurrency, RESAVE=True)

    def read(request: HttpRequest) -> None:
        assert request.session["start"] == 1
        during(request, "/b")

    def b(request: HttpRequest) -> None:
        request.session["b"] = "B"

    routes(app, {"/read": read, "/b": b})
    with freeze_time(NOW) as clock:
        client.get("/")
        sid = sid_of(client)
        expsession.calls.clear()
        clock.tick(10)
        response = client.get("/read")
        document = store.get(sid)

    assert ("b" in document) is kept
    assert document["cookie"]["expires"] == "2030-01-02T03:05:15.000Z"  # the expiry still moves
    assert NAME not in response.cookies  # unmodified: express sends no cookie
    if concurrency == "merge":
        # B's save; A's resave, a compare-and-set that lost to B's write and
        # was written again on top of it (the document's cookie moves too).
        assert expsession.calls["merge"] == 3
        assert expsession.calls["set"] == 3


# -- a session destroyed meanwhile -------------------------------------------------


@pytest.mark.parametrize("modified", [True, False], ids=["modified", "unmodified"])
def test_a_session_destroyed_by_another_request_is_not_written_back(expsession, app, client, modified):
    store = expsession.configure(CONCURRENCY="merge", ROLLING=True)

    def a(request: HttpRequest) -> None:
        if modified:
            request.session["a"] = "A"
        during(request, "/logout")

    def logout(request: HttpRequest) -> None:
        request.session.destroy()

    routes(app, {"/a": a, "/logout": logout})
    sid = started(client, store)
    response = client.get("/a")

    assert store.get(sid) is None
    assert store.length() == 0
    assert NAME not in response.cookies  # ROLLING would have sent one


def test_overwrite_brings_a_destroyed_session_back(expsession, app, client):
    store = expsession.configure(CONCURRENCY="overwrite")

    def a(request: HttpRequest) -> None:
        request.session["a"] = "A"
        during(request, "/logout")

    routes(app, {"/a": a, "/logout": lambda request: request.session.destroy()})
    sid = started(client, store)
    client.get("/a")

    assert stored_data(store, sid) == {"start": 1, "a": "A"}  # express's behaviour


def test_an_explicit_save_of_a_session_destroyed_meanwhile_is_a_quiet_no_op(expsession, app, client):
    store = expsession.configure(CONCURRENCY="merge")
    seen: dict[str, Any] = {}

    def a(request: HttpRequest) -> None:
        request.session["a"] = "A"
        during(request, "/logout")
        request.session.save()  # raises nothing
        seen["after"] = (bool(request.session), request.session.id)
        request.session["more"] = 1  # an inert session: never stored

    routes(app, {"/a": a, "/logout": lambda request: request.session.destroy()})
    sid = started(client, store)
    response = client.get("/a")

    assert seen["after"] == (False, None)  # treated as destroyed
    assert store.length() == 0 and store.get(sid) is None
    assert NAME not in response.cookies


# -- new ids write whole documents ----------------------------------------------------


def test_regenerate_writes_the_whole_new_document(expsession, app, client):
    store = expsession.configure(CONCURRENCY="merge")

    def login(request: HttpRequest) -> None:
        during(request, "/b")
        request.session.regenerate()
        request.session["user"] = "ada"

    routes(app, {"/login": login, "/b": lambda request: request.session.__setitem__("b", "B")})
    old = started(client, store)
    expsession.calls.clear()
    client.get("/login")
    new = sid_of(client)

    assert new != old
    assert store.get(old) is None
    assert stored_data(store, new) == {"user": "ada"}
    assert expsession.calls["set"] - expsession.calls["merge"] == 1  # B merged, A set


def test_cycle_key_writes_the_data_it_has_under_the_new_id(expsession, app, client):
    # contrib.auth's login: a change another request made to the old id
    # meanwhile is not carried over (the old session is destroyed).
    store = expsession.configure(CONCURRENCY="merge")

    def login(request: HttpRequest) -> None:
        during(request, "/b")
        request.session.cycle_key()
        request.session["user"] = "ada"

    routes(app, {"/login": login, "/b": lambda request: request.session.__setitem__("b", "B")})
    old = started(client, store)
    client.get("/login")
    new = sid_of(client)

    assert new != old
    assert store.get(old) is None
    assert stored_data(store, new) == {"start": 1, "user": "ada"}


def test_regenerate_to_the_same_id_still_writes_the_whole_document(expsession, app, client):
    # A fixed GENID: the new session has the old id, but it is new all the same.
    store = expsession.configure(CONCURRENCY="merge", GENID=lambda request: "fixed-id")

    def again(request: HttpRequest) -> None:
        request.session.regenerate()
        request.session["fresh"] = True

    routes(app, {"/again": again})
    client.get("/")
    client.get("/again")

    assert stored_data(store, "fixed-id") == {"fresh": True}


# -- reload and explicit saves ----------------------------------------------------------


def test_reload_makes_what_was_read_the_base_of_the_merge(expsession, app, client):
    store = expsession.configure(CONCURRENCY="merge")

    def a(request: HttpRequest) -> None:
        during(request, "/b")
        request.session.reload()
        assert request.session["b"] == "B"
        del request.session["b"]  # a change against the reloaded data

    routes(app, {"/a": a, "/b": lambda request: request.session.__setitem__("b", "B")})
    sid = started(client, store)
    client.get("/a")

    assert stored_data(store, sid) == {"start": 1}


def test_an_explicit_save_shows_the_view_what_other_requests_stored(expsession, app, client):
    store = expsession.configure(CONCURRENCY="merge")
    seen: dict[str, Any] = {}

    def a(request: HttpRequest) -> None:
        cart = request.session["cart"]
        cart.append("mine")
        during(request, "/b")
        request.session.save()
        seen["keys"] = list(request.session)
        cart.append("after the save")  # the view's own objects stay the session's
        seen["modified"] = request.session.modified

    routes(app, {"/a": a, "/b": lambda request: request.session.__setitem__("b", "B")})
    sid = started(client, store, cart=[])
    expsession.calls.clear()
    client.get("/a")

    assert seen["keys"] == ["start", "cart", "b"]
    assert seen["modified"] is True
    assert stored_data(store, sid) == {"start": 1, "cart": ["mine", "after the save"], "b": "B"}
    # B; A's save (lost to B's write, then written on top of it); A's end-of-request save.
    assert expsession.calls["merge"] == 4


def test_others_changes_seen_through_a_save_do_not_make_the_session_modified(expsession, app, client):
    # express's rules look at what this request did: a save that changed
    # only the cookie leaves the session unmodified, so no Set-Cookie.
    expsession.configure(CONCURRENCY="merge")
    seen: dict[str, Any] = {}

    def a(request: HttpRequest) -> None:
        during(request, "/b")
        request.session.cookie.max_age = 120  # not a data change (express)
        request.session.save()
        seen["b"] = request.session.get("b")
        seen["modified"] = request.session.modified

    routes(app, {"/a": a, "/b": lambda request: request.session.__setitem__("b", "B")})
    sid = started(client, expsession.store)
    response = client.get("/a")

    assert seen == {"b": "B", "modified": False}
    assert NAME not in response.cookies
    assert expsession.store.get(sid)["cookie"]["originalMaxAge"] == 120_000


def test_a_save_that_changed_nothing_keeps_and_shows_a_concurrent_change(expsession, app, client):
    # A forced save writes the whole document by compare-and-set, like any
    # save: it finds B's write, keeps it, and the view sees it.
    store = expsession.configure(CONCURRENCY="merge")
    seen: dict[str, Any] = {}

    def a(request: HttpRequest) -> None:
        during(request, "/b")
        request.session.modified = True  # forces a save, changes no data
        request.session.save()
        seen["b"] = request.session.get("b")

    routes(app, {"/a": a, "/b": lambda request: request.session.__setitem__("b", "B")})
    sid = started(client, store)
    expsession.calls.clear()
    client.get("/a")

    assert seen == {"b": "B"}
    assert stored_data(store, sid) == {"start": 1, "b": "B"}
    assert expsession.calls["merge"] == 3  # B's; A's, lost to B's and written again
    assert expsession.calls["touch"] == 1  # saved and unchanged since: the end touches (express)


# -- the async path -----------------------------------------------------------------------


@pytest.mark.parametrize(("concurrency", "kept"), [("merge", True), ("overwrite", False)])
async def test_async_requests_overlapping_keep_both_changes_with_merge(
    expsession, async_app, async_client, concurrency, kept
):
    store = await sync_to_async(expsession.configure)(CONCURRENCY=concurrency)

    @async_app
    async def view(request: HttpRequest) -> str:
        if request.path == "/":
            await request.session.aset("start", 1)
        elif request.path == "/a":
            await request.session.aset("a", "A")
            await during_async(request, "/b")
            await request.session.asave()
            await request.session.aset("after", True)
        else:
            await request.session.aset("b", "B")
        return "ok"

    try:
        await async_client.get("/")
        await async_client.get("/a")
        document = await store.aget(sid_of(async_client))
    finally:
        await sync_to_async(connections.close_all)()

    assert ("b" in document) is kept
    assert document["a"] == "A" and document["after"] is True


# -- SESSION_ENGINE ---------------------------------------------------------------------------


def test_the_session_engine_merges_too(expsession, app, client):
    # Django's test Client, Channels: a SessionStore read from the store
    # saves its own changes only.
    store = expsession.configure(CONCURRENCY="merge")
    routes(app, {})
    sid = started(client, store)

    session = SessionStore(client.cookies[NAME].value)
    session["engine"] = True
    store.set(sid, {**store.get(sid), "other": True})  # another request's save
    session.save()

    assert stored_data(store, sid) == {"start": 1, "engine": True, "other": True}
