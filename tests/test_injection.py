"""No setting, COOKIE callable or GENID can inject attributes or headers into Set-Cookie.

``;``, ``,``, CR/LF, non-ASCII and control characters in the cookie's name,
domain or path, or in a session id, are refused with a clear error: at
startup for settings, when the options or the id are made for dynamic ones.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import Client

from django_expsession import conf
from django_expsession.cookie import CookieError
from django_expsession.middleware import SessionMiddleware

HOSTILE = {
    "semicolon": "x;Domain=evil.example",
    "comma": "x,y=z",
    "crlf": "x\r\nSet-Cookie: evil=1",
    "lf": "x\nX-Evil: 1",
    "non-ascii": "sessión",
    "nul": "x\x00y",
    "tab": "x\ty",
    "del": "x\x7fy",
}
MEMORY = {"BACKEND": "django_expsession.stores.memory.MemoryStore"}


def setting(**values: Any) -> dict[str, Any]:
    return {"SECRET": "keyboard cat", "STORE": MEMORY, **values}


@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize(
    ("make", "check_id"),
    [
        (lambda value: setting(NAME=value), "E003"),
        (lambda value: setting(COOKIE={"DOMAIN": value}), "E008"),
        (lambda value: setting(COOKIE={"PATH": "/" + value}), "E008"),
    ],
    ids=["name", "domain", "path"],
)
def test_a_hostile_name_domain_or_path_in_the_settings_is_refused_at_startup(
    settings, make, check_id, hostile
):
    settings.EXPSESSION = make(hostile)
    assert any(p.id == check_id for p in conf.problems())
    with pytest.raises(ImproperlyConfigured):
        SessionMiddleware(lambda request: HttpResponse())


def hostile_options(request: HttpRequest) -> dict[str, Any]:
    return {request.GET["key"]: request.GET["value"]}


@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("key", ["DOMAIN", "PATH"])
def test_hostile_options_from_a_cookie_callable_fail_the_request_with_a_clear_error(
    settings, app, key, hostile
):
    settings.EXPSESSION = setting(COOKIE=hostile_options, SAVE_UNINITIALIZED=True)
    app(lambda request: HttpResponse("ok"))
    value = hostile if key == "DOMAIN" else "/" + hostile
    with pytest.raises(ImproperlyConfigured, match=r"COOKIE.*callable.*returned bad options"):
        Client().get("/", {"key": key, "value": value})


def hostile_genid(request: HttpRequest) -> str:
    return request.GET["id"]


@pytest.mark.parametrize(
    "sid",
    [*HOSTILE.values(), "with space", 'with"quote', "back\\slash", "x" * 256],
    ids=[*HOSTILE, "space", "quote", "backslash", "too-long"],
)
def test_a_hostile_id_from_genid_is_refused_when_it_is_made(settings, app, sid):
    settings.EXPSESSION = setting(GENID=hostile_genid, SAVE_UNINITIALIZED=True)
    app(lambda request: HttpResponse("ok"))
    with pytest.raises(ValueError, match=r"GENID.*printable ASCII"):
        Client().get("/", {"id": sid})


@pytest.mark.parametrize("sid", ["apple", "%", "/foo", "a.b-c_d~e!f*g'h(i)", "x" * 255])
def test_the_ids_express_allows_still_work(settings, app, sid):
    # express's own tests use "apple", "%" and req.url as ids; they are encoded in the cookie.
    settings.EXPSESSION = setting(GENID=hostile_genid, SAVE_UNINITIALIZED=True)
    app(lambda request: HttpResponse("ok"))
    response = Client().get("/", {"id": sid})
    assert response.status_code == 200
    header = response.cookies["connect.sid"].OutputString()
    assert "\r" not in header and "\n" not in header and header.count(";") == 2  # Path, HttpOnly


@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("attribute", ["domain", "path"])
def test_a_view_cannot_give_the_cookie_a_hostile_attribute(settings, app, attribute, hostile):
    settings.EXPSESSION = setting()
    errors = []

    @app
    def view(request: HttpRequest) -> HttpResponse:
        try:
            setattr(request.session.cookie, attribute, hostile if attribute == "domain" else "/" + hostile)
        except CookieError as exc:
            errors.append(exc)
        return HttpResponse("ok")

    response = Client().get("/")
    assert len(errors) == 1
    assert response.status_code == 200


# -- cookie name prefixes -------------------------------------------------------------


@pytest.mark.parametrize(("https", "sent"), [(True, True), (False, False)], ids=["https", "plain-http"])
def test_a_host_prefixed_cookie_with_secure_auto_is_sent_only_over_https(settings, app, caplog, https, sent):
    settings.EXPSESSION = setting(NAME="__Host-sid", COOKIE={"SECURE": "auto"}, SAVE_UNINITIALIZED=True)
    app(lambda request: HttpResponse("ok"))
    with caplog.at_level("WARNING", logger="django_expsession"):
        first = Client().get("/", secure=https)
        Client().get("/", secure=https)
    assert ("__Host-sid" in first.cookies) is sent
    if sent:
        assert "Secure" in first.cookies["__Host-sid"].OutputString()
    warnings = [r for r in caplog.records if "__Host-sid" in r.getMessage()]
    assert len(warnings) == (0 if sent else 1)  # logged once, not per request


def test_a_secure_cookie_held_back_over_plain_http_is_logged_once(settings, app, caplog, monkeypatch):
    from django_expsession import middleware

    monkeypatch.setattr(middleware, "_warned_secure", False)
    settings.EXPSESSION = setting(COOKIE={"SECURE": True}, SAVE_UNINITIALIZED=True)
    app(lambda request: HttpResponse("ok"))
    with caplog.at_level("WARNING", logger="django_expsession"):
        for _ in range(3):
            assert "connect.sid" not in Client().get("/").cookies  # express's secure gate
        assert "connect.sid" in Client().get("/", secure=True).cookies
    [warning] = [r for r in caplog.records if "Secure session cookie was not sent" in r.getMessage()]
    assert "'auto'" in warning.getMessage()
