"""RedisStore on a Redis Cluster: what only the cluster layout promises, on a real cluster.

The store contract, the merge suite and express's cross-store subset already
run on the ``redis-cluster`` row (three primaries of the suite's own,
tests/cluster.py); this module checks the layout (hash-tagged keys spread
over every primary), the round trips, scripts loaded per node, a user's
sessions through real logins, parallel requests, and one primary stopped
and started again while the others keep serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar
from urllib.parse import unquote

import pytest
from django.contrib.auth import get_user_model, login, logout
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client
from redis.cluster import RedisCluster

import django_expsession
from django_expsession import signing
from django_expsession.checks import setting_errors
from django_expsession.stores import StoreError, build_store
from django_expsession.stores import redisops as ops
from django_expsession.stores.redis import RedisStore

from ..cluster import LocalCluster
from .conftest import document, touched
from .test_costs import CountingConnection

on_cluster = pytest.mark.parametrize("store_name", ["redis-cluster"])
USER = {"_auth_user_id": "42"}


def owner(store: RedisStore, key: str) -> int:
    """The port of the primary that holds ``key``."""
    return int(store.client.get_node_from_key(key).port)


def sids_on_every_node(
    store: RedisStore, cluster: LocalCluster, per_node: int, tag: str
) -> dict[int, list[str]]:
    """Session ids whose keys land on each primary, ``per_node`` of each."""
    found: dict[int, list[str]] = {port: [] for port in cluster.ports}
    n = 0
    while any(len(sids) < per_node for sids in found.values()):
        sid = f"{tag}-{n}"
        sids = found[owner(store, store.key(sid))]
        if len(sids) < per_node:
            sids.append(sid)
        n += 1
    return found


def keys_on(cluster: LocalCluster, port: int, pattern: str) -> set[str]:
    node = cluster.node(port)
    try:
        return {key.decode() for key in node.scan_iter(match=pattern, count=1000)}
    finally:
        node.close()


# -- the layout -------------------------------------------------------------------------


@on_cluster
def test_keys_are_hash_tagged_per_session_and_per_user_and_spread_over_every_primary(
    make_store, redis_cluster
):
    store = make_store()
    sids = [f"sid-{n:02}" for n in range(90)]
    for n, sid in enumerate(sids):
        store.set(sid, document(n=n, _auth_user_id=f"u{n % 30}"))

    on_node = {port: keys_on(redis_cluster, port, "sess:*") for port in redis_cluster.ports}
    assert all(on_node.values())  # every primary holds sessions
    assert sorted(key for keys in on_node.values() for key in keys) == [f"sess:{{{sid}}}" for sid in sids]
    sets = {port: keys_on(redis_cluster, port, "expsession-users:*") for port in redis_cluster.ports}
    assert all(sets.values())  # and per-user sets
    assert sorted(key for keys in sets.values() for key in keys) == sorted(
        f"expsession-users:sess:{{u{n}}}" for n in range(30)
    )
    # The tag is the id: a key's slot is its id's.
    node = redis_cluster.node(redis_cluster.ports[0])
    try:
        assert node.cluster("keyslot", "sess:{sid-07}") == node.cluster("keyslot", "sid-07")
        assert node.cluster("keyslot", "expsession-users:sess:{u7}") == node.cluster("keyslot", "u7")
    finally:
        node.close()

    # Listing, counting and clearing reach every primary.
    assert sorted(sid for sid, _ in store.all()) == sids
    assert store.length() == 90
    assert sorted(sid for sid, _ in store.user_sessions("u7")) == ["sid-07", "sid-37", "sid-67"]
    store.clear()
    assert all(not keys_on(redis_cluster, port, "*") for port in redis_cluster.ports)


@on_cluster
def test_without_hash_tags_the_keys_are_connect_redis_keys_on_the_cluster_too(make_store, redis_cluster):
    store = make_store(HASH_TAGS=False)
    store.set("sid-1", document(n=1, **USER))
    store.set("sid-2", document(n=2))
    everywhere = set().union(*(keys_on(redis_cluster, port, "*") for port in redis_cluster.ports))
    assert everywhere == {"sess:sid-1", "sess:sid-2", "expsession-users:sess:42"}
    # What connect-redis writes, read back; listing and the index work as with tags.
    store.client.set("sess:from-express", json.dumps(document(n=3)), ex=60)
    assert store.get("from-express")["n"] == 3
    assert sorted(sid for sid, _ in store.all()) == ["from-express", "sid-1", "sid-2"]
    assert [sid for sid, _ in store.user_sessions(42)] == ["sid-1"]
    store.destroy("sid-1")
    assert store.client.exists("sess:sid-1", "expsession-users:sess:42") == 0


# -- round trips and scripts --------------------------------------------------------------


class KeyedConnection(CountingConnection):
    """test_costs' counting connection that also records the key each script call names."""

    keys: ClassVar[list[str]] = []

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        if str(args[0]).upper() in ("EVALSHA", "EVAL"):
            KeyedConnection.keys.extend(str(key) for key in args[3 : 3 + int(args[2])])
        super().send_command(*args, **kwargs)


class CountedClusterStore(RedisStore):
    """A RedisStore whose cluster client counts the commands it sends (a real subclass, a real cluster)."""

    def _new_cluster_client(self) -> RedisCluster:
        return RedisCluster.from_url(self._seeds[0], connection_class=KeyedConnection)


def commands(operation: Callable[[], Any]) -> list[list[str]]:
    CountingConnection.sent.clear()
    operation()
    return list(CountingConnection.sent)


@on_cluster
def test_a_save_touch_load_or_destroy_is_one_round_trip_and_a_change_of_user_one_more(
    expsession, redis_cluster
):
    backend = f"{__name__}.CountedClusterStore"
    options = {"URL": redis_cluster.url, "CLUSTER": True}
    store = expsession.configure(spy_on=False, STORE={"BACKEND": backend, "OPTIONS": options})
    # Every node: a connection open, every script loaded.
    for sids in sids_on_every_node(store, redis_cluster, 1, "warm").values():
        stored = document(n=0, **USER)
        store.set(sids[0], stored)
        store.replace(sids[0], document(n=1, _auth_user_id="7"), store.read(sids[0]).version)
        store.touch(sids[0], touched(stored))
        store.destroy(sids[0])
    one, two, three = [["EVALSHA"]], [["EVALSHA"]] * 2, [["EVALSHA"]] * 3

    assert commands(lambda: store.get("sid-1")) == one
    assert commands(lambda: store.set("sid-1", document(n=1))) == one
    assert commands(lambda: store.set("sid-1", document(n=2, **USER))) == two  # a login: the user's set too
    assert commands(lambda: store.set("sid-1", document(n=3, **USER))) == one  # the same user
    assert commands(lambda: store.touch("sid-1", touched(document(**USER)))) == one
    version = store.read("sid-1").version
    assert commands(lambda: store.replace("sid-1", document(n=4, **USER), version)) == one
    version = store.read("sid-1").version
    moved = document(n=5, _auth_user_id="7")
    assert commands(lambda: store.replace("sid-1", moved, version)) == three  # into 7's set, out of 42's
    assert [sid for sid, _ in store.user_sessions(7)] == ["sid-1"]
    assert list(store.user_sessions(42)) == []
    assert commands(lambda: store.set("sid-1", document(n=6))) == two  # logged out: out of 7's set
    assert list(store.user_sessions(7)) == []
    store.set("sid-2", document(**USER))
    assert commands(lambda: store.destroy("sid-2")) == two  # out of the set too
    assert commands(lambda: store.destroy("sid-1")) == one  # anonymous
    assert commands(lambda: store.destroy("sid-1")) == one  # gone
    assert store.client.exists(store.user_key(42), store.user_key(7)) == 0


@on_cluster
@pytest.mark.django_db
@pytest.mark.parametrize("concurrency", ["overwrite", "merge"])
def test_a_request_costs_a_round_trip_to_read_one_more_to_save_and_a_login_two_to_save(
    expsession, app, redis_cluster
):
    backend = f"{__name__}.CountedClusterStore"
    store = expsession.configure(
        spy_on=False,
        RESAVE=False,
        COOKIE={"MAX_AGE": 3600},
        STORE={"BACKEND": backend, "OPTIONS": {"URL": redis_cluster.url, "CLUSTER": True}},
    )
    for sids in sids_on_every_node(store, redis_cluster, 1, "warm").values():
        store.set(sids[0], document(**USER))
        store.replace(sids[0], document(**USER), store.read(sids[0]).version)
        store.touch(sids[0], touched(document(**USER)))
        store.destroy(sids[0])
    alice = get_user_model().objects.create_user("alice")

    @app
    def view(request: HttpRequest) -> HttpResponse:
        if "login" in request.GET:
            login(request, alice)
        if "n" in request.GET:
            request.session["n"] = request.GET["n"]
        return HttpResponse("ok")

    browser = Client()
    one, two, four = [["EVALSHA"]], [["EVALSHA"]] * 2, [["EVALSHA"]] * 4
    assert commands(lambda: browser.get("/", {"n": 1})) == one  # a new session: saved
    assert commands(lambda: browser.get("/")) == two  # read, touch
    assert commands(lambda: browser.get("/", {"n": 2})) == two  # read, save
    assert commands(lambda: browser.get("/", {"login": 1})) == four  # read, destroy, save + the user's set
    assert commands(lambda: browser.get("/", {"n": 3})) == two  # logged in: read, save
    assert [data["n"] for _, data in store.user_sessions(alice.pk)] == ["3"]


@on_cluster
def test_the_session_is_written_before_its_user_set_is_added_to(expsession, redis_cluster):
    # Added to after the write: a reader pruning the set (user_sessions drops
    # ids whose session is missing) never sees an id not written yet.
    backend = f"{__name__}.CountedClusterStore"
    store = expsession.configure(
        spy_on=False, STORE={"BACKEND": backend, "OPTIONS": {"URL": redis_cluster.url, "CLUSTER": True}}
    )
    store.get("warm-up")
    KeyedConnection.keys.clear()
    store.set("sid-1", document(**USER))
    store.destroy("sid-1")
    assert KeyedConnection.keys == [
        store.key("sid-1"),
        store.user_key(42),
        store.key("sid-1"),
        store.user_key(42),  # removed from after the delete
    ]


@on_cluster
def test_scripts_are_loaded_by_each_node_that_runs_them(make_store, redis_cluster):
    store = make_store()
    nodes = [redis_cluster.node(port) for port in redis_cluster.ports]
    try:
        for node in nodes:
            node.script_flush()
        for sids in sids_on_every_node(store, redis_cluster, 2, "flushed").values():
            first, second = sids
            store.set(first, document(n=1, **USER))
            version = store.read(first).version
            assert store.replace(first, document(n=2, **USER), version).written
            store.touch(first, touched(document(**USER)))
            store.set(second, document(n=3))
            store.destroy(second)
            assert store.get(first)["n"] == 2 and store.get(second) is None
        read = hashlib.sha1(ops.READ.encode()).hexdigest()
        assert [node.script_exists(read) for node in nodes] == [[True]] * 3
    finally:
        for node in nodes:
            node.close()


# -- a user's sessions through real logins ---------------------------------------------------


def sid_of(client: Client) -> str:
    sid = signing.unsign_cookie(unquote(client.cookies["connect.sid"].value), ["keyboard cat"])
    assert sid is not None
    return sid


@on_cluster
@pytest.mark.django_db
def test_logins_are_listed_per_user_and_log_out_everywhere_ends_them(expsession, app, redis_cluster):
    store = expsession.configure(spy_on=False, COOKIE={"MAX_AGE": 3600})
    users = get_user_model().objects
    alice, bob = users.create_user("alice"), users.create_user("bob")

    @app
    def view(request: HttpRequest) -> HttpResponse:
        if "as" in request.GET:
            login(request, users.get(username=request.GET["as"]))
        if "logout" in request.GET:
            logout(request)
        return HttpResponse(request.user.get_username() or "anonymous")

    laptop, phone, bobs = Client(), Client(), Client()
    for client, name in ((laptop, "alice"), (phone, "alice"), (bobs, "bob")):
        assert client.get("/", {"as": name}).content == name.encode()

    records = django_expsession.user_sessions(alice)
    assert {r.id_hash for r in records} == {signing.id_hash(sid_of(laptop)), signing.id_hash(sid_of(phone))}
    members = store.client.smembers(store.user_key(alice.pk))
    assert {m.decode() for m in members} == {sid_of(laptop), sid_of(phone)}
    assert store.client.ttl(store.user_key(alice.pk)) == -1  # no expiry on a cluster: a touch cannot reach it

    assert django_expsession.destroy_user_sessions(alice) == 2
    assert laptop.get("/").content == b"anonymous"
    assert phone.get("/").content == b"anonymous"
    assert bobs.get("/").content == b"bob"
    assert store.client.exists(store.user_key(alice.pk)) == 0
    assert bobs.get("/", {"logout": 1}).content == b"anonymous"
    assert store.client.exists(store.user_key(bob.pk)) == 0  # logout: the session and its set entry gone
    assert django_expsession.user_sessions(bob) == []


# -- concurrency: parallel requests of one visitor ---------------------------------------------

THREADS, REQUESTS = 8, 10


@on_cluster
@pytest.mark.parametrize("concurrency", ["merge"])
def test_parallel_requests_incrementing_their_own_counters_lose_no_increment(expsession, app, client):
    store = expsession.configure(spy_on=False, COOKIE={"MAX_AGE": 3600})

    @app
    def view(request: HttpRequest) -> HttpResponse:
        key = request.GET.get("counter")
        if key is None:
            request.session["start"] = True
        else:
            request.session[key] = request.session.get(key, 0) + 1
        return HttpResponse("ok")

    assert client.get("/").status_code == 200
    cookie = f"connect.sid={client.cookies['connect.sid'].value}"
    start = threading.Barrier(THREADS)

    def increments(n: int) -> list[int]:
        browser = Client()
        start.wait(timeout=30)
        return [
            browser.get("/", {"counter": f"c{n}"}, headers={"cookie": cookie}).status_code
            for _ in range(REQUESTS)
        ]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        assert all(status == 200 for codes in pool.map(increments, range(THREADS)) for status in codes)
    stored = store.get(sid_of(client))
    assert {key: value for key, value in stored.items() if key != "cookie"} == {
        "start": True,
        **{f"c{n}": REQUESTS for n in range(THREADS)},
    }


# -- one primary stopped and started again (no failover: no replicas) -----------------------------


@on_cluster
@pytest.mark.django_db
def test_a_stopped_primary_fails_only_its_own_sessions_and_they_are_back_after_its_restart(
    expsession, app, redis_cluster, caplog
):
    store = expsession.configure(spy_on=False, COOKIE={"MAX_AGE": 3600})

    @app
    def view(request: HttpRequest) -> HttpResponse:
        request.session["views"] = request.session.get("views", 0) + 1
        return HttpResponse(str(request.session["views"]))

    # Browsers until two have their session on a primary other than the seed
    # node (the one the store's URL names) and two elsewhere.
    victim = redis_cluster.ports[1]
    down, up = [], []
    while len(down) < 2 or len(up) < 2:
        browser = Client()
        assert browser.get("/").content == b"1"
        (down if owner(store, store.key(sid_of(browser))) == victim else up).append(browser)

    redis_cluster.stop_node(victim)
    try:
        for browser in up:
            assert browser.get("/").content == b"2"  # the other primaries serve as before
        with caplog.at_level(logging.ERROR, logger="django_expsession"):
            for browser in down:
                response = browser.get("/")
                assert response.status_code == 503
                assert "connect.sid" not in response.cookies
        failures = [r for r in caplog.records if r.getMessage().startswith("The session store failed")]
        assert len(failures) == len(down)
        assert f"Redis Cluster via 127.0.0.1:{redis_cluster.ports[0]}" in failures[0].getMessage()
        cookie = f"connect.sid={down[0].cookies['connect.sid'].value}"
        assert asyncio.run(AsyncClient().get("/", headers={"cookie": cookie})).status_code == 503  # ASGI too
        with pytest.raises(StoreError, match=r"^RedisStore could not load a session: Redis Cluster via "):
            store.get(sid_of(down[0]))
        with pytest.raises(StoreError, match=r"^RedisStore could not count sessions: "):
            store.length()  # a count without one primary would be wrong
    finally:
        redis_cluster.start_node(victim)

    for browser in down:
        assert browser.get("/").content == b"2"  # kept through the restart; the failed request saved nothing
    for browser in up:
        assert browser.get("/").content == b"3"
    assert store.length() == len(down) + len(up)


# -- seeds, options, a store that is not told it is on a cluster -----------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_any_reachable_seed_url_is_enough(redis_cluster, closed_port):
    store = RedisStore(url=[f"redis://127.0.0.1:{closed_port}", redis_cluster.url], cluster=True)
    try:
        assert (
            store.address()
            == f"Redis Cluster via 127.0.0.1:{closed_port}, 127.0.0.1:{redis_cluster.ports[0]}"
        )
        store.set("seeded", document(n=1))
        assert store.get("seeded")["n"] == 1

        async def from_a_loop() -> Any:
            return await store.aget("seeded")

        assert asyncio.run(from_a_loop())["n"] == 1
        store.destroy("seeded")
    finally:
        store.close()


def test_an_unreachable_cluster_is_a_store_error_naming_its_seeds(closed_port):
    store = RedisStore(url=f"redis://:s3cret@127.0.0.1:{closed_port}", cluster=True)
    with pytest.raises(StoreError) as raised:
        store.get("sid-1")
    assert str(raised.value).startswith(
        f"RedisStore could not load a session: Redis Cluster via 127.0.0.1:{closed_port}"
    )
    assert "s3cret" not in str(raised.value)


def test_a_store_not_told_it_is_on_a_cluster_says_to_set_cluster(redis_cluster):
    store = RedisStore(url=redis_cluster.url)
    cleaner = RedisCluster.from_url(redis_cluster.url)
    try:
        with pytest.raises(
            StoreError, match=r"is a node of a Redis Cluster \(it answered MOVED .*Set CLUSTER"
        ):
            for n in range(20):  # some of these keys are on other nodes
                store.set(f"sid-{n}", document())
    finally:
        store.close()
        for n in range(20):
            cleaner.delete(f"sess:sid-{n}")
        cleaner.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cluster": True, "cache": "redis"}, "cluster needs url"),
        ({"cluster": "yes", "url": "redis://127.0.0.1:7000"}, "cluster should be True or False"),
        (
            {"cluster": True, "url": "redis://127.0.0.1:7000", "hash_tags": 1},
            "hash_tags should be True or False",
        ),
        ({"cluster": True, "url": "unix:///tmp/redis.sock"}, "no unix:// socket"),
        ({"cluster": True, "url": "redis://127.0.0.1:7000/3"}, "names database 3"),
        ({"cluster": True, "url": "redis://127.0.0.1:7000?db=2"}, "names database 2"),
        ({"cluster": True, "url": []}, "or a list of them"),
        ({"cluster": True, "url": ["redis://127.0.0.1:7000", 7001]}, "or a list of them"),
        ({"url": ["redis://127.0.0.1:7000"]}, "url should be a redis:// URL"),
        ({"cluster": True, "url": "redis://127.0.0.1:7000", "prefix": "{app}:sess:"}, "no { or }"),
        ({"cluster": True, "url": "redis://127.0.0.1:7000", "index_prefix": "users{x}:"}, "no { or }"),
    ],
)
def test_cluster_options_are_checked_when_the_store_is_built_without_connecting(options, message):
    with pytest.raises(ValueError, match=message):
        RedisStore(**options)


def test_a_cluster_store_on_a_cache_alias_is_check_e009(settings):
    settings.EXPSESSION = {
        "SECRET": "keyboard cat",
        "STORE": {
            "BACKEND": "django_expsession.stores.redis.RedisStore",
            "OPTIONS": {"CACHE": "redis", "CLUSTER": True},
        },
    }
    [error] = setting_errors()
    assert error.id == "expsession.E009"
    assert "django-redis has no Redis Cluster client" in error.msg
    with pytest.raises(ImproperlyConfigured, match="cluster needs url"):
        build_store(settings.EXPSESSION["STORE"])


def test_a_cluster_store_is_built_without_connecting(closed_port):
    # Start-up (and manage.py check) must not need the cluster: nothing is reached until used.
    store = build_store(
        {
            "BACKEND": "django_expsession.stores.redis.RedisStore",
            "OPTIONS": {"URL": f"redis://127.0.0.1:{closed_port}", "CLUSTER": True, "PREFIX": "app:"},
        }
    )
    assert isinstance(store, RedisStore)
    assert (store.cluster, store.hash_tags, store.key("abc"), store.user_key(5)) == (
        True,
        True,
        "app:{abc}",
        "expsession-users:app:{5}",
    )
    store.close()


def test_hash_tags_are_only_for_a_cluster():
    plain = RedisStore(url="redis://127.0.0.1:6379/0")
    assert (plain.key("abc"), plain.user_key(5)) == ("sess:abc", "expsession-users:sess:5")
    plain.close()
    with pytest.raises(ValueError, match="hash_tags is for a Redis Cluster"):
        RedisStore(url="redis://127.0.0.1:6379/0", hash_tags=True)
