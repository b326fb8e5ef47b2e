"""A store whose server cannot be reached fails with a StoreError saying where.

The servers are real addresses on this machine: a port nothing listens on.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.db import OperationalError, connections

from django_expsession.stores import StoreError
from django_expsession.stores.cache import CacheStore
from django_expsession.stores.db import DatabaseStore

from .. import services
from .conftest import document


@pytest.fixture
def closed_port() -> int:
    """A local TCP port that refuses connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable_database(closed_port: int, django_db_blocker: Any) -> Iterator[str]:
    """A PostgreSQL alias pointing at the closed port (added for this test only).

    Added to the connection handler directly: overriding DATABASES is not
    supported by Django at run time.
    """
    alias = "unreachable"
    config = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": closed_port,
        "NAME": "sessions",
        "USER": "app",
        "PASSWORD": "s3cret-password",
        "OPTIONS": {"connect_timeout": 3},
    }
    filled = connections.configure_settings({"default": dict(connections.settings["default"]), alias: config})
    connections.settings[alias] = filled[alias]
    with django_db_blocker.unblock():
        yield alias
        connections[alias].close()
    del connections[alias]
    del connections.settings[alias]


@pytest.fixture
def unreachable_cache(settings: Any, closed_port: int) -> str:
    settings.CACHES = {
        **settings.CACHES,
        "unreachable": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://:s3cret-password@127.0.0.1:{closed_port}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 3},
        },
    }
    return "unreachable"


def _assert_names_store_and_server(error: StoreError, store: str, port: int) -> None:
    message = str(error)
    assert message.startswith(f"{store} could not ")
    assert f"127.0.0.1:{port}" in message
    assert "s3cret-password" not in message
    assert "Check that the server is running" in message


@pytest.mark.parametrize(
    "operation",
    [
        lambda store: store.get("sid-1"),
        lambda store: store.set("sid-1", document()),
        lambda store: store.touch("sid-1", document()),
        lambda store: store.destroy("sid-1"),
        lambda store: store.length(),
    ],
    ids=["get", "set", "touch", "destroy", "length"],
)
def test_database_store_on_a_closed_port_raises_store_error_naming_the_server(
    unreachable_database, closed_port, operation
):
    store = DatabaseStore(using=unreachable_database)
    with pytest.raises(StoreError) as raised:
        operation(store)
    _assert_names_store_and_server(raised.value, "DatabaseStore", closed_port)
    assert "database 'unreachable' (postgresql at" in str(raised.value)
    assert isinstance(raised.value.__cause__, OperationalError)
    assert isinstance(raised.value, OSError)


async def test_database_store_async_twin_on_a_closed_port_raises_store_error(
    unreachable_database, closed_port
):
    with pytest.raises(StoreError) as raised:
        await DatabaseStore(using=unreachable_database).aget("sid-1")
    _assert_names_store_and_server(raised.value, "DatabaseStore", closed_port)


@pytest.fixture
def unreachable_mysql(closed_port: int, django_db_blocker: Any) -> Iterator[str]:
    """A MySQL/MariaDB alias pointing at the closed port, never connected before."""
    services.require_driver("mariadb")  # closing the alias loads the driver
    alias = "unreachable_mysql"
    config = {
        "ENGINE": "django.db.backends.mysql",
        "HOST": "127.0.0.1",
        "PORT": closed_port,
        "NAME": "sessions",
        "USER": "app",
        "OPTIONS": {"connect_timeout": 3},
    }
    filled = connections.configure_settings({"default": dict(connections.settings["default"]), alias: config})
    connections.settings[alias] = filled[alias]
    with django_db_blocker.unblock():
        yield alias
        connections[alias].close()
    del connections[alias]
    del connections.settings[alias]


# Found by benchmarks/load.py: on MySQL/MariaDB the store's SQL depends on
# the server (``mysql_is_mariadb`` connects to ask); it is built inside the
# store's error wrapper, so a store whose server is down from the start
# raises StoreError on its first read, save or touch as well.
@pytest.mark.parametrize(
    "operation",
    [
        lambda store: store.get("sid-1"),
        lambda store: store.set("sid-1", document()),
        lambda store: store.replace("sid-1", document(), 1),
        lambda store: store.touch("sid-1", document()),
    ],
    ids=["get", "set", "replace", "touch"],
)
def test_database_store_on_a_closed_mysql_port_raises_store_error(unreachable_mysql, closed_port, operation):
    with pytest.raises(StoreError) as raised:
        operation(DatabaseStore(using=unreachable_mysql))
    _assert_names_store_and_server(raised.value, "DatabaseStore", closed_port)
    assert isinstance(raised.value.__cause__, OperationalError)


@pytest.mark.parametrize(
    "operation",
    [
        lambda store: store.get("sid-1"),
        lambda store: store.set("sid-1", document()),
        lambda store: store.touch("sid-1", document()),
        lambda store: store.destroy("sid-1"),
        lambda store: store.length(),
        lambda store: store.clear(),
    ],
    ids=["get", "set", "touch", "destroy", "length", "clear"],
)
def test_cache_store_on_a_closed_redis_port_raises_store_error_naming_the_server(
    unreachable_cache, closed_port, operation
):
    store = CacheStore(cache=unreachable_cache)
    with pytest.raises(StoreError) as raised:
        operation(store)
    _assert_names_store_and_server(raised.value, "CacheStore", closed_port)
    assert "cache 'unreachable' (RedisCache at redis://:***@127.0.0.1:" in str(raised.value)
    assert isinstance(raised.value.__cause__, redis.ConnectionError)


async def test_cache_store_async_twin_on_a_closed_redis_port_raises_store_error(
    unreachable_cache, closed_port
):
    with pytest.raises(StoreError) as raised:
        await CacheStore(cache=unreachable_cache).aset("sid-1", document())
    _assert_names_store_and_server(raised.value, "CacheStore", closed_port)
