"""``manage.py clearsessions`` and ``manage.py expsession`` on every store.

Sessions are written through the store API with express-shaped documents;
freezegun moves the clock so that some of them expire. The contract under
test: stdout carries only data, messages and counts go to stderr, and the
exit code is 0 (done), 1 (error), 2 (usage) or 3 (not found). What only a
separate process shows (exit codes, no traceback, Django's global options
after the action, MemoryStore's refusal) is in test_commands_process.py.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError
from django.utils import timezone
from freezegun import freeze_time

from django_expsession import signals, signing
from django_expsession.clock import format_iso, now_ms
from django_expsession.events import id_hash
from django_expsession.management.support import NOT_FOUND
from django_expsession.models import Session
from django_expsession.stores import get_store
from django_expsession.stores.base import Store, StoreError
from django_expsession.stores.db import DatabaseStore
from django_expsession.stores.memory import MemoryStore

# Soonest to expire first: the order ``expsession list`` prints them in.
ACTIVE_BY_EXPIRY = ["anon-1", "bob-1", "alice-2", "alice-1", "bob-browser"]
ACTIVE = set(ACTIVE_BY_EXPIRY)
EXPIRED = {"alice-old", "anon-old"}
EXPIRES_ITSELF = {"cache-locmem", "cache-redis", "redis-url", "redis-cache", "redis-cluster"}


def express_doc(max_age: int | None, user: int | None = None, **data: Any) -> dict[str, Any]:
    """A document as express-session stores it (``max_age`` in seconds)."""
    cookie = {
        "originalMaxAge": None if max_age is None else max_age * 1000,
        "expires": None if max_age is None else format_iso(now_ms() + max_age * 1000),
        "httpOnly": True,
        "path": "/",
    }
    document: dict[str, Any] = {"cookie": cookie}
    if user is not None:
        document["_auth_user_id"] = str(user)
    document.update(data)
    return document


def run(*args: str, stderr: io.StringIO | None = None, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), stderr or io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def fails(*args: str, **options: Any) -> CommandError:
    with pytest.raises(CommandError) as raised:
        run(*args, **options)
    return raised.value


class Terminal(io.StringIO):
    """An output stream that is a terminal, as ``manage.py`` run by hand has."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock() -> Iterator[Any]:
    # Stores check expiry against this clock (the cache store too, so its
    # entries read as expired even while Redis still holds them). A future
    # date: RedisStore's keys expire at absolute times, which a real Redis
    # server would find already past for a clock frozen before its own now.
    with freeze_time("2030-03-01 12:00:00") as frozen:
        yield frozen


@pytest.fixture
def store(expsession: Any, clock: Any) -> Store:
    """Five active sessions (three users, one anonymous) and two expired ones."""
    store = expsession.configure(spy_on=False)
    store.set("alice-1", express_doc(3600, user=1, views=3))
    store.set("alice-2", express_doc(3000, user=1, cart=["tea", "café"]))
    store.set("bob-1", express_doc(2400, user=2))
    store.set("bob-browser", express_doc(None, user=2))
    store.set("anon-1", express_doc(1800))
    store.set("alice-old", express_doc(60, user=1))
    store.set("anon-old", express_doc(60))
    clock.tick(120)
    return store


@pytest.fixture
def kept(store: Store, store_name: str) -> set[str]:
    """The expired sessions this store keeps until they are cleared (a cache keeps none)."""
    return set() if store_name in EXPIRES_ITSELF else EXPIRED


def live_sids(store: Store) -> set[str]:
    return {sid for sid, _ in store.all()}


# -- clearsessions ---------------------------------------------------------------------------


def test_clearsessions_removes_expired_sessions_and_reports_on_stderr(
    store: Store, store_name: str, kept: set[str]
) -> None:
    out, err = run("clearsessions")

    assert out == ""
    if store_name.startswith("redis"):
        assert err.startswith("Redis removes expired sessions itself, each at its expiry.\nPruned ")
    elif store_name.startswith("cache"):
        assert err.startswith("Nothing to remove: cache ")
        assert err.endswith("removes expired sessions itself, each entry at its session's expiry.\n")
    else:
        assert err.startswith(f"Removed {len(kept)} expired sessions in ")
        assert err.endswith(" s.\n")
    assert store.count_expired() == 0
    assert live_sids(store) == ACTIVE
    assert store.get("alice-old") is None


@pytest.mark.parametrize("store_name", ["memory", "db-sqlite", "db-postgres", "db-mariadb"])
def test_clearsessions_a_second_time_has_nothing_to_remove(store: Store) -> None:
    run("clearsessions")

    _, err = run("clearsessions")

    assert err.startswith("Removed 0 expired sessions in ")
    assert live_sids(store) == ACTIVE


@pytest.mark.parametrize("store_name", ["memory", "db-sqlite", "db-postgres", "db-mariadb"])
def test_clearsessions_dry_run_counts_and_removes_nothing(store: Store) -> None:
    assert run("clearsessions", "--dry-run") == (
        "",
        "Would remove 2 expired sessions; nothing was removed.\n",
    )
    assert store.count_expired() == 2


@pytest.mark.parametrize("store_name", ["db-sqlite", "db-postgres", "db-mariadb"])
def test_clearsessions_verbose_says_how_the_batches_went(store: Store) -> None:
    _, err = run("clearsessions", "-v", "2", "--batch-size", "1")

    first, second = err.splitlines()
    assert re.fullmatch(
        r"[23] batches of about [01] rows?, following the (expiry index|table's storage order); "
        r"slowest \d+ ms; 0 retried\.",
        first,
    ), first
    assert second.startswith("Removed 2 expired sessions in ")


@pytest.mark.parametrize("store_name", ["db-sqlite", "db-postgres", "db-mariadb"])
def test_clearsessions_shows_progress_on_a_terminal(expsession: Any) -> None:
    store = expsession.configure(spy_on=False)
    assert isinstance(store, DatabaseStore)
    now = timezone.now()  # the real clock: the progress line needs time to pass
    Session.objects.using(store.db_for_write()).bulk_create(
        Session(sid=f"old-{n}", data="{}", expires=now - timedelta(minutes=n + 1)) for n in range(3)
    )
    terminal = Terminal()

    run("clearsessions", "--batch-size", "1", stderr=terminal)

    shown = terminal.getvalue()
    assert re.match(r"\rRemoving expired sessions: 1 of 3 \(33%\), [\d,]+/s, about \d+\.\d s left", shown), (
        shown
    )
    assert re.search(r"\r *\rRemoved 3 expired sessions in \d+\.\d s\.\n$", shown), shown
    assert store.count_expired() == 0


@pytest.mark.parametrize("store_name", ["db-sqlite", "db-postgres", "db-mariadb"])
def test_clearsessions_max_seconds_stops_cleanly_and_the_next_run_resumes(store: Store) -> None:
    _, err = run("clearsessions", "--max-seconds", "0.001")  # less than one batch's budget

    assert err.startswith("Removed 0 expired sessions in ")
    assert err.endswith(
        "and stopped at the --max-seconds limit; run clearsessions again to remove the rest.\n"
    )
    assert store.count_expired() == 2

    run("clearsessions", "--max-seconds", "60")

    assert store.count_expired() == 0


@pytest.mark.parametrize("store_name", ["redis-url", "redis-cache"])
def test_clearsessions_on_redis_prunes_the_per_user_indexes(store: Any) -> None:
    # As Redis does at their expiry (its own clock is not frozen).
    store.client.delete(store.key("alice-1"), store.key("alice-old"))

    _, err = run("clearsessions")

    assert "Pruned 2 ids of ended sessions from 2 per-user indexes in " in err
    assert {m.decode() for m in store.client.smembers(store.user_key(1))} == {"alice-2"}


@pytest.mark.parametrize("store_name", ["redis-url", "redis-cache"])
def test_clearsessions_dry_run_on_redis_counts_the_ids_it_would_prune(store: Any) -> None:
    store.client.delete(store.key("alice-1"))

    _, err = run("clearsessions", "--dry-run")

    assert err.endswith("Would prune 1 id of ended sessions from 2 per-user indexes; nothing was changed.\n")
    assert len(store.client.smembers(store.user_key(1))) == 3


@pytest.mark.parametrize("store_name", ["memory", "db-sqlite", "db-postgres", "db-mariadb"])
def test_clearsessions_batch_size_applies_to_this_run_only(store: Store) -> None:
    _, err = run("clearsessions", "--batch-size=1")

    if isinstance(store, DatabaseStore):
        assert err.startswith("Removed 2 expired sessions in ")
        assert store.batch_size == 1000  # the configured store is left alone
    else:
        assert err.startswith("--batch-size is ignored: MemoryStore does not delete in batches.\nRemoved 2 ")


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_clearsessions_rejects_a_batch_size_below_one(value: str) -> None:
    assert "--batch-size: expected a whole number >= 1" in str(
        fails("clearsessions", f"--batch-size={value}")
    )


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_clearsessions_rejects_max_seconds_that_are_not_a_positive_number(value: str) -> None:
    assert "--max-seconds: expected a number of seconds > 0" in str(
        fails("clearsessions", f"--max-seconds={value}")
    )


def test_clearsessions_all_with_no_input_removes_every_session(store: Store, kept: set[str]) -> None:
    assert run("clearsessions", "--all", "--no-input") == ("", f"Removed all {5 + len(kept)} sessions.\n")
    assert store.length() == 0
    assert store.count_expired() == 0


def test_clearsessions_all_dry_run_counts_every_session_and_removes_nothing(
    store: Store, kept: set[str]
) -> None:
    out, err = run("clearsessions", "--all", "--dry-run")

    assert (out, err) == ("", f"Would remove all {5 + len(kept)} sessions; nothing was removed.\n")
    assert live_sids(store) == ACTIVE


def test_clearsessions_all_on_an_empty_store_says_so_without_asking(expsession: Any) -> None:
    store = expsession.configure(spy_on=False)

    assert run("clearsessions", "--all") == ("", "There are no sessions to remove.\n")
    assert store.length() == 0


def test_clearsessions_all_asks_on_stderr_and_any_answer_but_yes_cancels(
    store: Store, kept: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))

    out, err = run("clearsessions", "--all")

    assert out == ""
    assert err == (
        f"This removes all {5 + len(kept)} sessions from {type(store).__name__} and logs every user out.\n"
        "Type 'yes' to continue, or anything else to cancel: Cancelled; nothing was removed.\n"
    )
    assert live_sids(store) == ACTIVE


def test_clearsessions_all_removes_every_session_when_the_answer_is_yes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))

    _, err = run("clearsessions", "--all")

    assert err.endswith("Removed all 7 sessions.\n") or err.endswith("Removed all 5 sessions.\n")
    assert store.length() == 0


def test_clearsessions_all_without_an_answer_is_an_error_not_an_eof_traceback(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    error = fails("clearsessions", "--all")

    assert str(error) == (
        "clearsessions --all needs a 'yes' to go on, and its input ended without one; run it on a "
        "terminal, or add --no-input to remove every session without asking."
    )
    assert error.returncode == 1
    assert live_sids(store) == ACTIVE


# -- failures ---------------------------------------------------------------------------------


class DictStore(Store):
    """The least a store must do: get, set and destroy."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.records: dict[str, str] = {}

    def get(self, sid: str) -> dict[str, Any] | None:
        text = self.records.get(sid)
        return None if text is None else json.loads(text)  # type: ignore[no-any-return]

    def set(self, sid: str, data: dict[str, Any]) -> None:
        self.records[sid] = json.dumps(data)

    def destroy(self, sid: str) -> None:
        self.records.pop(sid, None)


class BatchesStore(MemoryStore):
    """A store of its own kind that deletes in batches and loses its server after the first."""

    def clear_expired_batches(self) -> Iterator[int]:
        yield 1
        raise StoreError(
            "BatchesStore could not clear expired sessions: redis at 10.0.0.9:6379 failed "
            "(ConnectionError: Connection refused). Check that the server is running and reachable."
        )


@pytest.fixture
def dict_store(settings: Any) -> Store:
    settings.EXPSESSION = {"SECRET": "keyboard cat", "STORE": {"BACKEND": "tests.test_commands.DictStore"}}
    store = get_store()
    store.set("alice-1", express_doc(3600, user=1))
    return store


def test_clearsessions_reports_what_was_removed_before_a_failure(settings: Any) -> None:
    settings.EXPSESSION = {"STORE": {"BACKEND": "tests.test_commands.BatchesStore"}}

    error = fails("clearsessions")

    assert str(error) == (
        "BatchesStore could not clear expired sessions: redis at 10.0.0.9:6379 failed (ConnectionError: "
        "Connection refused). Check that the server is running and reachable (1 session had been "
        "removed before the failure; run clearsessions again once it is fixed)."
    )
    assert isinstance(error.__cause__, StoreError)


@pytest.mark.django_db(databases=["default"])
def test_clearsessions_on_a_database_without_the_table_says_to_migrate(settings: Any) -> None:
    settings.EXPSESSION = {"STORE": {"BACKEND": "django_expsession.stores.db.DatabaseStore"}}
    from django.db import connection

    with connection.cursor() as cursor:  # the test's transaction takes it back
        cursor.execute("ALTER TABLE django_expsession RENAME TO django_expsession_away")

    error = fails("clearsessions")

    assert str(error).startswith(
        "DatabaseStore could not remove expired sessions: the session table is missing ("
    )
    assert str(error).endswith("); run manage.py migrate first.")
    assert isinstance(error.__cause__, OperationalError)


def test_clearsessions_on_an_unreachable_redis_is_an_error(settings: Any) -> None:
    settings.EXPSESSION = {
        "STORE": {
            "BACKEND": "django_expsession.stores.redis.RedisStore",
            "OPTIONS": {"URL": "redis://127.0.0.1:1/0"},
        }
    }

    error = fails("clearsessions")

    assert str(error).startswith("RedisStore could not prune its per-user indexes: Redis at 127.0.0.1:1")
    assert str(error).endswith("check that the server is running and that the settings point at it.")
    assert error.returncode == 1


def test_clearsessions_on_an_unreachable_redis_cache_is_an_error(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "down": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }
    settings.EXPSESSION = {
        "STORE": {"BACKEND": "django_expsession.stores.cache.CacheStore", "OPTIONS": {"CACHE": "down"}}
    }

    error = fails("clearsessions")

    assert str(error).startswith(
        "CacheStore could not reach cache 'down' (RedisCache at redis://127.0.0.1:1/0) ("
    )
    assert str(error).endswith("; check that the server is running and that the settings point at it.")


def test_clearsessions_says_when_the_store_cannot_remove_expired_sessions(dict_store: Store) -> None:
    assert str(fails("clearsessions")) == (
        "DictStore cannot remove expired sessions; use a store that can, such as DatabaseStore or RedisStore."
    )


def test_clearsessions_dry_run_says_when_the_store_cannot_count_expired_sessions(dict_store: Store) -> None:
    assert str(fails("clearsessions", "--dry-run")) == (
        "DictStore cannot count expired sessions; use a store that can, such as DatabaseStore or RedisStore."
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("list",), "DictStore cannot list its sessions"),
        (("list", "--expired"), "DictStore cannot list its sessions"),
        (("count",), "DictStore cannot count its sessions"),
        (("count", "--expired"), "DictStore cannot count expired sessions"),
        (("count", "--user", "1"), "DictStore cannot list its sessions"),
        (("destroy", "--user", "1"), "DictStore cannot find a user's sessions"),
    ],
)
def test_expsession_says_in_one_sentence_what_the_store_cannot_do(
    dict_store: Store, args: tuple[str, ...], message: str
) -> None:
    error = fails("expsession", *args)

    assert str(error) == f"{message}; use a store that can, such as DatabaseStore or RedisStore."
    assert error.returncode == 1
    assert dict_store.get("alice-1") is not None


def test_expsession_on_a_plain_cache_names_the_cache_it_cannot_list(settings: Any, tmp_path: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "files": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
    }
    settings.EXPSESSION = {
        "STORE": {"BACKEND": "django_expsession.stores.cache.CacheStore", "OPTIONS": {"CACHE": "files"}}
    }

    assert str(fails("expsession", "list")) == (
        f"CacheStore cannot list its sessions (only django-redis caches and LocMemCache can list their keys, "
        f"and cache 'files' (FileBasedCache at {tmp_path}) cannot); use a store that can, such as "
        "DatabaseStore or RedisStore."
    )


def test_show_and_destroy_work_on_a_store_with_only_get_set_destroy(dict_store: Store) -> None:
    out, _ = run("expsession", "show", "alice-1")
    assert json.loads(out)["_auth_user_id"] == "1"

    assert run("expsession", "destroy", "alice-1") == ("alice-1\n", "Destroyed 1 session.\n")
    assert dict_store.get("alice-1") is None


# -- expsession list ------------------------------------------------------------------------------


def rows(out: str) -> list[tuple[str, str, str]]:
    return [tuple(line.split("\t")) for line in out.splitlines()]  # type: ignore[misc]


def test_list_prints_one_session_a_line_sorted_by_expiry_and_the_count_on_stderr(store: Store) -> None:
    out, err = run("expsession", "list")

    assert [row[0] for row in rows(out)] == ACTIVE_BY_EXPIRY
    assert err == "5 sessions listed.\n"
    listed = {row[0]: row[1:] for row in rows(out)}
    assert listed["alice-1"] == ("1", "2030-03-01T13:00:00.000Z")
    assert listed["anon-1"] == ("-", "2030-03-01T12:30:00.000Z")
    assert listed["bob-browser"] == ("2", "browser session")


def test_list_json_is_one_object_a_line(store: Store) -> None:
    out, _ = run("expsession", "list", "--format", "json")

    found = [json.loads(line) for line in out.splitlines()]
    assert [item["id"] for item in found] == ACTIVE_BY_EXPIRY
    assert found[3] == {
        "id": "alice-1",
        "user": "1",
        "expires": "2030-03-01T13:00:00.000Z",
        "browser_session": False,
        "last_seen": "2030-03-01T12:00:00.000Z",
        "active": True,
    }
    assert found[4]["browser_session"] is True


def test_list_verbosity_zero_prints_only_the_data(store: Store) -> None:
    out, err = run("expsession", "list", "-v", "0")

    assert len(out.splitlines()) == 5
    assert err == ""


def test_list_filters_by_user(store: Store) -> None:
    out, _ = run("expsession", "list", "--user", "1")

    assert [row[0] for row in rows(out)] == ["alice-2", "alice-1"]


def test_list_limit_keeps_the_soonest_to_expire(store: Store) -> None:
    out, err = run("expsession", "list", "--limit", "2")

    assert [row[0] for row in rows(out)] == ACTIVE_BY_EXPIRY[:2]
    assert err == "2 sessions listed.\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [((), ["alice-old", "anon-old"]), (("--user", "1"), ["alice-old"])],
    ids=["all", "one-user"],
)
def test_list_expired_shows_what_clearsessions_would_remove(
    store: Store, kept: set[str], args: tuple[str, ...], expected: list[str]
) -> None:
    out, err = run("expsession", "list", "--expired", *args)

    if not kept:
        assert out == ""
        assert err.endswith("keeps no expired sessions: " + err.split(": ", 1)[1])
        assert "removes each one at its expiry." in err
        return
    assert sorted(row[0] for row in rows(out)) == expected
    assert dict((row[0], row[2]) for row in rows(out))["alice-old"] == "2030-03-01T12:01:00.000Z"


def test_list_active_and_expired_together_is_a_usage_error(store: Store) -> None:
    assert "not allowed with argument" in str(fails("expsession", "list", "--active", "--expired"))


# -- expsession show --------------------------------------------------------------------------------


def test_show_prints_the_decoded_document_as_indented_json(store: Store) -> None:
    out, err = run("expsession", "show", "alice-2")

    assert out == json.dumps(store.get("alice-2"), indent=2, ensure_ascii=False) + "\n"
    assert json.loads(out)["cart"] == ["tea", "café"]
    assert err == ""


@pytest.mark.parametrize("encoded", [False, True], ids=["decoded", "percent-encoded"])
def test_show_accepts_the_signed_cookie_value_from_a_browser(store: Store, encoded: bool) -> None:
    value = signing.cookie_value("bob-1", "keyboard cat")  # what Set-Cookie carried
    if not encoded:
        value = signing.decode_uri_component(value) or ""

    out, _ = run("expsession", "show", value)

    assert json.loads(out)["_auth_user_id"] == "2"


def test_show_rejects_a_cookie_value_signed_with_another_secret(store: Store) -> None:
    error = fails("expsession", "show", "s:" + signing.sign("bob-1", "another secret"))

    assert str(error) == (
        "'s:bob-1."
        + signing.signature("bob-1", "another secret")
        + "' looks like a signed cookie value, but "
        "none of the EXPSESSION secrets signed it; give the session id itself, or check the SECRET setting."
    )


@pytest.mark.parametrize("sid", ["no-such-session", "alice-old"])
def test_show_of_an_unknown_or_expired_session_exits_not_found(store: Store, sid: str) -> None:
    error = fails("expsession", "show", sid)

    assert str(error) == f"No active session has the id '{sid}'; `expsession list` shows the ids."
    assert error.returncode == NOT_FOUND == 3


# -- expsession destroy ------------------------------------------------------------------------------


def test_destroy_prints_the_ids_it_destroyed_and_the_count_on_stderr(store: Store) -> None:
    sent: list[tuple[Any, str]] = []

    def receiver(sender: Any, request: Any, id_hash: str, **kwargs: Any) -> None:
        sent.append((request, id_hash))

    signals.session_destroyed.connect(receiver)
    try:
        output = run("expsession", "destroy", "alice-1", "bob-1", "nobody-here", stderr=io.StringIO())
    except CommandError:
        output = None
    finally:
        signals.session_destroyed.disconnect(receiver)

    assert output is None  # the unknown id: exit 3, the others destroyed all the same
    assert run("expsession", "destroy", "anon-1") == ("anon-1\n", "Destroyed 1 session.\n")
    assert live_sids(store) == ACTIVE - {"alice-1", "bob-1", "anon-1"}
    # One signal per session that was there, without a request: an audit log sees the command.
    assert sent == [(None, id_hash("alice-1")), (None, id_hash("bob-1"))]


def test_destroy_of_unknown_ids_destroys_the_others_and_exits_not_found(store: Store, kept: set[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("expsession", "destroy", "anon-1", "nobody", "anon-old", stdout=out, stderr=err)

    assert out.getvalue() == "anon-1\n"
    assert err.getvalue() == "Destroyed 1 session.\n"
    assert (
        str(raised.value)
        == "No active session had the ids 'nobody', 'anon-old'; `expsession list` shows the ids."
    )
    assert raised.value.returncode == NOT_FOUND
    if kept:  # the expired leftover went too
        assert {sid for sid, _ in store.expired_sessions()} == {"alice-old"}
    assert live_sids(store) == ACTIVE - {"anon-1"}


def test_destroy_user_logs_that_user_out_everywhere(store: Store) -> None:
    sent: list[str] = []

    def receiver(sender: Any, id_hash: str, **kwargs: Any) -> None:
        sent.append(id_hash)

    signals.session_destroyed.connect(receiver)
    try:
        out, err = run("expsession", "destroy", "--user", "2")
    finally:
        signals.session_destroyed.disconnect(receiver)

    assert sorted(sent) == sorted([id_hash("bob-1"), id_hash("bob-browser")])
    assert sorted(out.splitlines()) == ["bob-1", "bob-browser"]
    assert err == "Destroyed 2 sessions of user 2.\n"
    assert live_sids(store) == ACTIVE - {"bob-1", "bob-browser"}


def test_destroy_user_without_sessions_exits_not_found(store: Store) -> None:
    error = fails("expsession", "destroy", "--user", "42")

    assert str(error) == "User 42 has no active session; `expsession list` shows the users."
    assert error.returncode == NOT_FOUND
    assert live_sids(store) == ACTIVE


def test_destroy_accepts_a_signed_cookie_value(store: Store) -> None:
    run("expsession", "destroy", signing.cookie_value("anon-1", "keyboard cat"))

    assert store.get("anon-1") is None


@pytest.mark.parametrize("args", [(), ("alice-1", "--user", "1")], ids=["neither", "both"])
def test_destroy_needs_either_ids_or_a_user(store: Store, args: tuple[str, ...]) -> None:
    error = fails("expsession", "destroy", *args)

    assert str(error) == "Give either session ids or --user ID to destroy, not both and not neither."
    assert live_sids(store) == ACTIVE


# -- expsession count -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"), [((), 5), (("--user", "1"), 2), (("--user", "2"), 2), (("--user", "3"), 0)]
)
def test_count_prints_the_number_of_active_sessions(
    store: Store, args: tuple[str, ...], expected: int
) -> None:
    assert run("expsession", "count", *args) == (f"{expected}\n", "")


def test_count_json(store: Store) -> None:
    assert run("expsession", "count", "--format", "json") == ('{"count": 5}\n', "")


def test_count_expired_prints_how_many_clearsessions_would_remove(store: Store, kept: set[str]) -> None:
    assert run("expsession", "count", "--expired") == (f"{len(kept)}\n", "")
    assert run("expsession", "count", "--expired", "--user", "1") == (f"{len(kept) // 2}\n", "")


def test_django_options_after_the_action_are_accepted(store: Store) -> None:
    assert run("expsession", "count", "-v", "2", "--traceback", "--no-color") == ("5\n", "")
    assert run("expsession", "list", "--user", "1", "--verbosity=0")[1] == ""


def test_expsession_needs_an_action() -> None:
    assert "the following arguments are required: {list,show,destroy,count}" in str(fails("expsession"))


# -- the store helpers behind the commands ---------------------------------------------------------


def test_user_sessions_finds_only_that_users_active_sessions(store: Store) -> None:
    assert {sid for sid, _ in store.user_sessions(1)} == {"alice-1", "alice-2"}
    assert {sid for sid, _ in store.user_sessions("2")} == {"bob-1", "bob-browser"}


def test_async_twins_of_the_helpers_match_the_sync_ones(store: Store, kept: set[str]) -> None:
    async def user_sessions() -> dict[str, Any]:
        return {sid: data async for sid, data in store.auser_sessions("1")}

    # From a sync test, so the database work stays on this test's connection.
    assert async_to_sync(store.acount_expired)() == len(kept)
    found = async_to_sync(user_sessions)()

    assert set(found) == {"alice-1", "alice-2"}
    assert found["alice-1"]["views"] == 3
