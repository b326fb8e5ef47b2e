"""The demo under uvicorn: assets are answered before the session middleware, the login says one thing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import Server, serve


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The demo's own settings (DEBUG on, as the README's command runs it).
    tmp: Path = tmp_path_factory.mktemp("demo-assets")
    with serve(
        tmp, "testproject.settings", setup=(("createdemouser",),), env={"DJANGO_DEBUG": "1"}
    ) as running:
        yield running


def views_on(page: str) -> int:
    match = re.search(r"you viewed this page (\d+) time", page)
    assert match is not None, page
    return int(match.group(1))


@pytest.mark.parametrize("asset", ["/favicon.ico", "/static/favicon.svg", "/static/admin/css/base.css"])
def test_an_asset_request_neither_counts_as_a_view_nor_touches_the_session(demo, asset):
    browser = demo.client()
    assert views_on(browser.get("/").body) == 1
    response = browser.get(asset)
    assert response.status == 200
    assert response.set_cookies() == []  # ROLLING would send the cookie on any response the middleware saw
    assert views_on(browser.get("/").body) == 2


def test_the_counter_page_shows_the_session_id_its_cookie_and_the_stored_document(demo):
    browser = demo.client()
    page = browser.get("/").body
    sid = re.search(r'<code id="sid">([^<]+)</code>', page)
    assert sid is not None
    assert "originalMaxAge" in page and "3600000" in page
    stored = browser.get(f"/stored/?sid={sid.group(1)}")
    assert '"views"' in stored.body and '"/": 1' in stored.body
    # Nobody else's: another visitor asking for this id gets nothing.
    assert '"document": null' in demo.client().get(f"/stored/?sid={sid.group(1)}").body


def test_a_wrong_password_gives_one_clear_message(demo):
    browser = demo.client()
    token = browser.csrf_token("/login/")
    page = browser.post(
        "/login/", {"username": "demo", "password": "wrong", "csrfmiddlewaretoken": token}
    ).body
    assert page.count("Wrong username or password") == 1
    assert "Please enter a correct" not in page  # Django's own wording is not repeated
