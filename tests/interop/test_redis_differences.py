"""What does not cross from one side to the other unchanged.

The first tests pin limits of Express (and JavaScript) that docs/express.rst
tells users about. The ``xfail(strict=True)`` tests are incompatibilities
of ours, found by these live tests and reported; each reason says what
Express does and what we do. They turn into failures (XPASS) once fixed.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from .harness import Browser, Stored


def test_keys_express_reserves_are_dropped_by_express(
    express: Any, django_app: Any, browser: Browser, stored: Stored
) -> None:
    # express-session skips stored keys that name a Session member or an
    # Object.prototype member, and its next save writes the session without them.
    reserved = {"id": "x", "save": "x", "touch": "x", "regenerate": "x", "constructor": "x", "toString": "x"}
    browser.post(django_app, "/write", {**reserved, "kept": 1})
    assert browser.get(express, "/read").body["data"] == {"kept": 1}
    browser.post(express, "/write", {"more": 2})
    assert browser.get(django_app, "/read").body["data"] == {"kept": 1, "more": 2}


def test_integers_beyond_javascripts_safe_range_come_back_rounded(
    express: Any, django_app: Any, browser: Browser
) -> None:
    # JavaScript reads every number as a double, and writes 2**63 back as
    # the shortest decimal that reads as that double.
    browser.post(django_app, "/write", {"big": 2**63, "safe": 2**53 - 1, "float": 1.0})
    assert browser.get(express, "/read").body["data"]["big"] == 9223372036854776000
    browser.post(express, "/write", {"touched by": "express"})
    data = browser.get(django_app, "/read").body["data"]
    assert data["big"] == 9223372036854776000 != 2**63
    assert (data["safe"], data["float"]) == (2**53 - 1, 1)


@pytest.mark.xfail(
    strict=True,
    raises=UnicodeEncodeError,
    reason=(
        "A string with a lone UTF-16 surrogate (JavaScript allows it; JSON.stringify writes it as \\ud83d) "
        "is stored by connect-redis as valid JSON and read back by Express. Django loads it into a str "
        "with a lone surrogate, and the middleware's change-detection hash (session.data_hash, "
        "canonical(data).encode('utf-8')) raises UnicodeEncodeError: the request fails with a 500 "
        "instead of reading the session (and a save would fail the same way in doc.dumps + redis-py)."
    ),
)
def test_a_lone_surrogate_written_by_express_reads_on_django(
    express: Any, django_app: Any, browser: Browser
) -> None:
    half_a_key = "\ud83d"  # what "🔑".slice(0, 1) gives in JavaScript
    browser.post(express, "/write", {"cut": half_a_key, "n": 1})
    assert browser.get(django_app, "/read").body["data"] == {"cut": "\ud83d", "n": 1}
    browser.post(django_app, "/write", {"n": 2})
    assert browser.get(express, "/read").body["data"] == {"cut": "\ud83d", "n": 2}


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=(
        "RedisStore keeps its per-user index as <PREFIX>user:<id> (a set), under the prefix that "
        "connect-redis scans (SCAN MATCH <prefix>*). connect-redis's length() then counts the index "
        "as a session and ids() lists 'user:<id>' as a session id (all() skips it only because MGET "
        "answers nil for a set). Express alone has only session keys under its prefix."
    ),
)
def test_connect_redis_counts_the_sessions_after_a_django_login(
    express: Any, django_app: Any, browser: Browser, user: Any
) -> None:
    browser.post(django_app, "/login", {"userId": user.pk})
    sid = browser.sid()
    assert browser.get(express, "/store/ids").body == {"ids": [sid]}
    assert browser.get(express, "/store/length").body == {"length": 1}


@pytest.mark.parametrize(
    "concurrency",
    [
        pytest.param(
            "merge",
            marks=pytest.mark.xfail(
                strict=True,
                reason=(
                    "With resave on, express-session saves an unchanged session on every request "
                    "(connect-redis SET ... EX with the touched cookie), so the stored cookie.expires "
                    "follows the key's TTL. Under CONCURRENCY 'merge' (our default) RedisStore.refresh "
                    "moves only the key's expiry (PEXPIREAT); the document keeps the cookie.expires of "
                    "the last save that changed data, and Express handlers then read a stale "
                    "req.session.cookie.expires / maxAge (Django itself reads the key's expiry)."
                ),
            ),
        ),
        "overwrite",
    ],
)
def test_with_resave_a_request_that_changes_nothing_rewrites_the_stored_expiry(
    concurrency: str,
    start_express: Any,
    use_django: Any,
    db: None,
    browser: Browser,
    stored: Stored,
) -> None:
    express = start_express(resave=True)
    django = use_django(resave=True, expsession={"CONCURRENCY": concurrency})
    for app in (express, django):  # Express keeps them together; so must we
        browser.post(app, "/write", {"n": 1})
        sid = browser.sid()
        time.sleep(1.1)
        browser.get(app, "/read")
        document = stored.document(sid)
        assert document is not None
        stored_expires = document["cookie"]["expires"]
        assert stored_expires is not None
        assert abs(datetime.fromisoformat(stored_expires).timestamp() - stored.expiry(sid)) < 1, app.label
        browser.jar.clear()
