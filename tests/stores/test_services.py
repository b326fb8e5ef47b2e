"""A service that is down: skipped with a hint locally, a failure under CI.

Runs pytest in a subprocess with PostgreSQL pointed at a closed port, so
nothing shared is stopped. Only PostgreSQL rows are selected, so the child
run touches no other server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SELECTION = ["tests/stores/test_contract.py", "-k", "db-postgres and not async and set_then_get"]


def _run(closed_port: int, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "POSTGRES_PORT": str(closed_port),
        "TEST_DB_SUFFIX": os.environ.get("TEST_DB_SUFFIX", "") + "_down",
        "CI": "",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *SELECTION],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_service_that_is_down_is_skipped_locally_with_how_to_start_it(closed_port):
    result = _run(closed_port)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "postgres is not reachable; start it with ../shared/services.sh" in result.stdout
    assert "POSTGRES_*" in result.stdout


def test_a_service_that_is_down_fails_the_run_under_ci(closed_port):
    result = _run(closed_port, CI="true")
    assert result.returncode != 0
    assert "skipped" not in result.stdout
    assert "postgres is not reachable and CI=true" in result.stdout + result.stderr
