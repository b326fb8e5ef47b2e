"""Sharing sessions with a live Express app on a Redis Cluster.

Express keeps its sessions with connect-redis through node-redis's cluster
client, Django with RedisStore ``CLUSTER`` and ``HASH_TAGS`` off, so both
use connect-redis's keys ``<prefix><id>`` on the suite's own three-primary
cluster (tests/cluster.py). Each scenario runs under express 4 and 5, in
both directions.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from redis.cluster import RedisCluster

from ..cluster import LocalCluster
from .harness import Browser, Pairing, Stored


@pytest.fixture
def pairing(redis_cluster: LocalCluster) -> Pairing:
    return Pairing(prefix=f"interop:{secrets.token_hex(4)}:sess:", cluster_url=redis_cluster.url)


@pytest.fixture
def redis_client(pairing: Pairing) -> Iterator[RedisCluster]:
    """The cluster, seen by the test (the conftest's ``stored`` reads through it)."""
    assert pairing.cluster_url is not None
    client = RedisCluster.from_url(pairing.cluster_url, decode_responses=True)
    yield client
    for prefix in (pairing.prefix, pairing.index_prefix()):
        for key in client.scan_iter(match=prefix + "*", count=500):  # every primary
            client.unlink(key)
    client.close()


def owners(client: RedisCluster, keys: list[str]) -> set[int]:
    return {int(client.get_node_from_key(key).port) for key in keys}


def test_a_login_on_one_side_is_a_login_on_the_other(
    first_then_second: tuple[Any, Any], browser: Browser, user: Any, stored: Stored
) -> None:
    first, second = first_then_second
    browser.post(first, "/write", {"cart": ["a book"]})
    visitor_sid = browser.sid()
    browser.post(first, "/login", {"userId": user.pk})
    sid = browser.sid()
    assert sid != visitor_sid
    assert not stored.exists(visitor_sid)
    assert stored.exists(sid)  # connect-redis's key, exactly: <prefix><id>

    seen = browser.get(second, "/whoami")
    assert (seen.body["id"], seen.body["userId"]) == (sid, user.pk)


def test_data_written_on_one_side_reads_the_same_on_the_other(
    first_then_second: tuple[Any, Any], browser: Browser, stored: Stored
) -> None:
    first, second = first_then_second
    data = {"nested": {"list": [1, 2.5, None, "ü✓"], "deep": {"n": 1}}, "ключ 🔑": "значение"}
    browser.post(first, "/write", data)
    sid = browser.sid()
    assert browser.get(second, "/read").body["data"] == data
    browser.post(second, "/write", {"by": second.label})
    assert browser.get(first, "/read").body["data"] == {**data, "by": second.label}
    document = stored.document(sid)
    assert document is not None and document["by"] == second.label


def test_a_logout_on_one_side_ends_the_session_on_the_other(
    first_then_second: tuple[Any, Any], browser: Browser, user: Any, stored: Stored
) -> None:
    first, second = first_then_second
    browser.post(second, "/login", {"userId": user.pk})
    sid = browser.sid()
    assert browser.get(first, "/whoami").body["userId"] == user.pk
    browser.post(first, "/logout")
    assert not stored.exists(sid)
    after = browser.get(second, "/whoami")
    assert after.body["userId"] is None and after.body["id"] != sid


def test_the_sessions_of_both_sides_are_on_every_primary_and_read_on_the_other_side(
    express: Any, django_app: Any, stored: Stored, redis_client: RedisCluster, pairing: Pairing
) -> None:
    # Visitors of each side until each side has sessions on all three primaries.
    for first, second in ((express, django_app), (django_app, express)):
        nodes: set[int] = set()
        for _ in range(60):
            browser = Browser()
            browser.post(first, "/write", {"side": first.label})
            sid = browser.sid()
            assert browser.get(second, "/read").body["data"] == {"side": first.label}
            nodes |= owners(redis_client, [pairing.prefix + sid])
            if len(nodes) == 3:
                break
        assert len(nodes) == 3, f"{first.label}'s sessions stayed on {nodes}"
