"""DatabaseStore's operations on connect-pg-simple's table (``TABLE_LAYOUT``).

The request path keeps the model layout's discipline: one statement per
operation, each on its own in autocommit. There is no version column, so a
save compares and sets on the SHA-256 of the stored text (a ``json`` column
keeps the text it was given, so that is the text this store or Express
wrote). ``expire`` holds whole seconds (see ``pgsimple.py``): a loaded
document keeps its own ``cookie.expires`` while ``expire`` is just that
rounded up, and takes ``expire`` once a touch has moved it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import DataError, Error, connections, transaction

from .. import document as doc
from ..clock import datetime_to_ms, ms_to_datetime, now_ms, parse_iso
from . import pgsimple
from .base import Record, Replaced

if TYPE_CHECKING:
    from .db import DatabaseStore

_ERRORS: tuple[type[BaseException], ...] = (Error,)


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _own_expiry(record: Record) -> int | None:
    """The document's ``cookie.expires`` in ms; None when it has none or is malformed."""
    try:
        cookie = record.parsed().get("cookie")
        value = cookie.get("expires") if isinstance(cookie, dict) else None
        return parse_iso(value) if isinstance(value, str) else None
    except (ValueError, OverflowError):  # InvalidDocumentError too: reported when it is used
        return None


def record(text: str, expire: datetime) -> Record:
    found = Record(text=text, version=digest(text))
    column = datetime_to_ms(expire)
    own = _own_expiry(found)
    # The column is the truth once a touch moved it; while it is only the
    # document's expiry rounded up to the second, the document's is exact.
    found.expires_ms = None if own is not None and -(-own // 1000) * 1000 == column else column
    return found


@dataclass
class TableState:
    """What the database holds where the store expects connect-pg-simple's table."""

    exists: bool
    problems: list[str] = field(default_factory=list)  # the store cannot work on it
    missing_indexes: list[str] = field(default_factory=list)  # it works, slowly


class PgSimpleTable:
    """The operations on connect-pg-simple's table, each given the DatabaseStore it serves.

    The store is an argument, not an attribute, so that a copy of the store
    with other options (``clearsessions --batch-size``) is the one served.
    """

    def __init__(self, table: pgsimple.Table, zone: str | None, user_index: bool) -> None:
        self.table = table
        self.zone = zone
        self.user_index = user_index
        self._sql: dict[str, pgsimple.Statements] = {}

    def statements(self, store: DatabaseStore, alias: str) -> pgsimple.Statements:
        found = self._sql.get(alias)
        if found is None:
            zone = self.zone
            if zone is None:
                # Asked once per alias: the wall clock connect-pg-simple's connections write in.
                with store._failures("reach the database", _ERRORS):
                    zone = str(self._fetch(alias, pgsimple.DEFAULT_ZONE_SQL, [])[0][0])
            found = self._sql[alias] = pgsimple.Statements(self.table, zone, self.user_index)
        return found

    @staticmethod
    def _fetch(alias: str, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    @staticmethod
    def _run(alias: str, sql: str, params: list[Any]) -> int:
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)

    def _now(self) -> datetime:
        return ms_to_datetime(now_ms())

    # -- the request path ------------------------------------------------------

    def read(self, store: DatabaseStore, sid: str) -> Record | None:
        alias = store.db_for_read()
        sql = self.statements(store, alias)
        with store._failures("load a session", _ERRORS):
            rows = self._fetch(alias, sql.read, [sql.zone, sid, sql.zone, self._now()])
        return record(*rows[0]) if rows else None

    def set(self, store: DatabaseStore, sid: str, data: doc.Document) -> None:
        alias = store.db_for_write()
        sql = self.statements(store, alias)
        expire = ms_to_datetime(pgsimple.expire_ms(data, store.ttl))
        with store._failures("save a session", _ERRORS):
            self._run(alias, sql.insert, [sid, doc.text_of(data), sql.zone, expire])

    def replace(self, store: DatabaseStore, sid: str, data: doc.Document, version: Any) -> Replaced:
        alias = store.db_for_write()
        sql = self.statements(store, alias)
        text, now = doc.text_of(data), self._now()
        expire = ms_to_datetime(pgsimple.expire_ms(data, store.ttl))
        # A version this store did not give out matches no row.
        compared = version if isinstance(version, bytes) else b""
        params = [text, sql.zone, expire, sid, sql.zone, now, compared]
        with store._failures("save a session", _ERRORS):
            if self._run(alias, sql.replace, params) == 1:
                return Replaced(True, digest(text))
            rows = self._fetch(alias, sql.read, [sql.zone, sid, sql.zone, now])
        return Replaced(False, current=record(*rows[0]) if rows else None)

    def touch(self, store: DatabaseStore, sid: str, data: doc.Document) -> None:
        alias = store.db_for_write()
        sql = self.statements(store, alias)
        expiry = doc.store_expiry_ms(data, store.ttl)
        expire = ms_to_datetime(pgsimple.expire_ms(data, store.ttl))
        params = [sql.zone, expire, sid, sql.zone, self._now()]
        statement = sql.touch
        if store.touch_after:
            # TOUCH_AFTER in the same statement, judged on the exact new expiry.
            statement = sql.touch_after
            earliest = ms_to_datetime(expiry - int(store.touch_after * 1000))
            params += [sql.zone, earliest, sql.zone, ms_to_datetime(expiry)]
        with store._failures("touch a session", _ERRORS):
            self._run(alias, statement, params)

    def destroy(self, store: DatabaseStore, sid: str) -> None:
        alias = store.db_for_write()
        sql = self.statements(store, alias)
        with store._failures("destroy a session", _ERRORS):
            self._run(alias, sql.destroy, [sid])

    # -- listing and maintenance -------------------------------------------------

    def _pages(
        self, store: DatabaseStore, action: str, condition: str, params: list[Any]
    ) -> Iterator[tuple[str, doc.Document]]:
        """``(sid, document)`` of the rows matching ``condition``, in id order, a page at a time."""
        alias = store.db_for_read()
        sql = self.statements(store, alias)
        size = store.batch_size
        after: str | None = None
        while True:
            query = sql.rows(condition, first=after is None)
            with store._failures(action, _ERRORS):
                rows = self._fetch(alias, query, [sql.zone, after or "", *params, size])
            for sid, text, expire in rows:
                document = record(text, expire).current_document(sid)
                if document is not None:
                    yield sid, document
            if len(rows) < size:
                return
            after = rows[-1][0]

    def all(self, store: DatabaseStore) -> Iterator[tuple[str, doc.Document]]:
        zone = self.statements(store, store.db_for_read()).zone
        return self._pages(store, "list sessions", pgsimple.LIVE, [zone, self._now()])

    def expired_sessions(self, store: DatabaseStore) -> Iterator[tuple[str, doc.Document]]:
        zone = self.statements(store, store.db_for_read()).zone
        return self._pages(store, "list expired sessions", pgsimple.EXPIRED, [zone, self._now()])

    def user_sessions(self, store: DatabaseStore, user_id: object) -> Iterator[tuple[str, doc.Document]]:
        """Candidates from the text (a GIN index lookup with USER_INDEX); each document decides."""
        wanted = str(user_id)
        sql = self.statements(store, store.db_for_read())
        condition, key = sql.user(wanted)
        found = self._pages(store, "list a user's sessions", condition, [key, sql.zone, self._now()])
        return ((sid, data) for sid, data in found if doc.user_id(data) == wanted)

    def _count(self, store: DatabaseStore, action: str, condition: str, alias: str) -> int:
        sql = self.statements(store, alias)
        with store._failures(action, _ERRORS):
            return int(self._fetch(alias, sql.count(condition), [sql.zone, self._now()])[0][0])

    def length(self, store: DatabaseStore) -> int:
        return self._count(store, "count sessions", pgsimple.LIVE, store.db_for_read())

    def count_expired(self, store: DatabaseStore) -> int:
        return self._count(store, "count expired sessions", pgsimple.EXPIRED, store.db_for_write())

    def clear(self, store: DatabaseStore) -> None:
        alias = store.db_for_write()
        sql = self.statements(store, alias)
        with store._failures("clear sessions", _ERRORS):
            self._run(alias, sql.clear, [])

    def clear_expired_batches(self, store: DatabaseStore) -> Iterator[int]:
        alias = store.db_for_write()
        sql = self.statements(store, alias)
        now, size = self._now(), store.batch_size
        while True:
            with store._failures("clear expired sessions", _ERRORS):
                count = self._run(alias, sql.clear_expired, [sql.zone, now, size, sql.zone, now])
            if count:
                yield count
            if count < size:
                return

    # -- the table itself ----------------------------------------------------------

    def create(self, store: DatabaseStore, alias: str, before: TableState) -> list[str]:
        """Create what ``before`` lacks of the table and its indexes; return what was made."""
        with (
            store._failures("create connect-pg-simple's table", _ERRORS),
            transaction.atomic(using=alias),
            connections[alias].cursor() as cursor,
        ):
            for statement in self.table.create(user_index=self.user_index):
                cursor.execute(statement)
        if not before.exists:
            return ["table", "expire index", *(["user index"] if self.user_index else [])]
        return before.missing_indexes

    def inspect(self, store: DatabaseStore, alias: str) -> TableState:
        """Compare the table with connect-pg-simple's; StoreError when the database cannot say."""
        name = self.table.qualified
        with store._failures("inspect connect-pg-simple's table", _ERRORS):
            columns = self._fetch(alias, pgsimple.COLUMNS_SQL, [name])
            indexes = self._fetch(alias, pgsimple.INDEXES_SQL, [name]) if columns else []
        if not columns:
            return TableState(exists=False)
        state = TableState(exists=True)
        found = {column: (kind, not_null, default) for column, kind, not_null, default in columns}
        for column, (accepted, wanted) in pgsimple.COLUMNS.items():
            if column not in found:
                state.problems.append(f"it has no column {column!r} ({wanted})")
            elif re.sub(r"\(\d+\)", "", found[column][0]) not in accepted:  # any length or precision
                state.problems.append(f"its column {column!r} is {found[column][0]}, not {wanted}")
        for column, (_, not_null, default) in found.items():
            if column not in pgsimple.COLUMNS and not_null and not default:
                state.problems.append(f"its column {column!r} is NOT NULL without a default")
        definitions = [(definition, unique) for definition, unique in indexes]
        if not any(unique and definition.endswith(" (sid)") for definition, unique in definitions):
            state.problems.append("'sid' is not its primary key (nor unique)")
        if not any(definition.endswith(" (expire)") for definition, _ in definitions):
            state.missing_indexes.append("expire index")
        if self.user_index and not any(pgsimple.USER_FUNCTION in d for d, _ in definitions):
            state.missing_indexes.append("user index")
        return state

    def zone_problem(self, alias: str) -> str | None:
        """Why the TIME_ZONE option cannot be used, or None."""
        if self.zone is None:
            return None
        try:
            with transaction.atomic(using=alias):
                self._fetch(alias, pgsimple.ZONE_CHECK_SQL, [self.zone])
        except DataError as exc:  # PostgreSQL knows no such zone
            return " ".join(str(exc).split())
        return None
