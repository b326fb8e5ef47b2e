"""Bugs the property-based tests (tests/properties) found, each as a plain reproduction.

Each test failed before its fix and states the behaviour that now holds.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory
from freezegun import freeze_time

from django_expsession import conf, signing
from django_expsession import document as doc
from django_expsession.cookie import Cookie, CookieError
from django_expsession.middleware import SessionMiddleware
from django_expsession.stores import get_store

from .stores.conftest import plant

SID = "plantedsessionid0123456789abcdef"


def _request_with_stored(settings, text: str) -> HttpResponse:
    settings.EXPSESSION = {
        "SECRET": "keyboard cat",
        "COOKIE": {"MAX_AGE": 60},
        "STORE": {"BACKEND": "django_expsession.stores.memory.MemoryStore"},
    }
    middleware = SessionMiddleware(lambda request: HttpResponse(str(request.session.get("n"))))
    plant(get_store(), SID, text)
    cookie = "connect.sid=" + signing.cookie_value(SID, "keyboard cat")
    return middleware(RequestFactory().get("/", HTTP_COOKIE=cookie))


def test_an_integer_original_max_age_beyond_a_float_is_no_session(settings):
    text = '{"cookie": {"originalMaxAge": 1' + "0" * 309 + ', "expires": null}, "n": 1}'
    with pytest.raises(doc.InvalidDocumentError):
        doc.check(doc.parse(text))
    response = _request_with_stored(settings, text)
    assert response.status_code == 200
    assert response.content == b"None"  # a new session, not the stored one


@pytest.mark.parametrize("original", [253402300799999, -253402300799999])
def test_an_original_max_age_beyond_any_cookie_lifetime_is_no_session(settings, original):
    text = json.dumps({"cookie": {"originalMaxAge": original, "expires": "2030-01-02T03:04:05.678Z"}, "n": 1})
    with freeze_time("2026-12-03 06:00:00"):
        response = _request_with_stored(settings, text)
    assert response.status_code == 200
    assert response.content == b"None"


def _nested(levels: int) -> object:
    value: object = None
    for _ in range(levels):
        value = [value]
    return value


def test_check_tree_and_parse_agree_on_the_depth_limit():
    # The top-level object and 63 lists: 64 levels of containers, None inside the last.
    value = {"cookie": {}, "d": _nested(63)}
    doc.check(doc.parse(json.dumps(value)))  # accepted as text
    doc.check_tree(value)  # so it should be as objects


# -- cookie attributes ------------------------------------------------------------------


@pytest.mark.parametrize("attribute, value", [("path", "/x\n"), ("domain", "example.com\n")])
def test_a_trailing_newline_in_an_attribute_is_refused_everywhere(attribute, value):
    cookie = Cookie()
    with pytest.raises(CookieError):
        setattr(cookie, attribute, value)
    with pytest.raises(ImproperlyConfigured):
        conf.cookie_options({attribute.upper(): value})
    with pytest.raises(doc.InvalidDocumentError):
        doc.check({"cookie": {attribute: value}})
    with pytest.raises(CookieError):
        Cookie({attribute: value}).header("connect.sid", "v")


def test_a_trailing_newline_in_the_cookie_name_is_refused():
    header = None
    with contextlib.suppress(CookieError):
        header = Cookie().header("sid\n", "v")
    assert header is None, header


@pytest.mark.parametrize(
    "attribute, value", [("priority", 0), ("path", False), ("domain", b""), ("samesite", 0.0)]
)
def test_a_falsy_attribute_of_the_wrong_type_is_refused_at_assignment(attribute, value):
    cookie = Cookie.from_options({"maxAge": 60000}, now=0)
    # Once accepted: the session was then saved with a cookie the validator refuses
    # on the next load (a lost session), or, for bytes, the save raised TypeError (a 500).
    with pytest.raises((ValueError, TypeError)):
        setattr(cookie, attribute, value)


def test_a_view_that_tries_a_wrong_attribute_type_keeps_its_session(settings):
    settings.EXPSESSION = {
        "SECRET": "keyboard cat",
        "COOKIE": {"MAX_AGE": 60},
        "STORE": {"BACKEND": "django_expsession.stores.memory.MemoryStore"},
    }

    def view(request):
        if "first" in request.GET:
            request.session["n"] = 1
            with contextlib.suppress(CookieError):
                request.session.cookie.priority = 0
        return HttpResponse(str(request.session.get("n")))

    middleware = SessionMiddleware(view)
    first = middleware(RequestFactory().get("/?first"))
    cookie = "connect.sid=" + first.cookies["connect.sid"].value
    second = middleware(RequestFactory().get("/", HTTP_COOKIE=cookie))
    assert second.content == b"1"


@pytest.mark.parametrize(
    "when",
    [
        datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))),
        datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_an_expiry_no_http_date_can_hold_is_refused_at_assignment(when):
    cookie = Cookie()
    with pytest.raises(ValueError):
        cookie.expires = when
    cookie.header("connect.sid", "v")


# -- the end of the request ---------------------------------------------------------------


def test_unset_destroy_destroys_a_loaded_session_the_view_never_looked_at(settings):
    settings.EXPSESSION = {
        "SECRET": "keyboard cat",
        "UNSET": "destroy",
        "COOKIE": {"MAX_AGE": 60},
        "STORE": {"BACKEND": "django_expsession.stores.memory.MemoryStore"},
    }

    def view(request):
        del request.session  # or request.session = None
        return HttpResponse("")

    store = get_store()
    store.set(SID, {"cookie": {"originalMaxAge": 60000, "expires": "2099-01-01T00:00:00.000Z"}, "n": 1})
    cookie = "connect.sid=" + signing.cookie_value(SID, "keyboard cat")
    SessionMiddleware(view)(RequestFactory().get("/", HTTP_COOKIE=cookie))
    assert store.get(SID) is None


# -- found after the first fixes -----------------------------------------------------------


def test_an_expiry_more_than_a_thousand_years_away_keeps_the_session(settings):
    settings.EXPSESSION = {
        "SECRET": "keyboard cat",
        "COOKIE": {"MAX_AGE": 60},
        "STORE": {"BACKEND": "django_expsession.stores.memory.MemoryStore"},
    }

    def view(request):
        if "first" in request.GET:
            request.session["n"] = 1
            # Either refused here (a ValueError at the call) or kept: never lost later.
            with contextlib.suppress(ValueError):
                request.session.set_expiry(datetime(3100, 1, 1, tzinfo=UTC))
        return HttpResponse(str(request.session.get("n")))

    middleware = SessionMiddleware(view)
    with freeze_time("2030-01-02 03:04:05"):
        first = middleware(RequestFactory().get("/?first"))
        cookie = "connect.sid=" + first.cookies["connect.sid"].value
        second = middleware(RequestFactory().get("/", HTTP_COOKIE=cookie))
    assert second.content == b"1"


def test_an_int_samesite_is_refused_even_after_true_was_checked():
    # The attribute check is cached; without typed keys 1 hit True's entry.
    Cookie.from_options({"sameSite": True}).header("connect.sid", "v")
    with pytest.raises(CookieError):
        Cookie.from_options({"sameSite": 1}).header("connect.sid", "v")
