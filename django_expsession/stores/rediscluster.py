"""RedisStore on a Redis Cluster: one key per script, clients, and SCAN over every primary.

A cluster runs a script on the node that owns its keys' hash slot, so every
key a script names must be in one slot. On a single server RedisStore saves
a logged-in session and its user's set in one script (``redisops.py``); on a
cluster the two live in different slots (the session's slot comes from its
id, the set's from the user id), so here each script names one key:

- load, touch: the same scripts as on a single server (they name only the
  session's key);
- save and compare-and-set: the session's key alone; the script also
  returns the user the stored document had, so the caller knows whether the
  user changed;
- destroy: the session's key alone; it returns the user the document had.

The user's set is then updated by one more single-key script, and only
when the user changed: added to after the session is written (a login),
removed from after it is rewritten or deleted (a logout, a destroy). A save
that keeps its user, a touch and a load stay one round trip. The sets are
advisory, as on a single server: readers drop members whose session is
gone or belongs to someone else. They have no expiry here, since a touch
cannot reach them: an ended session's id stays in its set until the set
is read.

Scripts are sent by SHA-1 and loaded on a ``NOSCRIPT`` reply by the node
that gave it (``redisops.call``): each node keeps its own script cache, and
a restarted node starts with an empty one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis.asyncio.cluster
import redis.cluster

from .. import document as doc
from ..clock import now_ms
from ..drive import run
from .base import Replaced
from .redisops import TOUCH, Caller, RedisSessions, _sha1, sync_caller

_USER_OF = """
local function user_of(text)
  if not text or not string.find(text, '_auth_user_id', 1, true) then return '' end
  local ok, document = pcall(cjson.decode, text)
  if ok and type(document) == 'table' then
    local user = document['_auth_user_id']
    if type(user) == 'string' or type(user) == 'number' then return tostring(user) end
  end
  return ''
end
"""

# KEYS: session  ARGV: text, expiry ms  -> the stored document's user ('' none)
WRITE_ONE = (
    _USER_OF
    + """
local previous = user_of(redis.call('GET', KEYS[1]))
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
return previous
"""
)

# KEYS: session  ARGV: sha1 of the text read, text, expiry ms, now ms
# -> {0} gone, {1, previous user} written, {2, text, expiry} changed meanwhile
REPLACE_ONE = (
    _USER_OF
    + """
local current = redis.call('GET', KEYS[1])
if not current then return {0} end
local expiry = redis.call('PEXPIRETIME', KEYS[1])
if expiry ~= -1 and expiry <= tonumber(ARGV[4]) then return {0} end
if redis.sha1hex(current) ~= ARGV[1] then return {2, current, expiry} end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return {1, user_of(current)}
"""
)

# KEYS: session  -> false (nothing there) or the deleted document's user ('' none)
DESTROY_ONE = (
    _USER_OF
    + """
local text = redis.call('GET', KEYS[1])
if not text then return false end
redis.call('DEL', KEYS[1])
return user_of(text)
"""
)

# KEYS: a user's set  ARGV: sid
INDEX_ADD = "return redis.call('SADD', KEYS[1], ARGV[1])"
INDEX_REMOVE = "return redis.call('SREM', KEYS[1], ARGV[1])"

_GONE, _WRITTEN = 0, 1


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


class ClusterSessions(RedisSessions):
    """RedisSessions with one key per script; a user's set is updated apart, when the user changes."""

    async def _user_changed(self, caller: Caller, sid: str, previous: str, user: str) -> None:
        # Added to after the write, so that a reader pruning the set never
        # sees an id whose session is not written yet (and drops it).
        if user and user != previous:
            await caller(INDEX_ADD, [self.user_key(user)], [sid])
        if previous and previous != user:
            await caller(INDEX_REMOVE, [self.user_key(previous)], [sid])

    async def write(self, caller: Caller, sid: str, data: doc.Document) -> None:
        expiry = doc.store_expiry_ms(data, self.ttl)
        if expiry <= now_ms():  # already expired: connect-redis deletes it
            await self.destroy(caller, sid)
            return
        previous = await caller(WRITE_ONE, [self.key(sid)], [doc.text_of(data), expiry])
        await self._user_changed(caller, sid, _text(previous), doc.user_id(data) or "")

    async def replace(self, caller: Caller, sid: str, data: doc.Document, version: Any) -> Replaced:
        text = doc.text_of(data)
        expiry = doc.store_expiry_ms(data, self.ttl)
        reply = await caller(REPLACE_ONE, [self.key(sid)], [_sha1(version), text, expiry, now_ms()])
        if reply[0] == _GONE:
            return Replaced(False)
        if reply[0] != _WRITTEN:
            return Replaced(False, current=self.record(reply[1], reply[2]))
        await self._user_changed(caller, sid, _text(reply[1]), doc.user_id(data) or "")
        if expiry <= now_ms():
            await self.destroy(caller, sid)
        return Replaced(True, text.encode())

    async def touch(self, caller: Caller, sid: str, data: doc.Document) -> None:
        """Move a live key's expiry (never revive; TOUCH_AFTER); the user's set has none to move."""
        expiry = doc.store_expiry_ms(data, self.ttl)
        await caller(TOUCH, [self.key(sid)], [expiry, now_ms(), int(self.touch_after * 1000)])

    async def destroy(self, caller: Caller, sid: str) -> None:
        user = _text(await caller(DESTROY_ONE, [self.key(sid)], []))
        if user:
            await caller(INDEX_REMOVE, [self.user_key(user)], [sid])

    def destroy_sync(self, client: Any, sid: str) -> None:
        run(self.destroy(sync_caller(client), sid))


# -- clients ------------------------------------------------------------------------


def seed_urls(url: object) -> list[str]:
    """The cluster's seed nodes from ``URL``: one URL, or a list of them (any reachable one will do).

    Checked here, without connecting: a cluster client connects as soon as it is built.
    """
    urls = [url] if isinstance(url, str) else list(url) if isinstance(url, list | tuple) else None
    if not urls or not all(isinstance(each, str) for each in urls):
        raise ValueError("url should be a redis:// URL, or a list of them (seed nodes of the cluster).")
    for each in urls:
        assert isinstance(each, str)
        if urlsplit(each).scheme not in ("redis", "rediss"):
            raise ValueError(
                f"url {_safe(each)!r} should be a redis:// or rediss:// URL: "
                "a Redis Cluster is reached over TCP (no unix:// socket)."
            )
        parts = urlsplit(each)
        db = parse_qs(parts.query).get("db", [parts.path.strip("/") or "0"])[0]
        if db not in ("", "0"):
            raise ValueError(f"url {_safe(each)!r} names database {db}: a Redis Cluster has only database 0.")
    return [str(each) for each in urls]


def _safe(url: str) -> str:
    """A URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{parts.hostname}:{parts.port or 6379}").geturl()


def _others(urls: Sequence[str]) -> list[tuple[str, int]]:
    found = []
    for url in urls[1:]:
        parts = urlsplit(url)
        found.append((parts.hostname or "localhost", parts.port or 6379))
    return found


def sync_client(urls: Sequence[str]) -> redis.cluster.RedisCluster:
    """The cluster client (it connects now, to learn the cluster's slots)."""
    seeds = [redis.cluster.ClusterNode(host, port) for host, port in _others(urls)]  # type: ignore[no-untyped-call]
    return redis.cluster.RedisCluster.from_url(urls[0], startup_nodes=seeds)


class _AsyncioCluster(redis.asyncio.cluster.RedisCluster):
    async def aclose(self) -> None:
        """Close every node's connections, also after a failed command.

        redis-py's own ``aclose()`` does nothing while the client is marked
        for a new look at the cluster, which a connection error leaves it in;
        its nodes' connections would then be left to the garbage collector.
        """
        await super().aclose()
        for nodes in ("nodes_cache", "startup_nodes"):
            await self.nodes_manager.aclose(nodes)


def asyncio_client(urls: Sequence[str]) -> redis.asyncio.cluster.RedisCluster:
    """An asyncio cluster client (it connects on first use)."""
    seeds = [redis.asyncio.cluster.ClusterNode(host, port) for host, port in _others(urls)]
    return _AsyncioCluster.from_url(urls[0], startup_nodes=seeds)


def describe(urls: Sequence[str]) -> str:
    """``Redis Cluster via host:port[, host:port]``, no credentials."""
    nodes = []
    for url in urls:
        parts = urlsplit(url)
        nodes.append(f"{parts.hostname or 'localhost'}:{parts.port or 6379}")
    return "Redis Cluster via " + ", ".join(nodes)


# -- SCAN over every primary --------------------------------------------------------------


def scan_pages(
    client: redis.cluster.RedisCluster, match: str, count: int, match_type: str | None
) -> Iterator[list[Any]]:
    """``SCAN`` pages of every primary, one primary after another (a key may come twice)."""
    for node in client.get_primaries():  # type: ignore[no-untyped-call]
        cursor = 0
        while True:
            reply: Any = client.scan(cursor, match=match, count=count, _type=match_type, target_nodes=node)
            cursors, keys = reply
            if keys:
                yield keys
            cursor = cursors[node.name]
            if cursor == 0:
                break


async def ascan_pages(
    client: redis.asyncio.cluster.RedisCluster, match: str, count: int, match_type: str | None
) -> AsyncIterator[list[Any]]:
    await client.initialize()  # the primaries are known once the client has asked a node
    for node in client.get_primaries():
        cursor = 0
        while True:
            reply: Any = await client.scan(
                cursor, match=match, count=count, _type=match_type, target_nodes=node
            )
            cursors, keys = reply
            if keys:
                yield keys
            cursor = cursors[node.name]
            if cursor == 0:
                break
