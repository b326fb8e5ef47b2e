"""DatabaseStore on connect-pg-simple's table: the row it writes, its SQL, its time zone.

The contract suite runs on this layout too (``db-pgsimple``); this module
pins what is particular to it: ``expire`` as connect-pg-simple writes it
(whole seconds rounded up, a wall clock time in the database's TimeZone),
one statement per operation, compare-and-set on the stored text's digest,
and the user index on an expression of the text.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from freezegun import freeze_time

from django_expsession import document as doc
from django_expsession.clock import datetime_to_ms
from django_expsession.stores import build_store
from django_expsession.stores.db import DatabaseStore
from django_expsession.stores.pgsimple import Table

from .. import pgtable
from ..conftest import STORES
from .conftest import T0, at, document, iso, touched

pytestmark = pytest.mark.parametrize("store_name", ["db-pgsimple"])
LAYOUT = {"TABLE_LAYOUT": "connect-pg-simple"}
OPTIONS = {key.lower(): value for key, value in STORES["db-pgsimple"].options.items()}


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def in_table(sid: str) -> tuple[dict[str, Any], datetime]:
    found = pgtable.row(sid)
    assert found is not None, f"no row {sid!r}"
    return json.loads(found[0]), found[1]


# -- the row -----------------------------------------------------------------------


def test_the_row_is_what_connect_pg_simple_writes(make_store):
    store = make_store()
    with freeze_time(T0 + timedelta(milliseconds=250)):
        stored = document(max_age=60, n=1)  # expires at T0 + 60.250
        store.set("sid-1", stored)
    text, expire = pgtable.row("sid-1")
    assert text == doc.dumps(stored)  # the JSON.stringify text, byte for byte
    # cookie.expires rounded up to the second, as connect-pg-simple's Math.ceil.
    assert expire == naive(at(61))
    assert json.loads(text)["cookie"]["expires"] == iso(60.25)


def test_a_browser_session_row_expires_ttl_seconds_later_rounded_up(make_store):
    store = make_store(TTL=100)
    with freeze_time(T0 + timedelta(milliseconds=1)):
        store.set("sid-1", document(max_age=None))
    assert in_table("sid-1")[1] == naive(at(101))


def test_an_absolute_deadline_is_rounded_down_so_the_row_never_outlives_it(make_store):
    store = make_store()
    with freeze_time(T0):
        stored = document(max_age=60)
        store.set("sid-1", doc.Encoded(stored, doc.dumps(stored), deadline=datetime_to_ms(at(30.5))))
    assert in_table("sid-1")[1] == naive(at(30))


def test_a_loaded_document_keeps_its_exact_expiry_until_a_touch_moves_expire(make_store):
    store = make_store()
    with freeze_time(T0 + timedelta(milliseconds=250)) as clock:
        stored = document(max_age=60)
        store.set("sid-1", stored)
        assert store.get("sid-1")["cookie"]["expires"] == iso(60.25)  # not the rounded column
        clock.move_to(at(10.5))
        store.touch("sid-1", touched(stored))  # exact expiry 70.5, column 71
        assert in_table("sid-1")[1] == naive(at(71))
        assert store.get("sid-1")["cookie"]["expires"] == iso(71)  # the column, to the second
        clock.move_to(at(70.999))
        assert store.get("sid-1") is not None
        clock.move_to(at(71))
        assert store.get("sid-1") is None


def test_a_row_written_by_connect_pg_simple_reads_by_its_expire_column(make_store):
    store = make_store()
    with freeze_time(T0):
        # Express wrote cookie.expires T0 + 60.400 and touched the row later, to T0 + 90.
        text = doc.dumps({"cookie": {"originalMaxAge": 60000, "expires": iso(60.4)}, "n": 1})
        pgtable.plant("sid-1", text, datetime_to_ms(at(61)))
        assert store.get("sid-1")["cookie"]["expires"] == iso(60.4)
        pgtable.set_expire("sid-1", datetime_to_ms(at(90)))
        assert store.get("sid-1")["cookie"]["expires"] == iso(90)


# -- one statement per operation ---------------------------------------------------


def test_each_operation_is_one_statement_once_the_time_zone_is_known(make_store, django_assert_num_queries):
    store = make_store()
    with django_assert_num_queries(1, using="postgres") as first:
        store.get("nobody")  # the statements are built; the database's TimeZone was asked by clear()
    assert first.captured_queries[0]["sql"].startswith("SELECT sess::text")
    stored = document(n=1)
    sql = {}

    def one(name: str, operation: Any) -> None:
        with django_assert_num_queries(1, using="postgres") as captured:
            operation()
        sql[name] = captured.captured_queries[0]["sql"]

    one("insert", lambda: store.set("sid-1", stored))
    one("get", lambda: store.get("sid-1"))
    one("touch", lambda: store.touch("sid-1", touched(stored)))
    version = store.read("sid-1").version
    one("replace", lambda: store.replace("sid-1", document(n=2), version))
    one("destroy", lambda: store.destroy("sid-1"))
    table = re.escape(pgtable.CONTRACT.qualified)
    upsert = rf"INSERT INTO {table} \(sid, sess, expire\) .* ON CONFLICT \(sid\) DO UPDATE "
    assert re.match(upsert, sql["insert"])
    assert re.search(r"WHERE sid = .* AND expire > timezone\(", sql["get"])
    assert re.match(rf"UPDATE {table} SET expire = timezone\([^)]*\) WHERE sid = ", sql["touch"])
    compared = r"AND sha256\(convert_to\(sess::text, 'UTF8'\)\) = '\\x[0-9a-f]{64}'::bytea$"
    assert re.search(compared, sql["replace"])
    assert re.match(rf"DELETE FROM {table} WHERE sid = ", sql["destroy"])


def test_the_database_time_zone_is_asked_once_per_store(make_store, django_assert_num_queries):
    store = DatabaseStore(**OPTIONS)
    with django_assert_num_queries(2, using="postgres") as captured:
        store.get("nobody")
    assert "pg_settings" in captured.captured_queries[0]["sql"]
    with django_assert_num_queries(1, using="postgres"):
        store.get("nobody")
    with django_assert_num_queries(1, using="postgres"):  # TIME_ZONE given: never asked
        DatabaseStore(**OPTIONS, time_zone="UTC").get("x")


# -- compare-and-set on the text ---------------------------------------------------


def test_a_save_compares_the_text_it_read_whoever_wrote_it(make_store):
    store = make_store()
    with freeze_time(T0):
        # Another writer's formatting (spaces): the digest is of the stored text, as it is.
        pgtable.plant(
            "sid-1", '{"cookie": {"originalMaxAge": null, "expires": null}, "n": 1}', datetime_to_ms(at(60))
        )
        read = store.read("sid-1")
        assert store.replace("sid-1", document(n=2), read.version).written
        lost = store.replace("sid-1", document(n=3), read.version)
        assert not lost.written and lost.current.current_document()["n"] == 2
        merged = store.merge("sid-1", {"m": True}, [], document()["cookie"])
        assert (merged["n"], merged["m"]) == (2, True)


def test_a_save_never_revives_a_row_past_its_expire(make_store):
    store = make_store()
    with freeze_time(T0) as clock:
        store.set("sid-1", document(max_age=10))
        read = store.read("sid-1")
        clock.move_to(at(10))
        outcome = store.replace("sid-1", document(n=2), read.version)
        assert not outcome.written and outcome.current is None
        assert in_table("sid-1")[0].get("n") is None


# -- a user's sessions ---------------------------------------------------------------


AWKWARD_USER = 'o"brien\\ü 😀'


@pytest.mark.parametrize("user_index", [True, False], ids=["index", "scan"])
def test_user_sessions_finds_the_top_level_user_id_whatever_else_the_document_holds(make_store, user_index):
    store = make_store(USER_INDEX=user_index)
    store.set("plain", document(_auth_user_id="7"))
    # PostgreSQL's json operators fail on these two documents; text operations do not.
    store.set("nul", document(_auth_user_id="7", s="a\x00b"))
    store.set("surrogate", document(_auth_user_id="7", s="\ud83d"))
    # A nested key of that name (first in the text) neither hides nor counts.
    store.set("nested", document(prefs={"_auth_user_id": "7"}, _auth_user_id="8"))
    store.set("other", document(_auth_user_id="70"))
    store.set("awkward", document(_auth_user_id=AWKWARD_USER))
    store.set("like", document(_auth_user_id="%"))
    assert sorted(sid for sid, _ in store.user_sessions(7)) == ["nul", "plain", "surrogate"]
    assert [sid for sid, _ in store.user_sessions("8")] == ["nested"]
    assert [sid for sid, _ in store.user_sessions(AWKWARD_USER)] == ["awkward"]
    assert [sid for sid, _ in store.user_sessions("%")] == ["like"]


def test_user_sessions_is_an_index_lookup_with_user_index(make_store):
    store = make_store()
    assert store.supports("user_sessions")
    sql = store.pg_simple_table.statements(store, "postgres")
    condition, key = sql.user("7")
    with connections["postgres"].cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner say
        query = sql.rows(condition, first=True)
        cursor.execute(f"EXPLAIN {query}", [sql.zone, "", key, sql.zone, datetime.now(UTC), 10])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "IDX_session_user" in plan


def test_without_user_index_user_sessions_is_a_scan_and_not_declared(make_store):
    store = make_store(USER_INDEX=False)
    assert not store.supports("user_sessions")
    assert "LIKE" in store.pg_simple_table.statements(store, "postgres").user("7")[0]


# -- listing and maintenance ---------------------------------------------------------


def test_listing_pages_through_the_table_in_id_order(make_store):
    store = make_store(BATCH_SIZE=2)
    with freeze_time(T0) as clock:
        for sid in ("", "a", "b", "c", "d"):
            store.set(sid, document(name=sid))
        store.set("old", document(max_age=1))
        clock.move_to(at(1))
        assert [sid for sid, _ in store.all()] == ["", "a", "b", "c", "d"]
        assert [sid for sid, _ in store.expired_sessions()] == ["old"]
        assert (store.length(), store.count_expired()) == (5, 1)


def test_clear_expired_deletes_in_batches(make_store):
    store = make_store(BATCH_SIZE=2)
    with freeze_time(T0) as clock:
        for n in range(5):
            store.set(f"old-{n}", document(max_age=1))
        store.set("new", document(max_age=60))
        clock.move_to(at(1))
        assert list(store.clear_expired_batches()) == [2, 2, 1]
        assert [sid for sid, _ in store.all()] == ["new"]


@pytest.fixture
def other_schema() -> Iterator[Table]:
    name = f"sessions_{secrets.token_hex(3)}"
    table = Table("web sessions", name)
    with pgtable.connect_test_database() as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    pgtable.create(table)
    yield table
    with pgtable.connect_test_database() as connection:
        connection.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_table_and_schema_options_name_another_table(other_schema, make_store):
    store = make_store(TABLE=other_schema.name, SCHEMA=other_schema.schema, USER_INDEX=False)
    sid = secrets.token_hex(8)
    store.set(sid, document(n=1))
    assert pgtable.row(sid, other_schema) is not None
    assert pgtable.row(sid) is None
    assert store.get(sid)["n"] == 1


# -- time zones ------------------------------------------------------------------------


@pytest.fixture
def database_time_zone() -> Iterator[str]:
    """The test database's own TimeZone set to India's (+05:30, no DST), for new connections."""
    name = connections["postgres"].settings_dict["NAME"]
    with pgtable.connect_test_database() as connection:
        connection.execute(f"ALTER DATABASE \"{name}\" SET TimeZone = 'Asia/Kolkata'")
    connections["postgres"].close()
    yield "Asia/Kolkata"
    with pgtable.connect_test_database() as connection:
        connection.execute(f'ALTER DATABASE "{name}" RESET TimeZone')
    connections["postgres"].close()


@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_expire_is_the_wall_clock_time_of_the_database_time_zone(make_store, database_time_zone):
    store = make_store()
    with freeze_time(T0):
        store.set("sid-1", document(max_age=60))
        # What connect-pg-simple's connection (TimeZone from the database) writes:
        # 2030-01-01 00:01 UTC is 05:31 in Kolkata.
        assert in_table("sid-1")[1] == datetime(2030, 1, 1, 5, 31)
        assert store.get("sid-1")["cookie"]["expires"] == iso(60)
        assert pgtable.expire_epoch("sid-1") == datetime_to_ms(at(60)) / 1000


@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_the_time_zone_option_wins_over_the_database_time_zone(make_store, database_time_zone):
    store = make_store(TIME_ZONE="America/New_York")
    with freeze_time(T0):
        store.set("sid-1", document(max_age=60))
        assert in_table("sid-1")[1] == datetime(2029, 12, 31, 19, 1)
        store.touch("sid-1", document(max_age=120))
        assert in_table("sid-1")[1] == datetime(2029, 12, 31, 19, 2)
        assert store.get("sid-1")["cookie"]["expires"] == iso(120)


# -- options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"USING": "default", **LAYOUT}, r"needs a PostgreSQL database, but database 'default' is sqlite"),
        ({"USING": "nowhere", **LAYOUT}, r"there is no database 'nowhere'"),
        ({"USING": "postgres", "TABLE_LAYOUT": "sessions"}, r"table_layout should be 'django_expsession' or"),
        ({"USING": "postgres", "TABLE": "session"}, r"are options of table_layout 'connect-pg-simple'"),
        ({"USING": "postgres", "TABLE": "", **LAYOUT}, r"table should be a non-empty string"),
        ({"USING": "postgres", "SCHEMA": 5, **LAYOUT}, r"schema should be a non-empty string"),
        ({"USING": "postgres", "USER_INDEX": "yes", **LAYOUT}, r"user_index should be True or False"),
    ],
)
def test_options_that_cannot_work_fail_when_the_store_is_built(store_name, options, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        build_store({"BACKEND": "django_expsession.stores.db.DatabaseStore", "OPTIONS": options})


def test_the_store_says_where_its_sessions_live(make_store):
    store = make_store()
    assert repr(store) == "<DatabaseStore using='postgres' table='expsession_contract.session'>"
    assert store.shared_layout == "connect-pg-simple"
    assert DatabaseStore(using="postgres").shared_layout is None
