"""The demo site (testproject) in-process: its views and its createdemouser command."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.test import Client
from freezegun import freeze_time

pytestmark = pytest.mark.django_db


def views_on(response: object) -> str:
    match = re.search(r'<p id="views">([^<]+)</p>', response.content.decode())  # type: ignore[attr-defined]
    assert match is not None
    return match.group(1)


def test_createdemouser_creates_a_superuser_demo_demo():
    out = StringIO()
    call_command("createdemouser", stdout=out)
    user = authenticate(username="demo", password="demo")
    assert user is not None and user.is_staff and user.is_superuser
    assert "Created the demo user 'demo'" in out.getvalue()


def test_createdemouser_resets_an_existing_user():
    call_command("createdemouser", stdout=StringIO())
    out = StringIO()
    call_command("createdemouser", "--password", "other", stdout=out)
    assert get_user_model().objects.filter(username="demo").count() == 1
    assert authenticate(username="demo", password="other") is not None
    assert "Reset the demo user" in out.getvalue()


def test_createdemouser_takes_a_username():
    call_command("createdemouser", "--username", "guest", "--password", "pw", stdout=StringIO())
    assert authenticate(username="guest", password="pw") is not None


def test_the_counter_counts_per_path(site, client):
    assert views_on(client.get("/")) == "you viewed this page 1 time"
    assert views_on(client.get("/")) == "you viewed this page 2 times"
    assert views_on(client.get("/foo")) == "you viewed this page 1 time"
    assert views_on(Client().get("/")) == "you viewed this page 1 time"  # another visitor


@pytest.mark.django_db(transaction=True)
async def test_the_expiry_page_shows_the_cookie_expiry(site, async_client):
    with freeze_time("2030-01-01 12:00:00"):
        response = await async_client.get("/expiry/")
    page = response.content.decode()
    # MAX_AGE one hour (the site's settings), from the frozen now.
    assert 'data-expires="2030-01-01T13:00:00.000Z"' in page
    assert "3600 s" in page
    assert "user: anonymous" in page


def test_the_expiry_page_says_so_for_a_browser_session_cookie(site, client):
    site.configure(RESAVE=False, SAVE_UNINITIALIZED=False, COOKIE={})
    page = client.get("/expiry/").content.decode()
    assert "it lasts until the browser closes" in page


def test_the_demo_login_page_logs_in(site, client):
    call_command("createdemouser", stdout=StringIO())
    assert b"demo" in client.get("/login/").content
    response = client.post("/login/", {"username": "demo", "password": "demo"})
    assert response.status_code == 302
    assert 'id="user" class="muted">user: demo<' in client.get("/").content.decode()
