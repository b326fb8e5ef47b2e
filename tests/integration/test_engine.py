"""``SESSION_ENGINE = "django_expsession.engine"``: the test Client, clearsessions, Channels."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any
from urllib.parse import unquote

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib.sessions.management.commands.clearsessions import Command as DjangoClearSessions
from django.core.management import call_command
from django.test import AsyncClient, Client
from freezegun import freeze_time

from django_expsession import signing
from django_expsession.engine import SessionStore
from django_expsession.models import Session as StoredSession
from django_expsession.stores.base import Record
from django_expsession.stores.db import DatabaseStore
from django_expsession.stores.memory import MemoryStore

from .conftest import SITE_SETTINGS

pytestmark = pytest.mark.django_db

NAME = "connect.sid"


def cookie_value(client: Client | AsyncClient) -> str:
    return client.cookies[NAME].value


def sid_of(client: Client | AsyncClient) -> str | None:
    return signing.unsign_cookie(unquote(cookie_value(client)), ["keyboard cat"])


# -- the test Client --------------------------------------------------------


def test_client_login_gives_a_signed_cookie_the_middleware_accepts(site, alice, client):
    assert client.login(username="alice", password="wonderland")
    value = cookie_value(client)
    assert value.startswith("s%3A")
    sid = sid_of(client)
    assert sid is not None
    assert site.store.get(sid)["_auth_user_id"] == str(alice.pk)
    assert client.get("/t/whoami/").content == b"alice"


def test_client_login_with_wrong_password_sets_no_session(site, alice, client):
    assert not client.login(username="alice", password="nope")
    assert NAME not in client.cookies
    assert client.get("/t/whoami/").content == b"anonymous"


def test_force_login_keeps_the_data_and_destroys_the_old_session(site, alice, client):
    client.get("/counted/")
    before = sid_of(client)
    assert site.store.get(before)["views"] == {"/counted/": 1}
    client.force_login(alice)
    after = sid_of(client)
    assert after != before
    assert site.store.get(before) is None
    assert site.store.get(after)["views"] == {"/counted/": 1}
    assert client.get("/t/whoami/").content == b"alice"


def test_client_logout_destroys_the_session(site, alice, client):
    client.force_login(alice)
    sid = sid_of(client)
    client.logout()
    assert site.store.get(sid) is None
    assert NAME not in client.cookies
    assert client.get("/t/whoami/").content == b"anonymous"


def test_client_session_reads_what_a_view_stored(site, client):
    client.get("/t/remember/bob/")
    assert client.session["name"] == "bob"
    assert client.session.id == sid_of(client)


def test_client_session_writes_reach_the_next_request(site, client):
    client.get("/t/remember/bob/")
    session = client.session
    session["name"] = "carol"
    session.save()
    assert client.get("/t/reads/").content == b"hello carol"


def test_client_session_without_a_cookie_creates_one_the_site_uses(site, client):
    session = client.session
    session["name"] = "dave"
    session.save()
    assert site.store.get(session.id) is not None
    assert client.get("/t/session-id/").content.decode() == session.id
    assert client.get("/t/reads/").content == b"hello dave"


@pytest.mark.django_db(transaction=True)  # async code reaches the database from other threads
async def test_async_client_login_session_and_logout(site, alice):
    client = AsyncClient()
    assert await client.alogin(username="alice", password="wonderland")
    assert (await client.get("/t/async/whoami/")).content == b"alice"
    session = await client.asession()
    assert await session.aget("_auth_user_id") == str(alice.pk)
    await client.alogout()
    assert await site.store.aget(session.id) is None
    assert (await client.get("/t/async/whoami/")).content == b"anonymous"


# -- the SessionStore itself ---------------------------------------------------


def _saved(**data: Any) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.save()
    return session


def test_session_key_is_the_encoded_signed_cookie_value(site):
    session = _saved(a=1)
    assert session.session_key == signing.cookie_value(session.id, "keyboard cat")
    assert SessionStore(session.session_key).session_key == session.session_key


def test_constructor_does_not_touch_the_store_until_the_data_is_used(site):
    key = _saved(a=1).session_key
    site.calls.clear()
    session = SessionStore(key)
    assert bool(session)
    assert not session.modified
    assert session.is_empty() is False
    assert site.calls["get"] == 0
    assert session["a"] == 1
    assert site.calls["get"] == 1


def test_the_undecoded_cookie_form_is_accepted(site):
    session = _saved(a=2)
    assert SessionStore(unquote(session.session_key))["a"] == 2


@pytest.mark.parametrize(
    "value",
    [
        "s%3Aabc.wrongsignature",
        "s:abc.wrongsignature",
        "garbage",
        "",
        "s%3A",
        "s%3A%E0%A4%A.x",  # bad percent-encoding
        "é" * 9000,
    ],
)
def test_bad_cookie_values_give_a_new_session_without_a_store_read(site, value):
    site.calls.clear()
    session = SessionStore(value)
    assert session.session_key is None
    assert not session
    assert session.get("a") is None
    assert site.calls["get"] == 0


def test_an_unsigned_bare_id_is_not_adopted(site):
    stored = _saved(a=3)
    session = SessionStore(stored.id)
    assert session.session_key is None
    assert session.get("a") is None


def test_a_cookie_signed_with_an_older_secret_still_loads(site):
    site.configure(**SITE_SETTINGS, SECRET=["new secret", "keyboard cat"])
    stored = _saved(a=4)
    session = SessionStore(signing.cookie_value(stored.id, "keyboard cat"))
    assert session["a"] == 4
    # The first secret signs from now on.
    assert session.session_key == signing.cookie_value(stored.id, "new secret")


def test_a_session_gone_from_the_store_starts_over_without_a_key(site):
    session = _saved(a=5)
    site.store.destroy(session.id)
    again = SessionStore(session.session_key)
    assert again.get("a") is None
    assert again.session_key is None
    again["b"] = 1
    again.save()
    assert again.id != session.id
    assert site.store.get(again.id)["b"] == 1


def test_new_sessions_get_the_configured_cookie(site):
    with freeze_time("2030-01-01 12:00:00"):
        session = _saved(a=6)
    cookie = site.store.get(session.id)["cookie"]
    assert cookie["originalMaxAge"] == 3600_000
    assert cookie["sameSite"] == "Lax"
    assert cookie["httpOnly"] is True


def test_flush_destroys_and_leaves_no_key(site):
    session = _saved(a=7)
    sid = session.id
    session.flush()
    assert session.session_key is None
    assert session.is_empty()
    assert site.store.get(sid) is None


def test_cycle_key_moves_the_data_to_a_new_id(site):
    session = SessionStore(_saved(a=8).session_key)
    old = session.id
    session.cycle_key()
    session.save()
    assert session.id != old
    assert site.store.get(old) is None
    assert site.store.get(session.id)["a"] == 8


def test_exists_and_delete_take_the_cookie_value_or_the_bare_id(site):
    session = _saved(a=9)
    probe = SessionStore()
    assert probe.exists(session.session_key)
    assert probe.exists(session.id)
    assert not probe.exists("s%3Aforged.signature")
    probe.delete(session.id)
    assert not probe.exists(session.session_key)


@pytest.mark.django_db(transaction=True)
async def test_async_twins_load_and_save(site):
    session = SessionStore()
    await session.aset("a", 10)
    await session.asave()
    again = SessionStore(session.session_key)
    assert await again.aget("a") == 10
    await again.acycle_key()
    await again.asave()
    assert await site.store.aget(session.id) is None
    assert await again.aexists(again.session_key)
    await again.aflush()
    assert again.session_key is None


def test_create_and_load_follow_djangos_storage_api(site):
    session = SessionStore()
    session["a"] = 12
    session.create()
    assert session.modified
    assert site.store.get(session.id)["a"] == 12
    assert SessionStore(session.session_key).load() == {"a": 12}
    assert SessionStore("s%3Aforged.signature").load() == {}


@pytest.mark.django_db(transaction=True)
async def test_async_create_load_delete_and_clear_expired(site):
    with freeze_time("2030-01-01 12:00:00") as clock:
        session = SessionStore()
        await session.aset("a", 13)
        await session.acreate()
        assert await SessionStore(session.session_key).aload() == {"a": 13}
        doomed = SessionStore()
        await doomed.acreate()
        await SessionStore().adelete(doomed.session_key)
        assert await site.store.aget(doomed.id) is None
        clock.tick(timedelta(hours=2))
        assert await sync_to_async(stored_records)(site.store) == 1
        await SessionStore.aclear_expired()
        assert await sync_to_async(stored_records)(site.store) == 0


cookie_requests: list[Any] = []


def dynamic_cookie(request: Any) -> dict[str, Any]:
    cookie_requests.append(request)
    return {"MAX_AGE": 60 if request.path.startswith("/api/") else 600, "SAMESITE": "Strict"}


def test_a_dynamic_cookie_gets_an_empty_request_in_the_engine(site):
    site.configure(**{**SITE_SETTINGS, "COOKIE": "tests.integration.test_engine.dynamic_cookie"})
    cookie_requests.clear()
    session = _saved(a=14)
    [request] = cookie_requests
    assert (request.path, request.META, request.COOKIES) == ("", {}, {})
    stored = site.store.get(session.id)["cookie"]
    assert (stored["originalMaxAge"], stored["sameSite"]) == (600_000, "Strict")


# -- clearsessions -----------------------------------------------------------------


def stored_records(store: Any) -> int:
    """Records physically present, expired or not (length() counts live ones)."""
    if isinstance(store, DatabaseStore):
        return StoredSession.objects.count()
    return len(store._records)


def test_djangos_clearsessions_removes_expired_sessions(site):
    with freeze_time("2030-01-01 12:00:00"):
        old = _saved(a=1)
    with freeze_time("2030-01-01 12:59:00"):
        fresh = _saved(a=2)
    with freeze_time("2030-01-01 12:00:00") as clock:
        clock.tick(timedelta(hours=1, minutes=30))
        assert stored_records(site.store) == 2
        call_command(DjangoClearSessions(), stdout=StringIO())
        assert stored_records(site.store) == 1
        assert site.store.get(fresh.id) is not None
        assert site.store.get(old.id) is None


# -- Channels ----------------------------------------------------------------------


async def _channels_request(cookie: str | None) -> tuple[int, dict[str, str], str]:
    """One HTTP request through Channels' CookieMiddleware + SessionMiddleware."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        session = scope["session"]
        count = await session.aget("count", 0) + 1
        await session.aset("count", count)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(count).encode()})

    headers = [(b"cookie", f"{NAME}={cookie}".encode())] if cookie else []
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    communicator = ApplicationCommunicator(CookieMiddleware(SessionMiddleware(app)), scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output()
    body = await communicator.receive_output()
    await communicator.wait()
    cookies = {}
    for name, value in start["headers"]:
        if name == b"Set-Cookie":
            key, _, rest = value.decode().partition("=")
            cookies[key] = rest.split(";", 1)[0]
    return start["status"], cookies, body["body"].decode()


@pytest.mark.django_db(transaction=True)
async def test_channels_session_round_trips_with_the_middleware(site):
    client = AsyncClient()
    await client.get("/t/remember/erin/")
    # The middleware's cookie is read by Channels...
    status, cookies, body = await _channels_request(cookie_value(client))
    assert (status, body) == (200, "1")
    # ...and Channels writes back the same signed cookie value...
    assert cookies[NAME] == cookie_value(client)
    # ...so the site sees what Channels stored, and Channels counts on.
    session = await client.asession()
    assert await session.aget("count") == 1
    assert (await client.get("/t/reads/")).content == b"hello erin"
    assert (await _channels_request(cookies[NAME]))[2] == "2"


@pytest.mark.django_db(transaction=True)
async def test_channels_creates_a_session_the_site_accepts(site):
    status, cookies, body = await _channels_request(None)
    assert (status, body) == (200, "1")
    client = AsyncClient()
    client.cookies[NAME] = cookies[NAME]
    assert await (await client.asession()).aget("count") == 1
    assert (await client.get("/t/session-id/")).content.decode() == sid_of(client)


@pytest.mark.django_db(transaction=True)
async def test_channels_ignores_a_forged_cookie(site):
    status, cookies, body = await _channels_request("s%3Aforged.signature")
    assert (status, body) == (200, "1")  # counted from zero: nothing was adopted
    assert cookies[NAME] != "s%3Aforged.signature"


# -- a store that hands back a corrupt record ------------------------------------------


class CorruptStore(MemoryStore):
    """A real memory store whose records lost their cookie object."""

    def read(self, sid: str) -> Record | None:
        record = super().read(sid)
        return None if record is None else Record(document={**record.parsed(), "cookie": "not an object"})


def test_a_corrupt_record_is_no_session_and_is_logged(site, caplog):
    site.configure(**SITE_SETTINGS, STORE={"BACKEND": "tests.integration.test_engine.CorruptStore"})
    key = _saved(a=11).session_key
    with caplog.at_level("WARNING", logger="django.security.expsession"):
        session = SessionStore(key)
        assert session.get("a") is None
    assert session.session_key is None
    assert "no cookie object" in caplog.text
