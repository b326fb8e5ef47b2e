"""In-process store for development and tests: thread-safe and bounded."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from .. import document as doc
from ..cookie import now_ms
from .base import Store, merged_document


class MemoryStore(Store):
    """Keeps JSON strings, so callers never share objects with the store.

    Unlike express's MemoryStore it cannot leak: browser-session records get
    a TTL, expired records are swept as writes come in, and ``max_entries``
    caps the size (the records closest to expiry go first).
    """

    def __init__(self, *, max_entries: int = 10_000, sweep_every: int = 100, **options: float) -> None:
        super().__init__(**options)
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError("max_entries should be a whole number >= 1.")
        self.max_entries = max_entries
        self._sweep_every = max(1, int(sweep_every))
        self._records: dict[str, tuple[str, int]] = {}  # sid -> (json, expiry ms)
        self._writes = 0
        self._lock = threading.Lock()

    def _live(self, sid: str, now: int) -> tuple[str, int] | None:
        record = self._records.get(sid)
        if record is not None and record[1] <= now:
            del self._records[sid]
            return None
        return record

    def get(self, sid: str) -> doc.Document | None:
        with self._lock:
            record = self._live(sid, now_ms())
        return None if record is None else doc.loads(record[0], sid)

    def set(self, sid: str, data: doc.Document) -> None:
        text = doc.dumps(data)
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._lock:
            self._put(sid, text, expiry)

    def _put(self, sid: str, text: str, expiry: int) -> None:
        """Write a record (the lock held)."""
        self._records.pop(sid, None)  # re-insert: newest last
        self._records[sid] = (text, expiry)
        self._writes += 1
        if self._writes % self._sweep_every == 0 or len(self._records) > self.max_entries:
            self._sweep(now_ms())

    def touch(self, sid: str, data: doc.Document) -> None:
        self._recookie(sid, data, skippable=True)

    def refresh(self, sid: str, data: doc.Document) -> bool:
        return self._recookie(sid, data, skippable=False)

    def _recookie(self, sid: str, data: doc.Document, *, skippable: bool) -> bool:
        """Give a live record ``data``'s cookie and expiry; False when it is gone."""
        with self._lock:
            record = self._live(sid, now_ms())
            if record is None:
                return False
            expiry = doc.store_expiry_ms(data, self.ttl)
            if skippable and self._touch_skipped(record[1], expiry):
                return True
            stored = doc.loads(record[0], sid)
            if stored is None:
                return False
            stored["cookie"] = data["cookie"]
            self._records[sid] = (doc.dumps(stored), expiry)
            return True

    def merge(
        self, sid: str, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
    ) -> doc.Document | None:
        """Atomic: the read and the write happen under the store's lock."""
        with self._lock:
            record = self._live(sid, now_ms())
            stored = None if record is None else doc.loads(record[0], sid)
            if stored is None:
                return None
            merged = merged_document(stored, changes, removed, cookie)
            self._put(sid, doc.dumps(merged), doc.store_expiry_ms(merged, self.ttl))
        return merged

    def destroy(self, sid: str) -> None:
        with self._lock:
            self._records.pop(sid, None)

    def all(self) -> Iterator[tuple[str, doc.Document]]:
        with self._lock:
            self._sweep(now_ms())
            records = list(self._records.items())
        for sid, (text, _) in records:
            document = doc.loads(text, sid)
            if document is not None:
                yield sid, document

    def length(self) -> int:
        with self._lock:
            self._sweep(now_ms())
            return len(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

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
            records = [(sid, text) for sid, (text, expiry) in self._records.items() if expiry <= now]
        for sid, text in records:
            document = doc.loads(text, sid)
            if document is not None:
                yield sid, document

    def _sweep(self, now: int) -> int:
        expired = [sid for sid, (_, expiry) in self._records.items() if expiry <= now]
        for sid in expired:
            del self._records[sid]
        overflow = len(self._records) - self.max_entries
        if overflow > 0:
            soonest = sorted(self._records, key=lambda sid: self._records[sid][1])[:overflow]
            for sid in soonest:
                del self._records[sid]
        return len(expired)
