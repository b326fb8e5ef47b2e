"""Where the two sides once differed, and what still does not cross unchanged.

The first tests pin limits of Express (and JavaScript) that docs/express.rst
tells users about. The others are incompatibilities of ours that these live
tests found, now fixed, and kept as scenarios that must go on passing: lone
UTF-16 surrogates, connect-redis's view of the per-user index, and the
stored expiry under resave. An incompatibility found later is written here
as ``xfail(strict=True)`` with a reason that says what Express does and
what we do, so that its fix shows up as an XPASS.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
import redis

from django_expsession.stores import get_store

from .harness import SHARED_STORES, Browser, Pairing, Stored, in_order


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


# What "🔑".slice(0, 1) and "🔑".slice(1) give in JavaScript: valid in a JS
# string, and JSON.stringify writes each as a \u escape.
HIGH_HALF, LOW_HALF = "\ud83d", "\udd11"


def _holds_the_escapes(raw: str | None) -> bool:
    # As JSON.stringify writes them: lower-case \u escapes, in the value and in the key.
    return raw is not None and '"cut":"\\ud83d"' in raw and '"key \\udd11":"low half"' in raw


def test_a_lone_surrogate_crosses_both_ways(
    first_then_second: tuple[Any, Any], browser: Browser, stored: Stored
) -> None:
    first, second = first_then_second
    cut = {"cut": HIGH_HALF, f"key {LOW_HALF}": "low half", "n": 1}
    browser.post(first, "/write", cut)
    sid = browser.sid()
    assert _holds_the_escapes(stored.raw(sid)), first.label
    assert browser.get(second, "/read").body["data"] == cut

    browser.post(second, "/write", {"n": 2})
    assert _holds_the_escapes(stored.raw(sid)), second.label
    assert browser.get(first, "/read").body["data"] == {**cut, "n": 2}


@pytest.mark.parametrize("shared_store", SHARED_STORES, indirect=True)
def test_connect_redis_and_django_count_and_list_the_same_sessions_after_logins_on_both(
    express: Any, django_app: Any, user: Any, pairing: Pairing, redis_client: redis.Redis
) -> None:
    """The per-user sets live outside connect-redis's prefix, which it counts and lists."""
    on_django, on_express = Browser(), Browser()
    on_django.post(django_app, "/login", {"userId": user.pk})
    on_express.post(express, "/login", {"userId": user.pk})
    sids = sorted([on_django.sid(), on_express.sid()])

    index = pairing.index_prefix() + str(user.pk)
    assert redis_client.smembers(index) == {on_django.sid()}  # Django's login is indexed...
    assert not index.startswith(pairing.prefix)  # ...outside the sessions' prefix
    assert sorted(on_express.get(express, "/store/ids").body["ids"]) == sids
    assert on_express.get(express, "/store/length").body == {"length": 2}
    assert sorted(session["id"] for session in on_express.get(express, "/store/all").body["all"]) == sids
    store = get_store()
    assert sorted(sid for sid, _ in store.all()) == sids
    assert store.length() == 2


@pytest.mark.parametrize("shared_store", SHARED_STORES, indirect=True)
@pytest.mark.parametrize("concurrency", ["merge", "overwrite"])
def test_with_resave_a_request_that_changes_nothing_rewrites_the_stored_expiry(
    concurrency: str,
    direction: str,
    start_express: Any,
    use_django: Any,
    db: None,
    browser: Browser,
    stored: Stored,
) -> None:
    # express-session's resave saves an unchanged session on every request
    # (connect-redis SET ... EX with the touched cookie), so the stored
    # cookie.expires follows the key's TTL; Django's RESAVE saves the whole
    # document too, under either CONCURRENCY.
    express = start_express(resave=True)
    django = use_django(resave=True, expsession={"CONCURRENCY": concurrency})
    first, second = in_order(direction, express, django)
    browser.post(first, "/write", {"n": 1})
    sid = browser.sid()
    previous = _stored_expires(stored, sid)
    for app in (second, first):
        time.sleep(1.1)
        seen = browser.get(app, "/read").body
        assert seen["data"] == {"n": 1}
        # The handler saw what the last resave stored (Django: the key's expiry).
        if app is express:
            assert seen["cookie"]["expires"] == previous
        else:
            assert abs(datetime.fromisoformat(seen["cookie"]["expires"]).timestamp() - _seconds(previous)) < 1
        resaved = _stored_expires(stored, sid)
        assert _seconds(resaved) - _seconds(previous) >= 1.0, app.label
        assert abs(_seconds(resaved) - stored.expiry(sid)) < 1, app.label
        previous = resaved


def _stored_expires(stored: Stored, sid: str) -> str:
    document = stored.document(sid)
    assert document is not None and document["cookie"]["expires"] is not None
    return str(document["cookie"]["expires"])


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
