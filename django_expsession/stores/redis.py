"""The Redis store, compatible with connect-redis (Express's Redis store).

``<PREFIX><sid>`` holds the express JSON document as text, exactly what
connect-redis writes and reads, so an Express app and a Django app can share
sessions. The key's own expiry is the session's: the cookie's expiry, or now
+ ``TTL`` for a browser-session cookie, set as an absolute time in
milliseconds (Redis 7.0 or newer). Every operation is one round trip; see
``redisops.py`` for the scripts (compare-and-set saves, touch = a move of
the key's expiry, as connect-redis's ``touch``).

``<INDEX_PREFIX><id>`` (default ``expsession-users:<PREFIX><id>``) is a set
of the session ids of a logged-in user (``_auth_user_id``), for "log out
everywhere". It lives at least as long as the user's longest session;
members whose session is gone are dropped when the set is read. It is kept
outside ``PREFIX``, so that connect-redis, which counts and lists every key
under the prefix, sees only sessions.

On a Redis Cluster (``CLUSTER``) the keys carry hash tags by default,
``<PREFIX>{<id>}`` and ``<INDEX_PREFIX>{<user id>}``, every script names a
single key, and listing scans every primary: ``rediscluster.py``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
import redis.asyncio
from redis.cluster import RedisCluster

from .. import document as doc
from ..clock import now_ms
from . import redisclient, rediscluster
from .base import Record, Replaced, Store, StoreError
from .redisops import RedisSessions, async_caller

_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def _live(expiry: int) -> bool:
    """A PEXPIRETIME reply of a key that is there and not past its expiry (by our clock)."""
    return expiry == -1 or expiry > now_ms()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _server_pages(client: Any, match: str, count: int, match_type: str | None) -> Iterator[list[Any]]:
    """``SCAN`` pages of one server."""
    cursor = None
    while cursor != 0:
        cursor, keys = client.scan(cursor or 0, match=match, count=count, _type=match_type)
        yield keys


async def _aserver_pages(
    client: Any, match: str, count: int, match_type: str | None
) -> AsyncIterator[list[Any]]:
    cursor = None
    while cursor != 0:
        cursor, keys = await client.scan(cursor or 0, match=match, count=count, _type=match_type)
        yield keys


def _redirect(exc: redis.exceptions.ResponseError) -> str | None:
    """A cluster node's ``MOVED``/``ASK`` reply, as the server sent it; None for another error."""
    text = str(exc)
    if isinstance(exc, redis.exceptions.AskError):  # MOVED too; redis-py keeps only the rest
        word = "MOVED" if isinstance(exc, redis.exceptions.MovedError) else "ASK"
        return f"{word} {text}"
    return text if text.split(" ", 1)[0] in ("MOVED", "ASK") else None  # older redis-py


class RedisStore(Store):
    """Sessions in Redis under connect-redis's keys.

    Options: exactly one of ``url`` (``redis://``, ``rediss://`` or
    ``unix://``) and ``cache`` (a django-redis cache alias, whose client and
    settings are reused); ``prefix`` (default ``"sess:"``), ``ttl`` (seconds
    a browser-session record lives, default one day), ``touch_after``,
    ``scan_count`` (keys per ``SCAN`` step when listing or clearing),
    ``index_prefix`` (where the per-user sets live; never under ``prefix``),
    ``cluster`` (a Redis Cluster: ``url`` is one or more of its nodes; see
    ``rediscluster.py``), ``hash_tags`` (keys ``<prefix>{<id>}``, the default
    on a cluster; False keeps connect-redis's ``<prefix><id>`` there too).
    """

    shared_layout: str | None = "connect-redis"
    capabilities = frozenset(
        {
            "touch",
            "all",
            "length",
            "clear",
            "clear_expired",
            "count_expired",
            "user_sessions",
            "atomic",
            "shared",
        }
    )

    def __init__(
        self,
        *,
        url: str | list[str] | None = None,
        cache: str | None = None,
        prefix: str = "sess:",
        scan_count: int = 100,
        index_prefix: str | None = None,
        cluster: bool = False,
        hash_tags: bool | None = None,
        **options: float,
    ) -> None:
        super().__init__(**options)
        if (url is None) == (cache is None):
            raise ValueError(
                "RedisStore needs exactly one of url (a redis:// URL) and cache (a django-redis cache alias)."
            )
        if not isinstance(cluster, bool):
            raise ValueError("cluster should be True or False.")
        if hash_tags is None:
            hash_tags = cluster
        if not isinstance(hash_tags, bool):
            raise ValueError("hash_tags should be True or False.")
        if hash_tags and not cluster:
            # The single-server scripts find a user's set by its prefix alone.
            raise ValueError("hash_tags is for a Redis Cluster: set cluster too, or leave hash_tags out.")
        if not isinstance(prefix, str):
            raise ValueError("prefix should be a string.")
        if isinstance(scan_count, bool) or not isinstance(scan_count, int) or scan_count < 1:
            raise ValueError("scan_count should be a whole number >= 1.")
        if index_prefix is None:
            index_prefix = "expsession-users:" + prefix
        if not isinstance(index_prefix, str) or (prefix and index_prefix.startswith(prefix)):
            raise ValueError(
                f"index_prefix should be a string that does not start with prefix {prefix!r} "
                "(connect-redis would take the per-user sets for sessions)."
            )
        if cluster and any(brace in text for text in (prefix, index_prefix) for brace in "{}"):
            raise ValueError(
                "prefix and index_prefix should have no { or } on a Redis Cluster: a hash tag there "
                "would put every session in one slot, on one node."
            )
        self.prefix = prefix
        if hash_tags:
            self.shared_layout = None  # <prefix>{<id>} is no key connect-redis would write
        self.index_prefix = index_prefix
        self.scan_count = scan_count
        self.cache_alias = cache
        self.cluster = cluster
        self.hash_tags = hash_tags
        self._url = url if isinstance(url, str) else None
        self._url_client: redis.Redis | None = None
        self._seeds: list[str] = []
        self._cluster_client: RedisCluster | None = None
        self._cluster_lock = threading.Lock()
        if cluster:
            if cache is not None:
                raise ValueError(
                    "cluster needs url (one or more redis:// URLs of cluster nodes): django-redis has "
                    "no Redis Cluster client, so a cache alias cannot reach a cluster."
                )
            self._seeds = rediscluster.seed_urls(url)  # the client connects when first used
        elif url is not None:
            if not isinstance(url, str):
                raise ValueError("url should be a redis:// URL.")
            self._url_client = redis.Redis.from_url(url)  # no connection yet; a bad URL fails here
        elif not isinstance(cache, str) or not cache:
            raise ValueError("cache should be the alias of a django-redis cache in CACHES.")
        else:
            redisclient.check_cache(cache)
        self._loop_clients = redisclient.LoopClients(self._new_asyncio_client)
        sessions = rediscluster.ClusterSessions if cluster else RedisSessions
        self._ops = sessions(self.key, self.user_key, self.ttl, self.touch_after)

    def __repr__(self) -> str:
        return f"<RedisStore {self.address()} prefix={self.prefix!r}>"

    def close(self) -> None:
        # Only the URL clients are ours; a django-redis cache's client is Django's.
        if self._url_client is not None:
            self._url_client.close()
        with self._cluster_lock:
            if self._cluster_client is not None:
                self._cluster_client.close()
                self._cluster_client = None

    def address(self) -> str:
        if self.cluster:
            return rediscluster.describe(self._seeds)
        return redisclient.describe(self._url_client, self.cache_alias)

    @property
    def client(self) -> Any:
        """The sync client (the cache's is looked up per call, like Django's caches).

        A ``redis.Redis``, or on a cluster a ``redis.cluster.RedisCluster``
        (built on first use: it connects to learn the cluster's slots).
        """
        if self._url_client is not None:
            return self._url_client
        if self.cluster:
            built = self._cluster_client
            if built is not None:
                return built
            with self._cluster_lock:
                if self._cluster_client is None:
                    self._cluster_client = self._new_cluster_client()
                return self._cluster_client
        assert self.cache_alias is not None
        return redisclient.cache_client(self.cache_alias)

    async def aclient(self) -> Any:
        """The asyncio client of the running event loop."""
        return await self._loop_clients.get()

    def _new_cluster_client(self) -> RedisCluster:
        return rediscluster.sync_client(self._seeds)

    def _new_asyncio_client(self) -> tuple[Any, list[Any]]:
        """A client for one more event loop, and any helper clients to close with it."""
        if self.cluster:
            return rediscluster.asyncio_client(self._seeds), []
        if self._url is not None:
            return redis.asyncio.Redis.from_url(self._url), []
        return redisclient.asyncio_twin(self.client)

    @contextmanager
    def _failures(self, operation: str, errors: tuple[type[BaseException], ...]) -> Iterator[None]:
        with super()._failures(operation, errors):
            try:
                yield
            except redis.exceptions.ResponseError as exc:
                answer = None if self.cluster else _redirect(exc)
                if answer is None:
                    raise
                raise StoreError(
                    f"RedisStore could not {operation}: {self.address()} is a node of a Redis Cluster "
                    f"(it answered {answer}). Set CLUSTER to True in the store's OPTIONS, "
                    "with URL naming one or more nodes of the cluster."
                ) from exc

    # -- keys ----------------------------------------------------------------

    # The one place that names keys. With hash tags (``hash_tags``, the default
    # on a cluster) the braces make the cluster hash only the id: each session,
    # and each user's set, gets a slot of its own, spread over every node.

    def key(self, sid: str) -> str:
        return f"{self.prefix}{{{sid}}}" if self.hash_tags else self.prefix + sid

    def user_key(self, user_id: object) -> str:
        return f"{self.index_prefix}{{{user_id}}}" if self.hash_tags else self.index_prefix + str(user_id)

    def _pattern(self, prefix: str | None = None) -> str:
        """``SCAN MATCH`` of the session keys (``prefix`` given: of every key under it)."""
        if prefix is not None:
            return _GLOB_SPECIAL.sub(r"\\\1", prefix) + "*"
        return _GLOB_SPECIAL.sub(r"\\\1", self.prefix) + ("{*}" if self.hash_tags else "*")

    def _sid(self, key: bytes | str) -> str:
        sid = _text(key)[len(self.prefix) :]
        return sid[1:-1] if self.hash_tags else sid

    # -- the request path: one script call each (on a cluster, one more when the user changes) --

    def read(self, sid: str) -> Record | None:
        with self._failures("load a session", redisclient.ERRORS):
            return self._ops.read_sync(self.client, sid)

    def set(self, sid: str, data: doc.Document) -> None:
        with self._failures("save a session", redisclient.ERRORS):
            self._ops.write_sync(self.client, sid, data)

    def replace(self, sid: str, data: doc.Document, version: Any) -> Replaced:
        with self._failures("save a session", redisclient.ERRORS):
            return self._ops.replace_sync(self.client, sid, data, version)

    def touch(self, sid: str, data: doc.Document) -> None:
        with self._failures("touch a session", redisclient.ERRORS):
            self._ops.touch_sync(self.client, sid, data)

    def destroy(self, sid: str) -> None:
        with self._failures("destroy a session", redisclient.ERRORS):
            self._ops.destroy_sync(self.client, sid)

    async def aread(self, sid: str) -> Record | None:
        with self._failures("load a session", redisclient.ERRORS):
            return await self._ops.read(async_caller(await self.aclient()), sid)

    async def aset(self, sid: str, data: doc.Document) -> None:
        with self._failures("save a session", redisclient.ERRORS):
            await self._ops.write(async_caller(await self.aclient()), sid, data)

    async def areplace(self, sid: str, data: doc.Document, version: Any) -> Replaced:
        with self._failures("save a session", redisclient.ERRORS):
            return await self._ops.replace(async_caller(await self.aclient()), sid, data, version)

    async def atouch(self, sid: str, data: doc.Document) -> None:
        with self._failures("touch a session", redisclient.ERRORS):
            await self._ops.touch(async_caller(await self.aclient()), sid, data)

    async def adestroy(self, sid: str) -> None:
        with self._failures("destroy a session", redisclient.ERRORS):
            await self._ops.destroy(async_caller(await self.aclient()), sid)

    # -- listing: SCAN pages, one pipeline each ---------------------------------------

    def _documents(self, sids: list[str], replies: list[Any]) -> Iterable[tuple[str, doc.Document]]:
        """Documents from a pipeline of ``GET``, ``PEXPIRETIME`` per sid."""
        for n, sid in enumerate(sids):
            record = self._ops.record(replies[2 * n], replies[2 * n + 1])
            document = None if record is None else record.current_document(sid)
            if document is not None:
                yield sid, document

    def _queue_reads(self, pipe: Any, sids: list[str]) -> None:
        for sid in sids:
            pipe.get(self.key(sid))
            pipe.pexpiretime(self.key(sid))

    def _scan(self, match_type: str | None = "string", prefix: str | None = None) -> Iterator[list[Any]]:
        """``SCAN`` pages of the keys under ``prefix`` (session documents by default).

        On a cluster, of every primary in turn.
        """
        pages = rediscluster.scan_pages if self.cluster else _server_pages
        seen: set[Any] = set()  # SCAN may return a key twice
        for keys in pages(self.client, self._pattern(prefix), self.scan_count, match_type):
            fresh = [key for key in keys if key not in seen]
            seen.update(fresh)
            if fresh:
                yield fresh

    def _unlink(self, client: Any, keys: list[Any]) -> Any:
        """Delete a page of keys: one ``UNLINK``, or on a cluster one per key in a pipeline.

        (A cluster client splits a many-key ``UNLINK`` into one round trip per slot.)
        """
        if not self.cluster:
            return client.unlink(*keys)
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("UNLINK", key)
        return pipe.execute()

    def _read(self, sids: list[str]) -> Iterator[tuple[str, doc.Document]]:
        pipe = self.client.pipeline(transaction=False)
        self._queue_reads(pipe, sids)
        yield from self._documents(sids, pipe.execute())

    @staticmethod
    def _pages(keys: list[Any], size: int) -> Iterator[list[Any]]:
        for start in range(0, len(keys), size):
            yield keys[start : start + size]

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
                count += sum(1 for expiry in pipe.execute() if _live(expiry))
        return count

    def clear(self) -> None:
        """Delete every session and every per-user set, a SCAN page at a time."""
        with self._failures("clear sessions", redisclient.ERRORS):
            for prefix in (self.prefix, self.index_prefix):
                for keys in self._scan(match_type=None, prefix=prefix):
                    self._unlink(self.client, keys)

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

    async def _aread_many(self, sids: list[str]) -> list[tuple[str, doc.Document]]:
        pipe = (await self.aclient()).pipeline(transaction=False)
        self._queue_reads(pipe, sids)
        replies = await pipe.execute()
        return list(self._documents(sids, replies))

    async def _ascan(
        self, match_type: str | None = "string", prefix: str | None = None
    ) -> AsyncIterator[list[Any]]:
        client = await self.aclient()
        pages = rediscluster.ascan_pages if self.cluster else _aserver_pages
        seen: set[Any] = set()
        async for keys in pages(client, self._pattern(prefix), self.scan_count, match_type):
            fresh = [key for key in keys if key not in seen]
            seen.update(fresh)
            if fresh:
                yield fresh

    async def aall(self) -> AsyncIterator[tuple[str, doc.Document]]:
        with self._failures("list sessions", redisclient.ERRORS):
            async for keys in self._ascan():
                for item in await self._aread_many([self._sid(key) for key in keys]):
                    yield item

    async def alength(self) -> int:
        count = 0
        with self._failures("count sessions", redisclient.ERRORS):
            client = await self.aclient()
            async for keys in self._ascan():
                pipe = client.pipeline(transaction=False)
                for key in keys:
                    pipe.pexpiretime(key)
                count += sum(1 for expiry in await pipe.execute() if _live(expiry))
        return count

    async def aclear(self) -> None:
        with self._failures("clear sessions", redisclient.ERRORS):
            client = await self.aclient()
            for prefix in (self.prefix, self.index_prefix):
                async for keys in self._ascan(match_type=None, prefix=prefix):
                    await self._unlink(client, keys)

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
                for sid, document in await self._aread_many(page):
                    if doc.user_id(document) == wanted:
                        found.add(sid)
                        yield sid, document
            stale = [sid for sid in sids if sid not in found]
            if stale:
                await client.srem(user_key, *stale)
