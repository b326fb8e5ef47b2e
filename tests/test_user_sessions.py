"""A user's sessions on every store, sync and async: list, end one, end all others.

Logins go through contrib.auth's real login() in real requests; the store
finds a user's sessions through its own index.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model, login, update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.test import Client
from freezegun import freeze_time

import django_expsession
from django_expsession import signals, signing

T0 = datetime(2030, 1, 1, tzinfo=UTC)
NAME = "connect.sid"


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    # In the default database, where contrib.auth looks (the store may use another).
    return {name: get_user_model().objects.create_user(name, password="pw") for name in ("alice", "bob")}


@pytest.fixture
def site(app: Any, users: dict[str, Any]) -> None:
    @app
    def view(request: HttpRequest) -> HttpResponse:
        if "as" in request.GET:
            login(request, users[request.GET["as"]])
        if request.GET.get("password"):
            user = users[request.session.get("_auth_user_id") and request.user.get_username()]
            user.set_password(request.GET["password"])
            user.save()
            update_session_auth_hash(request, user)
        return HttpResponse(request.user.get_username() or "anonymous")


def sid_of(client: Client) -> str:
    sid = signing.unsign_cookie(unquote(client.cookies[NAME].value), ["keyboard cat"])
    assert sid is not None
    return sid


def sign_in(name: str, agent: str) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    assert client.get("/", {"as": name}).content == name.encode()
    return client


@pytest.mark.django_db(databases="__all__")
def test_a_users_sessions_are_listed_with_what_a_sessions_page_shows(expsession, site, users):
    expsession.configure(COOKIE={"MAX_AGE": 3600})
    with freeze_time(T0) as clock:
        laptop = sign_in("alice", "Firefox on Linux")
        clock.move_to(T0 + timedelta(minutes=5))
        phone = sign_in("alice", "Safari on iPhone")
        sign_in("bob", "Chrome")
        records = django_expsession.user_sessions(users["alice"])
    assert [r.user_agent for r in records] == ["Safari on iPhone", "Firefox on Linux"]  # most recent first
    assert {r.id_hash for r in records} == {signing.id_hash(sid_of(laptop)), signing.id_hash(sid_of(phone))}
    newest = records[0]
    assert newest.created == T0 + timedelta(minutes=5)
    assert newest.last_seen == T0 + timedelta(minutes=5)
    assert newest.expires == T0 + timedelta(minutes=5, hours=1)
    assert newest.ip is None  # TRACK_IP is off
    assert all(sid_of(c) not in repr(records) for c in (laptop, phone))  # hashes, never ids


@pytest.mark.django_db(databases="__all__")
def test_track_ip_records_the_client_address(expsession, site, users):
    expsession.configure(COOKIE={"MAX_AGE": 3600}, TRACK_IP=True)
    Client(REMOTE_ADDR="203.0.113.7").get("/", {"as": "alice"})
    [record] = django_expsession.user_sessions(users["alice"])
    assert record.ip == "203.0.113.7"


@pytest.mark.django_db(databases="__all__")
def test_destroy_user_sessions_ends_all_but_the_one_kept(expsession, site, users):
    expsession.configure(COOKIE={"MAX_AGE": 3600})
    ended: list[str] = []

    def heard(sender: Any, id_hash: str, **kwargs: Any) -> None:
        ended.append(id_hash)

    signals.session_destroyed.connect(heard)
    try:
        laptop, phone, tablet = (sign_in("alice", agent) for agent in ("a", "b", "c"))
        bobs = sign_in("bob", "d")
        gone = sorted(signing.id_hash(sid_of(client)) for client in (phone, tablet))
        ended.clear()
        assert django_expsession.destroy_user_sessions(users["alice"], keep=sid_of(laptop)) == 2
    finally:
        signals.session_destroyed.disconnect(heard)
    assert sorted(ended) == gone
    assert laptop.get("/").content == b"alice"
    assert phone.get("/").content == tablet.get("/").content == b"anonymous"
    assert bobs.get("/").content == b"bob"
    # keep= also takes an id hash, as the sessions page has it.
    assert django_expsession.destroy_user_sessions(users["alice"], keep=signing.id_hash(sid_of(laptop))) == 0
    assert django_expsession.destroy_user_sessions(users["alice"]) == 1
    assert laptop.get("/").content == b"anonymous"
    assert django_expsession.user_sessions(users["alice"]) == []


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_the_async_twins_do_the_same(expsession, site, users):
    expsession.configure(COOKIE={"MAX_AGE": 3600})
    sign_in("alice", "a")
    kept = sign_in("alice", "b")
    assert len(async_to_sync(django_expsession.auser_sessions)(users["alice"])) == 2
    assert async_to_sync(django_expsession.adestroy_user_sessions)(users["alice"], keep=sid_of(kept)) == 1
    assert [r.user_agent for r in async_to_sync(django_expsession.auser_sessions)(users["alice"])] == ["b"]


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("everywhere", [True, False], ids=["logout-everywhere", "django-default"])
def test_a_password_change_ends_the_users_other_sessions_with_the_option(expsession, site, users, everywhere):
    store = expsession.configure(
        COOKIE={"MAX_AGE": 3600}, CONCURRENCY="merge", LOGOUT_EVERYWHERE_ON_PASSWORD_CHANGE=everywhere
    )
    here, other = sign_in("alice", "a"), sign_in("alice", "b")
    other_sid = sid_of(other)
    assert here.get("/", {"password": "new"}).content == b"alice"  # stays logged in (Django's rule)
    # Django alone: the other session is logged out on its next request (its hash is
    # stale); with the option it is gone from the store at once.
    assert (store.get(other_sid) is None) is everywhere
    assert other.get("/").content == b"anonymous"
    assert here.get("/").content == b"alice"
