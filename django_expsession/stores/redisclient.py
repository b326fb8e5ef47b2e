"""Redis clients for RedisStore: where they come from and how they end.

The sync client is built from a ``redis://`` URL or borrowed from a
django-redis cache (so Sentinel, passwords and TLS are configured once, in
``CACHES``). The asyncio client is derived from the same settings, one per
running event loop: an asyncio connection belongs to the loop that opened
it, and the test-suite, ``async_to_sync`` and ASGI servers each run their
own loops.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.connection
import redis.asyncio.sentinel
import redis.sentinel

from .cachekeys import describe as describe_cache

#: What a Redis failure looks like: the driver's errors and the socket's (a
#: cluster client's own errors, no slot owner known and the like, are not
#: RedisErrors).
ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, redis.exceptions.RedisClusterException, OSError)

# Connection settings that mean the same to the sync and the asyncio
# connection classes (the rest, parser classes and the like, do not carry over).
_PORTABLE = frozenset(
    {
        "host",
        "port",
        "path",
        "db",
        "username",
        "password",
        "credential_provider",
        "client_name",
        "protocol",
        "socket_timeout",
        "socket_connect_timeout",
        "socket_keepalive",
        "socket_keepalive_options",
        "socket_read_size",
        "retry_on_timeout",
        "health_check_interval",
        "encoding",
        "encoding_errors",
        "decode_responses",
        "ssl_keyfile",
        "ssl_certfile",
        "ssl_cert_reqs",
        "ssl_ca_certs",
        "ssl_ca_data",
        "ssl_check_hostname",
        "ssl_min_version",
        "ssl_ciphers",
    }
)


def cache_client(alias: str) -> redis.Redis:
    """The redis-py client of the django-redis cache ``alias`` (its shared pool)."""
    from django_redis import get_redis_connection  # type: ignore[import-untyped]

    client: redis.Redis = get_redis_connection(alias)
    return client


def check_cache(alias: str) -> None:
    """Fail now, not at the first request, when ``alias`` is no django-redis cache."""
    from django.core.cache import caches
    from django.utils.module_loading import import_string

    config = caches.settings.get(alias)
    if config is None:
        raise ValueError(f"cache should be an alias of CACHES; there is no cache {alias!r}.")
    try:
        backend = import_string(config.get("BACKEND", ""))
    except ImportError:
        backend = None
    from django_redis.cache import RedisCache  # type: ignore[import-untyped]

    if not (isinstance(backend, type) and issubclass(backend, RedisCache)):
        raise ValueError(
            f"cache {alias!r} should be a django-redis cache (django_redis.cache.RedisCache); "
            "for another cache use CacheStore, or give RedisStore a url."
        )


def describe(client: redis.Redis | None, cache: str | None) -> str:
    """``Redis at host:port/db`` (or the cache alias and its LOCATION), no credentials."""
    if cache is not None:
        return describe_cache(cache)
    assert client is not None
    return "Redis at " + _where(client.connection_pool)


def _where(pool: Any) -> str:
    kwargs = pool.connection_kwargs
    if isinstance(pool, redis.sentinel.SentinelConnectionPool):
        sentinels = ",".join(_where(s.connection_pool) for s in pool.sentinel_manager.sentinels)
        return f"Sentinel service {pool.service_name!r} via {sentinels}, db {kwargs.get('db', 0)}"
    if kwargs.get("path"):
        return f"unix:{kwargs['path']}/{kwargs.get('db', 0)}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def asyncio_twin(client: redis.Redis) -> tuple[redis.asyncio.Redis, list[redis.asyncio.Redis]]:
    """A new asyncio client that reaches the server ``client`` reaches, the same way.

    Returned with the other clients it made (a Sentinel's), to close with it.
    """
    pool = getattr(client, "connection_pool", None)  # a cluster client has none
    if not isinstance(pool, redis.ConnectionPool):
        raise TypeError(
            f"RedisStore cannot build an asyncio client like {type(client).__name__} with "
            f"{type(pool).__name__}; give RedisStore a url for async views."
        )
    kwargs = {key: value for key, value in pool.connection_kwargs.items() if key in _PORTABLE}
    if isinstance(pool, redis.sentinel.SentinelConnectionPool):
        manager = pool.sentinel_manager
        sentinels = [
            (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
            for s in manager.sentinels
        ]
        sentinel_kwargs = {k: v for k, v in (manager.sentinel_kwargs or {}).items() if k in _PORTABLE}
        twin = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]
            sentinels, min_other_sentinels=manager.min_other_sentinels, sentinel_kwargs=sentinel_kwargs
        )
        role = twin.master_for if pool.is_master else twin.slave_for
        return role(pool.service_name, **kwargs), list(twin.sentinels)
    connection_class: type[Any] = redis.asyncio.connection.Connection
    if issubclass(pool.connection_class, redis.SSLConnection):
        connection_class = redis.asyncio.connection.SSLConnection
    elif issubclass(pool.connection_class, redis.UnixDomainSocketConnection):
        connection_class = redis.asyncio.connection.UnixDomainSocketConnection
    async_pool = redis.asyncio.ConnectionPool(connection_class=connection_class, **kwargs)
    return redis.asyncio.Redis.from_pool(async_pool), []


class LoopClients:
    """One asyncio client per running event loop, closed when its loop shuts down.

    A loop shut down by ``asyncio.run``/``asyncio.Runner`` (pytest-asyncio,
    ``async_to_sync``, uvicorn) closes the async generators started in it.
    Each client is held open by one, whose ``finally`` closes the client's
    connections inside that loop (no "unclosed connection" warnings) and
    forgets the loop (no leak of finished loops).
    """

    def __init__(self, factory: Callable[[], tuple[redis.asyncio.Redis, list[redis.asyncio.Redis]]]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        with _lock:
            client = self._clients.get(loop)
        if client is not None:
            return client
        client, others = self._factory()
        keeper = _closed_with_loop(loop, self._clients, client, *others)
        # Started here, so the loop's shutdown_asyncgens() closes it; it
        # reaches its yield without suspending, so no other task interleaves.
        await anext(keeper)
        with _lock:
            self._clients[loop] = client
            # Held by the module, not the store: a store dropped while its
            # loop runs still gets its connections closed with the loop.
            _keepers.setdefault(loop, []).append(keeper)
        return client


_lock = threading.Lock()
_keepers: dict[asyncio.AbstractEventLoop, list[AsyncIterator[None]]] = {}


async def _closed_with_loop(
    loop: asyncio.AbstractEventLoop,
    clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis],
    *owned: redis.asyncio.Redis,
) -> AsyncIterator[None]:
    try:
        yield
    finally:
        with _lock:
            clients.pop(loop, None)
            _keepers.pop(loop, None)
        for client in owned:
            await client.aclose()
