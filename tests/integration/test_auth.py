"""contrib.auth through the middleware: login, logout, password changes, async views."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from django.test import AsyncClient, Client

from django_expsession import signing

pytestmark = pytest.mark.django_db

NAME = "connect.sid"


def sid_of(client: Client | AsyncClient) -> str | None:
    return signing.unsign_cookie(unquote(client.cookies[NAME].value), ["keyboard cat"])


def set_cookie_sid(response: Any) -> str | None:
    morsel = response.cookies.get(NAME)
    return None if morsel is None else signing.unsign_cookie(unquote(morsel.value), ["keyboard cat"])


def log_in(client: Client, password: str = "wonderland") -> Any:
    return client.post("/login/", {"username": "alice", "password": password})


def test_login_sends_a_new_id_and_destroys_the_old_session(site, alice, client):
    client.get("/")
    before = sid_of(client)
    assert site.store.get(before)["views"] == {"/": 1}

    response = log_in(client)

    assert response.status_code == 302
    after = set_cookie_sid(response)
    assert after is not None and after != before
    assert site.store.get(before) is None
    stored = site.store.get(after)
    assert stored["_auth_user_id"] == str(alice.pk)
    assert stored["views"] == {"/": 1}  # login keeps the visitor's data
    assert client.get("/t/whoami/").content == b"alice"


def test_failed_login_keeps_the_session_and_the_user_anonymous(site, alice, client):
    client.get("/")
    before = sid_of(client)
    response = log_in(client, password="wrong")
    assert response.status_code == 200
    assert sid_of(client) == before
    assert client.get("/t/whoami/").content == b"anonymous"


def test_logout_flushes_the_session(site, alice, client):
    log_in(client)
    logged_in = sid_of(client)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert site.store.get(logged_in) is None
    assert set_cookie_sid(response) not in (None, logged_in)
    assert client.get("/t/whoami/").content == b"anonymous"


def test_the_old_cookie_is_worthless_after_logout(site, alice, client):
    log_in(client)
    stolen = client.cookies[NAME].value
    client.post("/logout/")
    thief = Client()
    thief.cookies[NAME] = stolen
    assert thief.get("/t/whoami/").content == b"anonymous"


def test_password_change_keeps_this_device_logged_in(site, alice, client):
    log_in(client)
    before = sid_of(client)
    response = client.post(
        "/t/password/",
        {
            "old_password": "wonderland",
            "new_password1": "looking-glass-42",
            "new_password2": "looking-glass-42",
        },
    )
    assert response.status_code == 302
    # update_session_auth_hash cycles the key and stores the new hash.
    after = set_cookie_sid(response)
    assert after is not None and after != before
    assert site.store.get(before) is None
    alice.refresh_from_db()
    assert site.store.get(after)["_auth_user_hash"] == alice.get_session_auth_hash()
    assert client.get("/t/whoami/").content == b"alice"


def test_password_change_on_another_device_logs_this_one_out(site, alice, client):
    log_in(client)
    other = Client()
    assert log_in(other).status_code == 302
    other_sid = sid_of(other)

    client.post(
        "/t/password/",
        {
            "old_password": "wonderland",
            "new_password1": "looking-glass-42",
            "new_password2": "looking-glass-42",
        },
    )

    assert other.get("/t/whoami/").content == b"anonymous"
    # get_user() flushed the stale session.
    assert site.store.get(other_sid) is None
    assert client.get("/t/whoami/").content == b"alice"


@pytest.mark.django_db(transaction=True)
async def test_alogin_aget_user_and_alogout_from_async_views(site, alice):
    client = AsyncClient()
    await client.get("/t/async/whoami/")
    await client.get("/")
    before = sid_of(client)

    response = await client.post("/t/async/login/", {"username": "alice", "password": "wonderland"})

    assert response.content == b"logged in"
    after = set_cookie_sid(response)
    assert after is not None and after != before
    assert await site.store.aget(before) is None
    assert (await site.store.aget(after))["_auth_user_id"] == str(alice.pk)
    assert (await client.get("/t/async/whoami/")).content == b"alice"

    response = await client.post("/t/async/logout/")

    assert response.content == b"logged out"
    assert await site.store.aget(after) is None
    assert (await client.get("/t/async/whoami/")).content == b"anonymous"


@pytest.mark.django_db(transaction=True)
async def test_async_view_rejects_bad_credentials_without_a_session(site, alice):
    client = AsyncClient()
    response = await client.post("/t/async/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 403
    assert NAME not in response.cookies
    assert await site.store.alength() == 0
