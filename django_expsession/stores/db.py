"""The database store: the ``Session`` model, one statement per operation.

load = one SELECT by primary key that skips expired rows; save = one upsert
(INSERT ... ON CONFLICT / ON DUPLICATE KEY UPDATE); touch = one UPDATE of
the ``expires`` column; destroy = one DELETE. None of them opens a
transaction of its own. Because touch moves only the column, the column is
the truth: a loaded document's ``cookie.expires`` is read from it. (Other
cookie changes that reach the store only through a touch, such as a new
``originalMaxAge``, wait for the next save, as with connect-pg-simple.)

merge (CONCURRENCY = "merge") is the one transaction: the row is read with
``SELECT ... FOR UPDATE`` and written with one UPDATE, so concurrent merges
of one session queue up on the row lock and none is lost. SQLite has no row
locks; there a first, empty UPDATE of the row takes the database's write
lock before the read (see :meth:`DatabaseStore.merge`). refresh, a save
that changed no data, is one UPDATE of ``expires``, like touch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.db import Error, connections, router, transaction
from django.db.models import F
from django.utils import timezone

from .. import document as doc
from ..cookie import datetime_to_ms, format_iso, ms_to_datetime, now_ms
from .base import Store, merged_document

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ..models import Session


# Every error Django's database layer raises (connection refused, lost
# connection, lock timeouts ...) becomes a StoreError naming the database.
_ERRORS: tuple[type[BaseException], ...] = (Error,)


def _model() -> type[Session]:
    from ..models import Session

    return Session


class DatabaseStore(Store):
    """Sessions in the ``django_expsession`` table (see ``models.Session``).

    Options: ``using`` (a database alias; default: the routers' choice),
    ``ttl`` (seconds a browser-session record lives, default one day),
    ``touch_after``, ``batch_size`` (rows per ``clear_expired`` batch).
    """

    def __init__(self, *, using: str | None = None, batch_size: int = 1000, **options: float) -> None:
        super().__init__(**options)
        if using is not None and not isinstance(using, str):
            raise ValueError("using should be a database alias.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("batch_size should be a whole number >= 1.")
        self.using = using
        self.batch_size = batch_size

    def __repr__(self) -> str:
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

    # -- rows <-> documents ----------------------------------------------

    @staticmethod
    def _document(sid: str, text: str, expires: datetime) -> doc.Document | None:
        document = doc.loads(text, sid)
        if document is not None and document["cookie"].get("expires") is not None:
            # touch() moves only the column; the column is the truth.
            # Integer arithmetic: timestamp() * 1000 loses a millisecond
            # for some values through float rounding.
            document["cookie"]["expires"] = format_iso(datetime_to_ms(expires))
        return document

    def _listing(self, **filters: Any) -> QuerySet[Session, tuple[str, str, datetime]]:
        """``(sid, data, expires)`` rows matching ``filters``, in id order."""
        return self._objects().filter(**filters).order_by("sid").values_list("sid", "data", "expires")

    def _documents(self, rows: Iterable[tuple[str, str, datetime]]) -> Iterator[tuple[str, doc.Document]]:
        for sid, text, expires in rows:
            document = self._document(sid, text, expires)
            if document is not None:
                yield sid, document

    def _row(self, sid: str, data: doc.Document) -> Session:
        return _model()(
            sid=sid,
            data=doc.dumps(data),
            expires=ms_to_datetime(doc.store_expiry_ms(data, self.ttl)),
            user_id=doc.user_id(data),
        )

    def _touch_filter(self, sid: str, data: doc.Document) -> tuple[QuerySet[Session], datetime]:
        expires = ms_to_datetime(doc.store_expiry_ms(data, self.ttl))
        now = ms_to_datetime(now_ms())
        qs = self._objects(write=True).filter(sid=sid, expires__gt=now)
        if self.touch_after:
            # TOUCH_AFTER in the same statement: leave rows whose expiry was
            # refreshed within touch_after (see Store._touch_skipped).
            recent = expires - timedelta(seconds=self.touch_after)
            qs = qs.exclude(expires__gt=recent, expires__lte=expires)
        return qs, expires

    _UPSERT_FIELDS = ("data", "expires", "user_id", "updated")

    def _upsert_options(self) -> dict[str, Any]:
        """One INSERT ... ON CONFLICT/ON DUPLICATE KEY UPDATE statement."""
        features = connections[self.db_for_write()].features
        options: dict[str, Any] = {"update_conflicts": True, "update_fields": list(self._UPSERT_FIELDS)}
        if features.supports_update_conflicts_with_target:
            options["unique_fields"] = ["sid"]  # MySQL/MariaDB take no target
        return options

    # -- sync ----------------------------------------------------------------

    def get(self, sid: str) -> doc.Document | None:
        now = ms_to_datetime(now_ms())
        with self._failures("load a session", _ERRORS):
            # [:1], not first(): no ORDER BY for a primary-key lookup.
            rows = list(self._objects().filter(sid=sid, expires__gt=now).values_list("data", "expires")[:1])
        return self._document(sid, *rows[0]) if rows else None

    def set(self, sid: str, data: doc.Document) -> None:
        row = self._row(sid, data)
        with self._failures("save a session", _ERRORS):
            self._objects(write=True).bulk_create([row], **self._upsert_options())

    def touch(self, sid: str, data: doc.Document) -> None:
        qs, expires = self._touch_filter(sid, data)
        with self._failures("touch a session", _ERRORS):
            qs.update(expires=expires)

    def refresh(self, sid: str, data: doc.Document) -> bool:
        expires = ms_to_datetime(doc.store_expiry_ms(data, self.ttl))
        qs = self._objects(write=True).filter(sid=sid, expires__gt=ms_to_datetime(now_ms()))
        with self._failures("save a session", _ERRORS):
            # Django asks MySQL/MariaDB for matched, not changed, rows.
            return qs.update(expires=expires) > 0

    def merge(
        self, sid: str, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
    ) -> doc.Document | None:
        """Atomic: ``SELECT ... FOR UPDATE`` then one UPDATE, in one transaction.

        A surrounding transaction (``ATOMIC_REQUESTS``) is joined rather than
        given a savepoint; the row stays locked until it commits. SQLite
        ignores FOR UPDATE, and two transactions that both read before
        writing would deadlock there (one fails with "database is locked"),
        so on SQLite an UPDATE that changes nothing comes first: it takes
        the write lock, and other writers wait for it (the connection's
        ``timeout``) instead of failing.
        """
        alias = self.db_for_write()
        objects = self._objects(write=True)
        now = ms_to_datetime(now_ms())
        with self._failures("save a session", _ERRORS), transaction.atomic(using=alias, savepoint=False):
            if not connections[alias].features.has_select_for_update:
                objects.filter(sid=sid).update(expires=F("expires"))
            row = (
                objects.select_for_update()
                .filter(sid=sid, expires__gt=now)
                .values_list("data", "expires")
                .first()
            )
            stored = None if row is None else self._document(sid, *row)
            if stored is None:
                return None
            merged = merged_document(stored, changes, removed, cookie)
            written = self._row(sid, merged)
            objects.filter(sid=sid).update(
                data=written.data, expires=written.expires, user_id=written.user_id, updated=timezone.now()
            )
        return merged

    def _delete_one(self, sid: str) -> None:
        # One DELETE statement: QuerySet.delete() would wrap it in
        # BEGIN/COMMIT (three round trips) to collect cascades, and no
        # model relates to sessions.
        alias = self.db_for_write()
        _model().objects.filter(sid=sid)._raw_delete(using=alias)

    def destroy(self, sid: str) -> None:
        with self._failures("destroy a session", _ERRORS):
            self._delete_one(sid)

    def all(self) -> Iterator[tuple[str, doc.Document]]:
        rows = self._listing(expires__gt=ms_to_datetime(now_ms()))
        with self._failures("list sessions", _ERRORS):
            yield from self._documents(rows.iterator(chunk_size=self.batch_size))

    def length(self) -> int:
        with self._failures("count sessions", _ERRORS):
            return self._objects().filter(expires__gt=ms_to_datetime(now_ms())).count()

    def clear(self) -> None:
        with self._failures("clear sessions", _ERRORS):
            self._objects(write=True).all().delete()

    def clear_expired(self) -> int:
        """Delete expired rows in short batches (no long table lock)."""
        with self._failures("clear expired sessions", _ERRORS):
            return sum(self.clear_expired_batches())

    def clear_expired_batches(self) -> Iterator[int]:
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
        with self._failures("count expired sessions", _ERRORS):
            return self._objects(write=True).filter(expires__lte=ms_to_datetime(now_ms())).count()

    def expired_sessions(self) -> Iterator[tuple[str, doc.Document]]:
        rows = self._listing(expires__lte=ms_to_datetime(now_ms()))
        with self._failures("list expired sessions", _ERRORS):
            yield from self._documents(rows.iterator(chunk_size=self.batch_size))

    def user_sessions(self, user_id: object) -> Iterator[tuple[str, doc.Document]]:
        """An index lookup on the ``user_id`` column."""
        rows = self._listing(user_id=str(user_id), expires__gt=ms_to_datetime(now_ms()))
        with self._failures("list a user's sessions", _ERRORS):
            yield from self._documents(rows.iterator(chunk_size=self.batch_size))

    # -- async (Django's async ORM) ----------------------------------------

    async def aget(self, sid: str) -> doc.Document | None:
        now = ms_to_datetime(now_ms())
        qs = self._objects().filter(sid=sid, expires__gt=now).values_list("data", "expires")
        with self._failures("load a session", _ERRORS):
            rows = [row async for row in qs[:1]]
        return self._document(sid, *rows[0]) if rows else None

    async def aset(self, sid: str, data: doc.Document) -> None:
        row = self._row(sid, data)
        with self._failures("save a session", _ERRORS):
            await self._objects(write=True).abulk_create([row], **self._upsert_options())

    async def atouch(self, sid: str, data: doc.Document) -> None:
        qs, expires = self._touch_filter(sid, data)
        with self._failures("touch a session", _ERRORS):
            await qs.aupdate(expires=expires)

    async def arefresh(self, sid: str, data: doc.Document) -> bool:
        expires = ms_to_datetime(doc.store_expiry_ms(data, self.ttl))
        qs = self._objects(write=True).filter(sid=sid, expires__gt=ms_to_datetime(now_ms()))
        with self._failures("save a session", _ERRORS):
            return await qs.aupdate(expires=expires) > 0

    # amerge: the base class runs merge() in a thread (the async ORM has
    # no transactions).

    async def adestroy(self, sid: str) -> None:
        with self._failures("destroy a session", _ERRORS):
            await sync_to_async(self._delete_one)(sid)

    async def aall(self) -> AsyncIterator[tuple[str, doc.Document]]:
        rows = self._listing(expires__gt=ms_to_datetime(now_ms()))
        with self._failures("list sessions", _ERRORS):
            async for row in rows:
                for item in self._documents([row]):
                    yield item

    async def alength(self) -> int:
        with self._failures("count sessions", _ERRORS):
            return await self._objects().filter(expires__gt=ms_to_datetime(now_ms())).acount()

    async def auser_sessions(self, user_id: object) -> AsyncIterator[tuple[str, doc.Document]]:
        rows = self._listing(user_id=str(user_id), expires__gt=ms_to_datetime(now_ms()))
        with self._failures("list a user's sessions", _ERRORS):
            async for row in rows:
                for item in self._documents([row]):
                    yield item
