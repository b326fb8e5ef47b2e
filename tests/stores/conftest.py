"""Helpers for the store contract suite (parametrized by ``store_name``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import caches

from django_expsession import document as doc
from django_expsession.clock import datetime_to_ms, format_iso
from django_expsession.cookie import Cookie
from django_expsession.models import Session
from django_expsession.stores.base import Store
from django_expsession.stores.cache import CacheStore
from django_expsession.stores.db import DatabaseStore
from django_expsession.stores.memory import MemoryStore
from django_expsession.stores.redis import RedisStore

from .. import pgtable, services

# A round instant: time.time() is exact there, so millisecond arithmetic is too.
T0 = datetime(2030, 1, 1, tzinfo=UTC)

# Stores whose backend drops expired entries by itself: clear_expired() has
# nothing left to do and returns 0.
EXPIRES_ITSELF = {"cache-locmem", "cache-redis", "redis-url", "redis-cache", "redis-cluster"}
# Stores whose own expiry has whole seconds, rounded up (connect-pg-simple's
# ``expire``): a touch's expiry is read back to the second.
WHOLE_SECONDS = {"db-pgsimple"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    """The stored ``cookie.expires`` for T0 + seconds."""
    return format_iso(datetime_to_ms(at(seconds)))


def document(max_age: float | None = 60, **data: Any) -> doc.Document:
    """A session document as the middleware stores it, built now."""
    cookie = Cookie.from_options(
        {"path": "/", "httpOnly": True, "maxAge": None if max_age is None else int(max_age * 1000)}
    )
    return {"cookie": cookie.to_json(), **data}


def touched(document: doc.Document, **data: Any) -> doc.Document:
    """What the middleware passes to ``touch``: the cookie restarted now."""
    cookie = Cookie.from_json(document["cookie"])
    cookie.reset_max_age()
    return {**document, **data, "cookie": cookie.to_json()}


class AsyncSide:
    """A store seen through its async twins, called from a sync test.

    The contract suite runs once on each side (``side`` = "sync" | "async"):
    the async twins are what the ASGI path calls.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        twin = getattr(self.store, "a" + name, None)
        if twin is None or name in ("supports", "capabilities"):
            return getattr(self.store, name)
        if name in ("all", "user_sessions", "expired_sessions"):

            def listing(*args: Any) -> Any:
                async def collect() -> list[Any]:
                    return [item async for item in twin(*args)]

                return iter(async_to_sync(collect)())

            return listing
        return async_to_sync(twin)


@pytest.fixture
def side() -> str:
    """Overridden by the contract suite's parametrization: the sync side by default."""
    return "sync"


@pytest.fixture
def make_store(expsession: Any, side: str) -> Callable[..., Any]:
    """Configure EXPSESSION with this row's store (and OPTIONS); return it, empty."""

    def make(**options: Any) -> Any:
        store = expsession.configure(spy_on=False, STORE_OPTIONS=options)
        return AsyncSide(store) if side == "async" else store

    return make


def raw(store: Store, sid: str) -> Any:
    """The document as the backend holds it, bypassing the store's reading."""
    store = getattr(store, "store", store)
    if isinstance(store, MemoryStore):
        return store._records[sid][0]
    if isinstance(store, DatabaseStore) and store.pg_simple_table is not None:
        found = pgtable.row(sid, store.pg_simple_table.table)
        return None if found is None else found[0]
    if isinstance(store, DatabaseStore):
        return Session.objects.using(store.db_for_read()).get(sid=sid).data
    if isinstance(store, RedisStore):
        return store.client.get(store.key(sid)).decode()
    assert isinstance(store, CacheStore)
    if store._redis is not None:
        held = store._client().get(store._made_key(sid))
        return None if held is None else held.decode()
    entry = caches[store.cache_alias].get(store.key_prefix + sid)
    return None if entry is None else entry.partition(":")[2]


def plant(store: Store, sid: str, text: str, expires_in: float = 60) -> bool:
    """Put ``text`` into the backend as if a store had written it.

    False when the backend cannot hold that text at all (connect-pg-simple's
    json column refuses what is not JSON): no such record can ever be read.
    """
    store = getattr(store, "store", store)
    when = datetime.now(UTC) + timedelta(seconds=expires_in)
    ms = datetime_to_ms(when)
    if isinstance(store, MemoryStore):
        store._records[sid] = (text, ms)
    elif isinstance(store, DatabaseStore) and store.pg_simple_table is not None:
        return _plant_pg_simple(store.pg_simple_table.table, sid, text, ms)
    elif isinstance(store, DatabaseStore):
        Session.objects.using(store.db_for_write()).create(sid=sid, data=text, expires=when)
    elif isinstance(store, RedisStore):
        store.client.set(store.key(sid), text, pxat=ms)
    else:
        assert isinstance(store, CacheStore)
        if store._redis is not None:
            store._client().set(store._made_key(sid), text, pxat=ms)
        else:
            caches[store.cache_alias].set(store.key_prefix + sid, f"{ms}:{text}", int(expires_in))
    return True


def _plant_pg_simple(table: Any, sid: str, text: str, ms: int) -> bool:
    """A json column takes only valid JSON: text PostgreSQL refuses cannot be in the table."""
    from django.db import DataError, transaction

    try:
        with transaction.atomic(using=pgtable.ALIAS):
            pgtable.plant(sid, text, ms, table)
    except DataError as exc:
        assert "json" in str(exc), exc  # refused as JSON, not for another reason
        return False
    return True


@pytest.fixture(scope="session", autouse=True)
def _clean_redis_db() -> Iterator[None]:
    """The suite's Redis db number (REDIS_URL) starts and ends empty."""
    if not services.UP["redis"]:
        yield
        return
    import redis

    client = redis.Redis.from_url(services.REDIS_URL)
    client.flushdb()
    yield
    client.flushdb()
    client.close()
