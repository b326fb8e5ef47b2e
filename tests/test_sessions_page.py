"""The "your sessions" page (django_expsession.urls) through Django's test client.

Listing and ending sessions go through each store's per-user index, so those
tests run on every store; the rest (CSRF, login required, the look) does not
depend on the store and runs once. Logins are real requests through
contrib.auth's login(); this module is also the URLconf.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model, login
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client
from django.urls import include, path

import django_expsession
from django_expsession import signing

NAME = "connect.sid"
once = pytest.mark.parametrize("store_name", ["memory"])
PAGE = "/account/sessions/"
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def sign_in_view(request: HttpRequest) -> HttpResponse:
    if "as" in request.GET:
        login(request, get_user_model()._default_manager.get(username=request.GET["as"]))
    return HttpResponse(request.user.get_username() or "anonymous")


def messages_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("\n".join(str(m) for m in get_messages(request)))


urlpatterns = [
    path("login/", sign_in_view),
    path("messages/", messages_view),
    path("admin/", admin.site.urls),
    path("account/sessions/", include("django_expsession.urls")),
    # Another instance of the app, in the admin's look: its buttons lead back to it.
    path(
        "staff/sessions/",
        include(("django_expsession.urls", "expsession"), namespace="staff"),
        {"admin_site": admin.site},
    ),
]


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    # In the default database, where contrib.auth looks (the store may use another).
    return {name: get_user_model().objects.create_user(name, password="pw") for name in ("alice", "bob")}


@pytest.fixture
def site(settings: Any, expsession: Any, users: dict[str, Any]) -> Any:
    settings.ROOT_URLCONF = __name__
    return expsession.configure(COOKIE={"MAX_AGE": 3600})


def sign_in(name: str, agent: str = FIREFOX_LINUX, **client_options: Any) -> Client:
    client = Client(HTTP_USER_AGENT=agent, **client_options)
    assert client.get("/login/", {"as": name}).content == name.encode()
    return client


def who(client: Client) -> str:
    return client.get("/login/").content.decode()


def hash_of(client: Client) -> str:
    sid = signing.unsign_cookie(unquote(client.cookies[NAME].value), ["keyboard cat"])
    assert sid is not None
    return signing.id_hash(sid)


ROW = re.compile(
    r'<tr id="session-(?P<hash>[0-9a-f]{32})" class="session(?P<current> current)?".*?'
    r'<span class="device"[^>]*>(?P<device>[^<]*)</span>',
    re.S,
)


def rows(response: HttpResponse) -> list[tuple[str, bool, str]]:
    """(id hash, is this session, device) of each listed session, in page order."""
    assert response.status_code == 200
    html = response.content.decode()
    return [(m["hash"], bool(m["current"]), m["device"]) for m in ROW.finditer(html)]


def said(client: Client) -> list[str]:
    """The messages the next page shows."""
    return client.get("/messages/").content.decode().splitlines()


# -- on every store --------------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_the_page_lists_the_users_sessions_this_one_first_and_marked(site):
    laptop = sign_in("alice", FIREFOX_LINUX)
    phone = sign_in("alice", SAFARI_IPHONE)
    sign_in("bob", CHROME_WINDOWS)
    response = laptop.get(PAGE)
    assert rows(response) == [
        (hash_of(laptop), True, "Firefox on Linux"),
        (hash_of(phone), False, "Safari on iPhone"),
    ]
    html = response.content.decode()
    assert "<h1>Your sessions</h1>" in html
    assert html.count("This session") == 1
    assert 'id="end-other-sessions"' in html
    assert "when the browser closes" not in html  # both cookies have a max age
    assert "IP address" not in html  # TRACK_IP is off: no column
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.django_db(databases="__all__")
def test_ending_another_session_logs_that_browser_out(site):
    laptop, phone = sign_in("alice"), sign_in("alice", SAFARI_IPHONE)
    response = laptop.post(f"{PAGE}end/", {"session": hash_of(phone)})
    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert said(laptop) == ["The session has ended."]
    assert who(phone) == "anonymous"
    assert who(laptop) == "alice"
    assert [h for h, _, _ in rows(laptop.get(PAGE))] == [hash_of(laptop)]


@pytest.mark.django_db(databases="__all__")
def test_ending_all_other_sessions_keeps_this_one_and_other_users(site):
    laptop, phone, tablet = (
        sign_in("alice", agent) for agent in (FIREFOX_LINUX, SAFARI_IPHONE, CHROME_WINDOWS)
    )
    bobs = sign_in("bob")
    response = laptop.post(f"{PAGE}end-others/")
    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert said(laptop) == ["2 other sessions have ended."]
    assert (who(laptop), who(phone), who(tablet), who(bobs)) == ("alice", "anonymous", "anonymous", "bob")
    page = laptop.get(PAGE)
    assert rows(page) == [(hash_of(laptop), True, "Firefox on Linux")]
    assert 'id="end-other-sessions"' not in page.content.decode()  # nothing left to end


@pytest.mark.django_db(databases="__all__")
def test_ending_this_session_logs_out_here(site, users):
    laptop, phone = sign_in("alice"), sign_in("alice", SAFARI_IPHONE)
    mine = hash_of(laptop)
    response = laptop.post(f"{PAGE}end/", {"session": mine})
    assert response.status_code == 302
    assert said(laptop) == ["This session has ended: you are logged out."]
    assert who(laptop) == "anonymous"
    assert laptop.get(PAGE)["Location"] == f"/login/?next={PAGE}"
    assert [r.id_hash for r in django_expsession.user_sessions(users["alice"])] == [hash_of(phone)]
    assert who(phone) == "alice"


@pytest.mark.django_db(databases="__all__")
def test_another_users_session_cannot_be_ended(site, users):
    alices, bobs = sign_in("alice"), sign_in("bob")
    response = alices.post(f"{PAGE}end/", {"session": hash_of(bobs)})
    assert response.status_code == 302
    assert said(alices) == ["That session had already ended."]
    assert who(bobs) == "bob"
    assert len(django_expsession.user_sessions(users["bob"])) == 1


# -- once: nothing here depends on the store ----------------------------------------------


@once
def test_a_session_that_is_not_there_is_a_message_not_an_error(site):
    laptop = sign_in("alice")
    for form in ({"session": "0" * 32}, {"session": "not a hash"}, {}):
        response = laptop.post(f"{PAGE}end/", form)
        assert response.status_code == 302
        assert said(laptop) == ["That session had already ended."]
    assert who(laptop) == "alice"


@once
def test_the_buttons_need_the_csrf_token(site):
    laptop = sign_in("alice", enforce_csrf_checks=True)
    phone = sign_in("alice", SAFARI_IPHONE)
    assert laptop.post(f"{PAGE}end/", {"session": hash_of(phone)}).status_code == 403
    assert laptop.post(f"{PAGE}end-others/").status_code == 403
    assert who(phone) == "alice"

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', laptop.get(PAGE).content.decode())
    assert token is not None
    form = {"session": hash_of(phone), "csrfmiddlewaretoken": token[1]}
    assert laptop.post(f"{PAGE}end/", form).status_code == 302
    assert who(phone) == "anonymous"


@once
def test_anonymous_visitors_are_sent_to_the_login_page(site):
    visitor = Client()
    assert visitor.get(PAGE)["Location"] == f"/login/?next={PAGE}"
    for action in ("end/", "end-others/"):
        response = visitor.post(f"{PAGE}{action}", {"session": "0" * 32})
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={PAGE}{action}"


@once
def test_the_buttons_take_only_post_and_the_page_only_get(site):
    laptop = sign_in("alice")
    assert laptop.get(f"{PAGE}end/").status_code == 405
    assert laptop.get(f"{PAGE}end-others/").status_code == 405
    assert laptop.post(PAGE).status_code == 405


@once
def test_a_session_without_expiry_ends_when_the_browser_closes(site, expsession):
    expsession.configure(COOKIE={"MAX_AGE": None})
    laptop = sign_in("alice", "")  # and no User-Agent header at all
    [(_, current, device)] = rows(page := laptop.get(PAGE))
    assert (current, device) == (True, "Unknown device")
    assert "when the browser closes" in page.content.decode()


@once
def test_the_ip_address_is_shown_when_tracked(site, expsession):
    expsession.configure(COOKIE={"MAX_AGE": 3600}, TRACK_IP=True)
    laptop = sign_in("alice", REMOTE_ADDR="203.0.113.7")
    html = laptop.get(PAGE).content.decode()
    assert "IP address" in html
    assert '<td class="ip">203.0.113.7</td>' in html


@once
def test_the_page_works_without_the_messages_framework(site, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "messages" not in m]
    template = settings.TEMPLATES[0]
    processors = [p for p in template["OPTIONS"]["context_processors"] if "messages" not in p]
    settings.TEMPLATES = [{**template, "OPTIONS": {"context_processors": processors}}]
    laptop, phone = sign_in("alice"), sign_in("alice", SAFARI_IPHONE)
    assert len(rows(laptop.get(PAGE))) == 2
    assert laptop.post(f"{PAGE}end/", {"session": hash_of(phone)})["Location"] == PAGE
    assert laptop.post(f"{PAGE}end-others/")["Location"] == PAGE
    assert laptop.post(f"{PAGE}end/", {"session": hash_of(laptop)})["Location"] == PAGE
    assert who(laptop) == who(phone) == "anonymous"


@once
def test_the_standalone_base_shows_the_messages(site):
    laptop, phone = sign_in("alice"), sign_in("alice", SAFARI_IPHONE)
    laptop.post(f"{PAGE}end/", {"session": hash_of(phone)})
    html = laptop.get(PAGE).content.decode()
    assert '<ul class="messagelist">' in html
    assert '<li class="success">The session has ended.</li>' in html
    assert "<title>Your sessions</title>" in html


@once
def test_in_the_admins_look_with_an_admin_site(site, users):
    users["alice"].is_staff = True
    users["alice"].save()
    laptop = sign_in("alice")
    phone = sign_in("alice", SAFARI_IPHONE)
    page = laptop.get("/staff/sessions/")
    html = page.content.decode()
    assert "admin/css/base.css" in html
    assert "<title>Your sessions | Django site admin</title>" in html
    assert 'id="user-tools"' in html  # the admin site's context: the user is staff
    assert html.count("<h1>Your sessions</h1>") == 1  # ours, not the admin's content_title as well
    assert len(rows(page)) == 2
    assert 'action="/staff/sessions/end/"' in html
    response = laptop.post("/staff/sessions/end/", {"session": hash_of(phone)})
    assert response["Location"] == "/staff/sessions/"  # back to this instance, not the other
    assert who(phone) == "anonymous"


@once
def test_base_template_comes_from_the_include(site, settings):
    laptop = sign_in("alice")
    settings.ROOT_URLCONF = "testproject.urls"  # the demo passes {"base_template": "base.html"}
    html = laptop.get(PAGE).content.decode()
    assert "<title>Your sessions · django-expsession demo</title>" in html
    assert 'id="sessions"' in html  # the demo's nav links the page
    assert len(rows(laptop.get(PAGE))) == 1


@once
@pytest.mark.django_db(transaction=True)
async def test_the_page_under_asgi(site):
    laptop, phone = AsyncClient(), AsyncClient()
    for client, agent in ((laptop, FIREFOX_LINUX), (phone, SAFARI_IPHONE)):
        # The User-Agent is recorded when the session is created: at login.
        response = await client.get("/login/", {"as": "alice"}, headers={"User-Agent": agent})
        assert response.content == b"alice"
    page = await laptop.get(PAGE)
    assert [(current, device) for _, current, device in rows(page)] == [
        (True, "Firefox on Linux"),
        (False, "Safari on iPhone"),
    ]
    assert (await laptop.post(f"{PAGE}end-others/")).status_code == 302
    assert (await phone.get("/login/")).content == b"anonymous"
    assert (await laptop.get("/login/")).content == b"alice"
