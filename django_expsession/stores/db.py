"""The database store: the ``Session`` model, one statement per operation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime

from django.db import connections, router, transaction

from .. import document as doc
from ..cookie import format_iso, ms_to_datetime, now_ms
from .base import Store


def _model() -> type:
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

    def db_for_read(self) -> str:
        return self.using or router.db_for_read(_model())

    def db_for_write(self) -> str:
        return self.using or router.db_for_write(_model())

    def _objects(self, write: bool = False):  # type: ignore[no-untyped-def]
        return _model().objects.using(self.db_for_write() if write else self.db_for_read())

    # -- rows <-> documents ----------------------------------------------

    @staticmethod
    def _document(sid: str, text: str, expires: datetime) -> doc.Document | None:
        document = doc.loads(text, sid)
        if document is not None and document["cookie"].get("expires") is not None:
            # touch() moves only the column; the column is the truth.
            ms = int(expires.timestamp() * 1000)
            document["cookie"]["expires"] = format_iso(ms)
        return document

    def _row(self, sid: str, data: doc.Document):  # type: ignore[no-untyped-def]
        return _model()(
            sid=sid,
            data=doc.dumps(data),
            expires=ms_to_datetime(doc.store_expiry_ms(data, self.ttl)),
            user_id=doc.user_id(data),
        )

    def _touch_filter(self, sid: str, data: doc.Document):  # type: ignore[no-untyped-def]
        expires = ms_to_datetime(doc.store_expiry_ms(data, self.ttl))
        now = ms_to_datetime(now_ms())
        qs = self._objects(write=True).filter(sid=sid, expires__gt=now)
        if self.touch_after:
            # Skip rows whose expiry was refreshed within touch_after.
            from datetime import timedelta

            qs = qs.filter(expires__lt=expires - timedelta(seconds=self.touch_after))
        return qs, expires

    _UPSERT_FIELDS = ("data", "expires", "user_id", "updated")

    def _upsert_options(self) -> dict[str, object]:
        """One INSERT ... ON CONFLICT/ON DUPLICATE KEY UPDATE statement."""
        features = connections[self.db_for_write()].features
        options: dict[str, object] = {"update_conflicts": True, "update_fields": list(self._UPSERT_FIELDS)}
        if features.supports_update_conflicts_with_target:
            options["unique_fields"] = ["sid"]  # MySQL/MariaDB take no target
        return options

    # -- sync ----------------------------------------------------------------

    def get(self, sid: str) -> doc.Document | None:
        now = ms_to_datetime(now_ms())
        row = self._objects().filter(sid=sid, expires__gt=now).values_list("data", "expires").first()
        return None if row is None else self._document(sid, *row)

    def set(self, sid: str, data: doc.Document) -> None:
        self._objects(write=True).bulk_create([self._row(sid, data)], **self._upsert_options())

    def touch(self, sid: str, data: doc.Document) -> None:
        qs, expires = self._touch_filter(sid, data)
        qs.update(expires=expires)

    def destroy(self, sid: str) -> None:
        self._objects(write=True).filter(sid=sid).delete()

    def all(self) -> Iterator[tuple[str, doc.Document]]:
        now = ms_to_datetime(now_ms())
        rows = self._objects().filter(expires__gt=now).order_by("sid").values_list("sid", "data", "expires")
        for sid, text, expires in rows.iterator(chunk_size=self.batch_size):
            document = self._document(sid, text, expires)
            if document is not None:
                yield sid, document

    def length(self) -> int:
        return self._objects().filter(expires__gt=ms_to_datetime(now_ms())).count()

    def clear(self) -> None:
        self._objects(write=True).all().delete()

    def clear_expired(self) -> int:
        """Delete expired rows in short batches (no long table lock)."""
        now = ms_to_datetime(now_ms())
        total = 0
        objects = self._objects(write=True)
        while True:
            with transaction.atomic(using=self.db_for_write()):
                batch = list(objects.filter(expires__lte=now).values_list("sid", flat=True)[: self.batch_size])
                if batch:
                    objects.filter(sid__in=batch, expires__lte=now).delete()
            total += len(batch)
            if len(batch) < self.batch_size:
                return total

    # -- async (Django's async ORM) ----------------------------------------

    async def aget(self, sid: str) -> doc.Document | None:
        now = ms_to_datetime(now_ms())
        row = await self._objects().filter(sid=sid, expires__gt=now).values_list("data", "expires").afirst()
        return None if row is None else self._document(sid, *row)

    async def aset(self, sid: str, data: doc.Document) -> None:
        await self._objects(write=True).abulk_create([self._row(sid, data)], **self._upsert_options())

    async def atouch(self, sid: str, data: doc.Document) -> None:
        qs, expires = self._touch_filter(sid, data)
        await qs.aupdate(expires=expires)

    async def adestroy(self, sid: str) -> None:
        await self._objects(write=True).filter(sid=sid).adelete()

    async def aall(self) -> AsyncIterator[tuple[str, doc.Document]]:
        now = ms_to_datetime(now_ms())
        rows = self._objects().filter(expires__gt=now).order_by("sid").values_list("sid", "data", "expires")
        async for sid, text, expires in rows:
            document = self._document(sid, text, expires)
            if document is not None:
                yield sid, document

    async def alength(self) -> int:
        return await self._objects().filter(expires__gt=ms_to_datetime(now_ms())).acount()
