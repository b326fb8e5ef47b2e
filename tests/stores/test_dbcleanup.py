"""``stores.dbcleanup``: expired rows go in short batches, live rows and their locks are left alone.

Every test runs on the real databases, outside a wrapping transaction
(``transaction=True``), so the batches commit as they do under cron; other
connections are real threads with their own connections.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connections, transaction
from django.utils import timezone
from freezegun import freeze_time

from django_expsession.models import Session
from django_expsession.stores import dbcleanup
from django_expsession.stores.dbcleanup import Table, count_expired, delete_expired

from ..conftest import STORES


def on(*names: str) -> list[Any]:
    """``store_name`` params for these database stores, each outside a wrapping transaction."""
    return [
        pytest.param(
            name, marks=pytest.mark.django_db(databases=[STORES[name].database], transaction=True), id=name
        )
        for name in names
    ]


ALL = on("db-sqlite", "db-postgres", "db-mariadb")
LOCKING = on("db-postgres", "db-mariadb")


@pytest.fixture
def alias(store_name: str) -> str:
    database = STORES[store_name].database
    assert database is not None
    return database


def fill(alias: str, now: datetime, *, expired: int, live: int, prefix: str = "") -> None:
    """Rows that expired 1..n seconds before ``now``, and rows that live an hour longer."""
    rows = [
        Session(sid=f"{prefix}old-{n:06d}", data="{}", expires=now - timedelta(seconds=n + 1))
        for n in range(expired)
    ]
    rows += [
        Session(sid=f"{prefix}live-{n:06d}", data="{}", expires=now + timedelta(hours=1, seconds=n))
        for n in range(live)
    ]
    Session.objects.using(alias).bulk_create(rows, batch_size=500)
    connection = connections[alias]
    if connection.vendor == "postgresql":  # as autovacuum would: the planner's estimates choose the order
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE django_expsession")


def remaining(alias: str) -> set[str]:
    return set(Session.objects.using(alias).values_list("sid", flat=True))


def live_sids(live: int, prefix: str = "") -> set[str]:
    return {f"{prefix}live-{n:06d}" for n in range(live)}


# A share of expired rows below STORAGE_ORDER_SHARE follows the expiry index;
# a backlog walks the table in storage order (on PostgreSQL, unless a fixed
# batch size asks for a LIMIT, which the expiry index orders).
SHARES = {"few-expired": (8, 150), "backlog": (120, 30)}


@pytest.mark.parametrize("store_name", ALL)
@pytest.mark.parametrize("share", list(SHARES))
@pytest.mark.parametrize("batch_size", [None, 7], ids=["time-budget", "fixed-7"])
def test_expired_rows_go_and_live_rows_stay(alias: str, share: str, batch_size: int | None) -> None:
    expired, live = SHARES[share]
    now = timezone.now()
    fill(alias, now, expired=expired, live=live)
    batches: list[dbcleanup.Batch] = []

    result = delete_expired(alias, now=now, batch_size=batch_size, on_batch=batches.append)

    assert remaining(alias) == live_sids(live)
    assert result.deleted == expired == sum(batch.rows for batch in batches)
    assert result.complete
    assert result.retries == 0
    storage = share == "backlog" and not (batch_size and connections[alias].vendor == "postgresql")
    assert result.order == ("storage" if storage else "expiry")
    if batch_size is not None:
        assert all(batch.rows <= batch_size for batch in batches)
        assert len([batch for batch in batches if batch.rows]) == -(-expired // batch_size)
    assert batches[-1].total == expired


@pytest.mark.parametrize("store_name", ALL)
def test_a_second_run_finds_nothing_to_do(alias: str) -> None:
    now = timezone.now()
    fill(alias, now, expired=20, live=5)
    delete_expired(alias, now=now)

    result = delete_expired(alias, now=now)

    assert result.deleted == 0
    assert result.complete
    assert remaining(alias) == live_sids(5)


@pytest.mark.parametrize("store_name", ALL)
def test_rows_that_expire_after_now_are_kept(alias: str) -> None:
    now = timezone.now()
    fill(alias, now, expired=10, live=10)

    result = delete_expired(alias, now=now - timedelta(seconds=5))  # rows 1..4 s old are not expired yet

    assert result.deleted == 6
    assert {f"old-{n:06d}" for n in range(4)} <= remaining(alias)


@pytest.mark.parametrize("store_name", ALL)
def test_counting_first_gives_each_batch_the_expected_total(alias: str) -> None:
    now = timezone.now()
    fill(alias, now, expired=30, live=3)
    batches: list[dbcleanup.Batch] = []

    result = delete_expired(alias, now=now, count=True, batch_size=10, on_batch=batches.append)

    assert result.expected == 30
    assert {batch.expected for batch in batches} == {30}
    assert count_expired(alias, now=now) == 0


@pytest.mark.parametrize("store_name", ALL)
def test_count_expired_counts_rows_at_or_before_now(alias: str) -> None:
    now = timezone.now()
    fill(alias, now, expired=12, live=4)

    assert count_expired(alias, now=now) == 12
    assert count_expired(alias, now=now + timedelta(hours=2)) == 16
    assert remaining(alias) == live_sids(4) | {f"old-{n:06d}" for n in range(12)}


@pytest.mark.parametrize("store_name", ALL)
def test_max_seconds_stops_between_batches_and_the_next_run_resumes(alias: str) -> None:
    now = timezone.now()
    fill(alias, now, expired=40, live=5)
    with freeze_time(now) as clock:
        # Each batch "takes" 10 s on the frozen clock.
        stopped = delete_expired(
            alias, now=now, batch_size=10, max_seconds=25, on_batch=lambda _: clock.tick(10)
        )

    assert not stopped.complete
    assert stopped.deleted in (20, 30)  # no batch starts once it would end past 25 s
    assert count_expired(alias, now=now) == 40 - stopped.deleted

    resumed = delete_expired(alias, now=now)

    assert resumed.complete
    assert stopped.deleted + resumed.deleted == 40
    assert remaining(alias) == live_sids(5)


@pytest.mark.parametrize("store_name", on("db-sqlite", "db-postgres", "db-mariadb"))
def test_inside_a_transaction_the_batches_join_it(alias: str) -> None:
    now = timezone.now()
    fill(alias, now, expired=25, live=5)

    with pytest.raises(RuntimeError), transaction.atomic(using=alias):
        assert delete_expired(alias, now=now, batch_size=10).deleted == 25
        assert remaining(alias) == live_sids(5)
        raise RuntimeError("roll back")

    assert len(remaining(alias)) == 30  # the rollback took the deletes back


@pytest.mark.parametrize("store_name", ALL)
def test_another_table_layout_is_named_by_table(alias: str) -> None:
    connection = connections[alias]
    quote = connection.ops.quote_name
    name = quote("cleanup_layout")
    now = timezone.now()
    with connection.schema_editor() as editor:
        editor.execute(
            f"CREATE TABLE {name} ({quote('id')} varchar(64) PRIMARY KEY, {quote('sess')} text, "
            f"{quote('expire')} {connection.data_types['DateTimeField'] % {}})"
        )
    try:
        adapt = connection.ops.adapt_datetimefield_value
        with connection.cursor() as cursor:
            for n, offset in enumerate([-30, -20, 40]):
                cursor.execute(
                    f"INSERT INTO {name} VALUES (%s, %s, %s)",
                    [f"s{n}", "{}", adapt(now + timedelta(seconds=offset))],
                )

        result = delete_expired(alias, now=now, table=Table("cleanup_layout", pk="id", expires="expire"))

        assert result.deleted == 2
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {quote('id')} FROM {name}")
            assert [tuple(row) for row in cursor.fetchall()] == [("s2",)]
    finally:
        with connection.schema_editor() as editor:
            editor.execute(f"DROP TABLE {name}")


@pytest.mark.parametrize("value", [0, -1, True])
def test_batch_size_must_be_a_positive_whole_number(value: int) -> None:
    with pytest.raises(ValueError, match="batch_size should be a whole number >= 1"):
        dbcleanup.Cleanup(now=timezone.now(), batch_size=value)


# -- locks held by live requests ------------------------------------------------------


class Holder:
    """Another connection, in its own thread, that holds a lock until released.

    With ``seconds``, the transaction ends by itself after that long.
    """

    def __init__(self, alias: str, hold: Callable[[str], None], seconds: float | None = None) -> None:
        self.alias, self._hold, self.seconds = alias, hold, seconds
        self.held, self.release, self.error = threading.Event(), threading.Event(), None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with transaction.atomic(using=self.alias):
                self._hold(self.alias)
                self.held.set()
                self.release.wait(30 if self.seconds is None else self.seconds)
        except Exception as exc:  # reported by __exit__
            self.error = exc
            self.held.set()
        finally:
            connections[self.alias].close()

    def __enter__(self) -> Holder:
        self.thread.start()
        assert self.held.wait(10)
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


def locks_row(sid: str) -> Callable[[str], None]:
    def hold(alias: str) -> None:
        Session.objects.using(alias).select_for_update().get(sid=sid)

    return hold


@pytest.mark.parametrize("store_name", LOCKING)
@pytest.mark.parametrize("share", list(SHARES))
@pytest.mark.parametrize("batch_size", [None, 5], ids=["time-budget", "fixed-5"])
def test_an_expired_row_a_request_holds_locked_is_skipped_not_waited_for(
    alias: str, share: str, batch_size: int | None
) -> None:
    expired, live = SHARES[share]
    now = timezone.now()
    fill(alias, now, expired=expired, live=live)

    with Holder(alias, locks_row("old-000003")):
        started = time.monotonic()
        result = delete_expired(alias, now=now, batch_size=batch_size)
        waited = time.monotonic() - started

    assert waited < 2  # the row's lock is held for 30 s
    assert result.deleted == expired - 1
    assert remaining(alias) == live_sids(live) | {"old-000003"}
    assert delete_expired(alias, now=now).deleted == 1  # the next run takes it


@pytest.mark.parametrize("store_name", LOCKING)
@pytest.mark.parametrize("share", list(SHARES))
def test_live_rows_are_never_locked(alias: str, share: str) -> None:
    expired, live = SHARES[share]
    now = timezone.now()
    fill(alias, now, expired=expired, live=live)

    # A request holds a live row: the cleanup does not wait for it ...
    with Holder(alias, locks_row("live-000002")):
        started = time.monotonic()
        assert delete_expired(alias, now=now).deleted == expired
        assert time.monotonic() - started < 2


# -- SQLite: a writer holding the database -----------------------------------------------


def writes(alias: str) -> None:
    # A write takes SQLite's lock for the rest of the transaction.
    Session.objects.using(alias).filter(sid="live-000000").update(data="{}")


@pytest.fixture
def busy_timeout(alias: str) -> Iterator[Callable[[int], None]]:
    connection = connections[alias]

    def set_timeout(ms: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {ms:d}")

    yield set_timeout
    connection.close()  # the next connection gets the configured timeout again


@pytest.mark.parametrize("store_name", on("db-sqlite"))
def test_sqlite_waits_for_a_writer_within_the_busy_timeout(alias: str) -> None:
    now = timezone.now()
    fill(alias, now, expired=30, live=3)

    with Holder(alias, writes, seconds=0.3):
        result = delete_expired(alias, now=now)

    assert result.deleted == 30
    assert result.retries == 0


@pytest.mark.parametrize("store_name", on("db-sqlite"))
def test_sqlite_retries_with_backoff_when_the_lock_outlasts_the_busy_timeout(
    alias: str, busy_timeout: Callable[[int], None]
) -> None:
    now = timezone.now()
    fill(alias, now, expired=30, live=3)
    busy_timeout(20)

    with Holder(alias, writes, seconds=0.4):
        result = delete_expired(alias, now=now)

    assert result.deleted == 30
    assert result.retries >= 1
    assert remaining(alias) == live_sids(3)
