"""RedisStore specifics: connect-redis's format, costs, the per-user index, SCAN, loops.

The contract suite (test_contract.py) already runs on both RedisStore rows;
this module checks what only RedisStore promises, against the real server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any, ClassVar

import pytest
import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model, login
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client
from freezegun import freeze_time

from django_expsession import document as doc
from django_expsession import signing
from django_expsession.clock import datetime_to_ms, format_iso
from django_expsession.stores import StoreError, build_store
from django_expsession.stores.redis import RedisStore

from .. import services
from .conftest import T0, at, document, iso, touched
from .test_costs import CountingConnection, warm_up

REDIS_STORES = ["redis-url", "redis-cache"]
in_both = pytest.mark.parametrize("store_name", REDIS_STORES)


@pytest.fixture
def server() -> Iterator[redis.Redis]:
    """Our own look at the server, independent of the store's clients."""
    client = redis.Redis.from_url(services.REDIS_URL)
    yield client
    client.close()


def connect_redis_json(expires: datetime | None, **data: Any) -> str:
    """What connect-redis writes: ``JSON.stringify(session)``, cookie first."""
    cookie: dict[str, Any] = {
        "originalMaxAge": None if expires is None else 86_400_000,
        "expires": None if expires is None else format_iso(datetime_to_ms(expires)),
        "httpOnly": True,
        "path": "/",
    }
    return json.dumps({"cookie": cookie, **data}, separators=(",", ":"))


# -- connect-redis compatibility ------------------------------------------------


@in_both
def test_a_session_is_the_express_json_text_under_prefix_and_id(make_store, server):
    store = make_store()
    stored = document(name="Zoë", cart=[1, {"sku": "x"}])
    store.set("sid-1", stored)
    assert server.type("sess:sid-1") == b"string"
    assert server.get("sess:sid-1") == doc.dumps(stored).encode()
    assert server.keys("sess:*") == [b"sess:sid-1"]  # anonymous: no user index


@in_both
def test_the_prefix_option_names_the_keys(make_store, server):
    store = make_store(PREFIX="myapp:sess:")
    store.set("sid-1", document())
    assert server.exists("myapp:sess:sid-1") == 1
    assert server.exists("sess:sid-1") == 0


@in_both
def test_the_key_expires_with_the_cookie_to_the_millisecond(make_store, server):
    store = make_store()
    stored = document(max_age=120)
    store.set("sid-1", stored)
    assert server.pexpiretime("sess:sid-1") == doc.expires_ms(stored)
    assert 119_000 < server.pttl("sess:sid-1") <= 120_000


@in_both
def test_a_browser_session_key_lives_ttl_seconds(make_store, server):
    store = make_store(TTL=300)
    store.set("sid-1", document(max_age=None))
    assert 299_000 < server.pttl("sess:sid-1") <= 300_000


@in_both
def test_a_document_that_is_already_expired_is_deleted_instead_of_written(make_store, server):
    store = make_store()
    store.set("sid-1", document(n=1))
    store.set("sid-1", document(max_age=-1, n=2))
    assert server.exists("sess:sid-1") == 0


@in_both
def test_a_session_written_by_connect_redis_is_read(make_store, server):
    store = make_store()
    expires = datetime.now(UTC) + timedelta(days=1, milliseconds=123)
    text = connect_redis_json(expires, user="ada", views=3)
    # connect-redis: EX, the cookie's remaining lifetime in whole seconds, rounded up.
    ttl = math.ceil((datetime_to_ms(expires) - datetime_to_ms(datetime.now(UTC))) / 1000)
    server.set("sess:abc", text, ex=ttl)
    loaded = store.get("abc")
    assert {k: v for k, v in loaded.items() if k != "cookie"} == {"user": "ada", "views": 3}
    # The key's expiry is the truth (a touch moves only it).
    assert loaded["cookie"]["expires"] == format_iso(server.pexpiretime("sess:abc"))
    assert 0 <= doc.expires_ms(loaded) - datetime_to_ms(expires) < 1_500  # rounded up, + latency
    written = json.loads(text)["cookie"]
    assert list(loaded["cookie"]) == list(written)
    assert {k: v for k, v in loaded["cookie"].items() if k != "expires"} == {
        k: v for k, v in written.items() if k != "expires"
    }


@in_both
def test_a_connect_redis_session_stored_without_a_ttl_ends_with_its_cookie(make_store, server):
    store = make_store()
    with freeze_time(T0) as clock:
        server.set("sess:persistent", connect_redis_json(at(60), n=1))  # disableTTL: no expiry
        server.set("sess:browser", connect_redis_json(None, n=2))
        assert store.get("persistent")["cookie"]["expires"] == iso(60)
        assert store.length() == 2
        clock.move_to(at(60))
        assert store.get("persistent") is None
        assert store.get("browser")["n"] == 2


@in_both
def test_an_express_cookie_and_a_connect_redis_session_reach_a_django_view(make_store, server, app, client):
    make_store()
    expires = datetime.now(UTC) + timedelta(days=1)
    server.set("sess:from-express", connect_redis_json(expires, user="ada", views=3), ex=86_400)

    @app
    def view(request):
        request.session["views"] += 1
        return HttpResponse(f"{request.session['user']} {request.session['views']}")

    client.cookies["connect.sid"] = signing.cookie_value("from-express", "keyboard cat")
    response = client.get("/")
    assert response.content == b"ada 4"
    # Saved back in the shape connect-redis reads: the JSON document, cookie first.
    saved = json.loads(server.get("sess:from-express"))
    assert list(saved) == ["cookie", "user", "views"]
    assert saved["views"] == 4
    assert server.pttl("sess:from-express") > 0


@in_both
def test_a_touch_gives_a_session_stored_without_a_ttl_one(make_store, server):
    store = make_store()
    stored = document(n=1)
    server.set("sess:persistent", doc.dumps(stored))
    again = touched(stored)
    store.touch("persistent", again)
    assert server.pexpiretime("sess:persistent") == doc.expires_ms(again)


@in_both
def test_destroying_an_unreadable_record_deletes_it_without_a_security_warning(make_store, server, caplog):
    store = make_store()
    server.set("sess:bad", "{'not': json")
    with caplog.at_level(logging.WARNING):
        store.destroy("bad")
    assert server.exists("sess:bad") == 0
    assert caplog.records == []


@in_both
def test_expiry_times_are_absolute_so_a_clock_frozen_in_the_real_past_loses_sessions(make_store, server):
    # The documented limit of absolute expiry times (README, RedisStore).
    store = make_store()
    with freeze_time("2020-01-01"):
        store.set("sid-1", document())
        assert server.exists("sess:sid-1") == 0
    with freeze_time("2040-01-01"):
        store.set("sid-1", document())
        assert server.pexpiretime("sess:sid-1") == datetime_to_ms(datetime(2040, 1, 1, 0, 1, tzinfo=UTC))


# -- the per-user index ("log out everywhere") ---------------------------------


@in_both
def test_a_logged_in_session_is_indexed_under_its_user(make_store, server):
    store = make_store()
    store.set("sid-1", document(max_age=60, _auth_user_id="42"))
    assert server.smembers("expsession-users:sess:42") == {b"sid-1"}
    assert server.type("expsession-users:sess:42") == b"set"
    assert server.pexpiretime("expsession-users:sess:42") == server.pexpiretime("sess:sid-1")


@in_both
def test_the_user_index_lives_as_long_as_the_users_longest_session(make_store, server):
    store = make_store()
    with freeze_time(T0) as clock:
        store.set("long", document(max_age=600, _auth_user_id="42"))
        store.set("short", document(max_age=60, _auth_user_id="42"))
        assert server.pexpiretime("expsession-users:sess:42") == server.pexpiretime("sess:long")
        clock.move_to(at(590))
        stored = document(max_age=600, _auth_user_id="42")
        store.set("short", stored)  # saved again: now the longest
        assert server.pexpiretime("expsession-users:sess:42") == datetime_to_ms(at(1190))
        clock.move_to(at(1000))
        store.touch("short", touched(stored))  # a touch extends the index too
        assert server.pexpiretime("expsession-users:sess:42") == datetime_to_ms(at(1600))


@in_both
def test_user_sessions_lists_live_sessions_of_that_user_and_drops_stale_members(make_store, server):
    store = make_store()
    with freeze_time(T0) as clock:
        store.set("a", document(max_age=60, _auth_user_id="42", n="a"))
        store.set("b", document(max_age=10, _auth_user_id="42", n="b"))
        store.set("c", document(max_age=60, _auth_user_id="42", n="c"))
        store.set("other", document(_auth_user_id="7"))
        store.set("anonymous", document())
        store.set("c", document(max_age=60, _auth_user_id="7", n="c"))  # c is now user 7's
        assert [(sid, data["n"]) for sid, data in store.user_sessions(42)] == [("a", "a"), ("b", "b")]
        clock.move_to(at(10))  # b has expired
        assert [sid for sid, _ in store.user_sessions("42")] == ["a"]
        assert server.smembers("expsession-users:sess:42") == {b"a"}
        assert sorted(sid for sid, _ in store.user_sessions(7)) == ["c", "other"]
        assert list(store.user_sessions(999)) == []


@in_both
def test_destroy_removes_the_session_from_its_users_index(make_store, server):
    store = make_store()
    store.set("a", document(_auth_user_id="42"))
    store.set("b", document(_auth_user_id="42"))
    store.destroy("a")
    assert server.smembers("expsession-users:sess:42") == {b"b"}
    store.destroy("b")
    assert server.exists("expsession-users:sess:42") == 0
    assert list(store.user_sessions(42)) == []


@in_both
@pytest.mark.django_db
def test_log_out_everywhere_ends_every_session_of_that_user_only(expsession, app):
    store = expsession.configure(spy_on=False, COOKIE={"MAX_AGE": 3600})
    users = get_user_model().objects
    alice, bob = users.create_user("alice"), users.create_user("bob")

    @app
    def view(request):
        if "as" in request.GET:
            login(request, users.get(username=request.GET["as"]))
        return HttpResponse(request.user.get_username() or "anonymous")

    laptop, phone, bobs = Client(), Client(), Client()
    for client, name in ((laptop, "alice"), (phone, "alice"), (bobs, "bob")):
        assert client.get("/", {"as": name}).content == name.encode()

    alices = {sid for sid, _ in store.user_sessions(alice.pk)}
    out, err = StringIO(), StringIO()
    call_command("expsession", "destroy", "--user", str(alice.pk), stdout=out, stderr=err)

    assert set(out.getvalue().split()) == alices  # the ids on stdout, the count on stderr
    assert len(alices) == 2
    assert err.getvalue() == f"Destroyed 2 sessions of user {alice.pk}.\n"
    assert laptop.get("/").content == b"anonymous"
    assert phone.get("/").content == b"anonymous"
    assert bobs.get("/").content == b"bob"
    assert [data["_auth_user_id"] for _, data in store.user_sessions(bob.pk)] == [str(bob.pk)]


# -- SCAN: listing and clearing ------------------------------------------------


@in_both
def test_listing_pages_through_more_keys_than_one_scan_step(make_store):
    store = make_store(SCAN_COUNT=10)
    for n in range(250):
        store.set(f"sid-{n:03}", document(n=n, _auth_user_id=str(n % 3)))
    listed = dict(store.all())
    assert sorted(listed) == [f"sid-{n:03}" for n in range(250)]  # no index set, no duplicate
    assert all(data["n"] == int(sid[4:]) for sid, data in listed.items())
    assert store.length() == 250
    assert len(list(store.user_sessions(1))) == 83
    store.clear()
    assert store.length() == 0


@in_both
def test_clear_and_listing_keep_to_this_prefix_even_with_glob_characters(make_store, server):
    store = make_store(PREFIX="a*[b]?\\:")
    lookalike = RedisStore(url=services.REDIS_URL, prefix="a1b2:")  # matches the unescaped glob
    store.set("mine", document(_auth_user_id="1"))
    lookalike.set("theirs", document())
    server.set("unrelated", "x")
    try:
        assert [sid for sid, _ in store.all()] == ["mine"]
        assert store.length() == 1
        store.clear()
        assert server.exists("a*[b]?\\:mine", "expsession-users:a*[b]?\\:1") == 0
        assert lookalike.get("theirs") is not None
        assert server.get("unrelated") == b"x"
    finally:
        lookalike.clear()
        server.delete("unrelated")


# -- what each operation costs, counted on the wire --------------------------


class AsyncCountingConnection(redis.asyncio.Connection):
    """The asyncio twin of test_costs' CountingConnection (same record)."""

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        CountingConnection.sent.append([str(args[0]).upper()])
        await super().send_command(*args, **kwargs)

    def pack_commands(self, commands: Any) -> Any:
        commands = list(commands)
        CountingConnection.sent.append([str(command[0]).upper() for command in commands])
        return super().pack_commands(commands)


class AsyncCountingRedisStore(RedisStore):
    """A RedisStore whose asyncio clients count commands (a real subclass, a real server)."""

    url: ClassVar[str] = services.REDIS_URL

    def _new_asyncio_client(self) -> tuple[redis.asyncio.Redis, list[redis.asyncio.Redis]]:
        client = redis.asyncio.Redis.from_url(self.url, connection_class=AsyncCountingConnection)
        return client, []


@pytest.fixture
def counted(settings: Any, expsession: Any) -> Callable[..., RedisStore]:
    """A RedisStore on a django-redis cache whose connections count commands."""
    sep = "&" if "?" in services.REDIS_URL else "?"
    settings.CACHES = {
        **settings.CACHES,
        "counted": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"{services.REDIS_URL}{sep}client_name=expsession-redisstore-counted",
            "OPTIONS": {"CONNECTION_POOL_KWARGS": {"connection_class": CountingConnection}},
        },
    }

    def make(**options: Any) -> RedisStore:
        store = expsession.configure(spy_on=False, STORE_OPTIONS={"CACHE": "counted", **options})
        warm_up(store)  # the handshake, and the scripts' first load
        return store  # type: ignore[no-any-return]

    return make


def commands(operation: Callable[[], Any]) -> list[list[str]]:
    CountingConnection.sent.clear()
    operation()
    return list(CountingConnection.sent)


USER = {"_auth_user_id": "42"}


@pytest.mark.parametrize("store_name", ["redis-cache"])
def test_each_operation_is_one_round_trip(counted):
    store = counted()
    anonymous, logged_in = document(n=1), document(n=1, **USER)
    one_script_call = [["EVALSHA"]]
    assert commands(lambda: store.get("sid-1")) == one_script_call
    assert commands(lambda: store.set("sid-1", anonymous)) == one_script_call
    assert commands(lambda: store.set("sid-2", logged_in)) == one_script_call  # the index too
    # touch: TOUCH_AFTER and "never revive" are decided by the script, with the move.
    assert commands(lambda: store.touch("sid-1", touched(anonymous))) == one_script_call
    assert commands(lambda: store.touch("sid-2", touched(logged_in))) == one_script_call
    assert commands(lambda: store.destroy("sid-1")) == one_script_call
    assert commands(lambda: store.destroy("sid-2")) == one_script_call  # out of the index too
    assert commands(lambda: store.touch("sid-1", touched(anonymous))) == one_script_call  # gone
    assert store.get("sid-1") is None
    assert server_sets(store) == []


@pytest.mark.parametrize("store_name", ["redis-cache"])
def test_a_touch_skipped_by_touch_after_costs_one_round_trip(counted):
    store = counted(TOUCH_AFTER=60)
    stored = document(**USER)
    store.set("sid-1", stored)
    assert commands(lambda: store.touch("sid-1", touched(stored))) == [["EVALSHA"]]


def server_sets(store: RedisStore) -> list[Any]:
    return list(store.client.scan_iter(match=store.index_prefix + "*"))


@pytest.mark.parametrize("store_name", ["redis-cache"])
def test_listing_costs_a_scan_and_one_pipeline_per_page_and_never_keys(counted):
    store = counted(SCAN_COUNT=10)
    for n in range(60):
        store.set(f"sid-{n}", document(**USER))
    for operation, per_key in (
        (lambda: list(store.all()), ["GET", "PEXPIRETIME"]),
        (store.length, ["PEXPIRETIME"]),
    ):
        sent = commands(operation)
        scans = [trip for trip in sent if trip == ["SCAN"]]
        reads = [trip for trip in sent if trip != ["SCAN"]]
        assert len(scans) > 1  # several SCAN steps, each followed by one pipeline
        assert len(reads) <= len(scans)
        assert all(trip == per_key * (len(trip) // len(per_key)) for trip in reads)
        assert sum(len(trip) for trip in reads) == 60 * len(per_key)
    sent = commands(store.clear)
    assert {tuple(trip) for trip in sent} <= {("SCAN",), ("UNLINK",)}
    assert store.length() == 0
    assert commands(lambda: list(store.user_sessions(42))) == [["SMEMBERS"]]


@pytest.mark.parametrize("store_name", ["redis-url"])
async def test_the_async_twins_send_the_same_commands(make_store):
    await sync_to_async(make_store)()  # an empty db
    store = AsyncCountingRedisStore(url=services.REDIS_URL)
    anonymous, logged_in = document(n=1), document(n=1, **USER)
    await sync_to_async(warm_up)(RedisStore(url=services.REDIS_URL))  # the scripts, loaded once
    await store.aget("warm-up")  # this client's handshake

    async def acommands(operation: Callable[[], Any]) -> list[list[str]]:
        CountingConnection.sent.clear()
        await operation()
        return list(CountingConnection.sent)

    for operation in (
        lambda: store.aget("sid-1"),
        lambda: store.aset("sid-1", anonymous),
        lambda: store.aset("sid-2", logged_in),
        lambda: store.atouch("sid-1", touched(anonymous)),
        lambda: store.adestroy("sid-2"),
    ):
        assert await acommands(operation) == [["EVALSHA"]]
    await store.aclear()


# -- async twins under real event loops ----------------------------------------


@in_both
async def test_async_twins_keep_the_user_index(make_store, server):
    store = await sync_to_async(make_store)()
    await store.aset("a", document(n=1, **USER))
    await store.aset("b", document(n=2, **USER))
    assert [(sid, data["n"]) async for sid, data in store.auser_sessions(42)] == [("a", 1), ("b", 2)]
    await store.adestroy("a")
    assert [sid async for sid, _ in store.auser_sessions("42")] == ["b"]
    assert await sync_to_async(server.smembers)("expsession-users:sess:42") == {b"b"}
    assert await store.acount_expired() == 0


def _clients_named(server: redis.Redis, name: str) -> int:
    return sum(1 for client in server.client_list() if client.get("name") == name)


def _back_to(server: redis.Redis, name: str, count: int) -> bool:
    # The server notices a closed socket a moment after the client: ask again.
    return any(_clients_named(server, name) == count for _ in range(500))


@pytest.mark.parametrize("store_name", ["redis-url"])
def test_each_event_loop_has_its_own_client_closed_when_the_loop_ends(make_store, server):
    name = f"expsession-loop-{uuid.uuid4().hex[:8]}"
    sep = "&" if "?" in services.REDIS_URL else "?"
    store = make_store(URL=f"{services.REDIS_URL}{sep}client_name={name}")
    sync_only = _clients_named(server, name)  # the sync client's pool

    async def work(n: int) -> tuple[int, int]:
        for i in range(20):
            await store.aset(f"loop-{n}-{i}", document(n=i))
            assert (await store.aget(f"loop-{n}-{i}"))["n"] == i
        return n, _clients_named(server, name)

    # Two loops at once in two threads, then one more after they ended.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda n: asyncio.run(work(n)), [1, 2]))
    assert all(open_now > sync_only for _, open_now in results)
    assert _back_to(server, name, sync_only)
    assert asyncio.run(work(3))[1] > sync_only
    assert _back_to(server, name, sync_only)
    assert store.length() == 60


# -- Redis Sentinel through a django-redis cache alias --------------------------


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Sentinel (``redis-server --sentinel``) watching the test server as its primary."""
    if not services.available("redis"):
        pytest.skip(services.skip_reason("redis"))
    executable = shutil.which("redis-server")
    if executable is None:
        message = "redis-server is not installed, so no Sentinel can be started"
        if services.IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    primary = redis.Redis.from_url(services.REDIS_URL).connection_pool.connection_kwargs
    name = f"expsession-{uuid.uuid4().hex[:8]}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = tmp_path_factory.mktemp("sentinel") / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\nsentinel monitor {name} {primary['host']} {primary['port']} 1\n"
    )
    process = subprocess.Popen(
        [executable, str(config), "--sentinel"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # ready once it watches the primary
            if "+monitor master" in line:
                break
        else:
            pytest.fail(f"Sentinel did not start (exit status {process.wait()})")
        yield name, port
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize("store_name", ["redis-cache"])
def test_a_sentinel_cache_alias_finds_the_primary_for_sync_and_async_use(
    sentinel, expsession, settings, server
):
    name, port = sentinel
    db = server.connection_pool.connection_kwargs.get("db", 0)
    settings.CACHES = {
        **settings.CACHES,
        "sentinel": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://{name}/{db}",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                "SENTINELS": [("127.0.0.1", port)],
            },
        },
    }
    store = expsession.configure(spy_on=False, STORE_OPTIONS={"CACHE": "sentinel"})
    store.set("sid-1", document(n=1, **USER))
    assert json.loads(server.get("sess:sid-1"))["n"] == 1  # written on the primary

    async def from_a_loop() -> tuple[Any, list[str]]:
        await store.aset("sid-2", document(n=2, **USER))
        return await store.aget("sid-1"), [sid async for sid, _ in store.auser_sessions(42)]

    loaded, sids = asyncio.run(from_a_loop())
    assert loaded["n"] == 1
    assert sids == ["sid-1", "sid-2"]
    assert json.loads(server.get("sess:sid-2"))["n"] == 2


# -- an unreachable server ----------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


OPERATIONS = {
    "get": lambda store: store.get("sid-1"),
    "set": lambda store: store.set("sid-1", document(**USER)),
    "touch": lambda store: store.touch("sid-1", document()),
    "destroy": lambda store: store.destroy("sid-1"),
    "all": lambda store: list(store.all()),
    "length": lambda store: store.length(),
    "clear": lambda store: store.clear(),
    "user_sessions": lambda store: list(store.user_sessions(1)),
}


@pytest.mark.parametrize("operation", list(OPERATIONS.values()), ids=list(OPERATIONS))
def test_a_closed_port_raises_store_error_naming_the_address(closed_port, operation):
    store = RedisStore(url=f"redis://:s3cret-password@127.0.0.1:{closed_port}/3")
    with pytest.raises(StoreError) as raised:
        operation(store)
    message = str(raised.value)
    assert message.startswith("RedisStore could not ")
    assert f"Redis at 127.0.0.1:{closed_port}/3 failed (ConnectionError: " in message
    assert "s3cret-password" not in message
    assert isinstance(raised.value.__cause__, redis.ConnectionError)


async def test_an_async_twin_on_a_closed_port_raises_store_error(closed_port):
    store = RedisStore(url=f"redis://:s3cret-password@127.0.0.1:{closed_port}/3")
    with pytest.raises(
        StoreError, match=rf"RedisStore could not save a session: Redis at 127\.0\.0\.1:{closed_port}/3"
    ):
        await store.aset("sid-1", document())


def test_a_cache_alias_on_a_closed_port_is_named_with_its_location(settings, closed_port):
    settings.CACHES = {
        **settings.CACHES,
        "unreachable": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://:s3cret-password@127.0.0.1:{closed_port}/0",
        },
    }
    store = RedisStore(cache="unreachable")
    for operation in (lambda: store.get("sid-1"), lambda: asyncio.run(store.aget("sid-1"))):
        with pytest.raises(StoreError) as raised:
            operation()
        where = f"cache 'unreachable' (RedisCache at redis://:***@127.0.0.1:{closed_port}/0)"
        assert where in str(raised.value)


# -- options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one of url"),
        ({"url": services.REDIS_URL, "cache": "redis"}, "exactly one of url"),
        ({"url": "http://127.0.0.1:6379/0"}, "Redis URL must specify"),
        ({"url": 6379}, "url should be"),
        ({"cache": ""}, "cache should be the alias"),
        ({"cache": "nope"}, "there is no cache 'nope'"),
        ({"cache": "default"}, "should be a django-redis cache"),
        ({"url": services.REDIS_URL, "prefix": None}, "prefix should be a string"),
        ({"url": services.REDIS_URL, "scan_count": 0}, "scan_count should be"),
        ({"url": services.REDIS_URL, "ttl": 0}, "ttl should be"),
        ({"url": services.REDIS_URL, "touch_after": -1}, "touch_after should be"),
    ],
)
def test_options_are_checked_when_the_store_is_built(options, message):
    with pytest.raises(ValueError, match=message):
        RedisStore(**options)


def test_bad_options_in_settings_are_improperly_configured():
    config = {"BACKEND": "django_expsession.stores.redis.RedisStore", "OPTIONS": {"CACHE": "default"}}
    with pytest.raises(
        ImproperlyConfigured, match=r"OPTIONS are not valid for .*RedisStore: cache 'default'"
    ):
        build_store(config)


def test_settings_options_reach_the_store():
    store = build_store(
        {
            "BACKEND": "django_expsession.stores.redis.RedisStore",
            "OPTIONS": {
                "URL": services.REDIS_URL,
                "PREFIX": "x:",
                "TTL": 60,
                "TOUCH_AFTER": 5,
                "SCAN_COUNT": 7,
            },
        }
    )
    assert isinstance(store, RedisStore)
    assert (store.prefix, store.ttl, store.touch_after, store.scan_count) == ("x:", 60, 5, 7)
    assert store.supports("user_sessions") and not store.supports("expired_sessions")
