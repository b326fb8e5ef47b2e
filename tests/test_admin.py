"""The sessions in the Django admin, driven by a superuser logged in through it.

The login itself goes through our middleware and the SQLite DatabaseStore,
so the admin's own session is one of the rows listed.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from freezegun import freeze_time

from django_expsession.clock import format_iso, now_ms
from django_expsession.stores import get_store
from django_expsession.stores.base import Store

from . import spy
from .conftest import STORES

CHANGELIST = "/admin/django_expsession/session/"
pytestmark = pytest.mark.django_db


def change_url(sid: str) -> str:
    return f"{CHANGELIST}{sid}/change/"


def express_doc(max_age: int, user: object = None, **data: Any) -> dict[str, Any]:
    cookie = {
        "originalMaxAge": max_age * 1000,
        "expires": format_iso(now_ms() + max_age * 1000),
        "httpOnly": True,
        "path": "/",
    }
    document: dict[str, Any] = {"cookie": cookie}
    if user is not None:
        document["_auth_user_id"] = str(user)
    document.update(data)
    return document


def expsession(store: str = "tests.spy.SpyDatabaseStore") -> dict[str, Any]:
    return {
        "SECRET": "keyboard cat",
        "RESAVE": False,
        "SAVE_UNINITIALIZED": False,
        "COOKIE": {"MAX_AGE": 3600},
        "STORE": {"BACKEND": store, "OPTIONS": {"USING": "default"} if "Database" in store else {}},
    }


@pytest.fixture
def clock() -> Iterator[Any]:
    with freeze_time("2026-03-01 12:00:00") as frozen:
        yield frozen


@pytest.fixture
def superuser(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_superuser("root", "root@example.com", "s3cret")


def log_in(client: Client) -> None:
    response = client.post("/admin/login/", {"username": "root", "password": "s3cret", "next": "/admin/"})
    assert response.status_code == 302, "the admin login failed"


@pytest.fixture
def admin(settings: Any, clock: Any, superuser: User) -> Client:
    settings.ROOT_URLCONF = "testproject.urls"
    settings.EXPSESSION = expsession()
    client = Client()
    log_in(client)
    return client


@pytest.fixture
def alice(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("alice", password="x")


@pytest.fixture
def store(admin: Client, clock: Any, alice: User) -> Store:
    """Beside the admin's own session: three active sessions and an expired one."""
    store = get_store()
    store.set("alice-session-1", express_doc(3600, user=alice.pk, cart=["tea", "café"], note="<b>hi</b>"))
    store.set("ghost-session", express_doc(3600, user=999))
    store.set("anon-session", express_doc(3600, views={"/": 2}))
    store.set("alice-old", express_doc(60, user=alice.pk))
    clock.tick(120)
    spy.calls.clear()
    return store


def shown_sids(response: Any) -> set[str]:
    return {row.sid for row in response.context["cl"].result_list}


# -- changelist ----------------------------------------------------------------------


def test_changelist_lists_short_ids_users_expiry_and_status(admin: Client, store: Store, alice: User) -> None:
    response = admin.get(CHANGELIST)

    assert response.status_code == 200
    page = response.content.decode()
    assert shown_sids(response) >= {"alice-session-1", "ghost-session", "anon-session", "alice-old"}
    assert '/alice-session-1/change/">alice-se…</a>' in page  # the id shortened
    assert f'<a href="/admin/auth/user/{alice.pk}/change/">alice</a>' in page
    assert "999 (no such user)" in page
    assert page.count('alt="True"') == 4  # three active sessions and the admin's own
    assert page.count('alt="False"') == 1


def test_changelist_looks_users_up_in_one_query(
    admin: Client, store: Store, alice: User, django_assert_max_num_queries: Any
) -> None:
    for n in range(10):
        store.set(f"many-{n}", express_doc(3600, user=alice.pk))
    admin.get(CHANGELIST)  # warm the admin's own session and caches

    with django_assert_max_num_queries(6):
        response = admin.get(CHANGELIST)

    assert response.content.decode().count(f"/admin/auth/user/{alice.pk}/change/") == 12


@pytest.mark.parametrize(
    ("status", "expected"),
    [("active", {"alice-session-1", "ghost-session", "anon-session"}), ("expired", {"alice-old"})],
)
def test_status_filter_shows_active_or_expired_sessions(
    admin: Client, store: Store, superuser: User, status: str, expected: set[str]
) -> None:
    admins_own = {sid for sid, _ in store.user_sessions(superuser.pk)}

    response = admin.get(CHANGELIST, {"status": status})

    assert response.status_code == 200
    assert shown_sids(response) - admins_own == expected
    assert '<a href="?status=expired">Expired</a>' in response.content.decode()


def test_search_finds_a_users_sessions_by_exact_user_id(admin: Client, store: Store, alice: User) -> None:
    response = admin.get(CHANGELIST, {"q": str(alice.pk)})

    assert shown_sids(response) == {"alice-session-1", "alice-old"}


def test_search_finds_sessions_by_the_beginning_of_their_id(admin: Client, store: Store) -> None:
    assert shown_sids(admin.get(CHANGELIST, {"q": "alice-"})) == {"alice-session-1", "alice-old"}
    assert shown_sids(admin.get(CHANGELIST, {"q": "session"})) == set()


def test_changelist_warns_when_the_configured_store_is_not_the_database(
    settings: Any, clock: Any, superuser: User
) -> None:
    settings.ROOT_URLCONF = "testproject.urls"
    settings.EXPSESSION = expsession("django_expsession.stores.memory.MemoryStore")
    client = Client()
    log_in(client)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert "The configured session store is MemoryStore, not the DatabaseStore" in response.content.decode()
    assert shown_sids(response) == set()


@pytest.mark.django_db(databases=["default", "postgres"])
def test_changelist_warns_when_the_store_keeps_connect_pg_simples_table(
    settings: Any, clock: Any, superuser: User, pg_simple_table: str
) -> None:
    settings.ROOT_URLCONF = "testproject.urls"
    settings.EXPSESSION = {
        **expsession(),
        "STORE": {
            "BACKEND": "django_expsession.stores.db.DatabaseStore",
            "OPTIONS": STORES["db-pgsimple"].options,
        },
    }
    get_store().clear()
    client = Client()
    log_in(client)  # the admin's session is in connect-pg-simple's table, not in the model's

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    shown = html.unescape(response.content.decode())
    assert "store is DatabaseStore on connect-pg-simple's table 'expsession_contract.session'" in shown
    assert shown_sids(response) == set()
    assert get_store().length() == 1


# -- detail page ----------------------------------------------------------------------


def test_detail_page_shows_the_decoded_document_pretty_printed(admin: Client, store: Store) -> None:
    response = admin.get(change_url("alice-session-1"))

    assert response.status_code == 200
    page = response.content.decode()
    pretty = json.dumps(store.get("alice-session-1"), indent=2, ensure_ascii=False)
    assert f"<pre>{html.escape(pretty)}</pre>" in page
    assert "café" in page
    assert "<b>hi</b>" not in page  # user data is escaped
    assert "alice-session-1" in page


def test_detail_page_is_read_only_and_the_session_id_never_editable(admin: Client, store: Store) -> None:
    page = admin.get(change_url("anon-session")).content.decode()

    assert 'name="sid"' not in page
    assert 'name="data"' not in page
    assert 'type="submit" value="Save"' not in page


def test_changing_a_session_is_forbidden(admin: Client, store: Store) -> None:
    response = admin.post(change_url("anon-session"), {"sid": "chosen-by-me", "data": "{}"})

    assert response.status_code == 403
    assert store.get("anon-session") is not None
    assert store.get("chosen-by-me") is None


def test_sessions_cannot_be_added(admin: Client, store: Store) -> None:
    assert admin.get(f"{CHANGELIST}add/").status_code == 403
    assert admin.post(f"{CHANGELIST}add/", {"sid": "new", "data": "{}"}).status_code == 403
    assert f'href="{CHANGELIST}add/"' not in admin.get(CHANGELIST).content.decode()


# -- destroying -------------------------------------------------------------------------


def test_destroy_action_destroys_the_selected_sessions_through_the_store(admin: Client, store: Store) -> None:
    response = admin.post(
        CHANGELIST,
        {"action": "destroy_sessions", "_selected_action": ["ghost-session", "anon-session"]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Destroyed 2 sessions." in response.content.decode()
    assert spy.calls["destroy"] == 2
    assert store.get("ghost-session") is None
    assert store.get("anon-session") is None
    assert store.get("alice-session-1") is not None


def test_only_the_store_backed_destroy_action_is_offered(admin: Client, store: Store) -> None:
    response = admin.get(CHANGELIST)

    choices = [name for name, _ in response.context["action_form"].fields["action"].choices if name]
    assert choices == ["destroy_sessions"]


def test_deleting_from_the_detail_page_goes_through_the_store(admin: Client, store: Store) -> None:
    response = admin.post(f"{CHANGELIST}ghost-session/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert spy.calls["destroy"] == 1
    assert store.get("ghost-session") is None


def test_staff_without_permissions_cannot_see_sessions(
    admin: Client, store: Store, django_user_model: type[User]
) -> None:
    django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client = Client()
    assert (
        client.post("/admin/login/", {"username": "clerk", "password": "x", "next": "/admin/"}).status_code
        == 302
    )

    assert client.get(CHANGELIST).status_code == 403
    response = client.post(CHANGELIST, {"action": "destroy_sessions", "_selected_action": ["anon-session"]})
    assert response.status_code == 403
    assert store.get("anon-session") is not None


# -- the model's migrations ---------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_the_model_has_no_changes_missing_from_the_migrations() -> None:
    out = io.StringIO()

    call_command("makemigrations", "django_expsession", "--check", "--dry-run", stdout=out)

    assert out.getvalue() == "No changes detected in app 'django_expsession'\n"
