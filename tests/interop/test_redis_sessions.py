"""Sharing sessions with a live Express app through connect-redis's layout.

Each scenario runs under express 4 and express 5, in both directions (it
starts on one app and continues on the other, with one browser's cookies)
and over both Django stores that share connect-redis's keys: RedisStore
with connect-redis's prefix as ``PREFIX``, and CacheStore on a django-redis
cache, with connect-redis's prefix set to the key the cache makes of
``KEY_PREFIX`` (``Pairing.over_cache``). Both apps have the pairing of
``harness.Pairing`` (the one docs/express.rst shows): the same secret,
cookie name and options, store prefix and ``proxy`` setting, behind a proxy
that terminated TLS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import pytest

from .harness import COOKIE_NAME as NAME
from .harness import DIRECTIONS, SHARED_STORES, Browser, Reply, Stored, in_order

pytestmark = pytest.mark.parametrize("shared_store", SHARED_STORES, indirect=True)


def nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"n": depth}
    for level in reversed(range(depth)):
        node = {"n": level, "deeper": node}
    return node


# Nested containers, unicode (keys too, beyond the BMP, JSON's awkward
# characters) and large values: all must read back unchanged.
DATA: dict[str, Any] = {
    "nested": {"list": [1, -2, 2.5, 0.1, True, False, None, "x", [], {}], "deep": nested(20)},
    "unicode": 'Grüße, 世界, ключ 🔑, "quotes", back\\slash, tab\t, line\u2028separator',
    "ключ 🔑": "значение",
    "large": "ü" * 400_000,
    "many": [{"i": i, "s": str(i)} for i in range(5_000)],
    "max_safe_integer": 2**53 - 1,
}


def assert_one_expiry(reply: Reply, stored: Stored, sid: str) -> float:
    """The cookie the browser just got and the Redis key end together.

    Set-Cookie's Expires is cut to the second; connect-redis rounds its
    TTL up to the next second, we set the exact millisecond.
    """
    expires = reply.expires(NAME)
    assert expires is not None
    assert 0 <= stored.expiry(sid) - expires < 2, (reply.side, stored.expiry(sid), expires)
    return expires


def test_a_login_on_one_side_is_a_login_on_the_other(
    first_then_second: tuple[Any, Any], browser: Browser, user: Any, stored: Stored
) -> None:
    first, second = first_then_second
    browser.post(first, "/write", {"cart": ["a book"]})
    visitor_cookie, visitor_sid = browser.value(NAME), browser.sid()

    browser.post(first, "/login", {"userId": user.pk})
    sid = browser.sid()
    assert sid != visitor_sid  # a login moves the session to a new id
    assert not stored.exists(visitor_sid)

    seen = browser.get(second, "/whoami")
    assert (seen.body["id"], seen.body["userId"]) == (sid, user.pk)
    if first.label == "django":  # Express can read contrib.auth's own keys too
        assert seen.body["data"]["_auth_user_id"] == str(user.pk)

    stale = browser.get(second, "/whoami", cookie=f"{NAME}={visitor_cookie}")
    assert stale.body["userId"] is None
    assert stale.body["id"] not in (visitor_sid, sid)


def test_a_logout_on_one_side_ends_the_session_on_the_other(
    first_then_second: tuple[Any, Any], browser: Browser, user: Any, stored: Stored
) -> None:
    first, second = first_then_second
    browser.post(second, "/login", {"userId": user.pk})
    sid = browser.sid()
    assert browser.get(first, "/whoami").body["userId"] == user.pk

    logout = browser.post(first, "/logout")
    assert not stored.exists(sid)
    # Express leaves its cookie in the browser, pointing nowhere; Django
    # sends the cookie of a new, empty session.
    assert (logout.set_cookie(NAME) is not None) == (first.label == "django")

    after = browser.get(second, "/whoami")
    assert after.body["userId"] is None
    assert after.body["id"] != sid
    assert not after.body["data"]


def test_data_written_on_one_side_reads_the_same_on_the_other(
    first_then_second: tuple[Any, Any], browser: Browser, stored: Stored
) -> None:
    first, second = first_then_second
    browser.post(first, "/write", DATA)
    sid = browser.sid()
    assert browser.get(second, "/read").body["data"] == DATA

    answer = {"written by": second.label, "nested": {"changed": "ü✓"}}
    browser.post(second, "/write", answer)
    expected = {**DATA, **answer}
    assert browser.get(first, "/read").body["data"] == expected
    document = stored.document(sid)
    assert document is not None
    assert {key: value for key, value in document.items() if key != "cookie"} == expected


def test_rolling_on_either_side_keeps_one_expiry(
    direction: str, start_express: Any, use_django: Any, db: None, browser: Browser, stored: Stored
) -> None:
    first, second = in_order(direction, start_express(rolling=True), use_django(rolling=True))
    last = assert_one_expiry(browser.post(first, "/write", {"n": 1}), stored, browser.sid())
    sid = browser.sid()
    for app in (second, first):
        time.sleep(1.1)  # Expires has whole seconds
        reply = browser.get(app, "/read")
        assert reply.body["id"] == sid and reply.body["data"] == {"n": 1}
        expires = assert_one_expiry(reply, stored, sid)  # rolled: a fresh cookie, a fresh key
        assert expires > last
        last = expires


def test_a_touch_on_either_side_moves_the_one_expiry(
    direction: str, start_express: Any, use_django: Any, db: None, browser: Browser, stored: Stored
) -> None:
    # resave and rolling off: an unmodified request only touches the store,
    # which moves the key's expiry and nothing else on both sides.
    first, second = in_order(direction, start_express(), use_django())
    assert_one_expiry(browser.post(first, "/write", {"n": 1}), stored, browser.sid())
    sid = browser.sid()
    document = stored.document(sid)
    for app in (second, first):
        before = stored.expiry(sid)
        time.sleep(1.1)
        reply = browser.get(app, "/read")
        assert reply.set_cookie(NAME) is None  # as express: no cookie for an unmodified session
        assert stored.expiry(sid) - before >= 1.0  # the touch moved the key
        assert stored.document(sid) == document  # and only the key's expiry
        assert abs(stored.expiry(sid) - (time.time() + 3600)) < 2
    # The next save sends the browser the expiry Redis keeps.
    time.sleep(1.1)
    assert_one_expiry(browser.post(second, "/write", {"n": 2}), stored, sid)


def test_django_reads_the_expiry_of_a_session_touched_by_either_side(
    start_express: Any, use_django: Any, db: None, browser: Browser, stored: Stored
) -> None:
    """A touch leaves the stored cookie.expires stale (connect-redis's too); Django reads the key's.

    An Express handler reads the stored value (docs/express.rst says so).
    """
    express, django = start_express(), use_django()
    browser.post(express, "/write", {"n": 1})
    sid = browser.sid()
    document = stored.document(sid)
    assert document is not None
    for toucher in (express, django):
        time.sleep(1.1)
        browser.get(toucher, "/read")
        touched = stored.expiry(sid)
        seen = browser.get(django, "/read").body["cookie"]["expires"]
        assert datetime.fromisoformat(seen).timestamp() == pytest.approx(touched, abs=0.001)
        assert browser.get(express, "/read").body["cookie"]["expires"] == document["cookie"]["expires"]


def test_a_session_kept_alive_on_one_side_outlives_its_first_expiry_on_the_other(
    direction: str, start_express: Any, use_django: Any, db: None, browser: Browser, stored: Stored
) -> None:
    # A 3 s cookie: the second app's touch (no rolling, no resave) is all
    # that keeps the session past the expiry the first app gave it.
    first, second = in_order(direction, start_express(max_age=3), use_django(max_age=3))
    browser.post(first, "/write", {"n": 1})
    sid = browser.sid()
    first_expiry = stored.expiry(sid)
    time.sleep(1.5)
    assert browser.get(second, "/read").body["data"] == {"n": 1}
    assert stored.expiry(sid) > first_expiry
    time.sleep(max(0.0, first_expiry - time.time()) + 0.3)
    seen = browser.get(first, "/read").body
    assert (seen["id"], seen["data"]) == (sid, {"n": 1})


def test_a_browser_session_cookie_lives_ttl_in_the_store_on_both_sides(
    direction: str, start_express: Any, use_django: Any, db: None, browser: Browser, stored: Stored
) -> None:
    # No maxAge: the cookie has no Expires, the stored cookie.expires is null,
    # and connect-redis's ttl and the store's TTL give the key its life.
    first, second = in_order(direction, start_express(max_age=None, ttl=60), use_django(max_age=None, ttl=60))
    assert browser.post(first, "/write", {"n": 1}).expires(NAME) is None
    sid = browser.sid()
    for app in (second, first):
        time.sleep(1.1)
        before = stored.expiry(sid)
        seen = browser.get(app, "/read").body
        assert (seen["data"]["n"], seen["cookie"]["expires"]) == (1, None), app.label
        assert stored.expiry(sid) - before >= 1.0, app.label  # touched: TTL more from now
        browser.post(app, "/write", {"by": app.label})
        document = stored.document(sid)
        assert document is not None and document["by"] == app.label
        assert (document["cookie"]["expires"], document["cookie"]["originalMaxAge"]) == (None, None)
        assert abs(stored.expiry(sid) - (time.time() + 60)) < 2, app.label


def _signature(cookie_value: str, secret: str) -> bool:
    """Whether the cookie is signed with ``secret`` (cookie-signature's HMAC)."""
    sid, _, signature = unquote(cookie_value)[2:].rpartition(".")
    digest = hmac.new(secret.encode(), sid.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode().rstrip("=") == signature


OLD, NEW = "the old secret", "the new secret, ключ"


def test_secret_rotation_new_first_on_one_side_old_still_accepted_on_the_other(
    direction: str, start_express: Any, use_django: Any, db: None, browser: Browser
) -> None:
    rotated_label, other_label = DIRECTIONS[direction]
    sides = {
        rotated_label: (NEW, OLD),  # signs with the new secret, still accepts the old
        other_label: (OLD, NEW),  # not switched yet, but knows the new one
    }
    express = start_express(secrets=sides["express"])
    django = use_django(secrets=sides["django"])
    rotated, other = in_order(direction, express, django)

    browser.post(other, "/write", {"made on": other.label})
    sid = browser.sid()
    assert _signature(browser.value(NAME) or "", OLD)
    # The rotated side reads the old cookie, and signs it anew when it sends it.
    reply = browser.post(rotated, "/write", {"read by": rotated.label})
    assert reply.body["id"] == sid
    assert _signature(browser.value(NAME) or "", NEW)
    # The other side reads the newly signed cookie.
    seen = browser.get(other, "/read").body
    assert seen["id"] == sid
    assert seen["data"] == {"made on": other.label, "read by": rotated.label}


@pytest.mark.parametrize("tamper", ["signature", "session id"])
def test_a_tampered_cookie_from_the_other_side_is_refused_on_both(
    tamper: str, first_then_second: tuple[Any, Any], browser: Browser, stored: Stored
) -> None:
    first, second = first_then_second
    browser.post(first, "/write", {"secret": "data"})
    genuine, sid = browser.value(NAME) or "", browser.sid()
    expiry = stored.expiry(sid)
    head, _, signature = genuine.rpartition(".")
    if tamper == "signature":
        forged = f"{head}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    else:
        forged = f"{head[:-1]}{'A' if head[-1] != 'A' else 'B'}.{signature}"

    for app in (second, first):
        refused = browser.get(app, "/read", cookie=f"{NAME}={forged}")
        assert refused.body["id"] != sid, app.label
        assert not refused.body["data"], app.label
        assert refused.set_cookie(NAME) is None  # nothing to save for an empty new session

    assert stored.expiry(sid) == expiry  # not even touched
    assert browser.get(second, "/read").body["data"] == {"secret": "data"}
