"""What CacheStore needs beyond Django's cache API: the kind of cache, and its keys.

Django's cache API cannot enumerate keys. Two caches can: django-redis
(SCAN on its own connection) and ``LocMemCache`` (its in-process key
table). Anything else answers ``can_list() == False``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache

_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")
_URL_PASSWORD = re.compile(r"(://[^:@/]*:)[^@/]*@")


def describe(alias: str) -> str:
    """``cache 'x' (RedisCache at redis://127.0.0.1:6379/0)``, passwords hidden."""
    config = caches.settings.get(alias, {})
    backend = str(config.get("BACKEND", "?")).rsplit(".", 1)[-1]
    location = config.get("LOCATION", "")
    locations = [location] if isinstance(location, str) else list(location)
    where = ", ".join(_URL_PASSWORD.sub(r"\1***@", str(item)) for item in locations) or "(no LOCATION)"
    return f"cache {alias!r} ({backend} at {where})"


def is_redis(cache: BaseCache) -> bool:
    """A django-redis cache (its raw connection is used directly)."""
    try:
        from django_redis.cache import RedisCache  # type: ignore[import-untyped]
    except ImportError:
        return False
    return isinstance(cache, RedisCache)


def is_local(cache: BaseCache) -> bool:
    """A cache that lives in this process only (a lock here makes it atomic)."""
    return isinstance(cache, LocMemCache)


def redis_client(alias: str) -> Any:
    from django_redis import get_redis_connection  # type: ignore[import-untyped]

    return get_redis_connection(alias, write=True)


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def redis_pages(client: Any, prefix: str, match_type: str | None = "string") -> Iterator[list[Any]]:
    """SCAN pages of the keys under ``prefix`` (made keys), each key once."""
    seen: set[Any] = set()
    cursor = None
    pattern = _GLOB_SPECIAL.sub(r"\\\1", prefix) + "*"
    while cursor != 0:
        cursor, keys = client.scan(cursor or 0, match=pattern, count=100, _type=match_type)
        fresh = [key for key in keys if key not in seen and text(key).startswith(prefix)]
        seen.update(fresh)
        if fresh:
            yield fresh


def _locmem_base(cache: BaseCache) -> str | None:
    """The made-key prefix of a LocMemCache whose KEY_FUNCTION keeps key order."""
    if not isinstance(cache, LocMemCache):
        return None
    base = cache.make_key("")
    return base if cache.make_key("probe:") == base + "probe:" else None


def can_list(cache: BaseCache) -> bool:
    return is_redis(cache) or _locmem_base(cache) is not None


def _unsupported(alias: str) -> NotImplementedError:
    return NotImplementedError(
        f"CacheStore cannot list the sessions in {describe(alias)}: only django-redis caches and "
        "LocMemCache can enumerate their keys. Listing, counting and clearing need one of those "
        "(or DatabaseStore or RedisStore); loading, saving, touching and destroying work on any cache."
    )


def iter_keys(cache: BaseCache, prefix: str, alias: str) -> Iterator[str]:
    """The LocMemCache's keys (as the caller made them) that start with ``prefix``."""
    base = _locmem_base(cache)
    if base is None:
        raise _unsupported(alias)
    with cache._lock:  # type: ignore[attr-defined]
        made = list(cache._cache)  # type: ignore[attr-defined]
    for key in made:
        if key.startswith(base + prefix):
            yield key[len(base) :]


def delete_prefixed(cache: BaseCache, prefix: str, alias: str) -> None:
    """Delete every LocMemCache key that starts with ``prefix``."""
    cache.delete_many(list(iter_keys(cache, prefix, alias)))
