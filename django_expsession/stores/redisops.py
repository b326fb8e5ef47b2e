"""Sessions in Redis, one round trip per operation: RedisStore and CacheStore on django-redis.

A session is one string key holding the express JSON document (connect-redis's
layout), expiring with the cookie (``PXAT``, absolute milliseconds). The key's
expiry is the truth for the session's: a touch moves only it, and a read
returns it (``PEXPIRETIME``) with the text, in one script call. Writes are
server-side scripts, so each is atomic and one round trip:

- ``replace`` compares the SHA-1 of the stored text with that of the text
  the request read, and writes only when they match; otherwise it returns
  what is stored now, for the caller to merge into and try again;
- a logged-in session's id is kept in a per-user set (``user_key``) in the
  same script, which lives as long as the user's longest session.

Scripts are sent by SHA-1 (``EVALSHA``) and loaded on the first
``NOSCRIPT`` reply (on a cluster, by the node that gave it: each keeps its
own script cache). On a Redis Cluster a session's key and its user's set
are in different slots, so no script may name both: ``rediscluster.py``
has the single-key variants. The key functions are the caller's: RedisStore's
``PREFIX + id``, CacheStore's ``cache.make_key(...)``. Times come from this
process's clock (so a frozen test clock is honoured: a session past its
expiry by that clock is gone, whatever the server still holds).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

from .. import document as doc
from ..clock import now_ms
from ..drive import run
from .base import Record, Replaced

#: The clients the scripts run on: a server's, or a cluster's (which runs
#: each script on the node that owns its keys' slot).
SyncClient = redis.Redis | redis.cluster.RedisCluster
AsyncClient = redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster

# PEXPIRETIME replies: no such key, and a key without an expiry.
_MISSING, _PERSISTENT = -2, -1

_INDEX = """
local function index(user_key, sid, expiry)
  redis.call('SADD', user_key, sid)
  redis.call('PEXPIREAT', user_key, expiry, 'NX')
  redis.call('PEXPIREAT', user_key, expiry, 'GT')
end
"""

READ = """
return {redis.call('GET', KEYS[1]), redis.call('PEXPIRETIME', KEYS[1])}
"""

# KEYS: session [, user index]  ARGV: text, expiry ms, sid
WRITE = (
    _INDEX
    + """
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
if KEYS[2] then index(KEYS[2], ARGV[3], ARGV[2]) end
return 1
"""
)

# KEYS: session [, user index]  ARGV: sha1 of the text read, text, expiry ms, sid, now ms
REPLACE = (
    _INDEX
    + """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local expiry = redis.call('PEXPIRETIME', KEYS[1])
if expiry ~= -1 and expiry <= tonumber(ARGV[5]) then return 0 end
if redis.sha1hex(current) ~= ARGV[1] then return {current, expiry} end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
if KEYS[2] then index(KEYS[2], ARGV[4], ARGV[3]) end
return 1
"""
)

# KEYS: session [, user index]  ARGV: expiry ms, now ms, touch_after ms (0: always)
# -> 0 gone, 1 moved, 2 left (moved within touch_after)
TOUCH = """
local stored = redis.call('PEXPIRETIME', KEYS[1])
if stored == -2 or (stored ~= -1 and stored <= tonumber(ARGV[2])) then return 0 end
local expiry = tonumber(ARGV[1])
local after = tonumber(ARGV[3])
if stored ~= -1 and after > 0 and expiry >= stored and expiry - stored < after then return 2 end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
if KEYS[2] then redis.call('PEXPIREAT', KEYS[2], ARGV[1], 'GT') end
return 1
"""

# KEYS: session  ARGV: user index key prefix, sid
DESTROY = """
local text = redis.call('GET', KEYS[1])
if not text then return 0 end
redis.call('DEL', KEYS[1])
local ok, document = pcall(cjson.decode, text)
if ok and type(document) == 'table' then
  local user = document['_auth_user_id']
  if type(user) == 'string' or type(user) == 'number' then
    redis.call('SREM', ARGV[1] .. tostring(user), ARGV[2])
  end
end
return 1
"""


@functools.cache
def _script_sha(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()


def call(client: SyncClient, source: str, keys: list[str], args: list[Any]) -> Any:
    try:
        return client.evalsha(_script_sha(source), len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return client.eval(source, len(keys), *keys, *args)


async def acall(client: AsyncClient, source: str, keys: list[str], args: list[Any]) -> Any:
    try:
        return await client.evalsha(_script_sha(source), len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return await client.eval(source, len(keys), *keys, *args)


Caller = Callable[[str, list[str], list[Any]], Awaitable[Any]]


def sync_caller(client: SyncClient) -> Caller:
    async def caller(source: str, keys: list[str], args: list[Any]) -> Any:
        return call(client, source, keys, args)

    return caller


def async_caller(client: AsyncClient) -> Caller:
    async def caller(source: str, keys: list[str], args: list[Any]) -> Any:
        return await acall(client, source, keys, args)

    return caller


def _sha1(text: bytes | str) -> str:
    return hashlib.sha1(text if isinstance(text, bytes) else text.encode()).hexdigest()


class RedisSessions:
    """The operations, written once over a script caller (sync: see ``drive.run``)."""

    def __init__(
        self,
        key: Callable[[str], str],
        user_key: Callable[[str], str],
        ttl: float,
        touch_after: float,
    ) -> None:
        self.key = key
        self.user_key = user_key
        self.ttl = ttl
        self.touch_after = touch_after

    def record(self, text: bytes | None, expiry: int) -> Record | None:
        """A read's result from the key's value and its PEXPIRETIME."""
        if text is None or expiry == _MISSING:
            return None
        if expiry == _PERSISTENT:  # written without a TTL: only the cookie says when
            record = Record(text=text, version=text)
            document = record.current_document()
            return None if document is None or doc.is_expired(document) else record
        if expiry <= now_ms():
            return None
        return Record(text=text, version=text, expires_ms=expiry)

    def _user_keys(self, data: doc.Document) -> list[str]:
        user = doc.user_id(data)
        return [] if user is None else [self.user_key(user)]

    async def read(self, caller: Caller, sid: str) -> Record | None:
        text, expiry = await caller(READ, [self.key(sid)], [])
        return self.record(text, expiry)

    async def write(self, caller: Caller, sid: str, data: doc.Document) -> None:
        expiry = doc.store_expiry_ms(data, self.ttl)
        if expiry <= now_ms():  # already expired: connect-redis deletes it
            await self.destroy(caller, sid)
            return
        await caller(WRITE, [self.key(sid), *self._user_keys(data)], [doc.text_of(data), expiry, sid])

    async def replace(self, caller: Caller, sid: str, data: doc.Document, version: Any) -> Replaced:
        text = doc.text_of(data)
        expiry = doc.store_expiry_ms(data, self.ttl)
        keys = [self.key(sid), *self._user_keys(data)]
        reply = await caller(REPLACE, keys, [_sha1(version), text, expiry, sid, now_ms()])
        if reply == 1:
            if expiry <= now_ms():
                await self.destroy(caller, sid)
            return Replaced(True, text.encode())
        if reply == 0:
            return Replaced(False)
        return Replaced(False, current=self.record(reply[0], reply[1]))

    async def touch(self, caller: Caller, sid: str, data: doc.Document) -> None:
        """Move a live key's expiry, and its user's set's (never revive; TOUCH_AFTER)."""
        expiry = doc.store_expiry_ms(data, self.ttl)
        keys = [self.key(sid), *self._user_keys(data)]
        await caller(TOUCH, keys, [expiry, now_ms(), int(self.touch_after * 1000)])

    async def destroy(self, caller: Caller, sid: str) -> None:
        await caller(DESTROY, [self.key(sid)], [self.user_key(""), sid])

    # -- sync entry points ----------------------------------------------------------

    def read_sync(self, client: SyncClient, sid: str) -> Record | None:
        text, expiry = call(client, READ, [self.key(sid)], [])
        return self.record(text, expiry)

    def write_sync(self, client: SyncClient, sid: str, data: doc.Document) -> None:
        run(self.write(sync_caller(client), sid, data))

    def replace_sync(self, client: SyncClient, sid: str, data: doc.Document, version: Any) -> Replaced:
        return run(self.replace(sync_caller(client), sid, data, version))

    def touch_sync(self, client: SyncClient, sid: str, data: doc.Document) -> None:
        run(self.touch(sync_caller(client), sid, data))

    def destroy_sync(self, client: SyncClient, sid: str) -> None:
        call(client, DESTROY, [self.key(sid)], [self.user_key(""), sid])
