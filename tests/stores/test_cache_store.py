"""CacheStore specifics: key layout, serializers, caches that cannot list keys."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.core.cache import caches
from freezegun import freeze_time

from django_expsession import document as doc
from django_expsession.stores.cache import CacheStore

from .. import services
from .conftest import T0, at, document, iso, raw, touched

CACHE_STORES = ["cache-locmem", "cache-redis"]


@pytest.fixture
def file_cache(settings: Any, tmp_path: Any) -> str:
    settings.CACHES = {
        **settings.CACHES,
        "files": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
    }
    return "files"


def test_a_cache_that_cannot_list_keys_serves_sessions_but_refuses_listing(file_cache):
    store = CacheStore(cache=file_cache)
    stored = document(n=1)
    store.set("sid-1", stored)
    assert store.get("sid-1") == stored
    store.touch("sid-1", touched(stored))
    store.destroy("sid-1")
    assert store.get("sid-1") is None
    assert not any(store.supports(op) for op in ("all", "length", "clear"))
    assert all(store.supports(op) for op in ("get", "set", "touch", "destroy"))
    for operation in (lambda: list(store.all()), store.length, store.clear):
        with pytest.raises(
            NotImplementedError, match=r"CacheStore cannot list the sessions in cache 'files'"
        ):
            operation()


@pytest.mark.parametrize("store_name", CACHE_STORES)
@pytest.mark.parametrize("prefix", ["sessions:", "a*[b]?\\:"])
def test_key_prefix_separates_stores_sharing_a_cache(make_store, store_name, prefix):
    # As with connect-redis, a key is the prefix and the id: two stores on one
    # cache need prefixes that do not start with one another.
    mine = make_store(KEY_PREFIX=prefix)
    alias = mine.cache_alias
    other = CacheStore(cache=alias, key_prefix="x" + prefix)  # ends like mine: glob characters escaped
    neighbour = CacheStore(cache=alias, key_prefix="other:")
    documents = {store.key_prefix: document(owner=store.key_prefix) for store in (mine, other, neighbour)}
    for store in (mine, other, neighbour):
        store.set("sid-1", documents[store.key_prefix])
    assert raw(mine, "sid-1") == doc.dumps(documents[prefix])
    assert [data["owner"] for _, data in mine.all()] == [prefix]
    mine.clear()
    assert mine.get("sid-1") is None
    assert other.get("sid-1")["owner"] == "x" + prefix
    assert neighbour.get("sid-1")["owner"] == "other:"
    other.clear()
    neighbour.clear()


@pytest.mark.parametrize("store_name", CACHE_STORES)
def test_a_session_ends_at_its_expiry_to_the_millisecond_and_a_touch_moves_it(make_store):
    # Cache timeouts are whole seconds (rounded up): the entry's own expiry cuts exactly.
    store = make_store()
    with freeze_time(T0) as clock:
        store.set("sid-1", document(max_age=60.5, n=1))
        clock.move_to(at(60.499))
        assert store.get("sid-1")["n"] == 1
        clock.move_to(at(60.5))
        assert store.get("sid-1") is None
        store.set("sid-2", document(n=2))
        clock.move_to(at(90))
        store.touch("sid-2", touched(document(n=2)))
        assert store.get("sid-2")["cookie"]["expires"] == iso(150)
        clock.move_to(at(149.999))
        assert store.get("sid-2")["n"] == 2
        clock.move_to(at(150))
        assert store.get("sid-2") is None


@pytest.mark.parametrize("store_name", ["cache-locmem"])
def test_a_generic_cache_entry_is_the_expiry_then_the_express_json(make_store):
    store = make_store()
    with freeze_time(T0):
        stored = document(n=1)
        store.set("sid-1", stored)
        entry = caches[store.cache_alias].get(store.key_prefix + "sid-1")
    assert entry == f"{doc.expires_ms(stored)}:{doc.dumps(stored)}"


@pytest.mark.parametrize("store_name", ["cache-redis"])
def test_on_django_redis_the_entry_is_connect_redis_json_under_the_caches_key(make_store, settings):
    # The cache's serializer is not involved: Redis holds the express document
    # as text (what connect-redis reads), under the key the cache makes.
    settings.CACHES = {
        **settings.CACHES,
        "json": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": services.REDIS_URL,
            "KEY_PREFIX": "jsontest",
            "OPTIONS": {"SERIALIZER": "django_redis.serializers.json.JSONSerializer"},
        },
    }
    store = make_store(CACHE="json")
    stored = document(name="Zoë", items=[1, 2])
    store.set("sid-1", stored)
    client = redis.Redis.from_url(services.REDIS_URL)
    try:
        key = caches["json"].make_key(store.key_prefix + "sid-1")
        held, ttl = client.get(key), client.pttl(key)
    finally:
        client.close()
    assert key == "jsontest:1:expsession:sid-1"
    assert held == doc.dumps(stored).encode()
    assert 59_000 < ttl <= 60_000
    assert store.get("sid-1") == stored
    store.clear()


def test_cache_store_options_are_checked_when_it_is_built():
    with pytest.raises(ValueError, match="cache should be the alias"):
        CacheStore(cache="")
    with pytest.raises(ValueError, match="key_prefix should be a string"):
        CacheStore(key_prefix=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl should be"):
        CacheStore(ttl=0)
