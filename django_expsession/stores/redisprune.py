"""Pruning RedisStore's per-user indexes of the ids of sessions that have ended.

Redis removes an expired session by itself (its key has the session's
expiry). The set ``<PREFIX>user:<id>`` that lists a user's session ids for
"log out everywhere" keeps an ended session's id until the set is read (or
until the set expires, with the user's longest session): harmless, but it
grows for a user who logs in often. :func:`prune_user_indexes` walks those
sets with ``SCAN`` and removes the ids whose session key is gone.

Every step is bounded: ``SCAN`` and ``SSCAN`` take ``store.scan_count``
items at a time, and the check and removal of one page of ids is a short
Lua script, atomic, so an id a request saves again in between is never
removed. On a Redis Cluster a user's set and the session keys live in
different slots, so there the sets of every primary are walked and a page
of ids is checked with EXISTS, then the missing ones are removed: an ended
session's id never comes back (ids are random, a destroyed session is never
written again), and a session joins its user's set only after its key
was written, so a live id is never removed either.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import redis

from .base import StoreError
from .redis import RedisStore
from .rediscluster import scan_pages

_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")
_MARK = "\x00user-id\x00"

# KEYS[1] is a user's set, KEYS[2..] the session keys of ARGV[1..].
_PRUNE = """
local removed = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    removed = removed + redis.call('SREM', KEYS[1], ARGV[i - 1])
  end
end
return removed
"""


@dataclass(frozen=True)
class PruneProgress:
    indexes: int  # per-user sets looked at so far
    checked: int  # session ids checked
    removed: int  # ids of ended sessions removed (in a dry run: found)
    elapsed: float


@dataclass(frozen=True)
class PruneResult:
    indexes: int
    checked: int
    removed: int
    seconds: float
    #: False when ``max_seconds`` stopped the walk; running again goes on.
    complete: bool


def index_pattern(store: RedisStore) -> str:
    """The ``SCAN MATCH`` pattern of the store's per-user sets."""
    head, _, tail = store.user_key(_MARK).partition(_MARK)
    return _GLOB_SPECIAL.sub(r"\\\1", head) + "*" + _GLOB_SPECIAL.sub(r"\\\1", tail)


def prune_user_indexes(
    store: RedisStore,
    *,
    dry_run: bool = False,
    max_seconds: float | None = None,
    on_progress: Callable[[PruneProgress], None] | None = None,
) -> PruneResult:
    """Remove the ids of ended sessions from every per-user index of ``store``.

    With ``dry_run``, count them and change nothing. Stops between ``SCAN``
    pages once ``max_seconds`` have passed. A Redis failure is a
    :class:`StoreError` naming the server.
    """
    client = store.client
    script = None if store.cluster else client.register_script(_PRUNE)
    started = time.monotonic()
    indexes = checked = removed = 0
    complete = True
    pattern = index_pattern(store)
    try:
        pages = (
            scan_pages(client, pattern, store.scan_count, "set")
            if store.cluster
            else _scan(client, pattern, store.scan_count)
        )
        for keys in pages:
            for key in keys:
                indexes += 1
                for members in _members(client, key, store.scan_count):
                    checked += len(members)
                    removed += _prune(client, script, store, key, members, dry_run=dry_run)
            elapsed = time.monotonic() - started
            if on_progress is not None:
                on_progress(PruneProgress(indexes, checked, removed, elapsed))
            if max_seconds is not None and elapsed >= max_seconds:
                complete = False
                break
    except redis.RedisError as exc:
        detail = " ".join(str(exc).split()).rstrip(".") or "no details"
        raise StoreError(
            f"RedisStore could not prune its per-user indexes: {store.address()} failed "
            f"({type(exc).__name__}: {detail}); check that the server is running and that the "
            "settings point at it."
        ) from exc
    return PruneResult(indexes, checked, removed, time.monotonic() - started, complete)


def _scan(client: redis.Redis, pattern: str, count: int) -> Iterator[list[Any]]:
    """Pages of the keys of sets matching ``pattern`` (a key may come twice: harmless)."""
    cursor = None
    while cursor != 0:
        cursor, keys = client.scan(cursor or 0, match=pattern, count=count, _type="set")
        if keys:
            yield keys


def _members(client: redis.Redis, key: Any, count: int) -> Iterator[list[str]]:
    cursor = None
    while cursor != 0:
        cursor, members = client.sscan(key, cursor or 0, count=count)
        if members:
            yield [m.decode() if isinstance(m, bytes) else str(m) for m in members]


def _prune(
    client: redis.Redis, script: Any | None, store: RedisStore, key: Any, members: list[str], *, dry_run: bool
) -> int:
    session_keys = [store.key(sid) for sid in members]
    if script is None or dry_run:
        pipe = client.pipeline(transaction=False)
        for session_key in session_keys:
            pipe.exists(session_key)
        ended = [sid for sid, found in zip(members, pipe.execute(), strict=True) if not found]
        if dry_run or not ended:
            return len(ended)
        return int(client.srem(key, *ended))
    return int(script(keys=[key, *session_keys], args=members))
