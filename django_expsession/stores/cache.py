"""The cache store: sessions in any Django cache (django-redis, memcached, locmem).

A session is two cache entries with the same lifetime, the cookie's
remaining lifetime (``TTL`` for a browser-session cookie):

``<KEY_PREFIX>s:<sid>``
    the express JSON document, as ``set()`` received it;
``<KEY_PREFIX>e:<sid>``
    a small JSON record ``{"expires": <ms>, "cookie": {...}}``: the stored
    expiry and the session's current cookie.

Why two: express's ``touch`` replaces the stored ``cookie`` (so the next
request sees the new ``expires``) and keeps the data. A cache cannot patch
half a value, and rewriting the document on touch would undo the save of a
request running at the same time. So touch reads the record (an expired
session is never revived; ``TOUCH_AFTER`` compares against its expiry),
moves the document's lifetime with ``cache.touch`` (no data rewritten) and
rewrites only the small record; ``get`` reads both in one ``get_many`` and
puts the record's cookie into the document. The record's expiry is also checked against the clock,
so a session ends at exactly its expiry, whatever the cache's timeout
granularity (timeouts are rounded up to whole seconds) or clock.

The cache receives ``str`` values (JSON text), never Python objects, so the
cache's serializer only ever frames a string: no pickled user data.

CONCURRENCY = "merge": a cache has no transactions, so ``merge`` is the
base class's read then write, last writer wins between the two. A save
that changed no data (``refresh``) rewrites only the small record, like
touch, so it never undoes another request's save.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from functools import cache as memoize
from importlib import import_module
from typing import Any

from django.core.cache import BaseCache, caches

from .. import document as doc
from ..cookie import now_ms
from . import cachekeys
from .base import Store

DOCUMENT = "s:"
RECORD = "e:"


@memoize
def _errors() -> tuple[type[BaseException], ...]:
    """The exception types of the cache clients that are installed."""
    found: list[type[BaseException]] = [OSError]
    for module, name in (
        ("redis.exceptions", "RedisError"),
        ("django_redis.exceptions", "ConnectionInterrupted"),
        ("pymemcache.exceptions", "MemcacheError"),
        ("pylibmc", "Error"),
    ):
        try:
            found.append(getattr(import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


class CacheStore(Store):
    """Sessions in the Django cache ``cache`` (an alias of ``CACHES``).

    Options: ``cache`` (default ``"default"``), ``key_prefix`` (default
    ``"expsession:"``), ``ttl`` (seconds a browser-session record lives,
    default one day), ``touch_after``.
    """

    def __init__(self, *, cache: str = "default", key_prefix: str = "expsession:", **options: float) -> None:
        super().__init__(**options)
        if not isinstance(cache, str) or not cache:
            raise ValueError("cache should be the alias of a cache in CACHES.")
        if not isinstance(key_prefix, str):
            raise ValueError("key_prefix should be a string.")
        self.cache_alias = cache
        self.key_prefix = key_prefix

    def __repr__(self) -> str:
        return f"<CacheStore cache={self.cache_alias!r}>"

    @property
    def cache(self) -> BaseCache:
        # Looked up per call: Django keeps cache connections per thread.
        return caches[self.cache_alias]

    def address(self) -> str:
        return cachekeys.describe(self.cache_alias)

    # -- entries -----------------------------------------------------------

    def _keys(self, sid: str) -> tuple[str, str]:
        return self.key_prefix + DOCUMENT + sid, self.key_prefix + RECORD + sid

    @staticmethod
    def _timeout(expiry: int) -> int:
        # Whole seconds, rounded up: no cache drops an entry before the
        # cookie expires; the record's expiry makes the exact cut.
        return math.ceil((expiry - now_ms()) / 1000)

    @staticmethod
    def _record(expiry: int, cookie: Any) -> str:
        return json.dumps({"expires": expiry, "cookie": cookie}, separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def _read_record(sid: str, raw: Any) -> dict[str, Any] | None:
        """The expiry record, or None (logged) when it is unreadable."""
        try:
            record = json.loads(raw)
        except (TypeError, ValueError):
            record = None
        if not isinstance(record, dict) or type(record.get("expires")) is not int or "cookie" not in record:
            doc.logger.warning("Session %r: stored expiry record is unreadable; treated as no session.", sid)
            return None
        return record

    def _merge(self, sid: str, values: dict[str, Any]) -> doc.Document | None:
        """The live document from the two entries ``get_many`` returned."""
        key, record_key = self._keys(sid)
        document = doc.loads(values.get(key), sid)
        if document is None or record_key not in values:
            # No record (evicted alone): the cache's own expiry still holds.
            return None if document is None or doc.is_expired(document) else document
        record = self._read_record(sid, values[record_key])
        if record is None or record["expires"] <= now_ms():
            return None
        document["cookie"] = record["cookie"]
        return doc.validate(document, sid)

    def _writes(self, sid: str, data: doc.Document) -> tuple[dict[str, str], int]:
        key, record_key = self._keys(sid)
        expiry = doc.store_expiry_ms(data, self.ttl)
        entries = {key: doc.dumps(data), record_key: self._record(expiry, data["cookie"])}
        return entries, self._timeout(expiry)

    # -- sync ----------------------------------------------------------------

    def get(self, sid: str) -> doc.Document | None:
        with self._failures("load a session", _errors()):
            values = self.cache.get_many(self._keys(sid))
        return self._merge(sid, values)

    def set(self, sid: str, data: doc.Document) -> None:
        entries, timeout = self._writes(sid, data)
        with self._failures("save a session", _errors()):
            if timeout > 0:
                self.cache.set_many(entries, timeout)
            else:  # already expired: express's store would drop it on read
                self.cache.delete_many(list(entries))

    def touch(self, sid: str, data: doc.Document) -> None:
        key, record_key = self._keys(sid)
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._failures("touch a session", _errors()):
            stored = self.cache.get(record_key)
            if not self._touch_due(sid, stored, expiry):
                return
            timeout = self._timeout(expiry)
            if timeout <= 0:
                self.cache.delete_many([key, record_key])
            elif self.cache.touch(key, timeout):  # never creates a session
                self.cache.set(record_key, self._record(expiry, data["cookie"]), timeout)

    def refresh(self, sid: str, data: doc.Document) -> bool:
        key, record_key = self._keys(sid)
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._failures("save a session", _errors()):
            if not self._refresh_due(sid, self.cache.get(record_key)):
                return False
            timeout = self._timeout(expiry)
            if timeout <= 0:
                self.cache.delete_many([key, record_key])
                return True
            if not self.cache.touch(key, timeout):  # the document is gone
                return False
            self.cache.set(record_key, self._record(expiry, data["cookie"]), timeout)
            return True

    def _refresh_due(self, sid: str, stored: Any) -> bool:
        """Not ended by its record (a missing record leaves it to the document's entry)."""
        if stored is None:
            return True
        record = self._read_record(sid, stored)
        return record is not None and record["expires"] > now_ms()

    def _touch_due(self, sid: str, stored: Any, expiry: int) -> bool:
        """Live (checked on the clock, like get) and not refreshed within TOUCH_AFTER."""
        record = None if stored is None else self._read_record(sid, stored)
        return (
            record is not None
            and record["expires"] > now_ms()
            and not self._touch_skipped(record["expires"], expiry)
        )

    def destroy(self, sid: str) -> None:
        with self._failures("destroy a session", _errors()):
            self.cache.delete_many(list(self._keys(sid)))

    # -- async: the cache's own async API ------------------------------------

    async def aget(self, sid: str) -> doc.Document | None:
        with self._failures("load a session", _errors()):
            values = await self.cache.aget_many(self._keys(sid))
        return self._merge(sid, values)

    async def aset(self, sid: str, data: doc.Document) -> None:
        entries, timeout = self._writes(sid, data)
        with self._failures("save a session", _errors()):
            if timeout > 0:
                await self.cache.aset_many(entries, timeout)
            else:
                await self.cache.adelete_many(list(entries))

    async def atouch(self, sid: str, data: doc.Document) -> None:
        key, record_key = self._keys(sid)
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._failures("touch a session", _errors()):
            stored = await self.cache.aget(record_key)
            if not self._touch_due(sid, stored, expiry):
                return
            timeout = self._timeout(expiry)
            if timeout <= 0:
                await self.cache.adelete_many([key, record_key])
            elif await self.cache.atouch(key, timeout):
                await self.cache.aset(record_key, self._record(expiry, data["cookie"]), timeout)

    async def arefresh(self, sid: str, data: doc.Document) -> bool:
        key, record_key = self._keys(sid)
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._failures("save a session", _errors()):
            if not self._refresh_due(sid, await self.cache.aget(record_key)):
                return False
            timeout = self._timeout(expiry)
            if timeout <= 0:
                await self.cache.adelete_many([key, record_key])
                return True
            if not await self.cache.atouch(key, timeout):
                return False
            await self.cache.aset(record_key, self._record(expiry, data["cookie"]), timeout)
            return True

    async def adestroy(self, sid: str) -> None:
        with self._failures("destroy a session", _errors()):
            await self.cache.adelete_many(list(self._keys(sid)))

    # -- listing: only where the cache can enumerate its keys ---------------

    def supports(self, operation: str) -> bool:
        if operation in ("all", "length", "clear", "user_sessions"):
            return cachekeys.can_list(self.cache)
        if operation in ("expired_sessions",):
            return False
        return super().supports(operation)

    def _sids(self) -> Iterator[str]:
        prefix = self.key_prefix + DOCUMENT
        for key in cachekeys.iter_keys(self.cache, prefix, self.cache_alias):
            yield key[len(prefix) :]

    def all(self) -> Iterator[tuple[str, doc.Document]]:
        with self._failures("list sessions", _errors()):
            sids = list(self._sids())
            for start in range(0, len(sids), 100):
                batch = sids[start : start + 100]
                values = self.cache.get_many([key for sid in batch for key in self._keys(sid)])
                for sid in batch:
                    document = self._merge(sid, values)
                    if document is not None:
                        yield sid, document

    def length(self) -> int:
        return sum(1 for _ in self.all())

    def clear(self) -> None:
        with self._failures("clear sessions", _errors()):
            for namespace in (DOCUMENT, RECORD):
                cachekeys.delete_prefixed(self.cache, self.key_prefix + namespace, self.cache_alias)

    def clear_expired(self) -> int:
        """Nothing to do: the cache drops expired entries itself."""
        return 0

    def count_expired(self) -> int:
        return 0
