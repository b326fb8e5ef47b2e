"""Fixtures of the live interop tests: a real Express app beside our Django app.

Each test starts ``node app.js`` (express 4 or express 5, parametrized) on a
free port and configures the in-process Django app from the same
``Pairing``; both use Redis at ``REDIS_URL`` under a key prefix of the
test's own. Express keeps its sessions with connect-redis, Django with
RedisStore; a test or module that runs over every shared store
parametrizes ``shared_store`` indirectly with ``SHARED_STORES``
(``pytest.mark.parametrize("shared_store", SHARED_STORES, indirect=True)``),
and then also runs with Django on CacheStore over the django-redis cache
``redis``. With ``shared_store`` "DatabaseStore" both use PostgreSQL
instead: connect-pg-simple and DatabaseStore's connect-pg-simple layout on
a table of the test's own (``pg_table``), in the test database, so such a
test needs ``transaction=True`` (Node must see what Django commits).
Without Node.js or the npm packages (``npm ci --prefix tests/interop``) the
tests are skipped with the reason, except under CI (``CI=true``), where
that is a failure, like a missing service.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from django_expsession.stores.pgsimple import Table

from .. import pgtable, services
from .harness import (
    DIRECTIONS,
    VERSIONS,
    Browser,
    DjangoApp,
    ExpressApp,
    Pairing,
    PgStored,
    Stored,
    in_order,
    launch_express,
    missing_node_parts,
)

NODE_PROBLEM = missing_node_parts()
EXPRESS_APPS = pytest.StashKey[list[ExpressApp]]()


@pytest.fixture(autouse=True)
def _needs_node() -> None:
    if NODE_PROBLEM is not None:
        if services.IN_CI:
            pytest.fail(f"{NODE_PROBLEM}, and CI=true: CI must not skip the interop tests.")
        pytest.skip(NODE_PROBLEM)


def _needs(service: str) -> None:
    if not services.available(service):
        pytest.skip(services.skip_reason(service))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Show what Node printed when a test fails."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for app in item.stash.get(EXPRESS_APPS, []):
            report.sections.append((f"{app.label} on port {app.port}", app.output()))


@pytest.fixture(params=VERSIONS)
def express_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shared_store(request: pytest.FixtureRequest) -> str:
    """The Django store sharing Express's sessions: RedisStore unless parametrized."""
    return str(getattr(request, "param", "RedisStore"))


@pytest.fixture
def pairing(shared_store: str) -> Pairing:
    """The paired configuration, under a key prefix (or in a table) no other test uses."""
    token = secrets.token_hex(4)
    if shared_store == "DatabaseStore":
        _needs("postgres")
        return Pairing.over_postgres(f"session_interop_{token}", pgtable.url(), pgtable.ALIAS)
    _needs("redis")
    root = f"interop:{token}:"
    if shared_store == "CacheStore":
        return Pairing.over_cache("redis", root + "expsession:")
    return Pairing(prefix=root + "sess:")


@pytest.fixture
def shared_backend(request: pytest.FixtureRequest, pairing: Pairing) -> None:
    """What the pairing's store needs, made ready and cleaned up: Redis, or a table."""
    request.getfixturevalue("pg_table" if pairing.store == "DatabaseStore" else "redis_client")


@pytest.fixture
def pg_table(pairing: Pairing) -> Iterator[Table]:
    """connect-pg-simple's table of this test, made as ``expsession_createtable`` makes it."""
    table = Table(pairing.table)
    pgtable.create(table)
    yield table
    pgtable.drop(table)


@pytest.fixture
def redis_client(pairing: Pairing) -> Iterator[redis.Redis]:
    _needs("redis")
    client = redis.Redis.from_url(services.REDIS_URL, decode_responses=True)
    yield client
    for prefix in (pairing.prefix, pairing.index_prefix()):
        for key in client.scan_iter(match=prefix + "*", count=500):
            client.unlink(key)
    client.close()


@pytest.fixture
def stored(request: pytest.FixtureRequest, pairing: Pairing) -> Stored | PgStored:
    if pairing.store == "DatabaseStore":
        return PgStored(request.getfixturevalue("pg_table"), pgtable.ALIAS)
    return Stored(request.getfixturevalue("redis_client"), pairing.prefix)


@pytest.fixture
def start_express(
    request: pytest.FixtureRequest,
    express_version: str,
    pairing: Pairing,
    tmp_path: Any,
    shared_backend: None,
) -> Iterator[Callable[..., ExpressApp]]:
    """Start an Express app: ``start_express(**changes to the pairing)``.

    ``env`` adds or replaces environment variables of ``app.js``.
    """
    apps = request.node.stash.setdefault(EXPRESS_APPS, [])

    def start(*, env: dict[str, str] | None = None, **changes: Any) -> ExpressApp:
        environ = {**pairing.replace(**changes).express_env(services.REDIS_URL), **(env or {})}
        app = launch_express(express_version, environ, tmp_path / "express")
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()


@pytest.fixture
def use_django(settings: Any, pairing: Pairing, shared_backend: None) -> Callable[..., DjangoApp]:
    """Configure the Django app: ``use_django(**changes to the pairing)``.

    ``expsession`` adds EXPSESSION keys that have no Express counterpart.
    """

    def configure(*, expsession: dict[str, Any] | None = None, **changes: Any) -> DjangoApp:
        paired = pairing.replace(**changes)
        settings.EXPSESSION = {**paired.expsession(services.REDIS_URL), **(expsession or {})}
        settings.SESSION_COOKIE_NAME = paired.name
        settings.ROOT_URLCONF = "tests.interop.urls"
        if "tests.interop.urls.SharedLoginMiddleware" not in settings.MIDDLEWARE:
            auth = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
            middleware = list(settings.MIDDLEWARE)
            middleware.insert(auth + 1, "tests.interop.urls.SharedLoginMiddleware")
            settings.MIDDLEWARE = middleware
        if paired.trust_proxy is not None:
            settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        return DjangoApp()

    return configure


@pytest.fixture
def express(start_express: Callable[..., ExpressApp]) -> ExpressApp:
    """The Express app on the pairing as it is."""
    return start_express()


@pytest.fixture
def django_app(use_django: Callable[..., DjangoApp], db: None) -> DjangoApp:
    """The Django app on the pairing as it is."""
    return use_django()


@pytest.fixture(params=list(DIRECTIONS))
def direction(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def first_then_second(direction: str, express: ExpressApp, django_app: DjangoApp) -> tuple[Any, Any]:
    """The app a scenario starts on, and the other one."""
    return in_order(direction, express, django_app)


@pytest.fixture
def browser() -> Browser:
    return Browser()


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", "alice@example.com", "wonderland")
