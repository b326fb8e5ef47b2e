"""The admin through the middleware, and the system checks for replacing contrib.sessions."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any
from urllib.parse import unquote

import pytest
from django.core import checks
from django.test import Client

from django_expsession import signing

from .server import ROOT

NAME = "connect.sid"
OURS = "django_expsession.middleware.SessionMiddleware"
DJANGOS = "django.contrib.sessions.middleware.SessionMiddleware"


def sid_of(client: Client) -> str | None:
    return signing.unsign_cookie(unquote(client.cookies[NAME].value), ["keyboard cat"])


def csrf_token(client: Client, path: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(path).content.decode())
    assert match is not None
    return match.group(1)


# -- admin login and logout ---------------------------------------------------------


@pytest.mark.django_db
def test_admin_login_and_logout(site, admin_user):
    client = Client(enforce_csrf_checks=True)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"

    token = csrf_token(client, "/admin/login/?next=/admin/")
    before = sid_of(client) if NAME in client.cookies else None
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": "hunter22", "csrfmiddlewaretoken": token, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    logged_in = sid_of(client)
    assert logged_in != before
    assert site.store.get(logged_in)["_auth_user_id"] == str(admin_user.pk)

    page = client.get("/admin/")
    assert page.status_code == 200
    assert b"Site administration" in page.content

    token = csrf_token(client, "/admin/")
    response = client.post("/admin/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response["Location"] == "/"  # LOGOUT_REDIRECT_URL
    assert site.store.get(logged_in) is None
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_admin_rejects_a_non_staff_user(site, alice):
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": "alice", "password": "wonderland"})
    assert response.status_code == 200  # the form again, with an error
    assert client.get("/admin/").status_code == 302


# -- system checks ------------------------------------------------------------------


def ids(**kwargs: Any) -> set[str]:
    kwargs.setdefault("tags", ["expsession", "admin"])
    return {message.id for message in checks.run_checks(**kwargs)}


def messages_with(id: str) -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=["expsession"]) if m.id == id]


def test_the_test_settings_pass_the_session_and_admin_checks():
    assert ids() == set()


def test_admin_e410_passes_because_the_middleware_subclasses_djangos(settings):
    assert "admin.E410" not in ids(tags=["admin"])
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != OURS]
    assert "admin.E410" in ids(tags=["admin"])  # the check is live


def test_djangos_session_middleware_beside_ours_is_an_error(settings):
    settings.MIDDLEWARE = [DJANGOS, *settings.MIDDLEWARE]
    messages = messages_with("expsession.E013")
    assert len(messages) == 1
    assert messages[0].level == checks.ERROR
    assert DJANGOS in messages[0].hint


def test_djangos_session_middleware_alone_is_not_our_business(settings):
    settings.MIDDLEWARE = [DJANGOS if m == OURS else m for m in settings.MIDDLEWARE]
    assert "expsession.E013" not in ids()


def test_another_session_engine_is_reported(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    messages = messages_with("expsession.W006")
    assert len(messages) == 1
    assert "django_expsession.engine" in messages[0].hint


def test_a_subclass_of_our_engine_is_accepted(settings):
    settings.SESSION_ENGINE = "tests.integration.custom_engine"
    assert "expsession.W006" not in ids()


def test_a_cookie_name_other_than_the_session_cookie_is_reported(settings):
    settings.SESSION_COOKIE_NAME = "sessionid"
    messages = messages_with("expsession.W007")
    assert len(messages) == 1
    assert "'connect.sid'" in messages[0].hint


def test_the_cookie_name_follows_expsession_name(settings):
    settings.EXPSESSION = {**settings.EXPSESSION, "NAME": "app.sid"}
    assert "expsession.W007" in ids()
    settings.SESSION_COOKIE_NAME = "app.sid"
    assert "expsession.W007" not in ids()


def test_contrib_sessions_still_installed_is_reported(settings):
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.sessions"]
    messages = messages_with("expsession.W008")
    assert len(messages) == 1
    assert "Remove 'django.contrib.sessions' from INSTALLED_APPS" in messages[0].hint


def test_manage_py_check_is_clean_on_the_demo_site(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "testproject.settings",
            "DEMO_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
