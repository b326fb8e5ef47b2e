"""ABSOLUTE_TIMEOUT and RENEW_AFTER on the Django side of a session shared with a live Express app.

Express knows neither setting: it keeps the ``"_expsession"`` key Django
stores (the session's creation and the id's issue time) as ordinary data,
and rewrites it unchanged. So a session started on either side keeps its
first creation time through writes on both, Django renews the id and ends
the session on time whoever wrote last, and Express follows both by the
cookie and the store. Over RedisStore, CacheStore and connect-pg-simple's
table, under express 4 and 5.

Only Django's clock moves (freezegun cannot reach Node's): a scenario
starts at the real time, so Express and Django agree on every expiry, and
then asks Django alone about a later instant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from .harness import COOKIE_NAME as NAME
from .harness import DIRECTIONS, Browser, DjangoApp, ExpressApp, in_order

ABSOLUTE = 3000  # seconds; the cookie lives an hour, so only the absolute bound ends it
RENEW = 600

pytestmark = [
    pytest.mark.parametrize("shared_store", ["RedisStore", "CacheStore", "DatabaseStore"], indirect=True),
    # Node reads what Django commits: no wrapping test transaction (connect-pg-simple).
    pytest.mark.django_db(databases=["default", "postgres"], transaction=True),
]


@pytest.fixture
def clock() -> Iterator[Any]:
    with freeze_time(datetime.now(UTC), tick=True) as frozen:
        yield frozen


@pytest.fixture
def django_app(use_django: Callable[..., DjangoApp], clock: Any) -> DjangoApp:
    return use_django(expsession={"ABSOLUTE_TIMEOUT": ABSOLUTE, "RENEW_AFTER": RENEW, "RENEW_GRACE": 30})


@pytest.fixture(params=list(DIRECTIONS))
def first_then_second(
    request: pytest.FixtureRequest, express: ExpressApp, django_app: DjangoApp
) -> tuple[Any, Any]:
    return in_order(str(request.param), express, django_app)


def created(reply: Any) -> int:
    return int(reply.body["data"]["_expsession"]["created"])


def stored_created(stored: Any, sid: str) -> int:
    document = stored.document(sid)
    assert document is not None
    return int(document["_expsession"]["created"])


def test_the_creation_time_survives_writes_on_both_sides_and_express_sees_it_as_data(
    first_then_second: tuple[Any, Any],
    express: ExpressApp,
    django_app: DjangoApp,
    browser: Browser,
    user: Any,
    stored: Any,
) -> None:
    first, second = first_then_second
    browser.post(first, "/login", {"userId": user.pk})
    browser.post(django_app, "/write", {"step": 1})  # Django stamps a session Express started
    sid = browser.sid()
    start = created(browser.get(express, "/read"))  # ordinary data to Express
    assert stored_created(stored, sid) == start

    browser.post(express, "/write", {"step": 2})
    browser.post(second, "/write", {"step": 3})

    assert stored_created(stored, sid) == start
    seen = browser.get(django_app, "/read")
    assert "_expsession" not in seen.body["data"]  # Django's views never see it
    assert seen.body["data"]["step"] == 3
    assert browser.get(express, "/whoami").body["userId"] == user.pk


def test_django_renews_the_id_and_express_follows_the_new_cookie(
    first_then_second: tuple[Any, Any],
    express: ExpressApp,
    django_app: DjangoApp,
    browser: Browser,
    user: Any,
    stored: Any,
    clock: Any,
) -> None:
    first, _ = first_then_second
    browser.post(first, "/login", {"userId": user.pk})
    browser.post(django_app, "/write", {"kept": "ü✓"})
    old_cookie, old_sid = browser.value(NAME), browser.sid()
    start = created(browser.get(express, "/read"))

    clock.tick(timedelta(seconds=RENEW + 1))
    renewed = browser.get(django_app, "/whoami")

    sid = browser.sid()
    assert renewed.set_cookie(NAME) is not None
    assert sid != old_sid
    assert renewed.body["userId"] == user.pk
    seen = browser.get(express, "/read")  # the new cookie, on Express
    assert seen.body["id"] == sid
    assert seen.body["data"]["kept"] == "ü✓"
    assert created(seen) == start  # the same session, renewed
    assert browser.get(express, "/whoami").body["userId"] == user.pk
    # Within the grace Django answers the old cookie with the renewed
    # session; Express, which knows no forwarding, finds no login there.
    late = browser.get(django_app, "/whoami", cookie=f"{NAME}={old_cookie}")
    assert late.body["id"] == sid
    assert browser.get(express, "/whoami", cookie=f"{NAME}={old_cookie}").body["userId"] is None

    clock.tick(timedelta(seconds=31))
    after = browser.get(django_app, "/whoami", cookie=f"{NAME}={old_cookie}")
    assert after.body["userId"] is None
    assert after.body["id"] not in (old_sid, sid)
    assert stored.exists(sid)


def test_writes_on_express_do_not_extend_the_absolute_lifetime(
    first_then_second: tuple[Any, Any],
    express: ExpressApp,
    django_app: DjangoApp,
    browser: Browser,
    user: Any,
    stored: Any,
    clock: Any,
) -> None:
    first, _ = first_then_second
    browser.post(first, "/login", {"userId": user.pk})
    browser.post(django_app, "/write", {"step": 1})
    sid = browser.sid()
    deadline = stored_created(stored, sid) / 1000 + ABSOLUTE
    # Django's record ends at the absolute bound, before the cookie's hour is up.
    assert stored.expiry(sid) <= deadline + 1

    clock.tick(timedelta(seconds=RENEW - 1))  # no renewal yet
    browser.post(express, "/write", {"step": 2})  # Express writes last: its record lives the hour
    assert stored.expiry(sid) > deadline + 500

    clock.tick(timedelta(seconds=ABSOLUTE - RENEW + 2))  # past the bound, within Express's hour
    ended = browser.get(django_app, "/whoami")

    assert ended.body["userId"] is None
    assert ended.body["id"] != sid
    assert not stored.exists(sid)  # destroyed, so Express has nothing to find either
    assert browser.get(express, "/whoami").body["userId"] is None
