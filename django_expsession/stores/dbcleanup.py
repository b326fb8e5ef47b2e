"""Removing expired sessions from the database: fast, and out of the way of requests.

:func:`delete_expired` deletes the rows of the session table whose expiry is
at or before ``now`` in many short statements instead of one long DELETE:

- Each statement is sized to a time budget (:data:`BUDGET`: 75 ms on
  PostgreSQL and MariaDB/MySQL, 40 ms on SQLite). The next batch's size
  follows the time the last one took, so no batch holds its locks for long,
  whatever the table's size or the server's speed.
- Only expired rows are ever locked. A row a live request holds locked is
  skipped (``SKIP LOCKED``) rather than waited for; the next run takes it.
- On SQLite a write locks the whole database. Every batch is one statement
  in autocommit, so SQLite's busy timeout applies to it and it cannot end
  in "database is locked" the way a read-then-write transaction does; a
  short pause follows each batch, so a writer waiting for the lock gets it
  within its first few polls; a batch that still finds the database locked
  is retried with backoff.

How a batch finds its rows depends on the database and on the share of the
table that has expired. When less than :data:`STORAGE_ORDER_SHARE` has,
batches follow the expiry index; when more has (a backlog), they walk the
table in storage order (PostgreSQL's pages, InnoDB's primary key, SQLite's
rowid), because following the index through a backlog touches a different
page for almost every row: several times slower than Django's single
DELETE, where walking the table is about as fast.

PostgreSQL
    One autocommitted DELETE per batch, of a window: of the expiry index
    (``expires >= lo AND expires < hi``) or of the table's pages (``ctid``
    ranges); the window's width is what adapts. For the run, the session's
    ``lock_timeout`` is 25 ms and its ``statement_timeout`` ten times the
    budget: a window that meets a locked row is deleted again with
    ``FOR UPDATE SKIP LOCKED``, one denser than expected is cancelled and
    split. With a fixed ``batch_size``: ``LIMIT`` on the expiry index, with
    SKIP LOCKED.
MariaDB/MySQL
    The batch's ids come from a plain, non-locking read, then one
    autocommitted DELETE by primary key, in READ COMMITTED (no gap locks).
    A DELETE that meets a locked row gives up after a second and is done
    again with ``FOR UPDATE SKIP LOCKED`` (MariaDB 10.6+, MySQL 8), as is
    every later batch of that run.
SQLite
    One autocommitted DELETE per batch, of a range of rowids or of the first
    rows of the expiry index.

The session settings the run changes are put back when it ends. Called
inside a transaction (``atomic``), the batches join it (each in a
savepoint): their locks then last until it ends, and no timeout is set.
The command and cron jobs run outside one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, OperationalError, connections

from . import dbcleanup_plans as plans
from .dbcleanup_plans import STORAGE_ORDER_SHARE

#: Seconds one statement should take, per ``connection.vendor``.
BUDGET = {"postgresql": 0.075, "mysql": 0.075, "sqlite": 0.04}
DEFAULT_BUDGET = 0.075
#: Seconds SQLite's cleanup waits after each batch: SQLite's busy handler
#: polls at most 25 ms apart during a writer's first ~80 ms of waiting, so a
#: waiting writer finds the database free within that pause.
SQLITE_PAUSE = 0.025
#: How often a batch that found the database locked (or was chosen as a
#: deadlock victim) is tried again, with backoff from 50 ms to 2 s.
RETRIES = 8

__all__ = [
    "BUDGET",
    "RETRIES",
    "SQLITE_PAUSE",
    "STORAGE_ORDER_SHARE",
    "Batch",
    "Cleanup",
    "CleanupResult",
    "Table",
    "count_expired",
    "delete_expired",
]


@dataclass(frozen=True)
class Table:
    """Where sessions live: the table, its primary key and expiry columns."""

    name: str
    pk: str = "sid"
    expires: str = "expires"

    @classmethod
    def default(cls) -> Table:
        """The ``Session`` model's table (``django_expsession``)."""
        from ..models import Session

        opts = Session._meta
        return cls(opts.db_table, str(opts.pk.column), str(opts.get_field("expires").column))


@dataclass(frozen=True)
class Batch:
    """One batch done: what it removed and where the run stands."""

    rows: int
    seconds: float
    total: int  # rows removed so far in this run
    elapsed: float  # seconds since the run started
    expected: int | None  # expired rows when the run started, if counted


@dataclass(frozen=True)
class CleanupResult:
    deleted: int
    seconds: float
    batches: int
    #: False when ``max_seconds`` stopped the run; the next run resumes.
    complete: bool
    retries: int
    #: "expiry" (batches followed the expiry index) or "storage" (the table's order).
    order: str
    expected: int | None
    longest: float  # seconds of the slowest batch


class Cleanup:
    """One run of the cleanup; iterate it to delete a batch at a time.

    After the iteration (or when it is closed early), :attr:`result` says
    what was done. The arguments are :func:`delete_expired`'s.
    """

    def __init__(
        self,
        alias: str = "default",
        *,
        now: datetime,
        batch_size: int | None = None,
        max_seconds: float | None = None,
        count: bool = False,
        table: Table | None = None,
    ) -> None:
        if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError("batch_size should be a whole number >= 1, or None for the time budget.")
        if max_seconds is not None and max_seconds <= 0:
            raise ValueError("max_seconds should be a number of seconds > 0, or None.")
        self.alias, self.now, self.batch_size, self.max_seconds = alias, now, batch_size, max_seconds
        self.count, self.table = count, table or Table.default()
        self.result: CleanupResult | None = None

    def __iter__(self) -> Iterator[Batch]:
        connection = connections[self.alias]
        connection.ensure_connection()
        nested = connection.in_atomic_block
        names = plans.Names(connection, self.table.name, self.table.pk, self.table.expires)
        budget = BUDGET.get(connection.vendor, DEFAULT_BUDGET)
        started = time.monotonic()
        plan = plans.make_plan(
            connection,
            self.alias,
            names,
            self.now,
            nested=nested,
            batch_size=self.batch_size,
            count=self.count,
        )
        pause = SQLITE_PAUSE if connection.vendor == "sqlite" and not nested else 0.0
        size = plan.first_size()
        total = batches = retries = 0
        longest, complete = 0.0, True
        try:
            while True:
                if self.max_seconds is not None and time.monotonic() - started + budget > self.max_seconds:
                    complete = plan.done
                    break
                began = time.monotonic()
                (rows, size), tries = _retrying(plan.step, size)
                retries += tries
                if rows is None:
                    break
                seconds = time.monotonic() - began
                longest = max(longest, seconds)
                if self.batch_size is None:  # the time budget: half to twice the last size
                    low, high = plan.limits
                    size = min(high, max(low, size * min(2.0, max(0.5, budget / max(seconds, 1e-4)))))
                total += rows
                batches += 1
                yield Batch(rows, seconds, total, time.monotonic() - started, plan.expected)
                if pause:
                    time.sleep(pause)
        finally:
            plan.close()
            self.result = CleanupResult(
                total,
                time.monotonic() - started,
                batches,
                complete,
                retries,
                plan.order,
                plan.expected,
                longest,
            )


def delete_expired(
    alias: str = "default",
    *,
    now: datetime,
    batch_size: int | None = None,
    max_seconds: float | None = None,
    on_batch: Callable[[Batch], None] | None = None,
    count: bool = False,
    table: Table | None = None,
) -> CleanupResult:
    """Delete the rows of ``table`` that expired at or before ``now``, in short batches.

    ``batch_size`` fixes the rows per statement instead of the time budget
    (on PostgreSQL the batches then follow the expiry index); ``max_seconds``
    starts no batch that would end past that many seconds (the result is
    then not ``complete``; running again resumes); ``on_batch`` is called
    after each batch; ``count`` counts the expired rows first, for
    ``Batch.expected`` (MariaDB/MySQL and SQLite always count: it decides
    the order). Database errors propagate, after :data:`RETRIES` tries of a
    batch that found the database locked.
    """
    cleanup = Cleanup(
        alias, now=now, batch_size=batch_size, max_seconds=max_seconds, count=count, table=table
    )
    for batch in cleanup:
        if on_batch is not None:
            on_batch(batch)
    assert cleanup.result is not None
    return cleanup.result


def count_expired(alias: str = "default", *, now: datetime, table: Table | None = None) -> int:
    """How many rows of ``table`` expired at or before ``now``."""
    connection = connections[alias]
    table = table or Table.default()
    names = plans.Names(connection, table.name, table.pk, table.expires)
    return plans.Plan(connection, alias, names, now, nested=True, batch_size=None).count()


def _transient(exc: DatabaseError) -> bool:
    """A lock the batch could not get, or a deadlock it lost: worth trying again."""
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if state in ("40001", "40P01", "55P03"):  # serialization failure, deadlock, lock not available
        return True
    args = getattr(cause, "args", ())
    if args and args[0] in (1205, 1213):  # MySQL: lock wait timeout, deadlock
        return True
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text


def _retrying(
    step: Callable[[float], tuple[int | None, float]], size: float
) -> tuple[tuple[int | None, float], int]:
    delay = 0.05
    for attempt in range(RETRIES + 1):
        try:
            return step(size), attempt
        except OperationalError as exc:
            if attempt == RETRIES or not _transient(exc):
                raise
        time.sleep(delay)
        delay = min(2.0, delay * 2)
    raise AssertionError("unreachable")  # pragma: no cover
