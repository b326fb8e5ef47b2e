"""``stores.redisprune``: per-user indexes lose the ids of ended sessions, and only those.

A session "ends" here the way Redis ends it at its expiry: its key is gone
while its id stays in the user's set.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_expsession.stores import StoreError
from django_expsession.stores.redis import RedisStore
from django_expsession.stores.redisprune import index_pattern, prune_user_indexes

from .conftest import document

pytestmark = pytest.mark.parametrize("store_name", ["redis-url", "redis-cache", "redis-cluster"])


def members(store: RedisStore, user: object) -> set[str]:
    return {m.decode() for m in store.client.smembers(store.user_key(user))}


@pytest.fixture
def store(expsession: Any) -> RedisStore:
    """Users 1..30 with three sessions each; the first two of each user have ended."""
    store = expsession.configure(spy_on=False, STORE_OPTIONS={"SCAN_COUNT": 7})
    assert isinstance(store, RedisStore)
    for user in range(1, 31):
        for n in range(3):
            store.set(f"u{user}-s{n}", document(3600, _auth_user_id=str(user)))
        store.client.delete(store.key(f"u{user}-s0"), store.key(f"u{user}-s1"))
    store.set("anonymous", document(3600))
    return store


def test_the_ids_of_ended_sessions_leave_every_index(store: RedisStore) -> None:
    result = prune_user_indexes(store)

    assert result.complete
    assert result.indexes == 30
    assert result.checked == 90
    assert result.removed == 60
    assert all(members(store, user) == {f"u{user}-s2"} for user in range(1, 31))
    assert store.get("u7-s2") is not None
    assert store.get("anonymous") is not None


def test_a_dry_run_counts_and_changes_nothing(store: RedisStore) -> None:
    result = prune_user_indexes(store, dry_run=True)

    assert result.removed == 60
    assert members(store, 4) == {"u4-s0", "u4-s1", "u4-s2"}


def test_an_index_whose_sessions_all_ended_goes(store: RedisStore) -> None:
    store.client.delete(store.key("u9-s2"))

    prune_user_indexes(store)

    assert not store.client.exists(store.user_key(9))


def test_progress_is_reported_for_every_scan_page_and_a_second_run_has_nothing_to_do(
    store: RedisStore,
) -> None:
    seen: list[Any] = []

    prune_user_indexes(store, on_progress=seen.append)

    assert len(seen) > 1  # SCAN_COUNT 7 over 30 sets and the documents
    assert seen[-1].indexes == 30
    assert [step.indexes for step in seen] == sorted(step.indexes for step in seen)
    assert prune_user_indexes(store).removed == 0


def test_max_seconds_stops_between_scan_pages(store: RedisStore) -> None:
    result = prune_user_indexes(store, max_seconds=1e-9)

    assert not result.complete
    assert 0 < result.indexes < 30
    assert prune_user_indexes(store).complete


def test_the_pattern_matches_only_the_index_keys_of_this_prefix(expsession: Any) -> None:
    store = expsession.configure(spy_on=False, STORE_OPTIONS={"PREFIX": "app*[1]:"})
    assert isinstance(store, RedisStore)
    store.set("s1", document(3600, _auth_user_id="5"))
    other = "expsession-users:app-other:5"  # another prefix's index
    store.client.sadd(other, "s-elsewhere")
    store.client.delete(store.key("s1"))

    tagged = r"expsession-users:app\*\[1\]:{*}"  # a hash tag per user on a cluster
    assert index_pattern(store) == (tagged if store.cluster else r"expsession-users:app\*\[1\]:*")
    assert prune_user_indexes(store).removed == 1
    assert store.client.smembers(other) == {b"s-elsewhere"}
    store.client.delete(other)


def test_an_unreachable_server_is_a_store_error_that_names_it(store_name: str) -> None:
    store = RedisStore(url="redis://127.0.0.1:1/0")

    with pytest.raises(StoreError, match=r"^RedisStore could not prune its per-user indexes: ") as raised:
        prune_user_indexes(store)
    assert "127.0.0.1:1" in str(raised.value)
    store.close()
