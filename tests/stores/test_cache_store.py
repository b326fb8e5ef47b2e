"""CacheStore specifics: key layout, serializers, caches that cannot list keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from django.core.cache import caches
from freezegun import freeze_time

from django_expsession import document as doc
from django_expsession.stores.cache import DOCUMENT, RECORD, CacheStore

from .. import services
from .conftest import T0, at, document, iso, touched

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
    mine = make_store(KEY_PREFIX=prefix)
    alias = mine.cache_alias
    other = CacheStore(cache=alias, key_prefix=prefix + "x")  # starts with mine's prefix
    neighbour = CacheStore(cache=alias, key_prefix="other:")
    documents = {store.key_prefix: document(owner=store.key_prefix) for store in (mine, other, neighbour)}
    for store in (mine, other, neighbour):
        store.set("sid-1", documents[store.key_prefix])
    assert caches[alias].get(prefix + DOCUMENT + "sid-1") == doc.dumps(documents[prefix])
    assert [data["owner"] for _, data in mine.all()] == [prefix]
    mine.clear()
    assert mine.get("sid-1") is None
    assert other.get("sid-1")["owner"] == prefix + "x"
    assert neighbour.get("sid-1")["owner"] == "other:"
    other.clear()
    neighbour.clear()


@pytest.mark.parametrize("store_name", CACHE_STORES)
def test_without_its_expiry_record_a_document_still_obeys_its_cookie(make_store):
    # A cache under memory pressure may evict one entry of the two.
    store = make_store()
    with freeze_time(T0) as clock:
        store.set("sid-1", document(n=1))
        caches[store.cache_alias].delete(store.key_prefix + RECORD + "sid-1")
        assert store.get("sid-1")["n"] == 1
        store.touch("sid-1", touched(document(n=1)))  # no record: nothing to refresh
        assert store.get("sid-1")["cookie"]["expires"] == iso(60)
        clock.move_to(at(60))
        assert store.get("sid-1") is None


@pytest.mark.parametrize("store_name", ["cache-redis"])
def test_redis_holds_plain_json_text_with_django_redis_json_serializer(make_store, settings):
    # No pickle needed: a JSON-only serializer stores the express document as text.
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
        held = client.get(caches["json"].make_key(store.key_prefix + DOCUMENT + "sid-1"))
    finally:
        client.close()
    assert json.loads(held) == doc.dumps(stored)
    assert store.get("sid-1") == stored
    store.clear()


@pytest.mark.parametrize("store_name", ["cache-redis"])
def test_redis_entries_live_as_long_as_the_cookie(make_store):
    store = make_store()
    store.set("sid-1", document(max_age=120))
    client = redis.Redis.from_url(services.REDIS_URL)
    try:
        ttls = {
            suffix: client.pttl(caches["redis"].make_key(store.key_prefix + suffix + "sid-1"))
            for suffix in (DOCUMENT, RECORD)
        }
    finally:
        client.close()
    assert all(119_000 < ttl <= 121_000 for ttl in ttls.values()), ttls


def test_cache_store_options_are_checked_when_it_is_built():
    with pytest.raises(ValueError, match="cache should be the alias"):
        CacheStore(cache="")
    with pytest.raises(ValueError, match="key_prefix should be a string"):
        CacheStore(key_prefix=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl should be"):
        CacheStore(ttl=0)
