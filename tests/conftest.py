"""Fixtures shared by every test module.

``store_name`` parametrizes a test over every store backend on every real
service (django-redis style). ``expsession.configure(...)`` sets the
EXPSESSION setting the way express-session's test helper builds its app:
secret 'keyboard cat', a 60 s cookie unless COOKIE is given, resave and
saveUninitialized left at their (true) defaults, and CONCURRENCY
"overwrite" (express's whole-document save) unless the ``concurrency``
fixture says otherwise: a module that must also hold under "merge"
parametrizes it (``pytestmark = BOTH_CONCURRENCIES``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from django.test import AsyncClient, Client

from django_expsession import events
from django_expsession.stores import get_store
from django_expsession.stores.base import Store

from . import services, spy
from .app import app as _app

MEMORY = "django_expsession.stores.memory.MemoryStore"
DATABASE = "django_expsession.stores.db.DatabaseStore"
CACHE = "django_expsession.stores.cache.CacheStore"
REDIS = "django_expsession.stores.redis.RedisStore"


@dataclass(frozen=True)
class StoreParam:
    backend: str
    options: dict[str, Any]
    database: str | None = None  # a DATABASES alias the store needs
    service: str | None = None  # a service that must be running


# Every store on every service. Later backends add rows here.
STORES: dict[str, StoreParam] = {
    "memory": StoreParam(MEMORY, {}),
    "db-sqlite": StoreParam(DATABASE, {"USING": "default"}, database="default"),
    "db-postgres": StoreParam(DATABASE, {"USING": "postgres"}, database="postgres", service="postgres"),
    "db-mariadb": StoreParam(DATABASE, {"USING": "mariadb"}, database="mariadb", service="mariadb"),
    # connect-pg-simple's table (made once per run by the fixture pg_simple_table).
    "db-pgsimple": StoreParam(
        DATABASE,
        {
            "USING": "postgres",
            "TABLE_LAYOUT": "connect-pg-simple",
            "SCHEMA": "expsession_contract",
            "USER_INDEX": True,
        },
        database="postgres",
        service="postgres",
    ),
    "cache-locmem": StoreParam(CACHE, {"CACHE": "default"}),
    "cache-redis": StoreParam(CACHE, {"CACHE": "redis"}, service="redis"),
    "redis-url": StoreParam(REDIS, {"URL": services.REDIS_URL}, service="redis"),
    "redis-cache": StoreParam(REDIS, {"CACHE": "redis"}, service="redis"),
    # The URL of the suite's own cluster is filled in when it has started.
    "redis-cluster": StoreParam(REDIS, {"CLUSTER": True}, service="redis-cluster"),
}


# The rows whose records live in a Redis server (whose own clock freezegun cannot move).
REDIS_SERVICES = ("redis", "redis-cluster")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_name" in metafunc.fixturenames:
        # A test may narrow the rows with its own parametrize("store_name", [...]).
        if any("store_name" in mark.args[0] for mark in metafunc.definition.iter_markers("parametrize")):
            return
        rows = list(STORES)
        # express's request rules do not depend on the store: they run on the
        # fastest one, but for a cross-store subset (marked all_stores) that
        # checks saves, touches, destroys and rolling everywhere.
        if metafunc.module.__name__.startswith(
            "tests.express."
        ) and not metafunc.definition.get_closest_marker("all_stores"):
            rows = ["memory"]
        metafunc.parametrize("store_name", rows, ids=rows)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("store_name") if callspec else None
        if name is None:
            continue
        param = STORES[name]
        if param.service and not services.available(param.service):
            item.add_marker(pytest.mark.skip(reason=services.skip_reason(param.service)))
            continue
        if param.database and not item.get_closest_marker("django_db"):
            # Async views reach the database from another thread, so those
            # tests need real transactions rather than a wrapping one.
            transaction = item.get_closest_marker("asyncio") is not None or "async" in item.name
            item.add_marker(pytest.mark.django_db(databases=[param.database], transaction=transaction))


# Run a module's tests under both CONCURRENCY settings: express's rules must
# not depend on how a save writes.
BOTH_CONCURRENCIES = pytest.mark.parametrize("concurrency", ["overwrite", "merge"])


class ExpSession:
    """Configure EXPSESSION for one test and reach the configured store."""

    def __init__(
        self, settings: Any, store_name: str, concurrency: str = "overwrite", cluster_url: str | None = None
    ) -> None:
        self._settings = settings
        self.store_name = store_name
        self.param = STORES[store_name]
        self.concurrency = concurrency
        self.cluster_url = cluster_url

    def configure(self, *, spy_on: bool = True, **overrides: Any) -> Store:
        """Set EXPSESSION; returns the store, built from the new settings."""
        backend = self.param.backend
        if spy_on:
            from django.utils.module_loading import import_string

            spy_cls = spy.SPIES[import_string(backend)]
            backend = f"tests.spy.{spy_cls.__name__}"
        store_options = self.store_options
        store_options.update(overrides.pop("STORE_OPTIONS", {}))
        value: dict[str, Any] = {
            "SECRET": "keyboard cat",
            "COOKIE": {"MAX_AGE": 60},
            "STORE": {"BACKEND": backend, "OPTIONS": store_options},
            "CONCURRENCY": self.concurrency,
        }
        value.update(overrides)
        self._settings.EXPSESSION = value
        spy.calls.clear()
        store = get_store()
        store.clear()
        return store

    @property
    def store_options(self) -> dict[str, Any]:
        """This row's store OPTIONS (a new dict), with the URL of the suite's cluster on its row."""
        options = dict(self.param.options)
        if self.param.service == "redis-cluster":
            options["URL"] = self.cluster_url
        return options

    @property
    def store(self) -> Store:
        return get_store()

    @property
    def calls(self) -> Any:
        return spy.calls


@pytest.fixture
def store_name() -> str:
    """Overridden by parametrization; a plain test gets the memory store."""
    return "memory"


@pytest.fixture
def concurrency() -> str:
    """The CONCURRENCY ``expsession.configure()`` sets; parametrized by BOTH_CONCURRENCIES."""
    return "overwrite"


@pytest.fixture(scope="session")
def pg_simple_table(django_db_setup: None) -> str:
    """connect-pg-simple's table for STORES["db-pgsimple"] in the PostgreSQL test database.

    Made on a connection of its own, in autocommit, so that no test's
    transaction can roll it back; Django never flushes it (no model).
    """
    from . import pgtable

    if not services.available("postgres"):
        pytest.skip(services.skip_reason("postgres"))
    pgtable.create(pgtable.CONTRACT, user_index=True)
    return pgtable.CONTRACT.label


@pytest.fixture
def expsession(
    settings: Any, store_name: str, concurrency: str, request: pytest.FixtureRequest
) -> Iterator[ExpSession]:
    cluster_url = None
    if STORES[store_name].service == "redis-cluster":
        cluster_url = request.getfixturevalue("redis_cluster").url
    helper = ExpSession(settings, store_name, concurrency, cluster_url)
    if "TABLE_LAYOUT" in helper.param.options:
        request.getfixturevalue("pg_simple_table")
    yield helper
    if helper.param.service in REDIS_SERVICES or "TABLE_LAYOUT" in helper.param.options:
        get_store().clear()  # nothing flushes these between tests


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The suite's own Redis Cluster of three primaries (tests/cluster.py), started on first use."""
    if not services.available("redis-cluster"):
        pytest.skip(services.skip_reason("redis-cluster"))
    from .cluster import running_cluster

    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture
def app(settings: Any) -> Iterator[Any]:
    """Register the view for this test: ``@app`` on a (sync or async) function."""
    settings.ROOT_URLCONF = "tests.app"
    _app.reset()
    yield _app
    _app.reset()


@pytest.fixture
def async_app(settings: Any, app: Any) -> Any:
    settings.ROOT_URLCONF = "tests.app_async"
    return app


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def async_client() -> AsyncClient:
    return AsyncClient()


@pytest.fixture(autouse=True)
def _fresh_security_log_window() -> None:
    """Each test starts a new rate-limit window of the security log."""
    events.reset_rate_limit()


# -- a private Redis server -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process, self.port = process, port

    def crash(self) -> None:
        """The server dies at once, as in a crash (no orderly shutdown)."""
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of this test's own: the test may kill it, and its counters count only the test."""
    binary = shutil.which("redis-server")
    if binary is None:
        if services.IN_CI:
            pytest.fail("redis-server is not installed; CI must not skip the outage tests.")
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)  # waiting for a real server to listen, not for time to pass
    server = PrivateRedis(process, port)
    yield server
    if process.poll() is None:
        server.crash()
