"""What each operation costs the server: SQL statements and Redis commands.

Statements are counted by Django's query capture on the store's own
connection. Redis commands are counted on the wire by a real redis-py
connection class that records each command it sends (per round trip).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import django
import pytest
import redis

from .. import services
from .conftest import document, touched

DB_STORES = ["db-sqlite", "db-postgres", "db-mariadb"]


# Django 5.2's bulk_create wraps even a one-row insert in a transaction
# (BEGIN, the upsert, COMMIT) when autocommit is on; Django 6.1 does not.
BULK_CREATE_WRAPS = django.VERSION[:2] < (6, 1)


def _statements(store: Any, assert_num_queries: Any, autocommit: bool = False) -> dict[str, str]:
    """Run each operation under an exact one-statement assertion; return the SQL."""
    alias = store.db_for_write()
    stored = document(n=1)
    sql: dict[str, str] = {}
    operations = {
        "insert": lambda: store.set("sid-1", stored),
        "update": lambda: store.set("sid-1", document(n=2)),
        "get": lambda: store.get("sid-1"),
        "touch": lambda: store.touch("sid-1", touched(stored)),
        "destroy": lambda: store.destroy("sid-1"),
    }
    for name, operation in operations.items():
        wrapped = autocommit and BULK_CREATE_WRAPS and name in ("insert", "update")
        with assert_num_queries(3 if wrapped else 1, using=alias) as captured:
            operation()
        statements = [query["sql"] for query in captured.captured_queries]
        if wrapped:
            # The two extra statements are the transaction around the upsert.
            assert not any(s.startswith(("INSERT", "UPDATE", "SELECT", "DELETE")) for s in statements[::2])
            statements = statements[1:2]
        sql[name] = statements[0]
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
    assert sql["destroy"].startswith("DELETE")


@pytest.mark.parametrize("store_name", DB_STORES)
def test_database_store_uses_one_statement_per_operation(make_store, django_assert_num_queries):
    _check(_statements(make_store(), django_assert_num_queries))


@pytest.mark.parametrize("store_name", DB_STORES)
def test_database_store_needs_no_transaction_statements_in_autocommit(
    make_store, django_assert_num_queries, transactional_db
):
    # Outside a test transaction nothing may add BEGIN/COMMIT around them
    # (but Django 5.2's bulk_create itself, see BULK_CREATE_WRAPS).
    _check(_statements(make_store(), django_assert_num_queries, autocommit=True))


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


@pytest.mark.parametrize("store_name", ["cache-redis"])
def test_cache_store_on_redis_sends_few_commands_per_operation(counted_store):
    store = counted_store
    stored = document(n=1)
    store.get("warm-up")  # connection handshake happens here
    # set: both entries in one atomic round trip.
    assert _commands(lambda: store.set("sid-1", stored)) == [["MULTI", "SET", "SET", "EXEC"]]
    assert _commands(lambda: store.get("sid-1")) == [["MGET"]]
    # touch: read the expiry record, move the document's TTL, write the record.
    assert _commands(lambda: store.touch("sid-1", touched(stored))) == [["GET"], ["PEXPIRE"], ["SET"]]
    assert _commands(lambda: store.destroy("sid-1")) == [["DEL"]]
    assert _commands(lambda: store.touch("sid-1", touched(stored))) == [["GET"]]  # gone: nothing written


@pytest.mark.parametrize("store_name", ["cache-redis"])
def test_a_touch_skipped_by_touch_after_costs_redis_one_read(counted_store, expsession):
    store = expsession.configure(spy_on=False, STORE_OPTIONS={"CACHE": "counted", "TOUCH_AFTER": 60})
    stored = document()
    store.set("sid-1", stored)
    assert _commands(lambda: store.touch("sid-1", touched(stored))) == [["GET"]]
