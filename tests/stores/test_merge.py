"""``merge`` and ``replace`` (CONCURRENCY = "merge") on every store and service.

What each store promises: replace writes only over the version it read,
merge applies one request's changes to what is stored now, and neither
revives a session that is gone. Stores whose compare-and-set is atomic are
shown to lose nothing with real threads on the real servers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import connections
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from django_expsession import document as doc
from django_expsession.stores import StoreError, base
from django_expsession.stores.redis import RedisStore

from .. import services
from .conftest import T0, at, document, iso, raw
from .test_costs import CountingConnection, warm_up

# Stores whose compare-and-set is atomic (all but CacheStore on a shared,
# non-Redis cache, which this suite has none of).
ATOMIC = [
    "memory",
    "db-sqlite",
    "db-postgres",
    "db-mariadb",
    "db-pgsimple",
    "cache-locmem",
    "cache-redis",
    "redis-url",
    "redis-cache",
    "redis-cluster",
]


def data_of(document: doc.Document | None) -> dict[str, object] | None:
    return None if document is None else {k: v for k, v in document.items() if k != "cookie"}


def cookie(max_age: float | None = 60) -> dict[str, object]:
    return document(max_age)["cookie"]


# -- what a merge writes ---------------------------------------------------------


def test_merge_applies_the_changes_to_what_is_stored_now(make_store):
    store = make_store()
    store.set("sid-1", document(a=1, b=2, c=3))
    merged = store.merge("sid-1", {"b": 20, "new": [1, 2]}, ["c"], cookie())
    assert list(merged) == ["cookie", "a", "b", "new"]  # others in place, new keys last
    assert data_of(merged) == {"a": 1, "b": 20, "new": [1, 2]}
    assert store.get("sid-1") == merged
    assert raw(store, "sid-1") == doc.dumps(merged)  # express's JSON, cookie first


def test_merge_writes_the_requests_cookie_and_its_expiry(make_store):
    store = make_store()
    with freeze_time(T0) as clock:
        store.set("sid-1", document(n=1))
        clock.move_to(at(30))
        merged = store.merge("sid-1", {"m": 1}, [], cookie(max_age=120))
        assert merged["cookie"]["originalMaxAge"] == 120_000
        assert store.get("sid-1")["cookie"]["expires"] == iso(150)
        clock.move_to(at(149))
        assert data_of(store.get("sid-1")) == {"n": 1, "m": 1}
        clock.move_to(at(150))
        assert store.get("sid-1") is None


def test_merge_of_a_session_that_is_gone_writes_nothing(make_store):
    store = make_store()
    assert store.merge("nobody", {"a": 1}, [], cookie()) is None
    assert store.get("nobody") is None
    with freeze_time(T0) as clock:
        store.set("sid-1", document(max_age=10, n=1))
        clock.move_to(at(10))
        assert store.merge("sid-1", {"a": 1}, [], cookie()) is None  # expired: not revived
        assert store.get("sid-1") is None
        assert store.length() == 0


@pytest.fixture
async def close_worker_connections():
    """Close what the async ORM opened in asgiref's worker thread (see test_async)."""
    yield
    await sync_to_async(connections.close_all)()


async def test_async_merge_does_the_same(make_store, close_worker_connections):
    store = await sync_to_async(make_store)()
    with freeze_time(T0):
        await store.aset("sid-1", document(a=1, b=2))
        merged = await store.amerge("sid-1", {"c": 3}, ["a"], cookie())
        assert data_of(merged) == {"b": 2, "c": 3}
        assert await store.aget("sid-1") == merged
        assert await store.amerge("nobody", {"a": 1}, [], cookie()) is None


# -- real concurrency -------------------------------------------------------------

THREADS = 16


@pytest.mark.parametrize("store_name", ATOMIC)
def test_threads_merging_into_one_session_at_once_lose_nothing(make_store, transactional_db):
    # Each thread adds its own key to the same session at the same moment:
    # every compare-and-set that finds another thread's write merges into it
    # and tries again (a version column in SQL, the SHA-256 of the text in
    # connect-pg-simple's table, the stored text's SHA-1 in a Redis script,
    # the stored text itself in memory and LocMemCache).
    store = make_store()
    store.set("shared", document(start=True))
    start = threading.Barrier(THREADS)

    def add(n: int) -> bool:
        try:
            start.wait(timeout=30)
            return store.merge("shared", {f"key-{n}": n}, [], cookie()) is not None
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        assert all(pool.map(add, range(THREADS)))

    assert data_of(store.get("shared")) == {"start": True, **{f"key-{n}": n for n in range(THREADS)}}


# -- a conflict: another client writes between the read and the write --------------


class InterferingRedisStore(RedisStore):
    """A RedisStore under which another client rewrites the key just before each save."""

    interferences = 1

    def replace(self, sid: str, data: doc.Document, version: Any) -> Any:
        if self.interferences:
            self.interferences -= 1
            with redis.Redis.from_url(services.REDIS_URL) as client:
                other = json.loads(client.get(self.key(sid)) or "{}")
                other["other"] = other.get("other", 0) + 1
                client.set(self.key(sid), json.dumps(other, separators=(",", ":")), keepttl=True)
        return super().replace(sid, data, version)

    async def areplace(self, sid: str, data: doc.Document, version: Any) -> Any:
        return await sync_to_async(self.replace)(sid, data, version)


@pytest.fixture
def interfering(expsession: Any) -> Callable[..., RedisStore]:
    def make(interferences: int) -> RedisStore:
        expsession.configure(spy_on=False)  # an empty db
        store = InterferingRedisStore(url=services.REDIS_URL)
        store.interferences = interferences
        return store

    return make


@pytest.mark.parametrize("store_name", ["redis-url"])
def test_a_redis_merge_that_loses_the_race_merges_into_what_won_and_keeps_both(interfering):
    store = interfering(1)
    store.set("sid-1", document(n=1))
    merged = store.merge("sid-1", {"mine": True}, [], cookie())
    assert data_of(merged) == {"n": 1, "other": 1, "mine": True}
    assert store.get("sid-1") == merged


@pytest.mark.parametrize("store_name", ["redis-url"])
async def test_an_async_redis_merge_that_loses_the_race_merges_into_what_won_and_keeps_both(interfering):
    store = await sync_to_async(interfering)(1)
    await store.aset("sid-1", document(n=1))
    merged = await store.amerge("sid-1", {"mine": True}, [], cookie())
    assert data_of(merged) == {"n": 1, "other": 1, "mine": True}
    assert await store.aget("sid-1") == merged


@pytest.mark.parametrize("store_name", ["redis-url"])
def test_a_merge_that_always_loses_the_race_gives_up_with_a_store_error(interfering, monkeypatch):
    monkeypatch.setattr(base, "MERGE_ATTEMPTS", 3)
    store = interfering(1000)
    store.set("sid-1", document(n=1))
    with pytest.raises(StoreError, match=r"changed by other requests 3 times in a row"):
        store.merge("sid-1", {"mine": True}, [], cookie())
    assert data_of(store.get("sid-1")) == {"n": 1, "other": 3}  # three tries, none written


@pytest.mark.parametrize("store_name", ATOMIC)
def test_a_compare_and_set_writes_only_over_the_version_it_read(make_store):
    store = make_store()
    store.set("sid-1", document(n=1))
    read = store.read("sid-1")
    assert read is not None
    first = store.replace("sid-1", document(n=2), read.version)
    assert first.written
    lost = store.replace("sid-1", document(n=3), read.version)  # what it read was replaced meanwhile
    assert not lost.written
    assert lost.current is not None
    assert data_of(lost.current.current_document()) == {"n": 2}
    assert store.replace("sid-1", document(n=4), first.version).written  # the new version wins
    assert data_of(store.get("sid-1")) == {"n": 4}
    store.destroy("sid-1")
    gone = store.replace("sid-1", document(n=5), first.version)
    assert not gone.written and gone.current is None
    assert store.get("sid-1") is None  # never revived


# -- what a save costs ---------------------------------------------------------------

DB_STORES = ["db-sqlite", "db-postgres", "db-mariadb", "db-pgsimple"]


def _statements(store: Any, operation: Callable[[], Any]) -> list[str]:
    """The statements ``operation`` sends, each cut to its verb."""
    with CaptureQueriesContext(connections[store.db_for_write()]) as captured:
        operation()
    return [query["sql"].split(" ", 1)[0] for query in captured.captured_queries]


def _save_statements(store: Any) -> None:
    store.set("sid-1", document(n=1))
    read = store.read("sid-1")
    assert _statements(store, lambda: store.replace("sid-1", document(n=2), read.version)) == ["UPDATE"]
    # Lost (its version is gone): the UPDATE matched nothing; the SELECT says what is there now.
    assert _statements(store, lambda: store.replace("sid-1", document(n=3), read.version)) == [
        "UPDATE",
        "SELECT",
    ]
    assert _statements(store, lambda: store.replace("nobody", document(n=3), 1)) == ["UPDATE", "SELECT"]


@pytest.mark.parametrize("store_name", DB_STORES)
def test_a_database_save_of_a_loaded_session_is_one_update_in_autocommit(make_store, transactional_db):
    # No BEGIN/COMMIT, no SELECT ... FOR UPDATE: the UPDATE compares and sets.
    _save_statements(make_store())


@pytest.mark.parametrize("store_name", DB_STORES)
def test_inside_a_surrounding_transaction_a_save_adds_no_savepoint(make_store):
    _save_statements(make_store())


@pytest.fixture
def counted(settings: Any, expsession: Any) -> Callable[..., Any]:
    """This row's store on a django-redis cache whose connections count commands."""
    sep = "&" if "?" in services.REDIS_URL else "?"
    settings.CACHES = {
        **settings.CACHES,
        "counted": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"{services.REDIS_URL}{sep}client_name=expsession-merge-counted",
            "OPTIONS": {"CONNECTION_POOL_KWARGS": {"connection_class": CountingConnection}},
        },
    }

    def make(**options: Any) -> Any:
        store = expsession.configure(spy_on=False, STORE_OPTIONS={"CACHE": "counted", **options})
        warm_up(store)
        return store

    return make


def commands(operation: Callable[[], Any]) -> list[list[str]]:
    CountingConnection.sent.clear()
    operation()
    return list(CountingConnection.sent)


@pytest.mark.parametrize("store_name", ["redis-cache", "cache-redis"])
def test_on_redis_a_save_is_one_script_call(counted):
    store = counted()
    anonymous, logged_in = document(n=1), document(n=1, _auth_user_id="42")
    store.set("sid-1", anonymous)
    store.set("sid-2", logged_in)
    for sid in ("sid-1", "sid-2"):
        read = store.read(sid)
        assert commands(lambda: store.replace(sid, document(n=2), read.version)) == [["EVALSHA"]]  # noqa: B023
    # A lost compare-and-set returns what is stored now in the same reply.
    lost = []
    assert commands(lambda: lost.append(store.replace("sid-1", document(n=3), b"stale"))) == [["EVALSHA"]]
    assert lost[0].current is not None
    assert commands(lambda: store.replace("nobody", document(n=3), b"stale")) == [["EVALSHA"]]
