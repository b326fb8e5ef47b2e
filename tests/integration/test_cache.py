"""Vary: Cookie, and Django's cache middleware never handing one visitor's session to another."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from django.core.cache import caches
from django.test import Client

from django_expsession import signing

from . import views
from .conftest import SITE_SETTINGS

pytestmark = pytest.mark.django_db

NAME = "connect.sid"


def set_cookie_sid(response: Any) -> str | None:
    morsel = response.cookies.get(NAME)
    return None if morsel is None else signing.unsign_cookie(unquote(morsel.value), ["keyboard cat"])


def vary(response: Any) -> set[str]:
    return {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}


@pytest.fixture
def cached_site(site: Any, settings: Any) -> Any:
    """The site behind Django's whole-site cache (Update... first, Fetch... last)."""
    settings.MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *settings.MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    settings.CACHE_MIDDLEWARE_SECONDS = 300
    settings.CACHE_MIDDLEWARE_KEY_PREFIX = "expsession-cache-tests"
    caches["default"].clear()
    views.calls.clear()
    yield site
    caches["default"].clear()


# -- Vary: Cookie ---------------------------------------------------------------------


def test_a_view_that_reads_the_session_varies_on_cookie(site, client):
    response = client.get("/t/reads/")
    assert "cookie" in vary(response)
    assert NAME not in response.cookies  # read only: nothing to send


def test_a_view_that_writes_the_session_varies_on_cookie(site, client):
    response = client.get("/t/remember/zoe/")
    assert "cookie" in vary(response)
    assert NAME in response.cookies


def test_a_view_that_ignores_the_session_does_not_vary(site, client):
    response = client.get("/t/plain/")
    assert "cookie" not in vary(response)
    assert NAME not in response.cookies


def test_an_async_view_that_reads_the_session_varies_on_cookie(site, client):
    assert "cookie" in vary(client.get("/t/async/whoami/"))


# -- the cache middleware -----------------------------------------------------------------


def test_pages_without_session_work_are_still_cached(cached_site):
    first = Client().get("/t/plain/")
    second = Client().get("/t/plain/")
    assert views.calls["plain"] == 1  # the second came from the cache
    assert first.content == second.content
    assert NAME not in first.cookies and NAME not in second.cookies


def test_a_new_session_cookie_is_never_cached_for_the_next_visitor(cached_site):
    # express's default: a session is saved, and its cookie sent, even when
    # the view never touched it.
    cached_site.configure(**{**SITE_SETTINGS, "SAVE_UNINITIALIZED": True})
    first = Client().get("/t/plain/")
    second = Client().get("/t/plain/")
    first_sid, second_sid = set_cookie_sid(first), set_cookie_sid(second)
    assert first_sid is not None and second_sid is not None
    assert first_sid != second_sid
    assert "private" in first["Cache-Control"]
    assert views.calls["plain"] == 2


def test_visitors_with_the_same_stale_cookie_get_different_sessions(cached_site):
    cached_site.configure(**{**SITE_SETTINGS, "SAVE_UNINITIALIZED": True})
    sids = []
    for _ in range(2):
        client = Client()
        client.cookies[NAME] = "s%3Agone.forged"  # the same Cookie header both times
        sids.append(set_cookie_sid(client.get("/t/plain/")))
    assert None not in sids
    assert sids[0] != sids[1]


def test_a_session_cookie_is_never_replayed_to_another_visitor(cached_site):
    # Both visitors send the same Cookie header (a consent cookie, no session),
    # so a cached response would be served to the second one as it was.
    anna, ben = Client(), Client()
    anna.cookies["consent"] = ben.cookies["consent"] = "yes"
    first = anna.get("/t/remember/anna/")
    assert set_cookie_sid(first) is not None
    assert "private" in first["Cache-Control"]

    second = ben.get("/t/remember/anna/")

    assert set_cookie_sid(second) != set_cookie_sid(first)
    assert ben.get("/t/reads/").content == b"hello anna"  # ben's own session
    assert anna.get("/t/reads/").content == b"hello anna"
    assert ben.cookies[NAME].value != anna.cookies[NAME].value


def test_a_rolling_cookie_on_a_page_that_ignores_the_session_is_never_replayed(cached_site):
    cached_site.configure(**{**SITE_SETTINGS, "ROLLING": True})
    owner = Client()
    owner.get("/t/remember/yves/")
    # ROLLING re-sends the owner's cookie although the view never looked at
    # the session, so nothing says "Vary: Cookie" here.
    first = owner.get("/t/plain/")
    assert set_cookie_sid(first) is not None
    assert "private" in first["Cache-Control"]

    stranger = Client()
    second = stranger.get("/t/plain/")

    assert set_cookie_sid(second) is None
    assert stranger.get("/t/reads/").content == b"hello stranger"


def test_a_page_that_reads_the_session_is_cached_per_cookie(cached_site):
    alice, bob = Client(), Client()
    alice.get("/t/remember/alice/")
    bob.get("/t/remember/bob/")
    assert alice.get("/t/reads/").content == b"hello alice"
    assert bob.get("/t/reads/").content == b"hello bob"
    assert alice.get("/t/reads/").content == b"hello alice"
    assert views.calls["reads"] == 2  # alice's second read came from her cache entry
