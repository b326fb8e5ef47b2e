"""CacheStore on a django-redis cache keeps sessions where connect-redis does.

On django-redis, CacheStore keeps a session as one Redis string under the
key the cache makes of ``KEY_PREFIX + sid`` (``cache.make_key``: the
cache's own ``KEY_PREFIX`` and ``VERSION`` come first, ``:1:`` with the
defaults), holding the express JSON text exactly as connect-redis writes it
(raw bytes: the cache's serializer and compressor are not involved),
expiring with the session; a touch moves only the key's expiry. That is
connect-redis's layout with ``prefix`` set to
``caches[alias].make_key(KEY_PREFIX)``. The per-user sets live under
``make_key("users:" + KEY_PREFIX)``, outside that prefix.

So every live scenario of test_redis_sessions.py also runs over CacheStore
(``shared_store``, on the test settings' cache ``redis``, with defaults);
this module pins the prefix rule on a cache with settings of its own, and
what the usual mistake (connect-redis's prefix set to ``KEY_PREFIX``
alone) looks like.

CacheStore on any other cache cannot share sessions with Express: LocMem
lives inside the Django process, memcached, the database and file caches
are not Redis, and there the entry is ``"<expiry ms>:<express JSON>"``
written through Django's cache API, which no Express store reads.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import caches

from .. import services
from .harness import Browser, Pairing, Stored

# None of these reach the session's bytes; the key gets the prefix and version.
SITE_CACHE = {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": services.REDIS_URL,
    "KEY_PREFIX": "site",
    "VERSION": 3,
    "OPTIONS": {
        "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        "COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor",
    },
}


@pytest.fixture
def pairing(settings: Any) -> Pairing:
    """Django on CacheStore over the cache ``site``; connect-redis's prefix derived from it."""
    settings.CACHES = {**settings.CACHES, "site": SITE_CACHE}
    return Pairing.over_cache("site", f"interop:{secrets.token_hex(4)}:expsession:")


@pytest.fixture
def bare_key_prefix(pairing: Pairing, redis_client: redis.Redis) -> Iterator[str]:
    """``KEY_PREFIX`` alone, as a mistaken connect-redis prefix (its keys are removed afterwards)."""
    yield pairing.key_prefix
    for key in redis_client.scan_iter(match=pairing.key_prefix + "*", count=500):
        redis_client.unlink(key)


def test_sessions_are_shared_under_the_key_the_cache_makes_of_key_prefix(
    express: Any, django_app: Any, user: Any, pairing: Pairing, stored: Stored, redis_client: redis.Redis
) -> None:
    assert pairing.prefix == "site:3:" + pairing.key_prefix  # the cache's KEY_PREFIX and VERSION first
    sids = []
    for first, second in ((django_app, express), (express, django_app)):
        browser = Browser()
        browser.post(first, "/login", {"userId": user.pk})
        sid = browser.sid()
        sids.append(sid)
        # One string per session, the express JSON as it is, expiring with the cookie.
        assert redis_client.type(pairing.prefix + sid) == "string"
        document = stored.document(sid)
        assert document is not None and document["userId"] == user.pk, first.label
        assert abs(stored.expiry(sid) - (time.time() + 3600)) < 2, first.label
        seen = browser.get(second, "/whoami").body
        assert (seen["id"], seen["userId"]) == (sid, user.pk), second.label

    # Django's login is indexed outside connect-redis's prefix, which lists only sessions.
    index = pairing.index_prefix() + str(user.pk)
    assert index == caches["site"].make_key("users:" + pairing.key_prefix + str(user.pk))
    assert not index.startswith(pairing.prefix)
    assert redis_client.smembers(index) == {sids[0]}
    assert sorted(Browser().get(express, "/store/ids").body["ids"]) == sorted(sids)


def test_a_connect_redis_prefix_of_key_prefix_alone_shares_nothing(
    start_express: Any, django_app: Any, bare_key_prefix: str, stored: Stored, redis_client: redis.Redis
) -> None:
    # The mistake docs/express.rst warns of: the cache's own prefix and version left out.
    express = start_express(prefix=bare_key_prefix)
    for first, second in ((django_app, express), (express, django_app)):
        browser = Browser()
        browser.post(first, "/write", {"made on": first.label})
        sid = browser.sid()
        seen = browser.get(second, "/read").body
        assert seen["id"] != sid and not seen["data"], second.label  # a new, empty session
        if first is django_app:
            assert stored.exists(sid) and not redis_client.exists(bare_key_prefix + sid)
        else:
            assert redis_client.exists(bare_key_prefix + sid) and not stored.exists(sid)
