"""The pairing itself: what must match on both sides, and what a mismatch looks like.

The symptoms asserted here are the ones docs/express.rst describes for the
two common mistakes (different secrets, different cookie paths).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .harness import COOKIE_NAME as NAME
from .harness import Browser, Reply, in_order


def attributes(reply: Reply) -> list[str]:
    """The Set-Cookie attributes, without the value and the expiry time."""
    line = reply.set_cookie(NAME)
    assert line is not None, f"{reply.side} sent no session cookie"
    return [part.strip() for part in line.split(";")[1:] if not re.match(r"\s*expires=", part, re.I)]


def test_both_sides_send_the_same_cookie(express: Any, django_app: Any) -> None:
    created = [Browser().post(app, "/write", {"n": 1}) for app in (express, django_app)]
    assert (
        attributes(created[0]) == attributes(created[1]) == ["Path=/", "HttpOnly", "Secure", "SameSite=Lax"]
    )
    for reply in created:  # s:<id>.<signature>, URI-encoded
        value = (reply.set_cookie(NAME) or "").split(";")[0].partition("=")[2]
        assert re.fullmatch(r"s%3A[A-Za-z0-9_-]{32}\.[A-Za-z0-9%]+", value), value


@pytest.mark.parametrize("proxy", ["proxy: true", "trust proxy"])
def test_a_secure_cookie_is_sent_behind_the_proxy_only(
    proxy: str, start_express: Any, use_django: Any, db: None
) -> None:
    # express's session proxy option is PROXY; Express's "trust proxy" is
    # Django's SECURE_PROXY_SSL_HEADER (with PROXY left to None).
    changes = {} if proxy == "proxy: true" else {"proxy": None, "trust_proxy": 1}
    express, django = start_express(**changes), use_django(**changes)
    for first, second in ((express, django), (django, express)):
        browser = Browser()
        created = browser.post(first, "/write", {"made on": first.label})
        assert "Secure" in attributes(created)
        assert browser.get(second, "/read").body["data"] == {"made on": first.label}
        # Reached without the proxy (no X-Forwarded-Proto): neither sends it.
        direct = Browser(headers={})
        assert direct.post(first, "/write", {"n": 1}).set_cookie(NAME) is None


def test_different_secrets_make_two_sessions_that_undo_each_other(
    direction: str, start_express: Any, use_django: Any, db: None, user: Any, browser: Browser
) -> None:
    express = start_express(secrets=("the Express secret",))
    django = use_django(secrets=("the Django secret",))
    first, second = in_order(direction, express, django)

    browser.post(first, "/login", {"userId": user.pk})
    sid = browser.sid()
    seen = browser.get(second, "/whoami").body
    assert seen["userId"] is None  # the other app refuses the cookie...
    assert seen["id"] != sid  # ...and starts a session of its own

    browser.post(second, "/write", {"theme": "dark"})  # its cookie replaces the first app's
    assert browser.sid() != sid
    assert browser.get(first, "/whoami").body["userId"] is None  # logged out over there


def test_different_cookie_paths_split_the_session(
    start_express: Any, use_django: Any, db: None, user: Any, browser: Browser
) -> None:
    # Express serves the site from /, Django below /app with COOKIE PATH "/app".
    express, django = start_express(path="/"), use_django(path="/app")

    browser.post(django, "/app/login", {"userId": user.pk})
    assert browser.paths(NAME) == ["/app"]
    assert browser.get(express, "/whoami").body["userId"] is None  # no cookie is sent to /

    browser.post(express, "/write", {"theme": "dark"})  # a second cookie of the same name
    assert browser.paths(NAME) == ["/", "/app"]
    # Below /app the browser sends both, /app's first, and both apps take the first.
    assert browser.get(django, "/app/whoami").body["userId"] == user.pk
    assert browser.get(express, "/whoami").body["userId"] is None
