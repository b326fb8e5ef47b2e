"""The cache store: sessions in any Django cache (django-redis, memcached, locmem).

One cache entry per session, under ``KEY_PREFIX + id`` made into a key by
the cache (its own ``KEY_PREFIX``, ``VERSION`` and ``KEY_FUNCTION`` apply).

On a django-redis cache the store talks to Redis through the cache's own
connection, with RedisStore's scripts (``redisops.py``): the entry is the
express JSON text (the layout connect-redis reads, under the cache's key),
its Redis expiry is the session's, and every read, save and touch is one
round trip; a save compares and sets, atomically.

On any other cache the entry is the text ``"<expiry ms>:<express JSON>"``
through Django's cache API: the prefix is the exact expiry (cache timeouts
are whole seconds) and a touch rewrites only it. A save compares what is
stored with what was read and then writes, under a lock of this process:
atomic on LocMemCache (which lives in one process), and on shared caches
(memcached, the database cache) as strong as the cache API allows, that is,
a write of another process in the moment between the two can be lost.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from functools import cache as memoize
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.core.cache import BaseCache, caches

from .. import document as doc
from ..clock import now_ms
from . import cachekeys
from .base import Record, Replaced, Store

if TYPE_CHECKING:
    from .redisops import RedisSessions


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


_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


def _lock_for(alias: str) -> threading.Lock:
    with _locks_lock:
        return _locks.setdefault(alias, threading.Lock())


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
        self._lock = _lock_for(cache)
        if cache not in caches.settings:
            raise ValueError(f"cache should be an alias of CACHES; there is no cache {cache!r}.")
        self._redis: RedisSessions | None = None
        if cachekeys.is_redis(caches[cache]):
            # Imported here: redis-py is only needed (and installed) with django-redis.
            from .redisops import RedisSessions

            self._redis = RedisSessions(self._made_key, self._made_user_key, self.ttl, self.touch_after)

    def __repr__(self) -> str:
        return f"<CacheStore cache={self.cache_alias!r}>"

    @property
    def capabilities(self) -> frozenset[str]:  # type: ignore[override]
        found = {"touch", "clear_expired", "count_expired", "user_sessions"}
        if self._redis is not None:
            found |= {"atomic", "shared"}
        elif cachekeys.is_local(self.cache):
            found.add("atomic")
        else:
            found.add("shared")
        if cachekeys.can_list(self.cache):
            found |= {"all", "length", "clear"}
        return frozenset(found)

    @property
    def cache(self) -> BaseCache:
        # Looked up per call: Django keeps cache connections per thread.
        return caches[self.cache_alias]

    def address(self) -> str:
        return cachekeys.describe(self.cache_alias)

    def _made_key(self, sid: str) -> str:
        return self.cache.make_key(self.key_prefix + sid)

    def _made_user_key(self, user_id: str) -> str:
        # Outside key_prefix: connect-redis would count the sets as sessions.
        return self.cache.make_key("users:" + self.key_prefix + user_id)

    def _client(self) -> Any:
        return cachekeys.redis_client(self.cache_alias)

    # -- the generic entry: "<expiry ms>:<json>" ------------------------------------

    @staticmethod
    def _timeout(expiry: int) -> int:
        # Whole seconds, rounded up: no cache drops an entry before the
        # cookie expires; the entry's expiry makes the exact cut.
        return math.ceil((expiry - now_ms()) / 1000)

    @staticmethod
    def _entry(value: Any) -> tuple[int, str] | None:
        """(expiry, JSON text) of a live entry; None when absent, expired or unreadable."""
        if not isinstance(value, str):
            return None
        head, colon, text = value.partition(":")
        if not colon or not head.isdigit():
            return None
        expiry = int(head)
        return (expiry, text) if expiry > now_ms() else None

    def _put(self, sid: str, expiry: int, text: str, user: str | None = None) -> None:
        timeout = self._timeout(expiry)
        if timeout > 0:
            self.cache.set(self.key_prefix + sid, f"{expiry}:{text}", timeout)
            if user is not None:
                self._index(user, sid, expiry)
        else:  # already expired: express's store would drop it on read
            self.cache.delete(self.key_prefix + sid)

    # The per-user index of a generic cache: "<expiry ms>:<JSON list of ids>"
    # under "users:" + KEY_PREFIX + user id, living as long as the user's
    # longest session; ids whose session is gone are dropped when it is read.

    def _index_key(self, user: str) -> str:
        return "users:" + self.key_prefix + user

    def _index(self, user: str, sid: str, expiry: int) -> None:
        with self._lock:
            held = self._read_index(user)
            sids, until = (held[0], max(held[1], expiry)) if held is not None else ([], expiry)
            if sid not in sids:
                sids.append(sid)
            self.cache.set(self._index_key(user), f"{until}:{doc.dumps(sids)}", self._timeout(until))

    def _read_index(self, user: str) -> tuple[list[str], int] | None:
        entry = self._entry(self.cache.get(self._index_key(user)))
        if entry is None:
            return None
        try:
            sids = json.loads(entry[1])
        except ValueError:
            return None
        return ([sid for sid in sids if isinstance(sid, str)], entry[0]) if isinstance(sids, list) else None

    # -- the request path ----------------------------------------------------------

    def read(self, sid: str) -> Record | None:
        with self._failures("load a session", _errors()):
            if self._redis is not None:
                return self._redis.read_sync(self._client(), sid)
            entry = self._entry(self.cache.get(self.key_prefix + sid))
        return None if entry is None else Record(text=entry[1], version=entry[1], expires_ms=entry[0])

    def set(self, sid: str, data: doc.Document) -> None:
        with self._failures("save a session", _errors()):
            if self._redis is not None:
                self._redis.write_sync(self._client(), sid, data)
            else:
                self._put(sid, doc.store_expiry_ms(data, self.ttl), doc.text_of(data), doc.user_id(data))

    def replace(self, sid: str, data: doc.Document, version: Any) -> Replaced:
        with self._failures("save a session", _errors()):
            if self._redis is not None:
                return self._redis.replace_sync(self._client(), sid, data, version)
            text = doc.text_of(data)
            with self._lock:
                entry = self._entry(self.cache.get(self.key_prefix + sid))
                if entry is None:
                    return Replaced(False)
                if entry[1] != version:
                    return Replaced(
                        False, current=Record(text=entry[1], version=entry[1], expires_ms=entry[0])
                    )
                self._put(sid, doc.store_expiry_ms(data, self.ttl), text)
            user = doc.user_id(data)
            if user is not None:
                self._index(user, sid, doc.store_expiry_ms(data, self.ttl))
            return Replaced(True, text)

    def touch(self, sid: str, data: doc.Document) -> None:
        with self._failures("touch a session", _errors()):
            if self._redis is not None:
                self._redis.touch_sync(self._client(), sid, data)
            else:
                self._move(sid, data)

    def _move(self, sid: str, data: doc.Document) -> None:
        """Rewrite a live entry's expiry, keeping its document (TOUCH_AFTER applies)."""
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._lock:
            entry = self._entry(self.cache.get(self.key_prefix + sid))
            moved = entry is not None and not self.touch_skipped(entry[0], expiry)
            if entry is not None and moved:
                self._put(sid, expiry, entry[1])
        user = doc.user_id(data)
        if moved and user is not None:
            self._index(user, sid, expiry)  # the index outlives the user's longest session

    def destroy(self, sid: str) -> None:
        with self._failures("destroy a session", _errors()):
            if self._redis is not None:
                self._redis.destroy_sync(self._client(), sid)
            else:
                self.cache.delete(self.key_prefix + sid)

    # -- listing: only where the cache can enumerate its keys -------------------------

    def _records(self) -> Iterator[tuple[str, Record]]:
        if self._redis is not None:
            client = self._client()
            prefix = self._made_key("")
            for keys in cachekeys.redis_pages(client, prefix):
                pipe = client.pipeline(transaction=False)
                for key in keys:
                    pipe.get(key)
                    pipe.pexpiretime(key)
                replies = pipe.execute()
                for n, key in enumerate(keys):
                    record = self._redis.record(replies[2 * n], replies[2 * n + 1])
                    if record is not None:
                        yield cachekeys.text(key)[len(prefix) :], record
            return
        sids = [
            key[len(self.key_prefix) :]
            for key in cachekeys.iter_keys(self.cache, self.key_prefix, self.cache_alias)
        ]
        for start in range(0, len(sids), 100):
            batch = sids[start : start + 100]
            values = self.cache.get_many([self.key_prefix + sid for sid in batch])
            for sid in batch:
                entry = self._entry(values.get(self.key_prefix + sid))
                if entry is not None:
                    yield sid, Record(text=entry[1], version=entry[1], expires_ms=entry[0])

    def all(self) -> Iterator[tuple[str, doc.Document]]:
        with self._failures("list sessions", _errors()):
            for sid, record in self._records():
                document = record.current_document(sid)
                if document is not None:
                    yield sid, document

    def length(self) -> int:
        return sum(1 for _ in self.all())

    def clear(self) -> None:
        with self._failures("clear sessions", _errors()):
            if self._redis is not None:
                client = self._client()
                for prefix in (self._made_key(""), self._made_user_key("")):
                    for keys in cachekeys.redis_pages(client, prefix, match_type=None):
                        client.unlink(*keys)
            else:
                cachekeys.delete_prefixed(self.cache, self.key_prefix, self.cache_alias)

    def user_sessions(self, user_id: object) -> Iterator[tuple[str, doc.Document]]:
        """The user's live sessions, from the per-user index (no scan of the cache)."""
        wanted = str(user_id)
        with self._failures("list a user's sessions", _errors()):
            if self._redis is not None:
                yield from self._redis_user_sessions(wanted)
                return
            held = self._read_index(wanted)
            found = []
            for sid in [] if held is None else held[0]:
                record = self.read(sid)
                document = None if record is None else record.current_document(sid)
                if document is not None and doc.user_id(document) == wanted:
                    found.append((sid, document))
            if held is not None and len(found) < len(held[0]):
                with self._lock:  # drop the ids that are gone (another request may have added one)
                    current = self._read_index(wanted)
                    if current is not None:
                        gone = set(held[0]) - {sid for sid, _ in found}
                        kept = [sid for sid in current[0] if sid not in gone]
                        self.cache.set(
                            self._index_key(wanted),
                            f"{current[1]}:{doc.dumps(kept)}",
                            self._timeout(current[1]),
                        )
            yield from found

    def _redis_user_sessions(self, wanted: str) -> Iterator[tuple[str, doc.Document]]:
        assert self._redis is not None
        client = self._client()
        user_key = self._made_user_key(wanted)
        sids = sorted(cachekeys.text(member) for member in client.smembers(user_key))
        stale = []
        for sid in sids:
            record = self._redis.read_sync(client, sid)
            document = None if record is None else record.current_document(sid)
            if document is not None and doc.user_id(document) == wanted:
                yield sid, document
            else:
                stale.append(sid)
        if stale:
            client.srem(user_key, *stale)

    def clear_expired(self) -> int:
        """Nothing to do: the cache drops expired entries itself."""
        return 0

    def count_expired(self) -> int:
        return 0
