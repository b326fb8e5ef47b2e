"""What each operation costs the server: SQL statements and Redis commands.

Statements are counted by Django's query capture on the store's own
connection. Redis commands are counted on the wire by a real redis-py
connection class that records each command it sends (per round trip).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import pytest
import redis

from .. import services
from .conftest import document, touched

DB_STORES = ["db-sqlite", "db-postgres", "db-mariadb"]


def _statements(store: Any, assert_num_queries: Any) -> dict[str, str]:
    """Run each operation under an exact one-statement assertion; return the SQL."""
    alias = store.db_for_write()
    stored = document(n=1)
    sql: dict[str, str] = {}
    operations = {
        "insert": lambda: store.set("sid-1", stored),
        "update": lambda: store.set("sid-1", document(n=2)),
        "get": lambda: store.get("sid-1"),
        "touch": lambda: store.touch("sid-1", touched(stored)),
        "replace": None,  # needs the version read just before
        "destroy": lambda: store.destroy("sid-1"),
    }
    for name, operation in operations.items():
        if operation is None:
            version = store.read("sid-1").version
            operation = lambda: store.replace("sid-1", document(n=3), version)  # noqa: B023, E731
        with assert_num_queries(1, using=alias) as captured:
            operation()
        sql[name] = captured.captured_queries[0]["sql"]
    return sql


def _check(sql: dict[str, str]) -> None:
    upsert = re.compile(r"ON CONFLICT|ON DUPLICATE KEY UPDATE")
    assert sql["insert"].startswith("INSERT") and upsert.search(sql["insert"])
    assert sql["update"].startswith("INSERT") and upsert.search(sql["update"])
    # Load: by primary key, expired rows excluded in the same statement.
    assert sql["get"].startswith("SELECT")
    assert re.search(r"[\"`]sid[\"`] = ", sql["get"]) and re.search(r"[\"`]expires[\"`] > ", sql["get"])
    # Touch: the expiry column and nothing else.
    assert sql["touch"].startswith("UPDATE")
    assert re.fullmatch(
        r"[\"`]expires[\"`] = \S+( \S+)?", sql["touch"].split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    )
    # A loaded session's save: one UPDATE guarded by the version it read.
    assert sql["replace"].startswith("UPDATE")
    assert re.search(r"[\"`]version[\"`] = \S+$", sql["replace"])
    assert sql["destroy"].startswith("DELETE")


@pytest.mark.parametrize("store_name", DB_STORES)
def test_database_store_uses_one_statement_per_operation(make_store, django_assert_num_queries):
    _check(_statements(make_store(), django_assert_num_queries))


@pytest.mark.parametrize("store_name", DB_STORES)
def test_database_store_needs_no_transaction_statements_in_autocommit(
    make_store, django_assert_num_queries, transactional_db
):
    # Outside a test transaction nothing may add BEGIN/COMMIT around them.
    _check(_statements(make_store(), django_assert_num_queries))


@pytest.mark.parametrize("store_name", DB_STORES)
def test_a_touch_skipped_by_touch_after_is_still_one_statement(make_store, django_assert_num_queries):
    store = make_store(TOUCH_AFTER=60)
    stored = document()
    store.set("sid-1", stored)
    with django_assert_num_queries(1, using=store.db_for_write()):
        store.touch("sid-1", touched(stored))


# -- Redis -------------------------------------------------------------------


class CountingConnection(redis.Connection):
    """A real connection that records the commands it sends, per round trip."""

    sent: ClassVar[list[list[str]]] = []

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        CountingConnection.sent.append([str(args[0]).upper()])
        super().send_command(*args, **kwargs)

    def pack_commands(self, commands: Any) -> Any:
        commands = list(commands)
        CountingConnection.sent.append([str(command[0]).upper() for command in commands])
        return super().pack_commands(commands)


@pytest.fixture
def counted_store(settings: Any, expsession: Any) -> Any:
    """A CacheStore on a django-redis cache whose connections count commands."""
    sep = "&" if "?" in services.REDIS_URL else "?"
    settings.CACHES = {
        **settings.CACHES,
        "counted": {
            "BACKEND": "django_redis.cache.RedisCache",
            # Its own URL, so django-redis builds a pool with this class.
            "LOCATION": f"{services.REDIS_URL}{sep}client_name=expsession-counted",
            "OPTIONS": {"CONNECTION_POOL_KWARGS": {"connection_class": CountingConnection}},
        },
    }
    store = expsession.configure(spy_on=False, STORE_OPTIONS={"CACHE": "counted"})
    yield store
    store.clear()


def _commands(operation: Any) -> list[list[str]]:
    CountingConnection.sent.clear()
    operation()
    return list(CountingConnection.sent)


def warm_up(store: Any) -> None:
    """Load every script once (the first call of each finds none and sends it)."""
    sample = document(n=0, _auth_user_id="0")
    store.set("warm-up", sample)
    store.replace("warm-up", sample, store.read("warm-up").version)
    store.touch("warm-up", touched(sample))
    store.destroy("warm-up")


@pytest.mark.parametrize("store_name", ["cache-redis"])
def test_cache_store_on_redis_is_one_round_trip_per_operation(counted_store):
    store = counted_store
    stored = document(n=1)
    warm_up(store)
    assert _commands(lambda: store.set("sid-1", stored)) == [["EVALSHA"]]
    assert _commands(lambda: store.get("sid-1")) == [["EVALSHA"]]
    assert _commands(lambda: store.touch("sid-1", touched(stored))) == [["EVALSHA"]]
    assert _commands(lambda: store.destroy("sid-1")) == [["EVALSHA"]]
    assert _commands(lambda: store.touch("sid-1", touched(stored))) == [["EVALSHA"]]  # gone: nothing written
    assert store.get("sid-1") is None


@pytest.mark.parametrize("store_name", ["cache-redis"])
def test_a_touch_skipped_by_touch_after_costs_redis_one_round_trip(counted_store, expsession):
    store = expsession.configure(spy_on=False, STORE_OPTIONS={"CACHE": "counted", "TOUCH_AFTER": 60})
    warm_up(store)
    stored = document()
    store.set("sid-1", stored)
    assert _commands(lambda: store.touch("sid-1", touched(stored))) == [["EVALSHA"]]
