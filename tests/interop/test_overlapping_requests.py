"""Requests on the two sides that overlap: what each side's save keeps.

A Django request saves the session it loaded by compare-and-set: when the
other side wrote it meanwhile, Django applies its own changes, key by key,
to what is stored now (CONCURRENCY "merge", the default), and it never
writes back a session destroyed meanwhile. express-session saves the whole
session it loaded, so an Express request that changed the session undoes
what Django wrote in between; with ``resave: false`` an Express request
that changed nothing only touches. docs/express.rst says all four.

One request is held with its session loaded (``?delay=<ms>``, on both
apps) while the other app serves a request in a thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .harness import COOKIE_NAME as NAME
from .harness import SHARED_STORES, Browser, Reply, Stored

pytestmark = pytest.mark.parametrize("shared_store", SHARED_STORES, indirect=True)
HOLD_MS = 2500  # how long the held request waits with its session loaded (margin for a busy CI machine)
LATER = 0.3  # when, in seconds, the overlapping request starts


def _later(delay: float, call: Callable[[], Reply]) -> tuple[Reply, float]:
    time.sleep(delay)
    reply = call()
    return reply, time.monotonic()


def _overlap(held: Callable[[], Reply], meanwhile: Callable[[], Reply]) -> tuple[Reply, Reply]:
    """Run ``held`` here and ``meanwhile`` in a thread, starting LATER; check they overlapped."""
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(_later, LATER, meanwhile)
        started = time.monotonic()
        first = held()
        finished = time.monotonic()
        second, second_finished = other.result(timeout=30)
    assert started + LATER < second_finished < finished, "the requests did not overlap"
    return first, second


def _held_in_thread(held: Callable[[], Reply], meanwhile: Callable[[], Reply]) -> tuple[Reply, Reply]:
    """Run ``held`` in a thread and ``meanwhile`` here, LATER; check they overlapped."""
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(_later, 0, held)
        time.sleep(LATER)
        second = meanwhile()
        second_finished = time.monotonic()
        first, first_finished = other.result(timeout=30)
    assert second_finished < first_finished, "the requests did not overlap"
    return first, second


def test_a_django_save_keeps_what_express_wrote_meanwhile(
    express: Any, django_app: Any, browser: Browser, stored: Stored
) -> None:
    browser.post(express, "/write", {"n": 1})
    sid, headers = browser.sid(), browser.headers_for("/")
    _overlap(
        lambda: browser.post(django_app, f"/write?delay={HOLD_MS}", {"django": "held"}),
        lambda: express.call("POST", "/write", {"express": "meanwhile"}, headers),
    )
    expected = {"n": 1, "django": "held", "express": "meanwhile"}
    document = stored.document(sid)
    assert document is not None
    assert {key: value for key, value in document.items() if key != "cookie"} == expected
    assert browser.get(express, "/read").body["data"] == expected


def test_a_django_save_does_not_bring_back_a_session_express_destroyed_meanwhile(
    express: Any, django_app: Any, browser: Browser, stored: Stored
) -> None:
    browser.post(express, "/write", {"n": 1})
    sid, headers = browser.sid(), browser.headers_for("/")
    held, _ = _overlap(
        lambda: browser.post(django_app, f"/write?delay={HOLD_MS}", {"django": "held"}),
        lambda: express.call("POST", "/logout", {}, headers),
    )
    assert held.set_cookie(NAME) is None
    assert not stored.exists(sid)
    after = browser.get(express, "/read").body
    assert after["id"] != sid and not after["data"]


def test_an_express_save_undoes_what_django_wrote_meanwhile(
    express: Any, django_app: Any, browser: Browser, stored: Stored
) -> None:
    browser.post(django_app, "/write", {"n": 1})
    sid, headers = browser.sid(), browser.headers_for("/")
    _held_in_thread(
        lambda: express.call("POST", f"/write?delay={HOLD_MS}", {"express": "held"}, headers),
        lambda: browser.post(django_app, "/write", {"django": "meanwhile"}),
    )
    assert browser.get(django_app, "/read").body["data"] == {"n": 1, "express": "held"}  # Django's is gone
    assert stored.exists(sid)


def test_an_express_request_that_changes_nothing_keeps_what_django_wrote_meanwhile(
    express: Any, django_app: Any, browser: Browser
) -> None:
    browser.post(django_app, "/write", {"n": 1})
    headers = browser.headers_for("/")
    _held_in_thread(
        lambda: express.call("GET", f"/read?delay={HOLD_MS}", None, headers),
        lambda: browser.post(django_app, "/write", {"django": "meanwhile"}),
    )
    assert browser.get(express, "/read").body["data"] == {"n": 1, "django": "meanwhile"}
