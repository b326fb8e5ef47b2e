"""The store contract, run on every store and every real service (``STORES``).

Time moves with freezegun: every store ends a session at exactly its
expiry (``expires <= now`` is gone), including Redis, whose own clock
freezegun cannot move (CacheStore checks its expiry record on the clock).
"""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from django_expsession import document as doc

from .conftest import EXPIRES_ITSELF, T0, WHOLE_SECONDS, at, document, iso, raw, touched

OPERATIONS = ("get", "set", "destroy", "touch", "all", "length", "clear", "clear_expired")

# Every test on both sides of every store: its sync methods and its async twins.
pytestmark = pytest.mark.parametrize("side", ["sync", "async"])


def test_every_store_supports_every_operation_of_the_contract(make_store, store_name):
    store = make_store()
    assert {op for op in OPERATIONS if store.supports(op)} == set(OPERATIONS)


def test_set_then_get_returns_an_equal_document(make_store):
    store = make_store()
    stored = document(user="ada", cart=[1, {"sku": "x"}])
    store.set("sid-1", stored)
    assert store.get("sid-1") == stored
    assert store.get("sid-1") is not store.get("sid-1")  # no shared objects


def test_the_backend_holds_the_express_json_text(make_store):
    store = make_store()
    stored = document(n=1)
    store.set("sid-1", stored)
    assert raw(store, "sid-1") == doc.dumps(stored)
    assert json.loads(raw(store, "sid-1"))["cookie"]["originalMaxAge"] == 60000


def test_get_of_an_unknown_sid_is_none(make_store):
    assert make_store().get("nobody") is None


def test_set_replaces_the_whole_document(make_store):
    store = make_store()
    store.set("sid-1", document(a=1, b=2))
    store.set("sid-1", document(a=3))
    loaded = store.get("sid-1")
    assert {key: value for key, value in loaded.items() if key != "cookie"} == {"a": 3}
    assert store.length() == 1


def test_destroy_removes_the_session_and_tolerates_unknown_ids(make_store):
    store = make_store()
    store.set("sid-1", document())
    store.set("sid-2", document())
    store.destroy("sid-1")
    store.destroy("never-existed")
    assert store.get("sid-1") is None
    assert store.get("sid-2") is not None


def test_all_and_length_list_only_live_sessions(make_store):
    store = make_store()
    with freeze_time(T0) as clock:
        store.set("short", document(max_age=1))
        for sid in ("a", "b", "c"):
            store.set(sid, document(name=sid))
        clock.move_to(at(1))
        assert sorted(sid for sid, _ in store.all()) == ["a", "b", "c"]
        assert dict(store.all())["b"]["name"] == "b"
        assert store.length() == 3


def test_clear_removes_every_session(make_store):
    store = make_store()
    for sid in ("a", "b", "c"):
        store.set(sid, document())
    store.clear()
    assert store.length() == 0
    assert list(store.all()) == []
    assert store.get("a") is None


def test_clear_expired_removes_expired_sessions_and_keeps_live_ones(make_store, store_name):
    store = make_store()
    with freeze_time(T0) as clock:
        store.set("old", document(max_age=10))
        store.set("new", document(max_age=60))
        clock.move_to(at(10))
        removed = store.clear_expired()
        assert removed == (0 if store_name in EXPIRES_ITSELF else 1)
        assert store.get("old") is None
        assert store.get("new") is not None
        assert store.length() == 1


# -- expiry ------------------------------------------------------------------


def test_a_session_is_gone_exactly_when_its_cookie_expires(make_store):
    store = make_store()
    with freeze_time(T0) as clock:
        store.set("sid-1", document(max_age=60))
        clock.move_to(at(59.999))
        assert store.get("sid-1") is not None
        clock.move_to(at(60))
        assert store.get("sid-1") is None
        assert store.length() == 0


def test_a_browser_session_cookie_lives_ttl_seconds_in_the_store(make_store):
    store = make_store(TTL=100)
    with freeze_time(T0) as clock:
        store.set("sid-1", document(max_age=None))
        assert store.get("sid-1")["cookie"]["expires"] is None
        clock.move_to(at(99.999))
        assert store.get("sid-1") is not None
        clock.move_to(at(100))
        assert store.get("sid-1") is None


def test_a_document_that_is_already_expired_is_never_returned(make_store):
    store = make_store()
    with freeze_time(T0):
        store.set("sid-1", document(max_age=-1))
        assert store.get("sid-1") is None
        assert store.length() == 0


# -- touch -------------------------------------------------------------------


def test_touch_moves_the_expiry_and_keeps_the_stored_data(make_store):
    store = make_store()
    with freeze_time(T0) as clock:
        stored = document(n=1)
        store.set("sid-1", stored)
        clock.move_to(at(30))
        store.touch("sid-1", touched(stored, n=2))
        clock.move_to(at(89.999))
        loaded = store.get("sid-1")
        assert loaded["n"] == 1
        assert loaded["cookie"]["expires"] == iso(90)
        clock.move_to(at(90))
        assert store.get("sid-1") is None


def test_touch_never_creates_a_session(make_store):
    store = make_store()
    store.touch("nobody", document())
    assert store.get("nobody") is None
    assert store.length() == 0


def test_touch_does_not_revive_an_expired_session(make_store):
    store = make_store()
    with freeze_time(T0) as clock:
        stored = document()
        store.set("sid-1", stored)
        clock.move_to(at(60))
        store.touch("sid-1", touched(stored))
        assert store.get("sid-1") is None


def test_touch_of_a_browser_session_restarts_its_ttl(make_store):
    store = make_store(TTL=100)
    with freeze_time(T0) as clock:
        stored = document(max_age=None)
        store.set("sid-1", stored)
        clock.move_to(at(50))
        store.touch("sid-1", touched(stored))
        clock.move_to(at(149.999))
        assert store.get("sid-1") is not None
        clock.move_to(at(150))
        assert store.get("sid-1") is None


def test_touch_after_skips_a_touch_within_that_many_seconds(make_store):
    store = make_store(TOUCH_AFTER=10)
    with freeze_time(T0) as clock:
        stored = document()
        store.set("sid-1", stored)
        clock.move_to(at(9.999))
        store.touch("sid-1", touched(stored))
        assert store.get("sid-1")["cookie"]["expires"] == iso(60)
        clock.move_to(at(10))
        store.touch("sid-1", touched(stored))
        assert store.get("sid-1")["cookie"]["expires"] == iso(70)
        clock.move_to(at(15))
        store.touch("sid-1", touched(stored))  # refreshed 5 s ago: skipped
        assert store.get("sid-1")["cookie"]["expires"] == iso(70)


def test_touch_after_never_skips_a_touch_that_shortens_the_expiry(make_store):
    store = make_store(TOUCH_AFTER=10)
    with freeze_time(T0) as clock:
        store.set("sid-1", document(max_age=60))
        clock.move_to(at(5))
        store.touch("sid-1", document(max_age=30))
        assert store.get("sid-1")["cookie"]["expires"] == iso(35)
        clock.move_to(at(35))
        assert store.get("sid-1") is None


def test_without_touch_after_every_touch_counts(make_store, store_name):
    store = make_store()
    with freeze_time(T0) as clock:
        stored = document()
        store.set("sid-1", stored)
        clock.move_to(at(0.001))
        store.touch("sid-1", touched(stored))
        moved = 61 if store_name in WHOLE_SECONDS else 60.001
        assert store.get("sid-1")["cookie"]["expires"] == iso(moved)


# -- content -----------------------------------------------------------------


def test_unicode_session_ids_and_values_round_trip(make_store):
    store = make_store()
    sid = "sïd-✓-会话-🍪"
    stored = document(naïve="Zoë 🎉", ключ=["значение", {"日本": "語"}], empty="")
    store.set(sid, stored)
    assert store.get(sid) == stored
    assert dict(store.all()) == {sid: stored}
    store.destroy(sid)
    assert store.get(sid) is None


def test_a_one_megabyte_document_round_trips(make_store):
    store = make_store()
    stored = document(blob="é" * 300_000 + "x" * 500_000, tail="end")
    assert len(doc.dumps(stored).encode()) > 1_000_000
    store.set("big", stored)
    assert store.get("big") == stored
