"""The Redis store, compatible with connect-redis (Express's Redis store).

``<PREFIX><sid>`` holds the express JSON document as text, exactly what
connect-redis writes and reads, so an Express app and a Django app can share
sessions. The key's own expiry is the session's: the cookie's expiry, or now
+ ``TTL`` for a browser-session cookie. It is set as an absolute time in
milliseconds (``SET ... PXAT``) and read back with ``PEXPIRETIME``, so the
store ends a session at exactly its expiry by this server's clock, like the
other stores (Redis 7.0 or newer).

touch moves only the key's expiry (``PEXPIREAT``), as connect-redis does, so
the stored ``cookie.expires`` goes stale; a load puts the key's expiry back
into it. Other cookie changes that reach the store only through a touch wait
for the next save (as with the database store).

merge (CONCURRENCY = "merge") is optimistic: ``WATCH`` the key, read it,
then write the merged document in ``MULTI``/``EXEC``; when another client
wrote the key in between, EXEC fails and the merge starts over. refresh, a
save that changed no data, moves only the key's expiry, like touch.

``<PREFIX>user:<id>`` is a set of the session ids of a logged-in user
(``_auth_user_id``), for "log out everywhere". It lives at least as long as
the user's longest session; members whose session is gone are dropped when
the set is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import redis
import redis.asyncio

from .. import document as doc
from ..cookie import format_iso, now_ms
from . import redisclient
from .base import Store, merged_document

_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")

# PEXPIRETIME's answer for a key without an expiry (-2: no such key).
_PERSISTENT = -1

# A merge that keeps losing the race this often gives up (a StoreError).
MERGE_ATTEMPTS = 100


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore(Store):
    """Sessions in Redis under connect-redis's keys.

    Options: exactly one of ``url`` (``redis://``, ``rediss://`` or
    ``unix://``) and ``cache`` (a django-redis cache alias, whose client and
    settings are reused); ``prefix`` (default ``"sess:"``), ``ttl`` (seconds
    a browser-session record lives, default one day), ``touch_after``,
    ``scan_count`` (keys per ``SCAN`` step when listing or clearing).
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        cache: str | None = None,
        prefix: str = "sess:",
        scan_count: int = 100,
        **options: float,
    ) -> None:
        super().__init__(**options)
        if (url is None) == (cache is None):
            raise ValueError(
                "RedisStore needs exactly one of url (a redis:// URL) and cache (a django-redis cache alias)."
            )
        if not isinstance(prefix, str):
            raise ValueError("prefix should be a string.")
        if isinstance(scan_count, bool) or not isinstance(scan_count, int) or scan_count < 1:
            raise ValueError("scan_count should be a whole number >= 1.")
        self.prefix = prefix
        self.scan_count = scan_count
        self.cache_alias = cache
        self._url = url
        self._url_client: redis.Redis | None = None
        if url is not None:
            if not isinstance(url, str):
                raise ValueError("url should be a redis:// URL.")
            self._url_client = redis.Redis.from_url(url)  # no connection yet; a bad URL fails here
        elif not isinstance(cache, str) or not cache:
            raise ValueError("cache should be the alias of a django-redis cache in CACHES.")
        else:
            redisclient.check_cache(cache)
        self._loop_clients = redisclient.LoopClients(self._new_asyncio_client)

    def __repr__(self) -> str:
        return f"<RedisStore {self.address()} prefix={self.prefix!r}>"

    def close(self) -> None:
        # Only the URL client is ours; a django-redis cache's client is Django's.
        if self._url_client is not None:
            self._url_client.close()

    def address(self) -> str:
        return redisclient.describe(self._url_client, self.cache_alias)

    @property
    def client(self) -> redis.Redis:
        """The sync client (the cache's is looked up per call, like Django's caches)."""
        if self._url_client is not None:
            return self._url_client
        assert self.cache_alias is not None
        return redisclient.cache_client(self.cache_alias)

    async def aclient(self) -> redis.asyncio.Redis:
        """The asyncio client of the running event loop."""
        return await self._loop_clients.get()

    def _new_asyncio_client(self) -> tuple[redis.asyncio.Redis, list[redis.asyncio.Redis]]:
        """A client for one more event loop, and any helper clients to close with it."""
        if self._url is not None:
            return redis.asyncio.Redis.from_url(self._url), []
        return redisclient.asyncio_twin(self.client)

    # -- keys and documents ------------------------------------------------

    def key(self, sid: str) -> str:
        return self.prefix + sid

    def user_key(self, user_id: object) -> str:
        return self.prefix + "user:" + str(user_id)

    def _pattern(self) -> str:
        return _GLOB_SPECIAL.sub(r"\\\1", self.prefix) + "*"

    @staticmethod
    def _live(expiry: int) -> bool:
        """A key's PEXPIRETIME says it is there and not past its expiry."""
        return expiry == _PERSISTENT or expiry > now_ms()

    def _document(self, sid: str, text: bytes | str | None, expiry: int) -> doc.Document | None:
        """The live document from a key's value and its PEXPIRETIME."""
        if text is None or not self._live(expiry):
            return None
        document = doc.loads(text, sid)
        if document is None:
            return None
        if expiry == _PERSISTENT:  # written without a TTL: only the cookie says when
            return None if doc.is_expired(document) else document
        if document["cookie"].get("expires") is not None:
            # touch moves only the key's expiry: the key is the truth.
            document["cookie"]["expires"] = format_iso(expiry)
        return document

    def _queue_reads(self, pipe: Any, sids: list[str]) -> None:
        for sid in sids:
            pipe.get(self.key(sid))
            pipe.pexpiretime(self.key(sid))

    def _documents(self, sids: list[str], replies: list[Any]) -> Iterable[tuple[str, doc.Document]]:
        """Documents from a pipeline of ``GET``, ``PEXPIRETIME`` per sid."""
        for n, sid in enumerate(sids):
            document = self._document(sid, replies[2 * n], replies[2 * n + 1])
            if document is not None:
                yield sid, document

    def _queue_set(self, pipe: Any, sid: str, data: doc.Document) -> None:
        """The commands of a save: the document, and the user's index."""
        key, expiry, user = self.key(sid), doc.store_expiry_ms(data, self.ttl), doc.user_id(data)
        if expiry <= now_ms():  # already expired: connect-redis deletes it
            pipe.delete(key)
            if user is not None:
                pipe.srem(self.user_key(user), sid)
            return
        pipe.set(key, doc.dumps(data), pxat=expiry)
        if user is not None:
            self._queue_index(pipe, user, expiry, sid)

    def _queue_index(self, pipe: Any, user: str, expiry: int, sid: str | None = None) -> None:
        """Add ``sid`` to the user's set; let the set outlive the session."""
        user_key = self.user_key(user)
        if sid is not None:
            pipe.sadd(user_key, sid)
            pipe.pexpireat(user_key, expiry, nx=True)  # a new set has no expiry yet
        pipe.pexpireat(user_key, expiry, gt=True)  # only ever extended

    def _touch_due(self, stored: int, expiry: int) -> bool:
        """The key is live and was not refreshed within TOUCH_AFTER."""
        if stored == _PERSISTENT:
            return True
        return self._live(stored) and not self._touch_skipped(stored, expiry)

    def _queue_touch(self, pipe: Any, sid: str, data: doc.Document) -> None:
        expiry, user = doc.store_expiry_ms(data, self.ttl), doc.user_id(data)
        pipe.pexpireat(self.key(sid), expiry)  # a past time deletes the key, as connect-redis's EXPIRE
        if user is not None:
            self._queue_index(pipe, user, expiry)

    def _sid(self, key: bytes | str) -> str:
        return _text(key)[len(self.prefix) :]

    @staticmethod
    def _pages(keys: list[Any], size: int) -> Iterator[list[Any]]:
        for start in range(0, len(keys), size):
            yield keys[start : start + size]

    # -- sync ----------------------------------------------------------------

    def get(self, sid: str) -> doc.Document | None:
        with self._failures("load a session", redisclient.ERRORS):
            pipe = self.client.pipeline(transaction=False)
            self._queue_reads(pipe, [sid])
            text, expiry = pipe.execute()
        return self._document(sid, text, expiry)

    def set(self, sid: str, data: doc.Document) -> None:
        # One round trip; MULTI only when the user's index is written too.
        with self._failures("save a session", redisclient.ERRORS):
            pipe = self.client.pipeline(transaction=doc.user_id(data) is not None)
            self._queue_set(pipe, sid, data)
            pipe.execute()

    def touch(self, sid: str, data: doc.Document) -> None:
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._failures("touch a session", redisclient.ERRORS):
            if not self._touch_due(self.client.pexpiretime(self.key(sid)), expiry):
                return
            pipe = self.client.pipeline(transaction=doc.user_id(data) is not None)
            self._queue_touch(pipe, sid, data)
            pipe.execute()

    def refresh(self, sid: str, data: doc.Document) -> bool:
        with self._failures("save a session", redisclient.ERRORS):
            if not self._live(self.client.pexpiretime(self.key(sid))):
                return False
            pipe = self.client.pipeline(transaction=doc.user_id(data) is not None)
            self._queue_touch(pipe, sid, data)
            return bool(pipe.execute()[0])  # PEXPIREAT: 0 if the key went meanwhile

    def merge(
        self, sid: str, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
    ) -> doc.Document | None:
        """Atomic: WATCH, read, MULTI/EXEC; start over when another client wrote the key."""
        key = self.key(sid)
        with self._failures("save a session", redisclient.ERRORS), self.client.pipeline() as pipe:
            for attempt in range(MERGE_ATTEMPTS):
                pipe.watch(key)  # type: ignore[no-untyped-call]
                stored = self._document(sid, pipe.get(key), pipe.pexpiretime(key))
                if stored is None:
                    return None  # leaving the block UNWATCHes
                merged = merged_document(stored, changes, removed, cookie)
                pipe.multi()
                self._queue_set(pipe, sid, merged)
                try:
                    pipe.execute()
                except redis.WatchError:
                    if attempt + 1 == MERGE_ATTEMPTS:
                        raise
                    continue
                return merged
        raise AssertionError("unreachable")  # pragma: no cover

    def destroy(self, sid: str) -> None:
        with self._failures("destroy a session", redisclient.ERRORS):
            text = self.client.getdel(self.key(sid))
            user = self._user_of(text)
            if user is not None:
                self.client.srem(self.user_key(user), sid)

    @staticmethod
    def _user_of(text: bytes | str | None) -> str | None:
        """The user of a destroyed document (quietly: it is gone either way)."""
        try:
            document = None if text is None else json.loads(text)
        except ValueError:
            return None
        return doc.user_id(document) if isinstance(document, dict) else None

    def _scan(self, match_type: str | None = "string") -> Iterator[list[Any]]:
        """``SCAN`` pages of this store's keys (session documents by default)."""
        seen: set[Any] = set()  # SCAN may return a key twice
        cursor = None
        while cursor != 0:
            cursor, keys = self.client.scan(
                cursor or 0, match=self._pattern(), count=self.scan_count, _type=match_type
            )
            fresh = [key for key in keys if key not in seen]
            seen.update(fresh)
            if fresh:
                yield fresh

    def _read(self, sids: list[str]) -> Iterator[tuple[str, doc.Document]]:
        pipe = self.client.pipeline(transaction=False)
        self._queue_reads(pipe, sids)
        yield from self._documents(sids, pipe.execute())

    def all(self) -> Iterator[tuple[str, doc.Document]]:
        with self._failures("list sessions", redisclient.ERRORS):
            for keys in self._scan():
                yield from self._read([self._sid(key) for key in keys])

    def length(self) -> int:
        count = 0
        with self._failures("count sessions", redisclient.ERRORS):
            for keys in self._scan():
                pipe = self.client.pipeline(transaction=False)
                for key in keys:
                    pipe.pexpiretime(key)
                count += sum(1 for expiry in pipe.execute() if self._live(expiry))
        return count

    def clear(self) -> None:
        """Delete every key under the prefix (the user index too), a SCAN page at a time."""
        with self._failures("clear sessions", redisclient.ERRORS):
            for keys in self._scan(match_type=None):
                self.client.unlink(*keys)

    def clear_expired(self) -> int:
        """Nothing to do: Redis drops expired keys itself."""
        return 0

    def count_expired(self) -> int:
        return 0

    def user_sessions(self, user_id: object) -> Iterator[tuple[str, doc.Document]]:
        """The user's live sessions, from the index; drops members that are gone."""
        wanted, user_key = str(user_id), self.user_key(user_id)
        with self._failures("list a user's sessions", redisclient.ERRORS):
            sids = sorted(_text(member) for member in self.client.smembers(user_key))
            found: set[str] = set()
            for page in self._pages(sids, self.scan_count):
                for sid, document in self._read(page):
                    if doc.user_id(document) == wanted:
                        found.add(sid)
                        yield sid, document
            stale = [sid for sid in sids if sid not in found]
            if stale:
                self.client.srem(user_key, *stale)

    # -- async: redis.asyncio, one client per event loop ---------------------

    async def aget(self, sid: str) -> doc.Document | None:
        with self._failures("load a session", redisclient.ERRORS):
            client = await self.aclient()
            pipe = client.pipeline(transaction=False)
            self._queue_reads(pipe, [sid])
            text, expiry = await pipe.execute()
        return self._document(sid, text, expiry)

    async def aset(self, sid: str, data: doc.Document) -> None:
        with self._failures("save a session", redisclient.ERRORS):
            client = await self.aclient()
            pipe = client.pipeline(transaction=doc.user_id(data) is not None)
            self._queue_set(pipe, sid, data)
            await pipe.execute()

    async def atouch(self, sid: str, data: doc.Document) -> None:
        expiry = doc.store_expiry_ms(data, self.ttl)
        with self._failures("touch a session", redisclient.ERRORS):
            client = await self.aclient()
            if not self._touch_due(await client.pexpiretime(self.key(sid)), expiry):
                return
            pipe = client.pipeline(transaction=doc.user_id(data) is not None)
            self._queue_touch(pipe, sid, data)
            await pipe.execute()

    async def arefresh(self, sid: str, data: doc.Document) -> bool:
        with self._failures("save a session", redisclient.ERRORS):
            client = await self.aclient()
            if not self._live(await client.pexpiretime(self.key(sid))):
                return False
            pipe = client.pipeline(transaction=doc.user_id(data) is not None)
            self._queue_touch(pipe, sid, data)
            return bool((await pipe.execute())[0])

    async def amerge(
        self, sid: str, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
    ) -> doc.Document | None:
        key = self.key(sid)
        with self._failures("save a session", redisclient.ERRORS):
            async with (await self.aclient()).pipeline() as pipe:
                for attempt in range(MERGE_ATTEMPTS):
                    await pipe.watch(key)
                    stored = self._document(sid, await pipe.get(key), await pipe.pexpiretime(key))
                    if stored is None:
                        return None
                    merged = merged_document(stored, changes, removed, cookie)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    self._queue_set(pipe, sid, merged)
                    try:
                        await pipe.execute()
                    except redis.WatchError:
                        if attempt + 1 == MERGE_ATTEMPTS:
                            raise
                        continue
                    return merged
        raise AssertionError("unreachable")  # pragma: no cover

    async def adestroy(self, sid: str) -> None:
        with self._failures("destroy a session", redisclient.ERRORS):
            client = await self.aclient()
            user = self._user_of(await client.getdel(self.key(sid)))
            if user is not None:
                await client.srem(self.user_key(user), sid)

    async def _ascan(self, match_type: str | None = "string") -> AsyncIterator[list[Any]]:
        client = await self.aclient()
        seen: set[Any] = set()
        cursor = None
        while cursor != 0:
            cursor, keys = await client.scan(
                cursor or 0, match=self._pattern(), count=self.scan_count, _type=match_type
            )
            fresh = [key for key in keys if key not in seen]
            seen.update(fresh)
            if fresh:
                yield fresh

    async def _aread(self, sids: list[str]) -> list[tuple[str, doc.Document]]:
        pipe = (await self.aclient()).pipeline(transaction=False)
        self._queue_reads(pipe, sids)
        replies = await pipe.execute()
        return list(self._documents(sids, replies))

    async def aall(self) -> AsyncIterator[tuple[str, doc.Document]]:
        with self._failures("list sessions", redisclient.ERRORS):
            async for keys in self._ascan():
                for item in await self._aread([self._sid(key) for key in keys]):
                    yield item

    async def alength(self) -> int:
        count = 0
        with self._failures("count sessions", redisclient.ERRORS):
            client = await self.aclient()
            async for keys in self._ascan():
                pipe = client.pipeline(transaction=False)
                for key in keys:
                    pipe.pexpiretime(key)
                count += sum(1 for expiry in await pipe.execute() if self._live(expiry))
        return count

    async def aclear(self) -> None:
        with self._failures("clear sessions", redisclient.ERRORS):
            client = await self.aclient()
            async for keys in self._ascan(match_type=None):
                await client.unlink(*keys)

    async def aclear_expired(self) -> int:
        return 0

    async def acount_expired(self) -> int:
        return 0

    async def auser_sessions(self, user_id: object) -> AsyncIterator[tuple[str, doc.Document]]:
        wanted, user_key = str(user_id), self.user_key(user_id)
        with self._failures("list a user's sessions", redisclient.ERRORS):
            client = await self.aclient()
            sids = sorted(_text(member) for member in await client.smembers(user_key))
            found: set[str] = set()
            for page in self._pages(sids, self.scan_count):
                for sid, document in await self._aread(page):
                    if doc.user_id(document) == wanted:
                        found.add(sid)
                        yield sid, document
            stale = [sid for sid in sids if sid not in found]
            if stale:
                await client.srem(user_key, *stale)
