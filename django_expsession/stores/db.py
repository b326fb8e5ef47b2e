"""The database store: the ``Session`` model, one statement per operation.

read = one SELECT by primary key that skips expired rows; a new session's
save = one upsert; a loaded session's save = one UPDATE that compares and
sets on the row's ``version`` (CONCURRENCY "merge"); touch = one UPDATE of
the ``expires`` column; destroy = one DELETE. Each runs alone in
autocommit (see ``sql.py``). Because touch moves only the column, the
column is the truth for the expiry: a loaded document's ``cookie.expires``
is read from it. (Other cookie changes that reach the store only through a
touch, such as a new ``originalMaxAge``, wait for the next save, as with
connect-pg-simple.)

With ``table_layout="connect-pg-simple"`` the store keeps its sessions in
connect-pg-simple's table instead (PostgreSQL only), so that an Express app
shares them: each operation below hands over to ``pgsimpleops``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import Error, connections, router, transaction

from .. import document as doc
from ..clock import datetime_to_ms, ms_to_datetime, now_ms, utc_naive_to_ms
from . import pgsimple
from .base import Record, Replaced, Store
from .pgsimpleops import PgSimpleTable
from .sql import Statements, statements

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ..models import Session


# Every error Django's database layer raises (connection refused, lost
# connection, lock timeouts ...) becomes a StoreError naming the database.
_ERRORS: tuple[type[BaseException], ...] = (Error,)


def _model() -> type[Session]:
    from ..models import Session

    return Session


#: The table layouts: this app's model, or connect-pg-simple's table.
DEFAULT_LAYOUT = "django_expsession"
LAYOUTS = (DEFAULT_LAYOUT, pgsimple.LAYOUT)


class DatabaseStore(Store):
    """Sessions in the ``django_expsession`` table (see ``models.Session``).

    Options: ``using`` (a database alias; default: the routers' choice),
    ``ttl`` (seconds a browser-session record lives, default one day),
    ``touch_after``, ``batch_size`` (rows per ``clear_expired`` batch).

    ``table_layout="connect-pg-simple"`` uses connect-pg-simple's table on
    PostgreSQL instead, with ``table`` (default ``"session"``), ``schema``
    (default: the search path), ``time_zone`` (the wall clock of its
    ``expire`` column; default: the database's TimeZone) and ``user_index``
    (True when the table has the user id index ``expsession_createtable``
    makes).
    """

    model_capabilities = frozenset(
        {
            "touch",
            "all",
            "length",
            "clear",
            "clear_expired",
            "count_expired",
            "expired_sessions",
            "user_sessions",
            "atomic",
            "shared",
        }
    )

    def __init__(
        self,
        *,
        using: str | None = None,
        batch_size: int = 1000,
        table_layout: str = DEFAULT_LAYOUT,
        table: str | None = None,
        schema: str | None = None,
        time_zone: str | None = None,
        user_index: bool = False,
        **options: float,
    ) -> None:
        super().__init__(**options)
        if using is not None and not isinstance(using, str):
            raise ValueError("using should be a database alias.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("batch_size should be a whole number >= 1.")
        self.using = using
        self.batch_size = batch_size
        self._sql: dict[str, Statements] = {}
        self.table_layout = table_layout
        self._table: PgSimpleTable | None = None
        if table_layout == pgsimple.LAYOUT:
            self._table = self._pg_simple(table, schema, time_zone, user_index)
            self.shared_layout = pgsimple.LAYOUT
        elif table_layout != DEFAULT_LAYOUT:
            choices = " or ".join(map(repr, LAYOUTS))
            raise ValueError(f"table_layout should be {choices}, not {table_layout!r}.")
        elif (table, schema, time_zone, user_index) != (None, None, None, False):
            raise ValueError(
                "table, schema, time_zone and user_index are options of table_layout "
                f"{pgsimple.LAYOUT!r}; the default layout uses the django_expsession table."
            )

    def _pg_simple(
        self, table: str | None, schema: str | None, time_zone: str | None, user_index: bool
    ) -> PgSimpleTable:
        for name, value in (("table", table), ("schema", schema), ("time_zone", time_zone)):
            if value is not None and (not isinstance(value, str) or not value or "\x00" in value):
                raise ValueError(f"{name} should be a non-empty string.")
        if not isinstance(user_index, bool):
            raise ValueError("user_index should be True or False.")
        for alias in {self.db_for_read(), self.db_for_write()}:
            if alias not in connections.settings:
                raise ValueError(f"using should be an alias of DATABASES; there is no database {alias!r}.")
            vendor = connections[alias].vendor
            if vendor != "postgresql":
                raise ValueError(
                    f"table_layout {pgsimple.LAYOUT!r} needs a PostgreSQL database, but database "
                    f"{alias!r} is {vendor}. Point USING (or the routers) at PostgreSQL, or drop "
                    "TABLE_LAYOUT to keep sessions in this app's own table."
                )
        where = pgsimple.Table(table or pgsimple.DEFAULT_TABLE, schema)
        return PgSimpleTable(where, time_zone, user_index)

    @property
    def capabilities(self) -> frozenset[str]:  # type: ignore[override]
        if self._table is None or self._table.user_index:
            return self.model_capabilities
        # No index on the user id: user_sessions() is a scan of the table (in the database).
        return self.model_capabilities - {"user_sessions"}

    @property
    def pg_simple_table(self) -> PgSimpleTable | None:
        """The operations on connect-pg-simple's table, when that is the layout."""
        return self._table

    def __repr__(self) -> str:
        if self._table is not None:
            return f"<DatabaseStore using={self.db_for_write()!r} table={self._table.table.label!r}>"
        return f"<DatabaseStore using={self.db_for_write()!r}>"

    def address(self) -> str:
        alias = self.db_for_write()
        connection = connections[alias]
        where = connection.settings_dict.get("NAME") if connection.vendor == "sqlite" else None
        if where is None:
            host = connection.settings_dict.get("HOST") or "localhost"
            port = connection.settings_dict.get("PORT")
            where = f"{host}:{port}" if port else str(host)
        return f"database {alias!r} ({connection.vendor} at {where})"

    def db_for_read(self) -> str:
        return self.using or router.db_for_read(_model())

    def db_for_write(self) -> str:
        return self.using or router.db_for_write(_model())

    def _objects(self, write: bool = False) -> QuerySet[Session]:
        return _model().objects.using(self.db_for_write() if write else self.db_for_read())

    def _statements(self, alias: str) -> Statements:
        found = self._sql.get(alias)
        if found is None:
            # On MySQL/MariaDB this asks the server for its version: it may be down.
            with self._failures("reach the database", _ERRORS):
                found = self._sql[alias] = statements(connections[alias], _model()._meta.db_table)
        return found

    def _execute(self, alias: str, sql: str, params: list[Any], *, fetch: bool = False) -> Any:
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if fetch else cursor.rowcount

    # -- rows -> records -----------------------------------------------------

    @staticmethod
    def _record(text: str, expires: datetime, version: int) -> Record:
        return Record(text=text, version=version, expires_ms=utc_naive_to_ms(expires))

    def _rows(self, **filters: Any) -> Iterator[tuple[str, doc.Document]]:
        """``(sid, document)`` of the rows matching ``filters``, in id order."""
        rows = (
            self._objects().filter(**filters).order_by("sid").values_list("sid", "data", "expires", "version")
        )
        for sid, text, expires, version in rows.iterator(chunk_size=self.batch_size):
            document = Record(
                text=text, version=version, expires_ms=datetime_to_ms(expires)
            ).current_document(sid)
            if document is not None:
                yield sid, document

    # -- the request path ------------------------------------------------------

    def read(self, sid: str) -> Record | None:
        if self._table is not None:
            return self._table.read(self, sid)
        alias = self.db_for_read()
        sql = self._statements(alias)
        with self._failures("load a session", _ERRORS):
            row = self._execute(alias, sql.read, [sid, sql.when(now_ms())], fetch=True)
        return None if row is None else self._record(*row)

    def set(self, sid: str, data: doc.Document) -> None:
        if self._table is not None:
            self._table.set(self, sid, data)
            return
        alias = self.db_for_write()
        sql = self._statements(alias)
        now = now_ms()
        expires = doc.store_expiry_ms(data, self.ttl)
        with self._failures("save a session", _ERRORS):
            if sql.insert is None:
                self._orm_upsert(alias, sid, data, expires)
                return
            stamp = sql.when(now)
            params = [sid, doc.text_of(data), sql.when(expires), doc.user_id(data), stamp, stamp]
            self._execute(alias, sql.insert, params)

    def _orm_upsert(self, alias: str, sid: str, data: doc.Document, expires: int) -> None:
        model = _model()
        row = model(
            sid=sid, data=doc.text_of(data), expires=ms_to_datetime(expires), user_id=doc.user_id(data)
        )
        options: dict[str, Any] = {
            "update_conflicts": True,
            "update_fields": ["data", "expires", "user_id", "updated"],
        }
        if connections[alias].features.supports_update_conflicts_with_target:
            options["unique_fields"] = ["sid"]
        with transaction.atomic(using=alias):
            model.objects.using(alias).bulk_create([row], **options)

    def replace(self, sid: str, data: doc.Document, version: Any) -> Replaced:
        if self._table is not None:
            return self._table.replace(self, sid, data, version)
        alias = self.db_for_write()
        sql = self._statements(alias)
        now = sql.when(now_ms())
        expires = sql.when(doc.store_expiry_ms(data, self.ttl))
        params = [doc.text_of(data), expires, doc.user_id(data), now, sid, now, version]
        with self._failures("save a session", _ERRORS):
            if self._execute(alias, sql.replace, params) == 1:
                return Replaced(True, version + 1)
            row = self._execute(alias, sql.read, [sid, now], fetch=True)
        return Replaced(False, current=None if row is None else self._record(*row))

    def touch(self, sid: str, data: doc.Document) -> None:
        if self._table is not None:
            self._table.touch(self, sid, data)
            return
        alias = self.db_for_write()
        sql = self._statements(alias)
        expiry = doc.store_expiry_ms(data, self.ttl)
        params = [sql.when(expiry), sid, sql.when(now_ms())]
        statement = sql.touch
        if self.touch_after:
            # TOUCH_AFTER in the same statement: leave rows whose expiry was
            # refreshed within touch_after (see Store.touch_skipped).
            statement = sql.touch_after
            params += [sql.when(expiry - int(self.touch_after * 1000)), sql.when(expiry)]
        with self._failures("touch a session", _ERRORS):
            self._execute(alias, statement, params)

    def destroy(self, sid: str) -> None:
        if self._table is not None:
            self._table.destroy(self, sid)
            return
        alias = self.db_for_write()
        with self._failures("destroy a session", _ERRORS):
            self._execute(alias, self._statements(alias).destroy, [sid])

    # -- listing and maintenance (the ORM) ---------------------------------------

    def all(self) -> Iterator[tuple[str, doc.Document]]:
        if self._table is not None:
            yield from self._table.all(self)
            return
        with self._failures("list sessions", _ERRORS):
            yield from self._rows(expires__gt=ms_to_datetime(now_ms()))

    def length(self) -> int:
        if self._table is not None:
            return self._table.length(self)
        with self._failures("count sessions", _ERRORS):
            return self._objects().filter(expires__gt=ms_to_datetime(now_ms())).count()

    def clear(self) -> None:
        if self._table is not None:
            self._table.clear(self)
            return
        with self._failures("clear sessions", _ERRORS):
            self._objects(write=True).all()._raw_delete(using=self.db_for_write())

    def clear_expired(self) -> int:
        """Delete expired rows in short batches (no long table lock)."""
        with self._failures("clear expired sessions", _ERRORS):
            return sum(self.clear_expired_batches())

    def clear_expired_batches(self) -> Iterator[int]:
        if self._table is not None:
            yield from self._table.clear_expired_batches(self)
            return
        now = ms_to_datetime(now_ms())
        objects = self._objects(write=True)
        while True:
            with (
                self._failures("clear expired sessions", _ERRORS),
                transaction.atomic(using=self.db_for_write()),
            ):
                batch = list(
                    objects.filter(expires__lte=now).values_list("sid", flat=True)[: self.batch_size]
                )
                if batch:
                    objects.filter(sid__in=batch, expires__lte=now).delete()
            if batch:
                yield len(batch)
            if len(batch) < self.batch_size:
                return

    def count_expired(self) -> int:
        if self._table is not None:
            return self._table.count_expired(self)
        with self._failures("count expired sessions", _ERRORS):
            return self._objects(write=True).filter(expires__lte=ms_to_datetime(now_ms())).count()

    def expired_sessions(self) -> Iterator[tuple[str, doc.Document]]:
        if self._table is not None:
            yield from self._table.expired_sessions(self)
            return
        with self._failures("list expired sessions", _ERRORS):
            yield from self._rows(expires__lte=ms_to_datetime(now_ms()))

    def user_sessions(self, user_id: object) -> Iterator[tuple[str, doc.Document]]:
        """An index lookup on the ``user_id`` column."""
        if self._table is not None:
            yield from self._table.user_sessions(self, user_id)
            return
        with self._failures("list a user's sessions", _ERRORS):
            yield from self._rows(user_id=str(user_id), expires__gt=ms_to_datetime(now_ms()))
