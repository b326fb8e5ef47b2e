"""CacheStore cannot share sessions with Express; these tests pin why.

Sharing needs one key layout read and written by both sides. connect-redis
keeps a session as one Redis string, ``<prefix><sid>``, holding
``JSON.stringify(session)``, whose TTL is the session's expiry. CacheStore
keeps a session as two entries of a Django cache, ``<KEY_PREFIX>s:<sid>``
(the document) and ``<KEY_PREFIX>e:<sid>`` (its expiry and current cookie,
which a touch rewrites in place of the document), and it writes both
through the cache: the cache's key function adds its own prefix and version
(``:1:...``) and django-redis pickles each value. So with any ordinary
configuration neither side finds the other's sessions (the first test).

Forcing the layouts together does not help either: with a key function
that leaves keys alone, a serializer that writes strings as they are and a
KEY_PREFIX chosen so that ``<KEY_PREFIX>s:`` is connect-redis's prefix,
each side reads the other's documents, but Express never updates the
expiry record. A session Express keeps alive (its touch moves only the
document's TTL) ends on Django at the expiry Django last wrote (the second
test). No scenario of test_redis_sessions.py is therefore run over
CacheStore; to share sessions with connect-redis, use RedisStore.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from .. import services
from .harness import Browser, Pairing

CACHE_STORE = "django_expsession.stores.cache.CacheStore"


class StringsAsTheyAre:
    """A django-redis serializer that stores text unchanged (no pickle)."""

    def __init__(self, options: Any = None) -> None:
        pass

    def dumps(self, value: Any) -> bytes:
        return value.encode() if isinstance(value, str) else bytes(value)

    def loads(self, value: bytes) -> str:
        return value.decode()


def keys_unchanged(key: str, key_prefix: str, version: int) -> str:
    return key


@pytest.fixture(autouse=True)
def _forget_cache_keys(redis_client: redis.Redis, pairing: Pairing) -> Iterator[None]:
    yield
    # The cache's own key prefix comes first, so the pairing's is found inside.
    root = pairing.prefix.removesuffix("sess:")
    for key in redis_client.scan_iter(match=f"*{root}*", count=500):
        redis_client.unlink(key)


def test_neither_side_finds_the_other_sides_sessions(
    express: Any, use_django: Any, db: None, pairing: Pairing, redis_client: redis.Redis
) -> None:
    django = use_django(
        expsession={
            "STORE": {"BACKEND": CACHE_STORE, "OPTIONS": {"CACHE": "redis", "KEY_PREFIX": pairing.prefix}}
        }
    )
    for first, second in ((django, express), (express, django)):
        browser = Browser()
        browser.post(first, "/write", {"made on": first.label})
        sid = browser.sid()
        seen = browser.get(second, "/read").body
        assert (seen["id"], seen["data"]) != (sid, {"made on": first.label})
        assert not seen["data"]

    keys = sorted(redis_client.scan_iter(match=f"*{pairing.prefix}*"))
    django_keys = [key for key in keys if not key.startswith(pairing.prefix)]
    assert django_keys and all(key.startswith(":1:") for key in django_keys), keys


def test_even_with_the_keys_lined_up_an_express_touch_does_not_reach_cachestore(
    start_express: Any, use_django: Any, db: None, pairing: Pairing, settings: Any, redis_client: redis.Redis
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "lined-up": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": services.REDIS_URL,
            "KEY_FUNCTION": f"{__name__}.keys_unchanged",
            "OPTIONS": {"SERIALIZER": f"{__name__}.StringsAsTheyAre"},
        },
    }
    assert pairing.prefix.endswith("s:")
    store = {"BACKEND": CACHE_STORE, "OPTIONS": {"CACHE": "lined-up", "KEY_PREFIX": pairing.prefix[:-2]}}
    express = start_express(max_age=3)
    django = use_django(max_age=3, expsession={"STORE": store})
    browser = Browser()

    browser.post(express, "/write", {"n": 1})
    assert browser.get(django, "/read").body["data"] == {"n": 1}  # documents do line up
    browser.post(django, "/write", {"m": 2})  # and writes the expiry record
    sid = browser.sid()
    assert browser.get(express, "/read").body["data"] == {"n": 1, "m": 2}

    time.sleep(2)
    browser.get(express, "/read")  # Express's touch: 3 s more for the document only
    time.sleep(1.5)  # past the expiry Django wrote, not the one Express set
    assert redis_client.exists(pairing.prefix + sid)
    assert browser.get(express, "/read").body["data"] == {"n": 1, "m": 2}
    assert browser.get(django, "/read").body["id"] != sid
