"""In-process store for development and tests: thread-safe and bounded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from .. import document as doc
from ..clock import now_ms
from .base import Record, Replaced, Store


class MemoryStore(Store):
    """Keeps each session as its JSON text, so requests never share objects.

    A record is ``(text, expiry ms)``; the expiry is the truth (a touch
    moves only it) and the text object itself is the record's version.
    Unlike express's MemoryStore it cannot leak: browser-session records get
    a TTL, expired records are swept as writes come in, and ``max_entries``
    caps the size (the records closest to expiry go first).
    """

    capabilities = frozenset(
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
        }
    )
    blocking: ClassVar[bool] = False

    def __init__(self, *, max_entries: int = 10_000, sweep_every: int = 100, **options: float) -> None:
        super().__init__(**options)
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError("max_entries should be a whole number >= 1.")
        self.max_entries = max_entries
        self._sweep_every = max(1, int(sweep_every))
        self._records: dict[str, tuple[str, int]] = {}  # sid -> (json, expiry ms)
        self._users: dict[str, set[str]] = {}  # user id -> sids
        self._user_of: dict[str, str] = {}  # sid -> user id
        self._writes = 0
        self._lock = threading.Lock()

    def _live(self, sid: str, now: int) -> tuple[str, int] | None:
        record = self._records.get(sid)
        if record is not None and record[1] <= now:
            self._drop(sid)
            return None
        return record

    def _drop(self, sid: str) -> None:
        """Forget a record and its place in the per-user index (the lock held)."""
        self._records.pop(sid, None)
        self._unindex(sid)

    def _unindex(self, sid: str) -> None:
        user = self._user_of.pop(sid, None)
        if user is not None:
            sids = self._users.get(user)
            if sids is not None:
                sids.discard(sid)
                if not sids:
                    del self._users[user]

    @staticmethod
    def _record(record: tuple[str, int]) -> Record:
        return Record(text=record[0], version=record[0], expires_ms=record[1])

    def read(self, sid: str) -> Record | None:
        with self._lock:
            record = self._live(sid, now_ms())
        return None if record is None else self._record(record)

    def set(self, sid: str, data: doc.Document) -> None:
        text = doc.text_of(data)
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._lock:
            self._put(sid, text, expiry, doc.user_id(data))

    def replace(self, sid: str, data: doc.Document, version: Any) -> Replaced:
        """Atomic: the comparison and the write happen under the store's lock."""
        text = doc.text_of(data)
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._lock:
            record = self._live(sid, now_ms())
            if record is None:
                return Replaced(False)
            if record[0] is not version:
                return Replaced(False, current=self._record(record))
            self._put(sid, text, expiry, doc.user_id(data))
        return Replaced(True, text)

    def _put(self, sid: str, text: str, expiry: int, user: str | None = None) -> None:
        """Write a record (the lock held)."""
        self._records.pop(sid, None)  # re-insert: newest last
        self._records[sid] = (text, expiry)
        if self._user_of.get(sid) != user:
            self._unindex(sid)
            if user is not None:
                self._users.setdefault(user, set()).add(sid)
                self._user_of[sid] = user
        self._writes += 1
        if self._writes % self._sweep_every == 0 or len(self._records) > self.max_entries:
            self._sweep(now_ms())

    def touch(self, sid: str, data: doc.Document) -> None:
        """Move a live record's expiry to ``data``'s cookie (never revive, TOUCH_AFTER)."""
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._lock:
            record = self._live(sid, now_ms())
            if record is not None and not self.touch_skipped(record[1], expiry):
                self._records[sid] = (record[0], expiry)

    def destroy(self, sid: str) -> None:
        with self._lock:
            self._drop(sid)

    def _documents(self, records: list[tuple[str, tuple[str, int]]]) -> Iterator[tuple[str, doc.Document]]:
        for sid, record in records:
            document = self._record(record).current_document(sid)
            if document is not None:
                yield sid, document

    def all(self) -> Iterator[tuple[str, doc.Document]]:
        with self._lock:
            self._sweep(now_ms())
            records = list(self._records.items())
        return self._documents(records)

    def length(self) -> int:
        with self._lock:
            self._sweep(now_ms())
            return len(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._users.clear()
            self._user_of.clear()

    def user_sessions(self, user_id: object) -> Iterator[tuple[str, doc.Document]]:
        """From the per-user index (kept as records come and go): no scan of the store."""
        wanted = str(user_id)
        now = now_ms()
        with self._lock:
            sids = sorted(self._users.get(wanted, ()))
            records = [(sid, record) for sid in sids if (record := self._live(sid, now)) is not None]
        return iter([(sid, d) for sid, d in self._documents(records) if doc.user_id(d) == wanted])

    def clear_expired(self) -> int:
        with self._lock:
            return self._sweep(now_ms())

    def count_expired(self) -> int:
        now = now_ms()
        with self._lock:
            return sum(1 for _, expiry in self._records.values() if expiry <= now)

    def expired_sessions(self) -> Iterator[tuple[str, doc.Document]]:
        now = now_ms()
        with self._lock:
            records = [(sid, record) for sid, record in self._records.items() if record[1] <= now]
        return self._documents(records)

    def _sweep(self, now: int) -> int:
        expired = [sid for sid, (_, expiry) in self._records.items() if expiry <= now]
        for sid in expired:
            self._drop(sid)
        overflow = len(self._records) - self.max_entries
        if overflow > 0:
            soonest = sorted(self._records, key=lambda sid: self._records[sid][1])[:overflow]
            for sid in soonest:
                self._drop(sid)
        return len(expired)
