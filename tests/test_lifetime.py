"""ABSOLUTE_TIMEOUT and RENEW_AFTER on every store, through the real request cycle.

Time is frozen in the future (Redis keeps keys by its own clock, which
freezegun cannot move; there an expiry in 2030 is still ahead).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.test import Client
from freezegun import freeze_time

from django_expsession import signals, signing
from django_expsession.clock import datetime_to_ms
from django_expsession.lifetime import META_KEY

T0 = datetime(2030, 1, 1, tzinfo=UTC)
NAME = "connect.sid"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sid_of(response: Any) -> str | None:
    morsel = response.cookies.get(NAME)
    return None if morsel is None else signing.unsign_cookie(unquote(morsel.value), ["keyboard cat"])


@pytest.fixture
def counter(app: Any) -> None:
    @app
    def view(request: HttpRequest) -> HttpResponse:
        request.session["n"] = request.session.get("n", 0) + 1
        return HttpResponse(str(request.session["n"]))


@pytest.fixture
def heard() -> Iterator[dict[str, list[dict[str, Any]]]]:
    """What the signals said, per signal."""
    found: dict[str, list[dict[str, Any]]] = {}
    connected = []
    for name in ("session_created", "session_destroyed", "session_renewed", "session_rejected"):
        signal = getattr(signals, name)

        def listen(sender: Any, _name: str = name, **kwargs: Any) -> None:
            found.setdefault(_name, []).append(kwargs)

        signal.connect(listen, weak=False)
        connected.append((signal, listen))
    yield found
    for signal, listen in connected:
        signal.disconnect(listen)


def stored_expiry_ms(store: Any, sid: str) -> int:
    """When the backend will drop the record, as it holds it."""
    from django_expsession.stores.cache import CacheStore
    from django_expsession.stores.db import DatabaseStore
    from django_expsession.stores.memory import MemoryStore
    from django_expsession.stores.redis import RedisStore

    if isinstance(store, MemoryStore):
        return store._records[sid][1]
    if isinstance(store, DatabaseStore) and store.pg_simple_table is not None:
        from . import pgtable

        epoch = pgtable.expire_epoch(sid, store.pg_simple_table.table)
        assert epoch is not None
        return int(epoch * 1000)
    if isinstance(store, DatabaseStore):
        from django_expsession.models import Session

        return datetime_to_ms(Session.objects.using(store.db_for_read()).get(sid=sid).expires)
    if isinstance(store, RedisStore):
        return int(store.client.pexpiretime(store.key(sid)))
    assert isinstance(store, CacheStore)
    if store._redis is not None:
        return int(store._client().pexpiretime(store._made_key(sid)))
    from django.core.cache import caches

    return int(caches[store.cache_alias].get(store.key_prefix + sid).partition(":")[0])


# -- ABSOLUTE_TIMEOUT ---------------------------------------------------------------


def test_an_active_session_still_ends_at_its_absolute_timeout(expsession, counter, heard):
    store = expsession.configure(ABSOLUTE_TIMEOUT=100, ROLLING=True, COOKIE={"MAX_AGE": 3600})
    client = Client()
    with freeze_time(T0) as clock:
        first = client.get("/")
        sid = sid_of(first)
        assert first.content == b"1"
        for moment, count in ((50, b"2"), (99, b"3")):
            clock.move_to(at(moment))
            assert client.get("/").content == count  # active, rolling: the idle timeout never comes
        # The store never keeps it past the absolute limit, whatever the cookie says.
        assert stored_expiry_ms(store, sid) == datetime_to_ms(at(100))
        clock.move_to(at(100.5))
        late = client.get("/")
        assert late.content == b"1"  # a new session
        assert sid_of(late) not in (None, sid)
        assert store.get(sid) is None
    # The store dropped it at the limit: to the middleware it is an unknown id.
    assert [r["reason"] for r in heard["session_rejected"]] == ["unknown-id"]


def test_a_stored_session_found_past_its_limit_is_destroyed_and_reported(expsession, counter, heard):
    # Stored under a longer limit, found under a shorter one: still in the store.
    store = expsession.configure(ABSOLUTE_TIMEOUT=1000, COOKIE={"MAX_AGE": 3600})
    client = Client()
    with freeze_time(T0) as clock:
        sid = sid_of(client.get("/"))
        document = store.get(sid)
        store = expsession.configure(ABSOLUTE_TIMEOUT=100, COOKIE={"MAX_AGE": 3600})
        store.set(sid, document)  # configure() emptied the store: put it back, expiring with its cookie
        clock.move_to(at(150))
        late = client.get("/")
        assert late.content == b"1"
        assert store.get(sid) is None  # destroyed, not only ignored
    [rejected] = heard["session_rejected"]
    assert rejected["reason"] == "absolute-timeout"
    assert rejected["id_hash"] == signing.id_hash(sid)
    assert sid not in str(rejected)
    assert signing.id_hash(sid) in [d["id_hash"] for d in heard["session_destroyed"]]


def test_a_login_keeps_the_creation_time(expsession, app, heard):
    store = expsession.configure(ABSOLUTE_TIMEOUT=100, COOKIE={"MAX_AGE": 3600})

    @app
    def view(request: HttpRequest) -> HttpResponse:
        if request.path == "/login":
            request.session.cycle_key()  # what contrib.auth's login() does
            request.session["user"] = "alice"
        elif request.path == "/regenerate":
            request.session.regenerate()
            request.session["fresh"] = True
        else:
            request.session["n"] = 1
        return HttpResponse(request.session.get("user", "-"))

    client = Client()
    with freeze_time(T0) as clock:
        client.get("/")
        clock.move_to(at(60))
        sid = sid_of(client.get("/login"))
        clock.move_to(at(80))
        regenerated = sid_of(client.get("/regenerate"))
        assert regenerated != sid
        created = store.get(regenerated)[META_KEY]["created"]
        assert created == datetime_to_ms(T0)
        clock.move_to(at(100))
        assert client.get("/").content == b"-"
        assert store.get(regenerated) is None


def test_a_session_stored_before_the_timeout_was_set_counts_from_its_first_request_after(expsession, counter):
    store = expsession.configure(COOKIE={"MAX_AGE": 3600})
    client = Client()
    with freeze_time(T0) as clock:
        sid = sid_of(client.get("/"))
        assert META_KEY not in store.get(sid)
        expsession.configure(ABSOLUTE_TIMEOUT=100, COOKIE={"MAX_AGE": 3600}, RESAVE=False)
        store = expsession.store
        store.set(sid, {"cookie": {"originalMaxAge": 3600000, "expires": "2030-01-01T01:00:00.000Z"}, "n": 1})
        clock.move_to(at(30))
        assert client.get("/").content == b"2"
        assert store.get(sid)[META_KEY]["created"] == datetime_to_ms(at(30))
        clock.move_to(at(130))
        assert client.get("/").content == b"1"
        assert store.get(sid) is None


# -- RENEW_AFTER ---------------------------------------------------------------------


def test_after_renew_after_the_session_moves_to_a_new_id_with_its_data(expsession, counter, heard):
    store = expsession.configure(RENEW_AFTER=60, RENEW_GRACE=30, COOKIE={"MAX_AGE": 3600}, RESAVE=False)
    client = Client()
    with freeze_time(T0) as clock:
        old = sid_of(client.get("/"))
        clock.move_to(at(59))
        assert sid_of(client.get("/")) in (None, old)  # not yet
        clock.move_to(at(61))
        renewed = client.get("/")
        new = sid_of(renewed)
    assert renewed.content == b"3"  # the same data went along
    assert new not in (None, old)
    moved = store.get(new)
    assert moved["n"] == 3
    assert moved[META_KEY]["created"] == datetime_to_ms(T0)
    assert moved[META_KEY]["issued"] == datetime_to_ms(at(61))
    [renewal] = heard["session_renewed"]
    assert renewal["id_hash"] == signing.id_hash(new)
    assert renewal["old_id_hash"] == signing.id_hash(old)


def test_the_old_cookie_leads_to_the_renewed_session_for_the_grace_period_only(expsession, counter, heard):
    store = expsession.configure(RENEW_AFTER=60, RENEW_GRACE=30, COOKIE={"MAX_AGE": 3600}, RESAVE=False)
    client = Client()
    with freeze_time(T0) as clock:
        client.get("/")
        old_cookie = client.cookies[NAME].value
        old = sid_of(client.get("/"))
        clock.move_to(at(61))
        new = sid_of(client.get("/"))
        # A request still carrying the old cookie (sent before the renewal reached it).
        straggler = Client()
        straggler.cookies[NAME] = old_cookie
        clock.move_to(at(70))
        followed = straggler.get("/")
        assert followed.content == b"4"  # the renewed session, not a fresh one
        assert sid_of(followed) == new  # and its cookie: no second renewal
        clock.move_to(at(95))  # past the grace period
        late = Client()
        late.cookies[NAME] = old_cookie
        assert late.get("/").content == b"1"
        assert store.get(old) is None
        assert store.get(new)["n"] == 4
    assert len(heard["session_renewed"]) == 1


def test_two_requests_renewing_at_once_renew_once_and_lose_nothing(expsession, app, heard, transactional_db):
    store = expsession.configure(
        RENEW_AFTER=60, RENEW_GRACE=30, COOKIE={"MAX_AGE": 3600}, RESAVE=False, CONCURRENCY="merge"
    )

    @app
    def view(request: HttpRequest) -> HttpResponse:
        request.session[request.GET.get("key", "start")] = True  # each request its own key
        return HttpResponse("ok")

    # Both requests read the old record before either renews it.
    barrier = threading.Barrier(2, timeout=20)
    first_read = threading.local()
    read = type(store).read

    def read_together(self: Any, sid: str) -> Any:
        found = read(self, sid)
        if threading.current_thread().name.startswith("race") and not getattr(first_read, "done", False):
            first_read.done = True
            barrier.wait()
        return found

    type(store).read = read_together  # type: ignore[method-assign]
    try:
        client = Client()
        with freeze_time(T0) as clock:
            client.get("/")
            cookie = client.cookies[NAME].value
            clock.move_to(at(61))

            def visit(key: str) -> str | None:
                try:
                    one = Client()
                    one.cookies[NAME] = cookie
                    response = one.get("/", {"key": key})
                    assert response.status_code == 200
                    return sid_of(response)
                finally:
                    connections.close_all()

            with ThreadPoolExecutor(2, thread_name_prefix="race") as pool:
                ids = set(pool.map(visit, ["a", "b"]))
    finally:
        type(store).read = read  # type: ignore[method-assign]
    assert len(ids) == 1 and None not in ids  # both were given the one renewed id
    assert len(heard["session_renewed"]) == 1
    [new] = ids
    stored = store.get(new)
    assert stored["start"] and stored["a"] and stored["b"]  # neither request's change was lost
