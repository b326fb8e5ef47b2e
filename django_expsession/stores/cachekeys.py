"""What CacheStore needs beyond Django's cache API: listing keys by prefix.

Django's cache API cannot enumerate keys. Two caches can: django-redis
(``iter_keys``/``delete_pattern``, SCAN underneath) and ``LocMemCache``
(its in-process key table). Anything else answers ``can_list() == False``
and the listing operations raise ``NotImplementedError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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


def _is_redis(cache: BaseCache) -> bool:
    return hasattr(cache, "iter_keys") and hasattr(cache, "delete_pattern")


def _locmem_base(cache: BaseCache) -> str | None:
    """The made-key prefix of a LocMemCache whose KEY_FUNCTION keeps key order."""
    if not isinstance(cache, LocMemCache):
        return None
    base = cache.make_key("")
    return base if cache.make_key("probe:") == base + "probe:" else None


def can_list(cache: BaseCache) -> bool:
    return _is_redis(cache) or _locmem_base(cache) is not None


def _unsupported(alias: str) -> NotImplementedError:
    return NotImplementedError(
        f"CacheStore cannot list the sessions in {describe(alias)}: only django-redis caches and "
        "LocMemCache can enumerate their keys. all(), length() and clear() need one of those "
        "(or use DatabaseStore); get, set, touch and destroy work on any cache."
    )


def iter_keys(cache: BaseCache, prefix: str, alias: str) -> Iterator[str]:
    """The cache's keys (as the caller made them) that start with ``prefix``."""
    if _is_redis(cache):
        for key in cache.iter_keys(_GLOB_SPECIAL.sub(r"\\\1", prefix) + "*"):  # type: ignore[attr-defined]
            if key.startswith(prefix):
                yield key
        return
    base = _locmem_base(cache)
    if base is None:
        raise _unsupported(alias)
    with cache._lock:  # type: ignore[attr-defined]
        made = list(cache._cache)  # type: ignore[attr-defined]
    for key in made:
        if key.startswith(base + prefix):
            yield key[len(base) :]


def delete_prefixed(cache: BaseCache, prefix: str, alias: str) -> None:
    """Delete every key that starts with ``prefix``."""
    if _is_redis(cache):
        cache.delete_pattern(_GLOB_SPECIAL.sub(r"\\\1", prefix) + "*")  # type: ignore[attr-defined]
    else:
        cache.delete_many(list(iter_keys(cache, prefix, alias)))
