"""Floods that cost nothing: bad or unknown cookies make no store write, bad signatures no read.

With SAVE_UNINITIALIZED off, a request whose cookie is missing, unsigned,
badly signed or unknown writes nothing; a badly signed or unsigned one
does not even read. Counted by the servers themselves: PostgreSQL's
per-transaction table statistics, MariaDB's session status counters, the
``INFO commandstats`` of a Redis server of this test's own; SQLite has no
server, so there Django's statement capture counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_expsession.signing import cookie_value

from .conftest import DATABASE, REDIS, STORES, PrivateRedis
from .express.harness import sign_cookie

SECRET = "keyboard cat"
FLOODS = {
    "missing": None,
    "unsigned": "abcdefghijklmnopqrstuvwxyz012345",
    "badly-signed": sign_cookie("abcdefghijklmnopqrstuvwxyz012345", "nyan cat"),
    "tampered": cookie_value("abcdefghijklmnopqrstuvwxyz012345", SECRET)[:-3] + "AAA",
    "unknown": cookie_value("not-in-the-store-00000000000000", SECRET),
}
# What each may cost: (reads, writes).
ALLOWED = {
    "missing": (0, 0),
    "unsigned": (0, 0),
    "badly-signed": (0, 0),
    "tampered": (0, 0),
    "unknown": (1, 0),
}


def view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.session.get("n")))  # reads, never writes


def send(client: Client, value: str | None, times: int) -> None:
    for _ in range(times):
        if value is not None:
            client.cookies["connect.sid"] = value
        response = client.get("/")
        assert response.status_code == 200
        assert response.content == b"None"
        assert "connect.sid" not in response.cookies or response.cookies["connect.sid"].value == value


def configure(settings: Any, app: Any, store: dict[str, Any]) -> None:
    settings.EXPSESSION = {
        "SECRET": SECRET,
        "RESAVE": False,
        "SAVE_UNINITIALIZED": False,
        "COOKIE": {"MAX_AGE": 60},
        "STORE": store,
    }
    app(view)


# -- SQL ---------------------------------------------------------------------------------


def _postgres(connection: Any) -> Counter[str]:
    """This transaction's reads and writes of the session table, as PostgreSQL counts them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0), n_tup_ins + n_tup_upd + n_tup_del "
            "FROM pg_stat_xact_user_tables WHERE relname = 'django_expsession'"
        )
        row = cursor.fetchone() or (0, 0)
    return Counter(reads=row[0], writes=row[1])


def _mariadb(connection: Any) -> Counter[str]:
    """This connection's statements, as MariaDB counts them (the SHOW itself is not among them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SHOW SESSION STATUS WHERE Variable_name IN ('Com_select', 'Com_insert', 'Com_update', "
            "'Com_delete', 'Com_replace')"
        )
        found = dict(cursor.fetchall())
    writes = sum(int(found[name]) for name in ("Com_insert", "Com_update", "Com_delete", "Com_replace"))
    return Counter(reads=int(found["Com_select"]), writes=writes)


@pytest.mark.parametrize("flood", list(FLOODS))
@pytest.mark.parametrize("store_name", ["db-sqlite", "db-postgres", "db-mariadb"])
def test_a_database_store_neither_writes_nor_reads_for_a_flood(settings, app, store_name, flood):
    alias = STORES[store_name].database
    assert alias is not None
    configure(settings, app, {"BACKEND": DATABASE, "OPTIONS": {"USING": alias}})
    connection = connections[alias]
    counter: Callable[[Any], Counter[str]] | None = {"postgres": _postgres, "mysql": _mariadb}.get(
        connection.vendor
    )
    client = Client()
    send(client, FLOODS[flood], 1)  # warm-up: connection, snapshot, statements prepared
    if counter is not None:
        before = counter(connection)
        send(client, FLOODS[flood], 10)
        spent = counter(connection) - before
    else:
        with CaptureQueriesContext(connection) as captured:
            send(client, FLOODS[flood], 10)
        verbs = Counter(query["sql"].split(" ", 1)[0] for query in captured.captured_queries)
        spent = Counter(reads=verbs["SELECT"], writes=verbs["INSERT"] + verbs["UPDATE"] + verbs["DELETE"])
    reads, writes = ALLOWED[flood]
    assert spent["reads"] == 10 * reads, spent
    assert spent["writes"] == 10 * writes, spent


# -- Redis -------------------------------------------------------------------------------


@pytest.fixture
def flooded_redis(private_redis: PrivateRedis) -> Iterator[redis.Redis]:
    client = redis.Redis(port=private_redis.port)
    yield client
    client.close()


def _commands(client: redis.Redis) -> Counter[str]:
    stats = client.info("commandstats")
    counts = Counter({name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()})
    del counts["info"]
    return counts


@pytest.mark.parametrize("flood", list(FLOODS))
@pytest.mark.parametrize("store", ["RedisStore", "CacheStore"])
def test_a_redis_store_neither_writes_nor_reads_for_a_flood(
    settings, app, private_redis, flooded_redis, store, flood
):
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    settings.CACHES = {
        **settings.CACHES,
        "flood": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url},
    }
    backend = REDIS if store == "RedisStore" else "django_expsession.stores.cache.CacheStore"
    configure(settings, app, {"BACKEND": backend, "OPTIONS": {"CACHE": "flood"}})
    client = Client()
    send(client, FLOODS[flood], 1)  # warm-up: connection, scripts loaded
    before = _commands(flooded_redis)
    send(client, FLOODS[flood], 10)
    spent = _commands(flooded_redis) - before
    reads, writes = ALLOWED[flood]
    # One read is one script call (GET and PEXPIRETIME inside it); nothing else.
    assert spent == Counter({"evalsha": 10 * reads, "get": 10 * reads, "pexpiretime": 10 * reads}), spent
    assert writes == 0
