"""The commands as an operator runs them: ``manage.py`` in a process of its own.

Exit codes, stdout and stderr as the shell sees them, no traceback for an
error, an interrupt or a closed input, Django's global options after the
action, and the refusal of a store that lives in each server's memory.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .services import POSTGRES

ROOT = Path(__file__).resolve().parent.parent
DATABASE_STORE = {"BACKEND": "django_expsession.stores.db.DatabaseStore"}
MEMORY_STORE = {"BACKEND": "django_expsession.stores.memory.MemoryStore"}


class Site:
    """A settings module on a fresh SQLite file, and ``manage.py`` run against it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.database = directory / "db.sqlite3"
        self.configure(DATABASE_STORE)

    def configure(self, store: dict[str, Any], database: dict[str, Any] | None = None) -> None:
        database = database or {"ENGINE": "django.db.backends.sqlite3", "NAME": str(self.database)}
        (self.directory / "ops_settings.py").write_text(
            "from tests.settings import *  # noqa: F403\n"
            f"DATABASES = {{'default': {database!r}}}\n"
            "EXPSESSION = {'SECRET': 'keyboard cat', 'RESAVE': False, 'SAVE_UNINITIALIZED': False, "
            f"'STORE': {store!r}}}\n"
        )

    def manage(
        self, *args: str, stdin: Any = subprocess.DEVNULL, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST_"))}
        env["PYTHONPATH"] = os.pathsep.join([str(self.directory), str(ROOT)])
        env["DJANGO_SETTINGS_MODULE"] = "ops_settings"
        return env

    def add(self, sid: str, *, expires_in: float, user: str | None = None) -> None:
        """A row written the way DatabaseStore writes it (the command only reads the columns it needs)."""
        expires = datetime.now(UTC) + timedelta(seconds=expires_in)
        stamp = expires.strftime("%Y-%m-%d %H:%M:%S.%f")
        document = f'{{"cookie":{{"originalMaxAge":60000,"expires":"{expires:%Y-%m-%dT%H:%M:%S}.000Z"}}}}'
        connection = sqlite3.connect(self.database)
        with connection:  # commits; closing is ours
            connection.execute(
                "INSERT INTO django_expsession (sid, data, expires, user_id, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [sid, document, stamp, user, stamp, stamp],
            )
        connection.close()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ops-site")
    site = Site(directory)
    result = site.manage("migrate", "--noinput", "-v", "0")
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture
def site(migrated: Path, tmp_path: Path) -> Site:
    """A copy of the migrated database for this test."""
    fresh = Site(tmp_path)
    fresh.database.write_bytes((migrated / "db.sqlite3").read_bytes())
    return fresh


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr


def test_django_options_after_the_action_are_accepted(site: Site) -> None:
    site.add("live-1", expires_in=3600, user="7")

    result = site.manage("expsession", "count", "--settings=ops_settings", "-v", "2", "--user", "7")

    assert (result.returncode, result.stdout, result.stderr) == (0, "1\n", "")


def test_list_prints_only_data_on_stdout_and_the_count_on_stderr(site: Site) -> None:
    site.add("later", expires_in=7200, user="7")
    site.add("sooner", expires_in=600)

    result = site.manage("expsession", "list", "--pythonpath", str(site.directory))

    assert result.returncode == 0
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["sooner", "later"]
    assert result.stderr == "2 sessions listed.\n"


def test_a_usage_error_after_the_action_exits_2_with_the_usage(site: Site) -> None:
    result = site.manage("expsession", "list", "--bogus")

    assert result.returncode == 2
    assert result.stderr.startswith("usage: manage.py expsession ")
    assert "unrecognized arguments: --bogus" in result.stderr


def test_show_of_an_unknown_session_exits_3(site: Site) -> None:
    result = site.manage("expsession", "show", "nobody")

    assert result.returncode == 3
    assert result.stdout == ""
    assert (
        result.stderr
        == "CommandError: No active session has the id 'nobody'; `expsession list` shows the ids.\n"
    )


def test_destroying_an_unknown_id_exits_3(site: Site) -> None:
    site.add("known", expires_in=600)

    result = site.manage("expsession", "destroy", "known", "unknown")

    assert result.returncode == 3
    assert result.stdout == "known\n"
    assert result.stderr.startswith(
        "Destroyed 1 session.\nCommandError: No active session had the id 'unknown'"
    )


@pytest.mark.parametrize(
    "args",
    [("expsession", "count"), ("expsession", "destroy", "--user", "1"), ("clearsessions",)],
    ids=" ".join,
)
def test_memory_store_refuses_to_act_for_another_process(site: Site, args: tuple[str, ...]) -> None:
    site.configure(MEMORY_STORE)

    result = site.manage(*args)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "CommandError: MemoryStore keeps sessions in the memory of each server process, so this command, "
        "which runs in a process of its own, cannot see or change them; use the admin (it runs in the "
        "server), or a shared store such as DatabaseStore or RedisStore.\n"
    )


def test_clearsessions_reports_on_stderr_and_leaves_stdout_empty(site: Site) -> None:
    site.add("old", expires_in=-60)
    site.add("live", expires_in=600)

    result = site.manage("clearsessions")

    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr.startswith("Removed 1 expired session in ")


def test_clearsessions_all_with_no_input_to_read_exits_1_without_a_traceback(site: Site) -> None:
    site.add("live", expires_in=600)

    result = site.manage("clearsessions", "--all")  # stdin is /dev/null

    assert result.returncode == 1
    no_traceback(result)
    assert result.stderr.endswith(
        "CommandError: clearsessions --all needs a 'yes' to go on, and its input ended without one; run it "
        "on a terminal, or add --no-input to remove every session without asking.\n"
    )


def test_ctrl_c_at_the_prompt_exits_130_without_a_traceback(site: Site) -> None:
    site.add("live", expires_in=600)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "clearsessions", "--all"],
        cwd=ROOT,
        env=site.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    prompt = ""
    while not prompt.endswith("to cancel: "):
        character = process.stderr.read(1)
        assert character, "the command ended before asking"
        prompt += character

    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 130
    assert out == ""
    assert err == "\nCommandError: Interrupted; nothing was removed.\n" or err.endswith(
        "CommandError: Interrupted; nothing was removed.\n"
    )
    assert "Traceback" not in err


def test_an_unreachable_redis_exits_1_with_one_sentence(site: Site) -> None:
    site.configure(
        {"BACKEND": "django_expsession.stores.redis.RedisStore", "OPTIONS": {"URL": "redis://127.0.0.1:1/0"}}
    )

    for args in (("clearsessions",), ("expsession", "list"), ("expsession", "count")):
        result = site.manage(*args)

        assert result.returncode == 1, args
        no_traceback(result)
        assert result.stderr.startswith("CommandError: RedisStore could not "), result.stderr
        assert "Redis at 127.0.0.1:1/0 failed (ConnectionError: " in result.stderr
        assert result.stderr.count("\n") == 1


def test_an_unreachable_database_exits_1_with_one_sentence(site: Site) -> None:
    site.configure(
        DATABASE_STORE,
        {"ENGINE": "django.db.backends.postgresql", **POSTGRES, "HOST": "127.0.0.1", "PORT": 1},
    )

    result = site.manage("clearsessions")

    assert result.returncode == 1
    no_traceback(result)
    assert result.stderr.startswith(
        "CommandError: DatabaseStore could not remove expired sessions: database 'default' "
        "(postgresql at 127.0.0.1:1) failed (OperationalError: "
    )
    assert result.stderr.endswith("; check that the server is running and that the settings point at it.\n")
