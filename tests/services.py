"""Where the test services live, and whether they are up.

Connection settings come from the environment with local defaults. Run
locally with a service down, its tests are skipped with a hint; under CI
(``CI=true``) a missing service fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import socket

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
START_HINT = "start it with ../shared/services.sh (or set the {var} variables)"

POSTGRES = {
    "HOST": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
    "PORT": int(os.environ.get("POSTGRES_PORT", "5432")),
    "USER": os.environ.get("POSTGRES_USER", "postgres"),
    "PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
    "NAME": os.environ.get("POSTGRES_DB", "test"),
}
MARIADB = {
    "HOST": os.environ.get("MARIADB_HOST", "127.0.0.1"),
    "PORT": int(os.environ.get("MARIADB_PORT", "3306")),
    "USER": os.environ.get("MARIADB_USER", "root"),
    "PASSWORD": os.environ.get("MARIADB_PASSWORD", ""),
    "NAME": os.environ.get("MARIADB_DB", "test"),
}
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _redis_host_port() -> tuple[str, int]:
    rest = REDIS_URL.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = rest.partition(":")
    return host or "127.0.0.1", int(port or 6379)


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# The MariaDB driver (mysqlclient) needs C headers to install: the README's
# test command does not ask for it, so without it those tests skip (CI has it).
DRIVERS = {"postgres": "psycopg", "mariadb": "MySQLdb", "redis": "redis"}
HAVE_DRIVER = {service: _importable(module) for service, module in DRIVERS.items()}
# The Redis Cluster is the test-suite's own (tests/cluster.py): it needs the
# server and the command-line tool, not a running service.
CLUSTER_TOOLS = ("redis-server", "redis-cli")
UP = {
    "postgres": HAVE_DRIVER["postgres"] and reachable(POSTGRES["HOST"], POSTGRES["PORT"]),
    "mariadb": HAVE_DRIVER["mariadb"] and reachable(MARIADB["HOST"], MARIADB["PORT"]),
    "redis": HAVE_DRIVER["redis"] and reachable(*_redis_host_port()),
    "redis-cluster": HAVE_DRIVER["redis"] and all(shutil.which(tool) for tool in CLUSTER_TOOLS),
}
ENV_VARS = {"postgres": "POSTGRES_*", "mariadb": "MARIADB_*", "redis": "REDIS_URL"}


def available(service: str) -> bool:
    """True when the service can be used; in CI a missing one is an error."""
    if UP[service]:
        return True
    if IN_CI and service == "redis-cluster":
        raise RuntimeError(f"CI=true: CI must not skip the Redis Cluster tests, and {skip_reason(service)}.")
    if IN_CI:
        raise RuntimeError(
            f"{service} is not reachable and CI=true: CI must not skip backend tests; "
            "run ../shared/services.sh first."
        )
    return False


def require_driver(service: str) -> None:
    """Skip (fail in CI) a test that needs only the service's driver, not its server."""
    import pytest

    if HAVE_DRIVER[service]:
        return
    if IN_CI:
        raise RuntimeError(f"CI=true: CI must not skip backend tests, and {skip_reason(service)}.")
    pytest.skip(skip_reason(service))


def skip_reason(service: str) -> str:
    if service == "redis-cluster":
        if not HAVE_DRIVER["redis"]:
            return skip_reason("redis")
        return "redis-server and redis-cli are needed to start a local Redis Cluster (apt install redis)"
    if not HAVE_DRIVER[service]:
        extra = {"postgres": "postgres", "mariadb": "mysql", "redis": "redis"}[service]
        return (
            f"the {DRIVERS[service]} driver is not installed; pip install -e '.[test,{extra}]' "
            "(mysqlclient needs pkg-config and the MariaDB/MySQL client headers)"
        )
    return f"{service} is not reachable; " + START_HINT.format(var=ENV_VARS[service])
