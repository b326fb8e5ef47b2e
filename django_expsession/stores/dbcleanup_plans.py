"""How one cleanup batch is found and deleted, per database (used by :mod:`.dbcleanup`).

A plan keeps its position between batches. ``step(size)`` deletes one batch
of about ``size`` (rows, or a width of the expiry index, or of the table's
storage) and returns the rows it removed, or None once nothing is left.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, OperationalError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

#: From this share of expired rows on, batches walk the table in storage
#: order instead of following the expiry index.
STORAGE_ORDER_SHARE = 0.1

ROWS = (50.0, 200_000.0)  # the range of a batch's size in rows
FIRST_ROWS = 500
_SECONDS = (1e-6, 86400.0 * 3650)  # the range of a PostgreSQL expiry window's width
_BLOCKS = (1.0, 1e9)  # the range of a storage window, in pages (PostgreSQL) or rowids (SQLite)
_PG_LOCK_TIMEOUT = "25ms"
_LOCK_NOT_AVAILABLE, _QUERY_CANCELED = "55P03", "57014"
_LOCK_WAIT_TIMEOUT = 1205  # MySQL's error code


class Names:
    """The table's and columns' names, quoted for ``connection``."""

    def __init__(self, connection: BaseDatabaseWrapper, name: str, pk: str, expires: str) -> None:
        quote = connection.ops.quote_name
        self.table, self.pk, self.expires, self.raw = quote(name), quote(pk), quote(expires), name


class Plan:
    order = "expiry"  # or "storage"
    limits = ROWS

    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        alias: str,
        names: Names,
        now: datetime,
        *,
        nested: bool,
        batch_size: int | None,
    ) -> None:
        self.connection, self.alias, self.names, self.now = connection, alias, names, now
        self.db_now = connection.ops.adapt_datetimefield_value(now)
        self.nested, self.batch_size = nested, batch_size
        self.expected: int | None = None
        self.done = False

    def first_size(self) -> float:
        return float(self.batch_size or FIRST_ROWS)

    def step(self, size: float) -> tuple[int | None, float]:
        """Delete one batch: (rows removed or None when nothing is left, the size to keep)."""
        raise NotImplementedError("subclasses of Plan must provide step()")

    def close(self) -> None:
        """Undo what the plan changed on the connection."""

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        cursor = self.connection.cursor()
        cursor.execute(sql, params)
        return cursor

    def count(self) -> int:
        n = self.names
        return int(
            self.execute(f"SELECT COUNT(*) FROM {n.table} WHERE {n.expires} <= %s", [self.db_now]).fetchone()[
                0
            ]
        )


def make_plan(
    connection: BaseDatabaseWrapper,
    alias: str,
    names: Names,
    now: datetime,
    *,
    nested: bool,
    batch_size: int | None,
    count: bool,
) -> Plan:
    """The plan for ``connection``'s database, in the order the share of expired rows calls for."""
    options: dict[str, Any] = {"nested": nested, "batch_size": batch_size}
    if connection.vendor == "postgresql":
        probe = Postgres(connection, alias, names, now, **options)
        expected = probe.count() if count else None
        expired = expected if expected is not None else probe.estimated_expired()
        share = expired / max(1.0, probe.estimated_rows())
        # A fixed batch size is a LIMIT, which only the expiry index can order.
        plan: Plan = (
            PostgresStorage(connection, alias, names, now, **options)
            if (share >= STORAGE_ORDER_SHARE and batch_size is None)
            else probe
        )
    elif connection.vendor in ("mysql", "sqlite"):
        # Counting through the expiry index is cheap here, and decides the order.
        expected = Plan(connection, alias, names, now, **options).count()
        rows = max(expected, _estimated_rows(connection, names))
        storage = rows > 0 and expected / rows >= STORAGE_ORDER_SHARE
        kind = MySQL if connection.vendor == "mysql" else SQLite
        plan = kind(connection, alias, names, now, storage=storage, **options)
    else:
        plan = Portable(connection, alias, names, now, **options)
        expected = plan.count() if count else None
    plan.expected = expected
    return plan


def _estimated_rows(connection: BaseDatabaseWrapper, names: Names) -> int:
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":  # InnoDB's estimate: COUNT(*) would read the whole table
            cursor.execute(
                "SELECT table_rows FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = %s",
                [names.raw],
            )
        else:
            cursor.execute(f"SELECT COUNT(*) FROM {names.table}")
        row = cursor.fetchone()
    return int(row[0] or 0) if row else 0


# -- PostgreSQL ------------------------------------------------------------------------


class StatementTimeoutError(Exception):
    """A PostgreSQL window ran into its statement timeout: split it."""


class Postgres(Plan):
    """Windows of the expiry index, one DELETE each; with a batch size, LIMIT and a keyset."""

    limits = _SECONDS
    statement_ms = 750  # ten times the budget: a window that dense gets split

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved: tuple[str, str] | None = None  # lock_timeout, statement_timeout before the cleanup
        self.statement_timeout = ""
        self.lo: datetime | None = None
        self.after: datetime | None = None  # the keyset, with a fixed batch size
        if self.batch_size is not None:
            self.limits = ROWS

    def estimated_rows(self) -> float:
        return self._estimate(f"SELECT 1 FROM {self.names.table}", [])

    def _estimate(self, sql: str, params: list[Any]) -> float:
        """The planner's row estimate: from its statistics, nothing read."""
        found = self.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()[0]
        return float((json.loads(found) if isinstance(found, str) else found)[0]["Plan"]["Plan Rows"])

    def estimated_expired(self) -> float:
        n = self.names
        return self._estimate(f"SELECT 1 FROM {n.table} WHERE {n.expires} <= %s", [self.now])

    def first_size(self) -> float:
        return float(self.batch_size) if self.batch_size else _SECONDS[1]  # set by the first window

    def session(self, statement_ms: int | None) -> None:
        """Short lock waits, and ``statement_ms`` per statement, on this connection.

        Set for the session, so each batch is one autocommitted statement;
        :meth:`close` puts the previous values back. Inside a transaction
        nothing is set: it would outlast the cleanup, or abort the
        transaction it belongs to.
        """
        if self.nested:
            return
        if self.saved is None:
            row = self.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
            self.saved = tuple(row.fetchone())
            self.execute("SELECT set_config('lock_timeout', %s, false)", [_PG_LOCK_TIMEOUT])
        wanted = f"{statement_ms or 0}ms"
        if wanted != self.statement_timeout:
            self.execute("SELECT set_config('statement_timeout', %s, false)", [wanted])
            self.statement_timeout = wanted

    def close(self) -> None:
        if self.saved is not None:
            # If the connection broke, the error that broke it is on its way up.
            with contextlib.suppress(DatabaseError):
                restore = "set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)"
                self.execute(f"SELECT {restore}", list(self.saved))

    def statement(self, sql: str, params: list[Any] | dict[str, Any]) -> Any:
        """One autocommitted statement (a savepoint inside a transaction)."""
        if not self.nested:
            return self.execute(sql, params)
        with transaction.atomic(using=self.alias):
            return self.execute(sql, params)

    def delete(self, where: str, params: list[Any], statement_ms: int | None) -> int:
        """DELETE ... WHERE ``where``; again with SKIP LOCKED if a row was locked."""
        n = self.names
        try:
            self.session(statement_ms)
            return int(self.statement(f"DELETE FROM {n.table} WHERE {where}", params).rowcount)
        except OperationalError as exc:
            state = getattr(exc.__cause__, "sqlstate", None) or getattr(exc.__cause__, "pgcode", None)
            if state == _QUERY_CANCELED and statement_ms:
                raise StatementTimeoutError from exc
            if state != _LOCK_NOT_AVAILABLE:  # a live request holds one of the rows
                raise
        sql = (
            f"WITH batch AS (SELECT {n.pk} FROM {n.table} WHERE {where} FOR UPDATE SKIP LOCKED) "
            f"DELETE FROM {n.table} WHERE {n.pk} IN (SELECT {n.pk} FROM batch) AND {n.expires} <= %s"
        )
        self.session(statement_ms=None)
        return int(self.statement(sql, [*params, self.now]).rowcount)

    def step(self, size: float) -> tuple[int | None, float]:
        if self.done:
            return None, size
        if self.batch_size is not None:
            return self._keyset(int(size)), size
        return self._window(size)

    def _next_expiry(self, at_least: datetime | None) -> datetime | None:
        n = self.names
        sql = f"SELECT MIN({n.expires}) FROM {n.table} WHERE {n.expires} <= %s"
        params: list[Any] = [self.now]
        if at_least is not None:
            sql += f" AND {n.expires} >= %s"
            params.append(at_least)
        return self.execute(sql, params).fetchone()[0]  # type: ignore[no-any-return]

    def _window(self, width: float) -> tuple[int | None, float]:
        lo = self.lo
        if lo is None:
            lo = self._next_expiry(None)
            if lo is None:
                self.done = True
                return None, width
            # About FIRST_ROWS rows in the first window, by the planner's estimate.
            span = max((self.now - lo).total_seconds(), _SECONDS[0])
            width = span * FIRST_ROWS / max(FIRST_ROWS, self.estimated_expired())
        n = self.names
        while True:
            hi = min(lo + timedelta(seconds=width), self.now + timedelta(microseconds=1))
            where = f"{n.expires} >= %s AND {n.expires} < %s AND {n.expires} <= %s"
            try:
                rows = self.delete(
                    where, [lo, hi, self.now], None if width <= _SECONDS[0] else self.statement_ms
                )
                break
            except StatementTimeoutError:
                width = max(_SECONDS[0], width / 8)  # denser than the last window
        self.lo = hi if rows else self._next_expiry(hi)
        self.done = self.lo is None
        return rows, width

    def _keyset(self, limit: int) -> int:
        n = self.names
        params: dict[str, Any] = {"now": self.now, "limit": limit}
        after = ""
        if self.after is not None:
            after, params["after"] = f" AND {n.expires} >= %(after)s", self.after
        sql = (
            f"WITH batch AS (SELECT {n.pk} FROM {n.table} WHERE {n.expires} <= %(now)s{after} "
            f"ORDER BY {n.expires} LIMIT %(limit)s FOR UPDATE SKIP LOCKED), "
            f"gone AS (DELETE FROM {n.table} WHERE {n.pk} IN (SELECT {n.pk} FROM batch) "
            f"AND {n.expires} <= %(now)s RETURNING {n.expires}) "
            f"SELECT (SELECT COUNT(*) FROM batch), COUNT(*), MAX({n.expires}) FROM gone"
        )
        self.session(statement_ms=None)
        found, rows, last = self.statement(sql, params).fetchone()
        self.after = last if last is not None else self.after
        self.done = found < limit
        return int(rows)


class PostgresStorage(Postgres):
    """Ranges of the table's pages (``ctid``), one DELETE each: a backlog, page by page."""

    order = "storage"
    limits = _BLOCKS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.block = 0
        sql = "SELECT pg_relation_size(to_regclass(%s)) / current_setting('block_size')::int"
        self.blocks = int(self.execute(sql, [self.names.table]).fetchone()[0])

    def first_size(self) -> float:
        return 16.0

    def step(self, size: float) -> tuple[int | None, float]:
        if self.block >= self.blocks:
            self.done = True
            return None, size
        n = self.names
        while True:
            end = min(self.block + max(1, int(size)), self.blocks)
            where = f"ctid >= %s::tid AND ctid < %s::tid AND {n.expires} <= %s"
            params = [f"({self.block},0)", f"({end},0)", self.now]
            try:
                rows = self.delete(where, params, None if end - self.block <= 1 else self.statement_ms)
                break
            except StatementTimeoutError:
                size = max(1.0, size / 8)
        self.block = end
        return rows, size


# -- MariaDB / MySQL -------------------------------------------------------------------------


class MySQL(Plan):
    """Ids by a plain (non-locking) read, deleted by primary key; SKIP LOCKED once a row was locked."""

    def __init__(self, *args: Any, storage: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = "storage" if storage else "expiry"
        self.last: tuple[Any, ...] | None = None
        self.skip_locked = self.connection.features.has_select_for_update_skip_locked
        self.lock_wait = int(self.execute("SELECT @@SESSION.innodb_lock_wait_timeout").fetchone()[0])
        self.isolation = self._isolation()
        # A DELETE that meets a locked row gives up after 1 s (the least; 0
        # breaks the next COMMIT on MariaDB 10.11); the batch is then deleted
        # again with SKIP LOCKED, and so is every later batch of this run.
        self.execute("SET SESSION innodb_lock_wait_timeout = 1")
        self.met_a_lock = False
        if self.isolation != "READ-COMMITTED" and not self.nested:
            # No gap locks: a DELETE by primary key locks only the rows it deletes.
            self.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")

    def _isolation(self) -> str:
        for variable in ("transaction_isolation", "tx_isolation"):  # MySQL 8 / MariaDB
            try:
                return str(self.execute(f"SELECT @@SESSION.{variable}").fetchone()[0])
            except DatabaseError:
                continue
        return "READ-COMMITTED"

    def close(self) -> None:
        # If the connection broke, the error that broke it is on its way up.
        with contextlib.suppress(DatabaseError):
            self.execute(f"SET SESSION innodb_lock_wait_timeout = {self.lock_wait:d}")
            if self.isolation != "READ-COMMITTED" and not self.nested:
                level = self.isolation.replace("-", " ")
                if level in ("READ UNCOMMITTED", "REPEATABLE READ", "SERIALIZABLE"):
                    self.execute(f"SET SESSION TRANSACTION ISOLATION LEVEL {level}")

    def _candidates(self, limit: int) -> list[tuple[Any, ...]]:
        n = self.names
        where, params = f"{n.expires} <= %s", [self.db_now]
        if self.order == "storage":  # InnoDB keeps rows in primary-key order
            if self.last is not None:
                where += f" AND {n.pk} > %s"
                params.append(self.last[0])
            sql = f"SELECT {n.pk} FROM {n.table} WHERE {where} ORDER BY {n.pk} LIMIT %s"
        else:
            if self.last is not None:
                where += f" AND ({n.expires} > %s OR ({n.expires} = %s AND {n.pk} > %s))"
                params += [self.last[1], self.last[1], self.last[0]]
            order = f"{n.expires}, {n.pk}"
            sql = f"SELECT {n.pk}, {n.expires} FROM {n.table} WHERE {where} ORDER BY {order} LIMIT %s"
        return list(self.execute(sql, [*params, limit]).fetchall())

    def _delete(self, ids: list[Any]) -> int:
        """One DELETE of these rows where still expired (a savepoint inside a transaction)."""
        n = self.names
        # By primary key, forced: an optimizer that chose a table scan for a
        # long IN list would lock (and wait for) rows that are not in it.
        sql = (
            f"DELETE {n.table} FROM {n.table} FORCE INDEX (PRIMARY) "
            f"WHERE {n.pk} IN ({', '.join(['%s'] * len(ids))}) AND {n.expires} <= %s"
        )
        if not self.nested:
            return int(self.execute(sql, [*ids, self.db_now]).rowcount)
        with transaction.atomic(using=self.alias):
            return int(self.execute(sql, [*ids, self.db_now]).rowcount)

    def _delete_unlocked(self, ids: list[Any]) -> int:
        """A live request holds one of the rows: lock the others, skipping it, and delete them."""
        n = self.names
        with transaction.atomic(using=self.alias):
            sql = (
                f"SELECT {n.pk} FROM {n.table} FORCE INDEX (PRIMARY) WHERE {n.pk} IN "
                f"({', '.join(['%s'] * len(ids))}) AND {n.expires} <= %s FOR UPDATE SKIP LOCKED"
            )
            free = [row[0] for row in self.execute(sql, [*ids, self.db_now]).fetchall()]
            return self._delete(free) if free else 0

    def step(self, size: float) -> tuple[int | None, float]:
        limit = int(size)
        found = [] if self.done else self._candidates(limit)
        if not found:
            self.done = True
            return None, size
        ids = [row[0] for row in found]
        if self.met_a_lock:
            rows = self._delete_unlocked(ids)
        else:
            try:
                rows = self._delete(ids)
            except OperationalError as exc:
                if getattr(exc.__cause__, "args", (None,))[0] != _LOCK_WAIT_TIMEOUT or not self.skip_locked:
                    raise  # a lock wait timeout without SKIP LOCKED is retried with backoff
                self.met_a_lock = True
                rows = self._delete_unlocked(ids)
        self.last = tuple(found[-1])
        self.done = len(found) < limit
        return rows, size


# -- SQLite ---------------------------------------------------------------------------------


class SQLite(Plan):
    """One autocommitted statement per batch: ranges of rowids, or the expiry index."""

    def __init__(self, *args: Any, storage: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = "storage" if storage else "expiry"
        self.after = 0
        self.top = int(self.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {self.names.table}").fetchone()[0])
        if storage and self.batch_size is None:
            self.limits = _BLOCKS

    def first_size(self) -> float:
        # A storage batch counts rowids, live rows among them.
        return float(self.batch_size or (FIRST_ROWS * 4 if self.order == "storage" else FIRST_ROWS))

    def step(self, size: float) -> tuple[int | None, float]:
        if self.done:
            return None, size
        n = self.names
        if self.order == "expiry":
            sql = (
                f"DELETE FROM {n.table} WHERE rowid IN (SELECT rowid FROM {n.table} "
                f"WHERE {n.expires} <= %s ORDER BY {n.expires} LIMIT %s)"
            )
            rows = int(self.execute(sql, [self.db_now, int(size)]).rowcount)
            self.done = rows < int(size)
            return rows, size
        if self.after >= self.top:
            self.done = True
            return None, size
        if self.batch_size is not None:  # the rowid range that holds batch_size expired rows
            sql = (
                f"SELECT MAX(rowid) FROM (SELECT rowid FROM {n.table} WHERE rowid > %s "
                f"AND {n.expires} <= %s ORDER BY rowid LIMIT %s)"
            )
            end = self.execute(sql, [self.after, self.db_now, int(size)]).fetchone()[0]
            upto = self.top if end is None else min(int(end), self.top)
        else:
            upto = min(self.after + max(1, int(size)), self.top)
        sql = f"DELETE FROM {n.table} WHERE rowid > %s AND rowid <= %s AND {n.expires} <= %s"
        rows = int(self.execute(sql, [self.after, upto, self.db_now]).rowcount)
        self.after = upto
        return rows, size


# -- anything else ------------------------------------------------------------------------


class Portable(Plan):
    """``pk IN (SELECT pk ... ORDER BY expires LIMIT n)``, in the database's own LIMIT syntax."""

    def step(self, size: float) -> tuple[int | None, float]:
        if self.done:
            return None, size
        n = self.names
        limit = self.connection.ops.limit_offset_sql(0, int(size))
        sql = (
            f"DELETE FROM {n.table} WHERE {n.pk} IN (SELECT {n.pk} FROM {n.table} "
            f"WHERE {n.expires} <= %s ORDER BY {n.expires} {limit})"
        )
        with transaction.atomic(using=self.alias):
            rows = int(self.execute(sql, [self.db_now]).rowcount)
        self.done = rows < int(size)
        return rows, size
