"""The cleanup benchmark's smoke mode: tiny tables, every database that runs, no timing targets.

It proves that ``benchmarks/cleanup.py`` still runs from a fresh checkout and
that both variants remove every expired row and keep the live ones; the
figures themselves come from a full run (docs/operations.rst).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import services

ROOT = Path(__file__).resolve().parent.parent
SUFFIX = os.environ.get("TEST_DB_SUFFIX", "")


@pytest.mark.parametrize(
    "database",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.services),
        pytest.param("mariadb", marks=pytest.mark.services),
    ],
)
def test_the_cleanup_benchmark_smoke_run_removes_expired_rows_and_keeps_live_ones(database: str) -> None:
    if database != "sqlite" and not services.available(database):
        pytest.skip(services.skip_reason(database))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST_"))}

    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/cleanup.py",
            "--smoke",
            "--database",
            database,
            "--db-name",
            f"bench_cleanup{SUFFIX}_smoke",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Smoke run: every expired row removed, live rows kept." in result.stdout
    assert f"{database}: 2,000 expired + 200 live rows" in result.stdout
