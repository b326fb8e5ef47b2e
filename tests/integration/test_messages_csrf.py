"""contrib.messages in the session, CSRF_USE_SESSIONS and PasswordResetConfirmView."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from django_expsession import signing

pytestmark = pytest.mark.django_db

NAME = "connect.sid"


def stored(site: Any, client: Client) -> dict[str, Any] | None:
    sid = signing.unsign_cookie(unquote(client.cookies[NAME].value), ["keyboard cat"])
    return site.store.get(sid)


# -- messages -------------------------------------------------------------------


def test_session_storage_keeps_messages_in_the_session_until_shown(site, settings, client):
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
    response = client.get("/t/messages/add/?n=2")
    assert response.status_code == 302
    assert "messages" not in response.cookies
    assert "message 1" in stored(site, client)["_messages"]

    assert client.get("/t/messages/show/").content.decode().splitlines() == [
        "message 0 xxxxx",
        "message 1 xxxxx",
    ]
    assert "_messages" not in stored(site, client)
    assert client.get("/t/messages/show/").content == b""


def test_fallback_storage_puts_what_the_cookie_cannot_hold_in_the_session(site, client):
    # Three 1500-byte messages overflow the 2 KB messages cookie.
    response = client.get("/t/messages/add/?n=3&size=1500&random")
    assert "messages" in response.cookies  # the cookie holds what fits
    assert "_messages" in stored(site, client)

    shown = client.get("/t/messages/show/").content.decode().splitlines()

    assert [line[: len("message 0")] for line in shown] == ["message 0", "message 1", "message 2"]
    assert "_messages" not in stored(site, client)


def test_fallback_storage_uses_only_the_cookie_for_small_messages(site, client):
    response = client.get("/t/messages/add/?n=1")
    assert "messages" in response.cookies
    assert NAME not in response.cookies  # nothing went into the session
    assert client.get("/t/messages/show/").content == b"message 0 xxxxx"


# -- CSRF_USE_SESSIONS ----------------------------------------------------------------


@pytest.fixture
def csrf_client(settings: Any) -> Client:
    settings.CSRF_USE_SESSIONS = True
    return Client(enforce_csrf_checks=True)


def test_csrf_token_lives_in_the_session(site, csrf_client):
    response = csrf_client.get("/t/form/")
    token = response.content.decode()
    assert "csrftoken" not in response.cookies
    assert stored(site, csrf_client)["_csrftoken"]
    assert csrf_client.post("/t/form/", {"csrfmiddlewaretoken": token}).content == b"posted"


def test_csrf_rejects_a_wrong_token(site, csrf_client):
    csrf_client.get("/t/form/")
    assert csrf_client.post("/t/form/", {"csrfmiddlewaretoken": "x" * 32}).status_code == 403


def test_csrf_rejects_a_token_from_another_session(site, csrf_client):
    token = csrf_client.get("/t/form/").content.decode()
    stranger = Client(enforce_csrf_checks=True)
    stranger.get("/t/form/")
    assert stranger.post("/t/form/", {"csrfmiddlewaretoken": token}).status_code == 403


def test_csrf_rejects_a_post_without_a_session(site, csrf_client):
    token = csrf_client.get("/t/form/").content.decode()
    csrf_client.cookies.pop(NAME)
    assert csrf_client.post("/t/form/", {"csrfmiddlewaretoken": token}).status_code == 403


# -- PasswordResetConfirmView ---------------------------------------------------------


def test_password_reset_confirm_keeps_the_token_in_the_session(site, alice, client):
    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    token = default_token_generator.make_token(alice)

    response = client.get(f"/t/reset/{uid}/{token}/")

    # The view moves the token from the URL into the session and redirects.
    set_password = f"/t/reset/{uid}/set-password/"
    assert response.status_code == 302
    assert response["Location"] == set_password
    assert stored(site, client)["_password_reset_token"] == token
    assert client.get(set_password).status_code == 200

    response = client.post(
        set_password, {"new_password1": "through-the-glass", "new_password2": "through-the-glass"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/t/reset/done/"
    assert authenticate(username="alice", password="through-the-glass") is not None


def test_password_reset_confirm_without_the_session_shows_an_invalid_link(site, alice, client):
    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    token = default_token_generator.make_token(alice)
    client.get(f"/t/reset/{uid}/{token}/")
    stranger = Client()
    response = stranger.get(f"/t/reset/{uid}/set-password/")
    assert response.status_code == 200
    assert response.context["validlink"] is False
