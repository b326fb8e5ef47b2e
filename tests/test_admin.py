"""The sessions in the Django admin, on every store, driven by a superuser logged in through it.

The login goes through our middleware and the configured store, so the
admin's own session is one of the sessions listed.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from freezegun import freeze_time

from django_expsession import signals
from django_expsession.admin import SessionAdmin
from django_expsession.clock import format_iso, now_ms
from django_expsession.events import id_hash
from django_expsession.stores import get_store
from django_expsession.stores.base import Store

CHANGELIST = "/admin/django_expsession/session/"
EXPIRES_ITSELF = {"cache-locmem", "cache-redis", "redis-url", "redis-cache", "redis-cluster"}
FIXTURE = {"alice-session-1", "alice-session-2", "ghost-session", "anon-session"}

# The users live on "default"; the sessions wherever the store is.
pytestmark = pytest.mark.django_db(databases="__all__")


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


@pytest.fixture
def clock() -> Iterator[Any]:
    # In the future: RedisStore's keys expire at absolute times by Redis's own clock.
    with freeze_time("2030-03-01 12:00:00") as frozen:
        yield frozen


@pytest.fixture
def superuser(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_superuser("root", "root@example.com", "s3cret")


def log_in_site(client: Client, username: str, password: str) -> None:
    """A login through the site's own login view (not the admin's)."""
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302, "the site login failed"


def log_in(client: Client, username: str = "root", password: str = "s3cret") -> None:
    response = client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
    assert response.status_code == 302, "the admin login failed"


@pytest.fixture
def admin(settings: Any, expsession: Any, clock: Any, superuser: User) -> Client:
    settings.ROOT_URLCONF = "testproject.urls"
    expsession.configure(spy_on=False, COOKIE={"MAX_AGE": 3600}, RESAVE=False, SAVE_UNINITIALIZED=False)
    client = Client()
    log_in(client)
    return client


@pytest.fixture
def alice(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("alice", password="x")


@pytest.fixture
def store(admin: Client, clock: Any, alice: User) -> Store:
    """Beside the admin's own session: four active sessions and an expired one."""
    store = get_store()
    store.set("alice-session-1", express_doc(3600, user=alice.pk, cart=["tea", "café"], note="<b>hi</b>"))
    store.set("alice-session-2", express_doc(1800, user=alice.pk))
    store.set("ghost-session", express_doc(3000, user=999))
    store.set("anon-session", express_doc(2400, views={"/": 2}))
    store.set("alice-old", express_doc(60, user=alice.pk))
    clock.tick(120)
    return store


@pytest.fixture
def kept(store_name: str) -> set[str]:
    """The expired sessions the store still lists (a cache or Redis drops them itself)."""
    return set() if store_name in EXPIRES_ITSELF else {"alice-old"}


@contextlib.contextmanager
def destroyed_signals() -> Iterator[list[tuple[str, str | None]]]:
    """``session_destroyed`` as sent meanwhile: (id hash, username of the request's user)."""
    sent: list[tuple[str, str | None]] = []

    def receiver(sender: Any, request: Any, id_hash: str, **kwargs: Any) -> None:
        sent.append((id_hash, None if request is None else request.user.get_username()))

    signals.session_destroyed.connect(receiver)
    try:
        yield sent
    finally:
        signals.session_destroyed.disconnect(receiver)


def shown(response: Any) -> list[str]:
    return [row["entry"].sid for row in response.context["rows"]]


def own(store: Store, superuser: User) -> set[str]:
    return {sid for sid, _ in store.user_sessions(superuser.pk)}


# -- the list --------------------------------------------------------------------------------


def test_sessions_are_in_the_admin_index_whatever_the_store(admin: Client) -> None:
    page = admin.get("/admin/").content.decode()

    assert f'<a href="{CHANGELIST}"' in page
    assert ">Sessions</a>" in page


def test_the_list_shows_ids_users_expiry_last_seen_and_status(
    admin: Client, store: Store, superuser: User, alice: User, kept: set[str]
) -> None:
    response = admin.get(CHANGELIST)

    assert response.status_code == 200
    page = response.content.decode()
    assert set(shown(response)) == FIXTURE | kept | own(store, superuser)
    assert f'<a href="{change_url("alice-session-1")}">alice-se…</a>' in page  # the id shortened
    assert f'<a href="/admin/auth/user/{alice.pk}/change/">alice</a>' in page
    assert "999 (no such user)" in page
    assert page.count('alt="True"') == 5  # four sessions and the admin's own
    assert page.count('alt="False"') == len(kept)
    row = next(r for r in response.context["rows"] if r["entry"].sid == "alice-session-1")
    assert row["entry"].expires.isoformat() == "2030-03-01T13:00:00+00:00"
    assert row["entry"].last_seen.isoformat() == "2030-03-01T12:00:00+00:00"  # expires - maxAge
    assert f"Store: {type(store).__name__}, " in page


def test_the_list_is_newest_expiry_first(admin: Client, store: Store, superuser: User) -> None:
    listed = [
        sid for sid in shown(admin.get(CHANGELIST, {"status": "active"})) if sid not in own(store, superuser)
    ]

    assert listed == ["alice-session-1", "ghost-session", "anon-session", "alice-session-2"]


def test_the_list_looks_users_up_in_one_query(
    admin: Client, store: Store, store_name: str, alice: User, django_assert_max_num_queries: Any
) -> None:
    for n in range(10):
        store.set(f"many-{n}", express_doc(3600, user=alice.pk))
    admin.get(CHANGELIST)

    # The admin's user and the page's users; on SQLite, also the session's load and
    # touch, and the page and its count.
    with django_assert_max_num_queries(6 if store_name == "db-sqlite" else 2, using="default"):
        response = admin.get(CHANGELIST)

    assert response.content.decode().count(f"/admin/auth/user/{alice.pk}/change/") >= 12


@pytest.mark.parametrize("status", ["active", "expired"])
def test_the_status_filter_shows_active_or_expired_sessions(
    admin: Client, store: Store, superuser: User, kept: set[str], status: str
) -> None:
    response = admin.get(CHANGELIST, {"status": status})

    assert response.status_code == 200
    if status == "active":
        assert set(shown(response)) - own(store, superuser) == FIXTURE
    elif kept:
        assert shown(response) == ["alice-old"]
        assert '<li class="selected"><a href="?status=expired">Expired</a></li>' in response.content.decode()
    else:  # not offered: the list says why, and shows everything
        assert 'href="?status=expired"' not in response.content.decode()
        assert "keeps no expired sessions: " in response.content.decode()


def test_search_by_user_name_finds_that_users_sessions(admin: Client, store: Store, kept: set[str]) -> None:
    assert set(shown(admin.get(CHANGELIST, {"q": "ali"}))) == {"alice-session-1", "alice-session-2"} | kept


def test_search_by_user_id_finds_that_users_sessions(admin: Client, store: Store) -> None:
    assert shown(admin.get(CHANGELIST, {"q": "999"})) == ["ghost-session"]


def test_search_by_the_beginning_of_an_id_finds_those_sessions(admin: Client, store: Store) -> None:
    assert shown(admin.get(CHANGELIST, {"q": "anon-"})) == ["anon-session"]
    response = admin.get(CHANGELIST, {"q": "session"})  # a prefix, not a substring
    assert shown(response) == []
    assert "No session matches this search." in response.content.decode()


def test_the_list_is_paginated(
    admin: Client, store: Store, monkeypatch: pytest.MonkeyPatch, kept: set[str]
) -> None:
    monkeypatch.setattr(SessionAdmin, "list_per_page", 2)
    total = len(FIXTURE) + len(kept) + 1

    first = admin.get(CHANGELIST)
    second = admin.get(CHANGELIST, {"p": "2"})

    assert len(shown(first)) == 2
    assert not set(shown(first)) & set(shown(second))
    page = first.content.decode()
    assert f"{total} sessions" in page
    assert f"page 1 of {-(-total // 2)}" in page
    assert '<a href="?p=2" rel="next">next</a>' in page
    assert '<a href="?p=1" rel="prev">previous</a>' not in page
    assert 'rel="prev"' in second.content.decode()


def test_a_store_that_cannot_list_explains_and_opens_a_session_by_id(
    settings: Any, clock: Any, superuser: User, tmp_path: Any
) -> None:
    settings.ROOT_URLCONF = "testproject.urls"
    settings.CACHES = {
        **settings.CACHES,
        "files": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
    }
    settings.EXPSESSION = {
        "SECRET": "keyboard cat",
        "RESAVE": False,
        "SAVE_UNINITIALIZED": False,
        "STORE": {"BACKEND": "django_expsession.stores.cache.CacheStore", "OPTIONS": {"CACHE": "files"}},
    }
    get_store().set("findable", express_doc(3600, views=1))
    client = Client()
    log_in(client)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    page = response.content.decode()
    assert "CacheStore cannot list the sessions in cache &#x27;files&#x27; (FileBasedCache at " in page
    assert "only django-redis caches and LocMemCache can enumerate their keys" in page
    assert '<table id="result_list">' not in page
    opened = client.get(CHANGELIST, {"id": "findable"}, follow=True)
    assert opened.redirect_chain == [(change_url("findable"), 302)]
    assert "&quot;views&quot;: 1" in opened.content.decode()


@pytest.mark.parametrize("store_name", ["memory", "cache-locmem"])
def test_a_store_in_the_servers_memory_says_the_list_is_this_process_only(
    admin: Client, store: Store
) -> None:
    page = admin.get(CHANGELIST).content.decode()

    assert "in the memory of each server process: this page lists only the sessions of the process" in page


# -- one session --------------------------------------------------------------------------------


def test_the_detail_page_shows_the_decoded_document_pretty_printed_and_escaped(
    admin: Client, store: Store, alice: User
) -> None:
    response = admin.get(change_url("alice-session-1"))

    assert response.status_code == 200
    page = response.content.decode()
    pretty = json.dumps(store.get("alice-session-1"), indent=2, ensure_ascii=False)
    assert f"<pre>{html.escape(pretty)}</pre>" in page
    assert "café" in page
    assert "<b>hi</b>" not in page  # user data is escaped
    assert '<div class="readonly" id="session-id">alice-session-1</div>' in page
    assert f'<a href="/admin/auth/user/{alice.pk}/change/">alice</a>' in page
    assert '<div class="readonly" id="session-status">Active</div>' in page


def test_the_detail_page_of_an_expired_session_kept_by_the_store(
    admin: Client, store: Store, kept: set[str]
) -> None:
    response = admin.get(change_url("alice-old"), follow=True)

    if kept:
        assert '<div class="readonly" id="session-status">Expired</div>' in response.content.decode()
    else:
        assert response.redirect_chain == [(CHANGELIST, 302)]
        assert "No session has the id &#x27;alice-old&#x27; (it may have ended)." in response.content.decode()


def test_the_detail_page_is_read_only(admin: Client, store: Store) -> None:
    page = admin.get(change_url("anon-session")).content.decode()

    assert 'name="sid"' not in page
    assert 'name="data"' not in page
    assert admin.post(change_url("anon-session"), {"sid": "chosen", "data": "{}"}).status_code == 403
    assert store.get("anon-session") is not None
    assert store.get("chosen") is None


def test_sessions_cannot_be_added(admin: Client, store: Store) -> None:
    assert admin.get(f"{CHANGELIST}add/").status_code in (302, 404)  # "add" is read as a session id
    assert f'href="{CHANGELIST}add/"' not in admin.get(CHANGELIST).content.decode()
    assert 'href="/admin/django_expsession/session/add/"' not in admin.get("/admin/").content.decode()


# -- destroying ------------------------------------------------------------------------------


def test_destroying_selected_sessions_asks_first_then_destroys_and_says_so(
    admin: Client, store: Store
) -> None:
    chosen = {"action": "destroy_sessions", "_selected_action": ["ghost-session", "anon-session"]}

    asked = admin.post(CHANGELIST, chosen)

    assert asked.status_code == 200
    page = asked.content.decode()
    assert "This destroys the following 2 sessions; their browsers are logged out:" in page
    assert "ghost-se… &middot; 999 (no such user)" in page
    assert store.get("ghost-session") is not None  # nothing yet

    with destroyed_signals() as sent:
        done = admin.post(CHANGELIST, {**chosen, "post": "yes"}, follow=True)

    assert done.redirect_chain == [(CHANGELIST, 302)]
    assert "Destroyed 2 sessions." in done.content.decode()
    # An audit log learns which sessions went and which admin ended them.
    assert sorted(h for h, _ in sent) == sorted([id_hash("ghost-session"), id_hash("anon-session")])
    assert {user for _, user in sent} == {"root"}
    assert store.get("ghost-session") is None
    assert store.get("anon-session") is None
    assert store.get("alice-session-1") is not None


def test_logging_a_user_out_everywhere_lists_every_session_of_theirs_first(
    admin: Client, store: Store
) -> None:
    chosen = {"action": "destroy_user_sessions", "_selected_action": ["alice-session-2", "anon-session"]}

    asked = admin.post(CHANGELIST, chosen)

    page = asked.content.decode()
    assert "This logs the following user out everywhere, destroying every one of their sessions:" in page
    assert re.search(r"<li>alice: (alice-se…, alice-se…)</li>", page)
    assert '<input type="hidden" name="user" value="' in page
    users = re.findall(r'name="user" value="([^"]+)"', page)

    with destroyed_signals() as sent:
        done = admin.post(CHANGELIST, {**chosen, "user": users, "post": "yes"}, follow=True)

    assert "Logged 1 user out everywhere: destroyed 2 sessions." in done.content.decode()
    assert sorted(h for h, _ in sent) == sorted([id_hash("alice-session-1"), id_hash("alice-session-2")])
    assert store.get("alice-session-1") is None
    assert store.get("alice-session-2") is None
    assert store.get("anon-session") is not None  # anonymous: nobody to log out


def test_the_detail_page_offers_both_ways_to_destroy(admin: Client, store: Store) -> None:
    page = admin.get(change_url("alice-session-1")).content.decode()

    assert 'value="destroy_sessions" class="button">Destroy this session</button>' in page
    assert 'value="destroy_user_sessions" class="button">Log this user out everywhere</button>' in page
    assert "Log this user out everywhere" not in admin.get(change_url("anon-session")).content.decode()


def test_the_delete_link_asks_for_a_confirmation(admin: Client, store: Store) -> None:
    response = admin.get(f"{CHANGELIST}ghost-session/delete/")

    assert "This destroys the following session; its browser is logged out:" in response.content.decode()
    assert store.get("ghost-session") is not None


def test_an_action_without_a_selection_does_nothing_and_says_so(admin: Client, store: Store) -> None:
    response = admin.post(CHANGELIST, {"action": "destroy_sessions"}, follow=True)

    assert "Select the sessions to act on first; nothing was destroyed." in response.content.decode()
    assert store.get("ghost-session") is not None


@pytest.mark.parametrize("store_name", ["memory", "db-sqlite"])
def test_staff_without_permissions_cannot_see_or_destroy_sessions(
    admin: Client, store: Store, django_user_model: type[User]
) -> None:
    django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client = Client()
    log_in(client, "clerk", "x")

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url("anon-session")).status_code == 403
    response = client.post(
        CHANGELIST, {"action": "destroy_sessions", "_selected_action": ["anon-session"], "post": "yes"}
    )
    assert response.status_code == 403
    assert store.get("anon-session") is not None


@pytest.mark.parametrize("store_name", ["memory", "db-sqlite"])
def test_staff_who_may_only_view_get_no_actions(
    admin: Client, store: Store, django_user_model: type[User]
) -> None:
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_session"))
    client = Client()
    log_in(client, "viewer", "x")

    page = client.get(CHANGELIST).content.decode()

    assert "anon-ses" in page
    assert 'name="action"' not in page
    assert (
        client.post(
            CHANGELIST, {"action": "destroy_sessions", "_selected_action": ["anon-session"]}
        ).status_code
        == 403
    )


# -- log out everywhere, from the user list -------------------------------------------------------

USERS = "/admin/auth/user/"


def test_the_user_list_logs_the_selected_users_out_everywhere_after_asking(
    admin: Client, store: Store, alice: User, superuser: User, django_user_model: type[User]
) -> None:
    # Alice is also logged in for real, in a browser of her own.
    browser = Client()
    log_in_site(browser, "alice", "x")
    assert browser.get("/account/sessions/").status_code == 200
    bob = django_user_model.objects.create_user("bob", password="x")
    store.set("bob-session", express_doc(3600, user=bob.pk))
    chosen = {"action": "log_out_everywhere", "_selected_action": [str(alice.pk)]}

    listing = admin.get(USERS).content.decode()
    asked = admin.post(USERS, chosen)

    assert '<option value="log_out_everywhere">Log the selected users out everywhere</option>' in listing
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "This logs the following user out everywhere, destroying every one of their sessions:" in page
    listed = re.search(r"<li>alice: ([^<]*)</li>", page)
    assert listed is not None
    shortened = listed.group(1).split(", ")
    assert len(shortened) == 3
    assert shortened.count("alice-se…") == 2  # the two stored ones, and the browser's
    assert browser.get("/account/sessions/").status_code == 200  # nothing yet

    with destroyed_signals() as sent:
        done = admin.post(USERS, {**chosen, "post": "yes"}, follow=True)

    assert done.redirect_chain == [(USERS, 302)]
    assert "Logged 1 user out everywhere: destroyed 3 sessions." in done.content.decode()
    assert store.get("alice-session-1") is None
    assert store.get("alice-session-2") is None
    assert browser.get("/account/sessions/").status_code == 302  # to the login page
    assert len(sent) == 3
    assert {user for _, user in sent} == {"root"}
    # Bob, anonymous sessions and the admin's own session are untouched.
    assert store.get("bob-session") is not None
    assert store.get("anon-session") is not None
    assert own(store, superuser)


@pytest.mark.parametrize("store_name", ["memory", "db-sqlite", "redis-url"])
def test_logging_out_everywhere_from_the_user_list_needs_the_permission_to_delete_sessions(
    admin: Client, store: Store, alice: User, django_user_model: type[User]
) -> None:
    from django.contrib.auth.models import Permission

    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client = Client()
    log_in(client, "clerk", "x")

    done = client.post(
        USERS,
        {"action": "log_out_everywhere", "_selected_action": [str(alice.pk)], "post": "yes"},
        follow=True,
    )

    assert "needs the permission to delete sessions; nothing was destroyed." in done.content.decode()
    assert store.get("alice-session-1") is not None


def test_the_action_is_added_once_to_the_registered_user_admin() -> None:
    from django.contrib import admin as django_admin

    from django_expsession.adminusers import attach, log_out_everywhere

    user_admin = django_admin.site._registry[User]
    assert attach() is True

    assert list(user_admin.actions).count(log_out_everywhere) == 1
    assert attach(django_admin.AdminSite(name="empty")) is False


# -- the model's migrations -------------------------------------------------------------------------


def test_the_model_has_no_changes_missing_from_the_migrations() -> None:
    out = io.StringIO()

    call_command("makemigrations", "django_expsession", "--check", "--dry-run", stdout=out)

    assert out.getvalue() == "No changes detected in app 'django_expsession'\n"
