"""Sharing sessions with a live Express app through connect-pg-simple's table.

test_redis_sessions.py's scenarios over PostgreSQL: Express 4 and 5 on
connect-pg-simple 10, Django on DatabaseStore with ``TABLE_LAYOUT
"connect-pg-simple"``, both on a table of the test's own in the test
database (made by what ``expsession_createtable`` runs; one test lets
connect-pg-simple make it), each scenario in both directions, with the
pairing of ``harness.Pairing`` (``Pairing.over_postgres``).

Time does not pass here by waiting: where a scenario needs a session
written a while ago, ``PgStored.age`` moves its ``expire`` and its
``cookie.expires`` back, which both processes then see alike (freezegun
cannot reach Node's clock, and a real cookie that expires in seconds
would make the tests slow and timing-dependent).
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import connections

from django_expsession.stores.pgsimple import Table

from .. import pgtable
from .harness import COOKIE_NAME as NAME
from .harness import DIRECTIONS, Browser, PgStored, Reply, in_order
from .test_redis_sessions import DATA, NEW, OLD, _signature

pytestmark = [
    pytest.mark.parametrize("shared_store", ["DatabaseStore"], indirect=True),
    # Node reads what Django commits: no wrapping test transaction.
    pytest.mark.django_db(databases=["default", "postgres"], transaction=True),
]
HOUR = 3600


def iso_seconds(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def assert_one_expiry(reply: Reply, stored: PgStored, sid: str, *, saved: bool = True) -> float:
    """The cookie the browser just got, ``expire`` and (``saved``) the stored document end together.

    After a save ``expire`` is the stored ``cookie.expires`` rounded up to
    the second, whichever side saved it (a touch moves ``expire`` alone);
    Set-Cookie's Expires is cut down to the second.
    """
    expires = reply.expires(NAME)
    assert expires is not None
    expiry = stored.expiry(sid)
    if saved:
        document = stored.document(sid)
        assert document is not None
        assert expiry == math.ceil(iso_seconds(document["cookie"]["expires"])), reply.side
    assert 0 <= expiry - expires < 2, (reply.side, expiry, expires)
    return expiry


def test_a_login_on_one_side_is_a_login_on_the_other(
    first_then_second: tuple[Any, Any], browser: Browser, user: Any, stored: PgStored
) -> None:
    first, second = first_then_second
    browser.post(first, "/write", {"cart": ["a book"]})
    visitor_cookie, visitor_sid = browser.value(NAME), browser.sid()

    browser.post(first, "/login", {"userId": user.pk})
    sid = browser.sid()
    assert sid != visitor_sid
    assert not stored.exists(visitor_sid)  # the row of the visitor's id is gone

    seen = browser.get(second, "/whoami")
    assert (seen.body["id"], seen.body["userId"]) == (sid, user.pk)
    if first.label == "django":
        assert seen.body["data"]["_auth_user_id"] == str(user.pk)

    stale = browser.get(second, "/whoami", cookie=f"{NAME}={visitor_cookie}")
    assert stale.body["userId"] is None
    assert stale.body["id"] not in (visitor_sid, sid)


def test_a_logout_on_one_side_ends_the_session_on_the_other(
    first_then_second: tuple[Any, Any], browser: Browser, user: Any, stored: PgStored
) -> None:
    first, second = first_then_second
    browser.post(second, "/login", {"userId": user.pk})
    sid = browser.sid()
    assert browser.get(first, "/whoami").body["userId"] == user.pk

    browser.post(first, "/logout")
    assert not stored.exists(sid)

    after = browser.get(second, "/whoami")
    assert after.body["userId"] is None
    assert after.body["id"] != sid
    assert not after.body["data"]


def test_data_written_on_one_side_reads_the_same_on_the_other(
    first_then_second: tuple[Any, Any], browser: Browser, stored: PgStored
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


def test_both_sides_write_the_same_text(
    start_express: Any, use_django: Any, browser: Browser, stored: PgStored
) -> None:
    # Express with resave writes back, unchanged, the session Django wrote:
    # the same JSON text, cookie attributes and key order included.
    express, django = start_express(resave=True), use_django()
    browser.post(django, "/write", {"n": 1, "ключ": ["значение", {"日本": "語"}], "empty": {}})
    sid = browser.sid()
    by_django = stored.raw(sid)
    browser.get(express, "/read")
    by_express = stored.raw(sid)
    assert by_express is not None and by_django is not None
    cookie_expires = '"expires":"'

    def without_expiry(text: str) -> str:
        head, _, rest = text.partition(cookie_expires)
        return head + rest.partition('"')[2]

    assert without_expiry(by_express) == without_expiry(by_django)


def test_rolling_on_either_side_keeps_one_expiry(
    direction: str, start_express: Any, use_django: Any, browser: Browser, stored: PgStored
) -> None:
    first, second = in_order(direction, start_express(rolling=True), use_django(rolling=True))
    last = assert_one_expiry(browser.post(first, "/write", {"n": 1}), stored, browser.sid())
    sid = browser.sid()
    for app in (second, first):
        stored.age(sid, 600)  # written ten minutes ago
        reply = browser.get(app, "/read")
        assert reply.body["id"] == sid and reply.body["data"] == {"n": 1}
        # Rolled: a fresh cookie, and a touch (the session is unmodified) moved expire with it.
        expires = assert_one_expiry(reply, stored, sid, saved=False)
        assert expires - (last - 600) >= 599
        assert abs(expires - (time.time() + HOUR)) < 2
        last = expires


def test_a_touch_on_either_side_moves_the_one_expiry(
    direction: str, start_express: Any, use_django: Any, browser: Browser, stored: PgStored
) -> None:
    # resave and rolling off: an unmodified request only touches the store,
    # which moves expire and nothing else, on both sides.
    first, second = in_order(direction, start_express(), use_django())
    assert_one_expiry(browser.post(first, "/write", {"n": 1}), stored, browser.sid())
    sid = browser.sid()
    for app in (second, first):
        stored.age(sid, 600)
        text, before = stored.raw(sid), stored.expiry(sid)
        reply = browser.get(app, "/read")
        assert reply.set_cookie(NAME) is None  # as express: no cookie for an unmodified session
        assert stored.expiry(sid) - before >= 599  # the touch moved expire...
        assert stored.raw(sid) == text  # ...and only expire
        assert abs(stored.expiry(sid) - (time.time() + HOUR)) < 2
        assert stored.expiry(sid) == int(stored.expiry(sid))  # whole seconds, whoever touched
    # The next save sends the browser the expiry the table keeps.
    assert_one_expiry(browser.post(second, "/write", {"n": 2}), stored, sid)


def test_django_reads_the_expiry_of_a_session_touched_by_either_side(
    start_express: Any, use_django: Any, browser: Browser, stored: PgStored
) -> None:
    """A touch leaves the stored cookie.expires behind (connect-pg-simple's too); Django reads expire."""
    express, django = start_express(), use_django()
    browser.post(express, "/write", {"n": 1})
    sid = browser.sid()
    for toucher in (express, django):
        stored.age(sid, 600)
        document = stored.document(sid)
        assert document is not None
        browser.get(toucher, "/read")
        touched = stored.expiry(sid)
        seen = browser.get(django, "/read").body["cookie"]["expires"]
        assert iso_seconds(seen) == touched  # to the second: expire has no more
        assert browser.get(express, "/read").body["cookie"]["expires"] == document["cookie"]["expires"]


def test_a_session_kept_alive_on_one_side_outlives_its_first_expiry_on_the_other(
    direction: str, start_express: Any, use_django: Any, browser: Browser, stored: PgStored
) -> None:
    first, second = in_order(direction, start_express(), use_django())
    browser.post(first, "/write", {"n": 1})
    sid = browser.sid()
    stored.age(sid, 3000)  # 50 minutes later: ten left
    first_expiry = stored.expiry(sid)
    assert browser.get(second, "/read").body["data"] == {"n": 1}  # a touch: an hour from now
    stored.age(sid, 1200)  # 20 minutes more: past the first expiry
    assert first_expiry - 1200 < time.time() < stored.expiry(sid)
    seen = browser.get(first, "/read").body
    assert (seen["id"], seen["data"]) == (sid, {"n": 1})


def test_a_session_past_its_expire_is_gone_on_both_sides(
    first_then_second: tuple[Any, Any], browser: Browser, stored: PgStored
) -> None:
    first, second = first_then_second
    browser.post(first, "/write", {"n": 1})
    sid = browser.sid()
    stored.age(sid, HOUR + 1)
    for app in (second, first):
        seen = browser.get(app, "/read").body
        assert seen["id"] != sid and not seen["data"], app.label
    assert stored.exists(sid)  # expired, not removed: that is clear_expired's (or pruning's) work


def test_a_browser_session_cookie_lives_ttl_in_the_table_on_both_sides(
    direction: str, start_express: Any, use_django: Any, browser: Browser, stored: PgStored
) -> None:
    # No maxAge: no Expires, a null cookie.expires, and connect-pg-simple's
    # ttl and the store's TTL give the row its life.
    first, second = in_order(direction, start_express(max_age=None, ttl=60), use_django(max_age=None, ttl=60))
    assert browser.post(first, "/write", {"n": 1}).expires(NAME) is None
    sid = browser.sid()
    for app in (second, first):
        stored.age(sid, 30)
        before = stored.expiry(sid)
        seen = browser.get(app, "/read").body
        assert (seen["data"]["n"], seen["cookie"]["expires"]) == (1, None), app.label
        assert stored.expiry(sid) - before >= 29, app.label  # touched: TTL more from now
        sent = time.time()
        browser.post(app, "/write", {"by": app.label})
        document = stored.document(sid)
        assert document is not None and document["by"] == app.label
        assert (document["cookie"]["expires"], document["cookie"]["originalMaxAge"]) == (None, None)
        # now + ttl, rounded up to the second
        assert sent + 60 <= stored.expiry(sid) < time.time() + 61, app.label


def test_secret_rotation_new_first_on_one_side_old_still_accepted_on_the_other(
    direction: str, start_express: Any, use_django: Any, browser: Browser
) -> None:
    rotated_label, other_label = DIRECTIONS[direction]
    sides = {rotated_label: (NEW, OLD), other_label: (OLD, NEW)}
    express = start_express(secrets=sides["express"])
    django = use_django(secrets=sides["django"])
    rotated, other = in_order(direction, express, django)

    browser.post(other, "/write", {"made on": other.label})
    sid = browser.sid()
    assert _signature(browser.value(NAME) or "", OLD)
    reply = browser.post(rotated, "/write", {"read by": rotated.label})
    assert reply.body["id"] == sid
    assert _signature(browser.value(NAME) or "", NEW)
    seen = browser.get(other, "/read").body
    assert seen["id"] == sid
    assert seen["data"] == {"made on": other.label, "read by": rotated.label}


@pytest.mark.parametrize("tamper", ["signature", "session id"])
def test_a_tampered_cookie_from_the_other_side_is_refused_on_both(
    tamper: str, first_then_second: tuple[Any, Any], browser: Browser, stored: PgStored
) -> None:
    first, second = first_then_second
    browser.post(first, "/write", {"secret": "data"})
    genuine, sid = browser.value(NAME) or "", browser.sid()
    row = (stored.raw(sid), stored.expiry(sid))
    head, _, signature = genuine.rpartition(".")
    if tamper == "signature":
        forged = f"{head}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    else:
        forged = f"{head[:-1]}{'A' if head[-1] != 'A' else 'B'}.{signature}"

    for app in (second, first):
        refused = browser.get(app, "/read", cookie=f"{NAME}={forged}")
        assert refused.body["id"] != sid, app.label
        assert not refused.body["data"], app.label
        assert refused.set_cookie(NAME) is None

    assert (stored.raw(sid), stored.expiry(sid)) == row  # not even touched
    assert browser.get(second, "/read").body["data"] == {"secret": "data"}


# -- the table and its time zone ------------------------------------------------------


@pytest.fixture
def fresh_table(pairing: Any) -> Iterator[Table]:
    """A table name nobody has made yet (dropped afterwards)."""
    table = Table(pairing.table + "_fresh")
    yield table
    pgtable.drop(table)


def test_a_table_connect_pg_simple_made_serves_django_and_passes_the_check(
    start_express: Any, use_django: Any, browser: Browser, fresh_table: Table, settings: Any
) -> None:
    express = start_express(table=fresh_table.name)  # createTableIfMissing: true
    browser.post(express, "/write", {"n": 1})
    django = use_django(table=fresh_table.name)
    assert browser.get(django, "/read").body["data"] == {"n": 1}
    browser.post(django, "/write", {"n": 2})
    assert browser.get(express, "/read").body["data"] == {"n": 2}
    ids = {m.id for m in checks.run_checks(tags=["expsession"], databases=["postgres"])}
    assert not ids & {"expsession.E017", "expsession.E018", "expsession.W013"}


def test_a_table_expsession_createtable_made_serves_express(
    start_express: Any, use_django: Any, browser: Browser, fresh_table: Table
) -> None:
    django = use_django(table=fresh_table.name)
    call_command("expsession_createtable", stderr=io.StringIO())
    express = start_express(table=fresh_table.name)
    browser.post(django, "/write", {"n": 1})
    assert browser.get(express, "/read").body["data"] == {"n": 1}


@pytest.fixture
def database_time_zone() -> Iterator[str]:
    """The test database's TimeZone set to India's (+05:30) for new connections, Node's included."""
    name = connections["postgres"].settings_dict["NAME"]
    with pgtable.connect_test_database() as connection:
        connection.execute(f"ALTER DATABASE \"{name}\" SET TimeZone = 'Asia/Kolkata'")
    connections["postgres"].close()
    yield "Asia/Kolkata"
    with pgtable.connect_test_database() as connection:
        connection.execute(f'ALTER DATABASE "{name}" RESET TimeZone')
    connections["postgres"].close()


def test_both_sides_keep_expire_in_the_databases_time_zone(
    database_time_zone: str, first_then_second: tuple[Any, Any], browser: Browser, stored: PgStored
) -> None:
    first, second = first_then_second
    reply = browser.post(first, "/write", {"n": 1})
    sid = browser.sid()
    assert_one_expiry(reply, stored, sid)  # expire read as Asia/Kolkata wall clock time
    stored.age(sid, 600)
    browser.get(second, "/read")  # a touch from the other side
    assert abs(stored.expiry(sid) - (time.time() + HOUR)) < 2
    assert_one_expiry(browser.post(first, "/write", {"n": 2}), stored, sid)


def test_the_time_zone_option_pairs_with_the_express_connections_time_zone(
    direction: str, start_express: Any, use_django: Any, browser: Browser, stored: PgStored
) -> None:
    # Express's connections set their own TimeZone (here with PGOPTIONS);
    # Django is told the same with TIME_ZONE.
    zone = "America/New_York"
    express = start_express(env={"PGOPTIONS": f"-c TimeZone={zone}"})
    django = use_django(time_zone=zone)
    first, second = in_order(direction, express, django)
    browser.post(first, "/write", {"n": 1})
    sid = browser.sid()
    assert abs(stored.expiry(sid, zone) - (time.time() + HOUR)) < 2
    stored.age(sid, 600)
    browser.get(second, "/read")
    assert abs(stored.expiry(sid, zone) - (time.time() + HOUR)) < 2
    assert browser.get(first, "/read").body["data"] == {"n": 1}
