"""The site served by uvicorn: real HTTP, sync and async views, no thread hop in the async path."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import HttpSession, Server, serve

STORES = {
    # Async twins that work inline: the whole request stays on the event loop.
    "async-memory": "tests.integration.probes.AsyncMemoryStore",
    # The shipped database store (Django's async ORM) on a SQLite file.
    "database": "tests.integration.probes.RecordingDatabaseStore",
}


@pytest.fixture(scope="module", params=list(STORES))
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp(f"asgi-{request.param}")
    with serve(
        tmp,
        "tests.integration.server_settings",
        setup=(("createdemouser",),),
        env={"EXPSESSION_TEST_STORE": STORES[request.param]},
    ) as running:
        yield running


def views_on(page: str) -> int:
    match = re.search(r"you viewed this page (\d+) time", page)
    assert match is not None, page
    return int(match.group(1))


def store_log(server: Server) -> list[dict[str, object]]:
    """What the store was asked since the last call (a cookie-less, session-less request)."""
    response = server.client().get("/t/probe/log/")
    assert response.status == 200
    return json.loads(response.body)["log"]  # type: ignore[no-any-return]


def test_sync_and_async_views_share_one_session(server):
    browser = server.client()
    assert views_on(browser.get("/").body) == 1  # sync view
    expiry = browser.get("/expiry/")  # async view
    assert expiry.status == 200
    assert 'id="countdown" data-expires="' in expiry.body
    assert views_on(browser.get("/").body) == 2
    assert browser.get("/t/probe/async/").status == 200
    counts = json.loads(browser.get("/t/probe/sync/").body)
    assert (counts["sync"], counts["async"]) == (1, 1)


def test_the_session_cookie_over_real_http(server):
    response = server.client().get("/")
    [cookie] = [c for c in response.set_cookies() if c.startswith("connect.sid=")]
    assert re.match(
        r"connect\.sid=s%3A[\w-]{32}\.[\w%]+; Path=/; Expires=[^;]+ GMT; HttpOnly; SameSite=Lax$", cookie
    )
    assert "Cookie" in (response.header("Vary") or "")
    assert "private" in (response.header("Cache-Control") or "")


def test_an_unknown_or_forged_cookie_gets_a_fresh_session(server):
    browser = server.client()
    browser.cookies["connect.sid"] = "s%3Aforged.signature"
    assert views_on(browser.get("/").body) == 1
    assert browser.cookies["connect.sid"] != "s%3Aforged.signature"


def test_async_path_stays_on_the_event_loop_thread(server):
    store_log(server)  # start from a clean log
    browser = server.client()
    first = json.loads(browser.get("/t/probe/async/").body)
    second = json.loads(browser.get("/t/probe/async/").body)
    log = store_log(server)

    loop_thread = first["view"]["thread"]
    assert first["view"]["main"] and second["view"]["thread"] == loop_thread
    # new session: saved after the view; known session: read, then saved
    # by compare-and-set on what was read (CONCURRENCY "merge", the default).
    assert [entry["op"] for entry in log] == ["aset", "aread", "areplace"]
    # The middleware called the async API from the event loop thread itself:
    # no sync_to_async hop around the middleware or the store call.
    assert {entry["thread"] for entry in log} == {loop_thread}


def test_a_sync_view_runs_in_a_worker_thread_while_the_middleware_stays_async(server):
    browser = server.client()
    loop_thread = json.loads(browser.get("/t/probe/async/").body)["view"]["thread"]
    store_log(server)
    sync = json.loads(browser.get("/t/probe/sync/").body)
    log = store_log(server)

    assert not sync["view"]["main"]
    assert sync["view"]["thread"] != loop_thread
    assert [entry["op"] for entry in log] == ["aread", "areplace"]
    assert {entry["thread"] for entry in log} == {loop_thread}


def test_login_and_logout_through_uvicorn(server):
    browser = server.client()
    browser.get("/")
    anonymous_cookie = browser.cookies["connect.sid"]

    response = browser.login("demo", "demo")

    assert response.status == 302
    assert browser.cookies["connect.sid"] != anonymous_cookie
    assert "user: demo" in browser.get("/").body
    # The pre-login session was destroyed: its cookie carries nothing now.
    old = HttpSession(server.host, server.port, {"connect.sid": anonymous_cookie})
    assert views_on(old.get("/").body) == 1

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get("/").body)
    assert token is not None
    response = browser.post("/logout/", {"csrfmiddlewaretoken": token.group(1)})
    assert response.status == 302
    assert "user: anonymous" in browser.get("/").body


def test_async_login_view_through_uvicorn(server):
    browser = server.client()
    token = browser.csrf_token("/login/")
    response = browser.post(
        "/t/async/login/", {"username": "demo", "password": "demo", "csrfmiddlewaretoken": token}
    )
    assert response.body == "logged in"
    assert browser.get("/t/async/whoami/").body == "demo"
    assert browser.get("/t/whoami/").body == "demo"  # the sync view agrees
