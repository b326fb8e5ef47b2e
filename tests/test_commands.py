"""``manage.py clearsessions`` and ``manage.py expsession`` on every store.

Sessions are written through the store API with express-shaped documents;
freezegun moves the clock so that some of them expire.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import OperationalError
from freezegun import freeze_time

from django_expsession import signing
from django_expsession.clock import format_iso, now_ms
from django_expsession.stores import get_store
from django_expsession.stores.base import Store, StoreError
from django_expsession.stores.db import DatabaseStore
from django_expsession.stores.memory import MemoryStore

ACTIVE = {"alice-1", "alice-2", "bob-1", "bob-browser", "anon-1"}
EXPIRED = {"alice-old", "anon-old"}


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


def run(*args: str, stdout: io.StringIO | None = None, **options: Any) -> tuple[str, str]:
    out, err = stdout or io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


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
    store.set("alice-2", express_doc(3600, user=1, cart=["tea", "café"]))
    store.set("bob-1", express_doc(3600, user=2))
    store.set("bob-browser", express_doc(None, user=2))
    store.set("anon-1", express_doc(3600))
    store.set("alice-old", express_doc(60, user=1))
    store.set("anon-old", express_doc(60))
    clock.tick(120)
    return store


@pytest.fixture
def kept(store: Store) -> set[str]:
    """The expired sessions this store keeps until they are cleared.

    A cache drops expired entries itself: it keeps none, and clearsessions
    has nothing to do there.
    """
    return EXPIRED if store.supports("expired_sessions") else set()


def live_sids(store: Store) -> set[str]:
    return {sid for sid, _ in store.all()}


def sessions(count: int) -> str:
    return f"{count} session" if count == 1 else f"{count} sessions"


# -- clearsessions ---------------------------------------------------------------


def test_clearsessions_removes_expired_sessions_and_keeps_active_ones(store: Store, kept: set[str]) -> None:
    out, _ = run("clearsessions")

    assert out == f"Removed {sessions(len(kept))} (expired).\n"
    assert store.count_expired() == 0
    assert live_sids(store) == ACTIVE
    assert store.get("alice-old") is None


def test_clearsessions_with_nothing_expired_says_so(store: Store) -> None:
    run("clearsessions")

    out, _ = run("clearsessions")

    assert out == "Removed 0 sessions (expired).\n"
    assert live_sids(store) == ACTIVE


def test_clearsessions_dry_run_counts_expired_sessions_and_removes_nothing(
    store: Store, kept: set[str]
) -> None:
    out, _ = run("clearsessions", "--dry-run")

    assert out == f"Would remove {sessions(len(kept))} (expired). Nothing was removed.\n"
    assert store.count_expired() == len(kept)
    assert live_sids(store) == ACTIVE


def test_clearsessions_prints_no_progress_line_when_output_is_not_a_terminal(store: Store) -> None:
    out, _ = run("clearsessions")

    assert "so far" not in out
    assert "\r" not in out


def test_clearsessions_shows_a_progress_line_on_a_terminal(store: Store, kept: set[str]) -> None:
    out, _ = run("clearsessions", stdout=Terminal())

    if kept:
        assert out == "\rRemoved 2 sessions so far...\nRemoved 2 sessions (expired).\n"
    else:
        assert out == "Removed 0 sessions (expired).\n"


def test_clearsessions_batch_size_sets_the_batch_for_this_run_only(
    store: Store, kept: set[str], clock: Any
) -> None:
    for n in range(3):
        store.set(f"more-{n}", express_doc(1))
    clock.tick(2)

    out, err = run("clearsessions", "--batch-size", "2", stdout=Terminal())

    if isinstance(store, DatabaseStore):
        # Five expired rows in batches of two: 2, 2 and 1.
        progress = [
            "\rRemoved 2 sessions so far...",
            "\rRemoved 4 sessions so far...",
            "\rRemoved 5 sessions so far...",
        ]
        assert out == "".join(progress) + "\nRemoved 5 sessions (expired).\n"
        assert store.batch_size == 1000  # the configured store is left alone
        assert err == ""
    else:
        assert out.endswith(f"Removed {sessions(len(kept) and 5)} (expired).\n")
        assert err == f"--batch-size is ignored: {type(store).__name__} does not delete in batches.\n"
    assert store.count_expired() == 0
    assert live_sids(store) == ACTIVE


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_clearsessions_rejects_a_batch_size_below_one(store: Store, kept: set[str], value: str) -> None:
    with pytest.raises(CommandError, match="--batch-size: expected a whole number >= 1"):
        run("clearsessions", f"--batch-size={value}")
    assert store.count_expired() == len(kept)


def test_clearsessions_all_with_no_input_removes_every_session(store: Store, kept: set[str]) -> None:
    out, _ = run("clearsessions", "--all", "--no-input")

    assert out == f"Removed all {5 + len(kept)} sessions.\n"
    assert store.length() == 0
    assert store.count_expired() == 0


def test_clearsessions_all_dry_run_counts_every_session_and_removes_nothing(
    store: Store, kept: set[str]
) -> None:
    out, _ = run("clearsessions", "--all", "--dry-run")

    assert out == f"Would remove all {5 + len(kept)} sessions. Nothing was removed.\n"
    # (Counting lets a MemoryStore sweep its expired records, as any read does.)
    assert live_sids(store) == ACTIVE


def test_clearsessions_all_on_an_empty_store_says_so_without_asking(expsession: Any) -> None:
    store = expsession.configure(spy_on=False)

    out, _ = run("clearsessions", "--all")  # no answer on stdin: it must not ask

    assert out == "There are no sessions to remove.\n"
    assert store.length() == 0


def test_clearsessions_all_asks_first_and_any_answer_but_yes_cancels(
    store: Store, kept: set[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))

    out, _ = run("clearsessions", "--all")

    assert f"This removes all {5 + len(kept)} sessions" in capsys.readouterr().out  # the prompt
    assert out == "Cancelled. Nothing was removed.\n"
    assert live_sids(store) == ACTIVE


def test_clearsessions_all_removes_every_session_when_the_answer_is_yes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))

    out, _ = run("clearsessions", "--all")

    assert out.startswith("Removed all ")
    assert store.length() == 0


# -- failures ---------------------------------------------------------------------


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


class ConnectionLostStore(DatabaseStore):
    """Loses its database after the first batch, as a dropped connection would."""

    def clear_expired_batches(self) -> Iterator[int]:
        for count in super().clear_expired_batches():
            yield count
            raise OperationalError("server closed the connection unexpectedly")


class UnreachableStore(MemoryStore):
    """Its server is down: every operation fails the way shipped stores report it."""

    REASON = (
        "UnreachableStore could not clear expired sessions: redis at 10.0.0.9:6379 failed with "
        "ConnectionError: Connection refused. Check that the server is running and reachable."
    )

    def clear_expired(self) -> int:
        raise StoreError(self.REASON)


@pytest.fixture
def dict_store(settings: Any) -> Store:
    settings.EXPSESSION = {"SECRET": "keyboard cat", "STORE": {"BACKEND": "tests.test_commands.DictStore"}}
    store = get_store()
    store.set("alice-1", express_doc(3600, user=1))
    return store


@pytest.mark.django_db
def test_clearsessions_store_failure_is_a_command_error_that_reports_partial_progress(settings: Any) -> None:
    settings.EXPSESSION = {
        "STORE": {"BACKEND": "tests.test_commands.ConnectionLostStore", "OPTIONS": {"BATCH_SIZE": 1}}
    }
    with freeze_time("2026-03-01 12:00:00") as clock:
        store = get_store()
        store.set("old-1", express_doc(60))
        store.set("old-2", express_doc(60))
        clock.tick(120)

        with pytest.raises(CommandError) as raised:
            run("clearsessions")

        message = str(raised.value)
        assert message.startswith("Could not remove expired sessions: ")
        assert "OperationalError: server closed the connection unexpectedly" in message
        assert message.endswith(
            " (1 session had been removed before the failure; fix the cause and run clearsessions again.)"
        )
        assert isinstance(raised.value.__cause__, OperationalError | StoreError)
        assert store.count_expired() == 1


def test_clearsessions_passes_on_the_stores_own_sentence_about_an_outage(settings: Any) -> None:
    settings.EXPSESSION = {"STORE": {"BACKEND": "tests.test_commands.UnreachableStore"}}

    with pytest.raises(CommandError) as raised:
        run("clearsessions")

    assert str(raised.value) == f"Could not remove expired sessions: {UnreachableStore.REASON}"


def test_clearsessions_says_when_the_store_cannot_remove_expired_sessions(dict_store: Store) -> None:
    with pytest.raises(CommandError) as raised:
        run("clearsessions")

    assert str(raised.value) == (
        "The configured store (DictStore) cannot remove expired sessions: subclasses of Store must "
        "provide clear_expired(). Use a store that supports it, e.g. the DatabaseStore."
    )


def test_clearsessions_dry_run_says_when_the_store_cannot_count_expired_sessions(dict_store: Store) -> None:
    with pytest.raises(CommandError, match=r"cannot count expired sessions: .*count_expired\(\)"):
        run("clearsessions", "--dry-run")


def test_clearsessions_exits_non_zero_with_the_sentence_on_stderr(
    dict_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "clearsessions", "--skip-checks"])

    assert exited.value.code == 1
    assert "CommandError: The configured store (DictStore) cannot remove expired sessions" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("args", "action"),
    [
        (("list",), "list sessions"),
        (("list", "--active"), "list sessions"),
        (("list", "--expired"), "list expired sessions"),
        (("count", "--user", "1"), "count sessions"),
        (("destroy", "--user", "1"), "destroy sessions"),
    ],
)
def test_expsession_says_when_the_store_cannot_list_its_sessions(
    dict_store: Store, args: tuple[str, ...], action: str
) -> None:
    with pytest.raises(CommandError, match=rf"^The configured store \(DictStore\) cannot {action}: "):
        run("expsession", *args)
    assert dict_store.get("alice-1") is not None


def test_expsession_show_and_destroy_work_on_a_store_with_only_get_set_destroy(dict_store: Store) -> None:
    out, _ = run("expsession", "show", "alice-1")
    assert json.loads(out)["_auth_user_id"] == "1"

    out, _ = run("expsession", "destroy", "alice-1")
    assert out == "Destroyed 1 session.\n"
    assert dict_store.get("alice-1") is None


# -- expsession list ------------------------------------------------------------------


def listed(out: str) -> dict[str, tuple[str, str]]:
    *rows, footer = out.splitlines()
    assert footer == f"{len(rows)} session{'' if len(rows) == 1 else 's'} listed."
    return {sid: (user, expires) for sid, user, expires in (row.split("\t") for row in rows)}


def test_list_shows_each_active_session_with_its_user_and_expiry(store: Store) -> None:
    out, _ = run("expsession", "list")

    rows = listed(out)
    assert set(rows) == ACTIVE
    assert rows["alice-1"] == ("1", "2030-03-01T13:00:00.000Z")
    assert rows["anon-1"] == ("-", "2030-03-01T13:00:00.000Z")
    assert rows["bob-browser"] == ("2", "browser session")


def test_list_active_is_the_default(store: Store) -> None:
    active, _ = run("expsession", "list", "--active")
    default, _ = run("expsession", "list")

    assert set(listed(active)) == ACTIVE
    assert sorted(active.splitlines()) == sorted(default.splitlines())


def test_list_filters_by_user(store: Store) -> None:
    out, _ = run("expsession", "list", "--user", "1")

    assert set(listed(out)) == {"alice-1", "alice-2"}


@pytest.mark.parametrize(
    ("args", "expected"), [((), EXPIRED), (("--user", "1"), {"alice-old"})], ids=["all", "one-user"]
)
def test_list_expired_shows_the_sessions_clearsessions_would_remove(
    store: Store, kept: set[str], args: tuple[str, ...], expected: set[str]
) -> None:
    if not kept:
        with pytest.raises(CommandError, match=r"cannot list expired sessions: .*expired_sessions\(\)"):
            run("expsession", "list", "--expired", *args)
        return

    rows = listed(run("expsession", "list", "--expired", *args)[0])

    assert set(rows) == expected
    assert rows["alice-old"] == ("1", "2030-03-01T12:01:00.000Z")


def test_list_limit_caps_the_number_of_sessions(store: Store) -> None:
    out, _ = run("expsession", "list", "--limit", "2")

    rows = listed(out)
    assert len(rows) == 2
    assert set(rows) <= ACTIVE


def test_list_active_and_expired_together_is_an_error(store: Store) -> None:
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("expsession", "list", "--active", "--expired")


# -- expsession show ------------------------------------------------------------------


def test_show_prints_the_decoded_document_as_indented_json(store: Store) -> None:
    out, _ = run("expsession", "show", "alice-2")

    assert out == json.dumps(store.get("alice-2"), indent=2, ensure_ascii=False) + "\n"
    assert json.loads(out)["cart"] == ["tea", "café"]
    assert '\n  "cookie": {\n    "originalMaxAge": 3600000,' in out


@pytest.mark.parametrize("encoded", [False, True], ids=["decoded", "percent-encoded"])
def test_show_accepts_the_signed_cookie_value_from_a_browser(store: Store, encoded: bool) -> None:
    value = signing.cookie_value("bob-1", "keyboard cat")  # what Set-Cookie carried
    if not encoded:
        value = signing.decode_uri_component(value) or ""

    out, _ = run("expsession", "show", value)

    assert json.loads(out)["_auth_user_id"] == "2"


def test_show_rejects_a_cookie_value_signed_with_another_secret(store: Store) -> None:
    value = "s:" + signing.sign("bob-1", "another secret")

    with pytest.raises(CommandError, match="none of the EXPSESSION secrets signed it"):
        run("expsession", "show", value)


@pytest.mark.parametrize("sid", ["no-such-session", "alice-old"])
def test_show_of_an_unknown_or_expired_session_is_an_error(store: Store, sid: str) -> None:
    with pytest.raises(CommandError, match=f"No active session has the id '{sid}'"):
        run("expsession", "show", sid)


# -- expsession destroy -------------------------------------------------------------


def test_destroy_removes_the_given_sessions(store: Store) -> None:
    out, err = run("expsession", "destroy", "alice-1", "bob-1")

    assert out == "Destroyed 2 sessions.\n"
    assert err == ""
    assert live_sids(store) == ACTIVE - {"alice-1", "bob-1"}


def test_destroy_reports_ids_that_have_no_active_session(store: Store, kept: set[str]) -> None:
    out, err = run("expsession", "destroy", "anon-1", "nobody", "anon-old")

    assert out == "Destroyed 1 session.\n"
    assert err == "No active session has the id 'nobody'.\nNo active session has the id 'anon-old'.\n"
    if kept:  # the expired leftover went too
        assert {sid for sid, _ in store.expired_sessions()} == {"alice-old"}
    assert live_sids(store) == ACTIVE - {"anon-1"}


def test_destroy_user_logs_that_user_out_everywhere(store: Store) -> None:
    out, _ = run("expsession", "destroy", "--user", "2")

    assert out == "Destroyed 2 sessions of user 2.\n"
    assert live_sids(store) == ACTIVE - {"bob-1", "bob-browser"}


def test_destroy_accepts_a_signed_cookie_value(store: Store) -> None:
    run("expsession", "destroy", signing.cookie_value("anon-1", "keyboard cat"))

    assert store.get("anon-1") is None


@pytest.mark.parametrize("args", [(), ("alice-1", "--user", "1")], ids=["neither", "both"])
def test_destroy_needs_either_ids_or_a_user(store: Store, args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError, match="Give either session ids or --user ID"):
        run("expsession", "destroy", *args)
    assert live_sids(store) == ACTIVE


# -- expsession count ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"), [((), 5), (("--user", "1"), 2), (("--user", "2"), 2), (("--user", "3"), 0)]
)
def test_count_prints_the_number_of_active_sessions(
    store: Store, args: tuple[str, ...], expected: int
) -> None:
    out, _ = run("expsession", "count", *args)

    assert out == f"{expected}\n"


def test_count_expired_prints_how_many_clearsessions_would_remove(store: Store, kept: set[str]) -> None:
    assert run("expsession", "count", "--expired") == (f"{len(kept)}\n", "")

    if kept:
        assert run("expsession", "count", "--expired", "--user", "1") == ("1\n", "")
        assert run("expsession", "count", "--expired", "--user", "2") == ("0\n", "")
    else:
        with pytest.raises(CommandError, match="cannot count sessions"):
            run("expsession", "count", "--expired", "--user", "1")


def test_expsession_needs_an_action() -> None:
    with pytest.raises(
        CommandError, match=r"the following arguments are required: \{list,show,destroy,count\}"
    ):
        run("expsession")


# -- the store helpers behind the commands --------------------------------------------


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
