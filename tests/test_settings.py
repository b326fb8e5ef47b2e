"""The EXPSESSION setting: defaults, validation at startup, system checks.

Every invalid value is reported twice: as a system check error with its
``expsession.E0xx`` id and a hint, and as ``ImproperlyConfigured`` when the
middleware is built, so a bad setting never waits for the first request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from freezegun import freeze_time

from django_expsession import conf, signing
from django_expsession.checks import check_deployment, check_settings, setting_errors
from django_expsession.conf import DEFAULTS
from django_expsession.cookie import Cookie
from django_expsession.middleware import SessionMiddleware
from django_expsession.stores import get_store
from django_expsession.stores.db import DatabaseStore
from django_expsession.stores.memory import MemoryStore

MEMORY = "django_expsession.stores.memory.MemoryStore"
DATABASE = "django_expsession.stores.db.DatabaseStore"
NOW_ISO = "2030-01-02T03:04:05.678Z"
VALID = {"SECRET": "keyboard cat", "RESAVE": False, "SAVE_UNINITIALIZED": False, "STORE": {"BACKEND": MEMORY}}


def fixed_genid(request: HttpRequest) -> str:
    return "dotted-path-id"


def dynamic_cookie(request: HttpRequest) -> dict[str, Any]:
    """Per-request options: a longer cookie for clients that ask to be remembered."""
    remember = request.GET.get("remember") == "1"
    return {"MAX_AGE": 3600 if remember else 60, "SAMESITE": "Strict", "DOMAIN": "testserver.example"}


def not_a_store() -> None:  # importable, but not a Store subclass
    return None


NOT_CALLABLE = 42


def run(*, deploy: bool = False) -> list[checks.CheckMessage]:
    return checks.run_checks(tags=["expsession"], include_deployment_checks=deploy)


def ids(messages: list[checks.CheckMessage]) -> set[str]:
    return {m.id for m in messages if m.id and m.id.startswith("expsession.")}


# -- defaults ------------------------------------------------------------------------


def test_every_key_has_the_documented_default(settings):
    del settings.EXPSESSION
    assert DEFAULTS == {
        "SECRET": None,
        "NAME": "connect.sid",
        "GENID": None,
        "RESAVE": True,
        "SAVE_UNINITIALIZED": True,
        "ROLLING": False,
        "UNSET": "keep",
        "PROXY": None,
        "COOKIE": {},
        "STORE": {"BACKEND": DATABASE, "OPTIONS": {}},
        "CONCURRENCY": "merge",
        "ON_STORE_ERROR": "raise",
        "ABSOLUTE_TIMEOUT": None,
        "RENEW_AFTER": None,
        "RENEW_GRACE": 30,
        "TRACK_IP": False,
        "LOGOUT_EVERYWHERE_ON_PASSWORD_CHANGE": False,
    }
    assert conf.current().name == "connect.sid"
    assert not conf.current().custom_genid
    snapshot = conf.current()
    assert (snapshot.resave, snapshot.save_uninitialized, snapshot.rolling) == (True, True, False)
    assert conf.current().unset == "keep"
    assert conf.current().proxy is None
    assert conf.current().concurrency == "merge"
    assert conf.current().on_store_error == "raise"
    assert conf.current().cookie_options(HttpRequest()) == {}
    assert type(get_store()) is DatabaseStore
    assert setting_errors() == []


def test_default_cookie_is_a_browser_session_http_only_cookie_on_slash(settings):
    settings.EXPSESSION = {}
    cookie = Cookie.from_options(conf.current().cookie_options(HttpRequest()))
    assert cookie.to_json() == {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"}
    assert cookie.header("connect.sid", "v") == "connect.sid=v; Path=/; HttpOnly"


def test_an_empty_setting_means_all_defaults(settings):
    settings.EXPSESSION = {}
    assert conf.current().name == "connect.sid"
    assert setting_errors() == []
    SessionMiddleware(lambda r: None)


def test_secret_none_is_secret_key_then_its_fallbacks(settings):
    settings.EXPSESSION = {"SECRET": None}
    settings.SECRET_KEY = "current"
    settings.SECRET_KEY_FALLBACKS = ["previous", "older"]
    assert conf.current().secrets == ("current", "previous", "older")


def test_a_single_secret_is_a_one_item_list_and_a_list_is_kept_in_order(settings):
    settings.EXPSESSION = {"SECRET": "one"}
    assert conf.current().secrets == ("one",)
    settings.EXPSESSION = {"SECRET": ["new", "old"]}
    assert conf.current().secrets == ("new", "old")
    settings.EXPSESSION = {"SECRET": ("new", b"\x00raw")}
    assert conf.current().secrets == ("new", b"\x00raw")


@pytest.mark.django_db
def test_secret_key_signs_and_its_fallbacks_verify_through_the_middleware(settings, app, client):
    settings.SECRET_KEY = "current"
    settings.SECRET_KEY_FALLBACKS = ["previous"]
    settings.EXPSESSION = {"RESAVE": False, "SAVE_UNINITIALIZED": False}
    store = get_store()
    assert isinstance(store, DatabaseStore)
    store.set(
        "kept", {"cookie": {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"}, "n": 1}
    )
    seen = []

    @app
    def view(request):
        seen.append(request.session.get("n"))
        request.session["n"] = 2
        request.session.regenerate()
        request.session["n"] = 3
        return HttpResponse("ok")

    client.cookies["connect.sid"] = signing.cookie_value("kept", "previous")
    response = client.get("/")
    assert seen == [1]
    raw = signing.decode_uri_component(response.cookies["connect.sid"].value)
    new_sid = signing.unsign_cookie(raw, ["current"])
    assert new_sid and new_sid != "kept"
    assert store.get(new_sid)["n"] == 3


# -- invalid values: E0xx + ImproperlyConfigured -----------------------------------

INVALID: list[tuple[str, dict[str, Any], str]] = [
    # (case id, EXPSESSION overrides, expected check id)
    ("secret-empty-list", {"SECRET": []}, "E002"),
    ("secret-empty-tuple", {"SECRET": ()}, "E002"),
    ("secret-empty-string", {"SECRET": ""}, "E002"),
    ("secret-empty-bytes", {"SECRET": b""}, "E002"),
    ("secret-empty-item", {"SECRET": ["ok", ""]}, "E002"),
    ("secret-number", {"SECRET": 42}, "E002"),
    ("secret-number-item", {"SECRET": ["ok", 42]}, "E002"),
    ("secret-dict", {"SECRET": {"a": "b"}}, "E002"),
    ("name-space", {"NAME": "a b"}, "E003"),
    ("name-empty", {"NAME": ""}, "E003"),
    ("name-semicolon", {"NAME": "sid;"}, "E003"),
    ("name-non-ascii", {"NAME": "sïd"}, "E003"),
    ("name-number", {"NAME": 42}, "E003"),
    ("name-none", {"NAME": None}, "E003"),
    ("genid-not-importable", {"GENID": "no.such.module.genid"}, "E004"),
    ("genid-missing-attribute", {"GENID": "tests.test_settings.no_such_function"}, "E004"),
    ("genid-not-a-dotted-path", {"GENID": "genid"}, "E004"),
    ("genid-path-not-callable", {"GENID": "tests.test_settings.NOT_CALLABLE"}, "E004"),
    ("genid-not-callable", {"GENID": 42}, "E004"),
    ("resave-string", {"RESAVE": "yes"}, "E005"),
    ("save-uninitialized-int", {"SAVE_UNINITIALIZED": 1}, "E005"),
    ("rolling-none", {"ROLLING": None}, "E005"),
    ("unset-unknown", {"UNSET": "bogus!"}, "E006"),
    ("unset-empty", {"UNSET": ""}, "E006"),
    ("unset-case", {"UNSET": "Destroy"}, "E006"),
    ("proxy-string", {"PROXY": "true"}, "E007"),
    ("proxy-int", {"PROXY": 1}, "E007"),
    ("cookie-number", {"COOKIE": 42}, "E008"),
    ("cookie-list", {"COOKIE": ["PATH"]}, "E008"),
    ("cookie-unknown-key", {"COOKIE": {"NOPE": 1}}, "E008"),
    ("cookie-misspelt-key", {"COOKIE": {"MAXAGE": 60}}, "E008"),
    ("cookie-not-importable", {"COOKIE": "no.such.module.options"}, "E008"),
    ("cookie-path-not-callable", {"COOKIE": "tests.test_settings.NOT_CALLABLE"}, "E008"),
    ("httponly-string", {"COOKIE": {"HTTPONLY": "yes"}}, "E008"),
    ("httponly-int", {"COOKIE": {"HTTPONLY": 1}}, "E008"),
    ("secure-unknown", {"COOKIE": {"SECURE": "sometimes"}}, "E008"),
    ("secure-int", {"COOKIE": {"SECURE": 1}}, "E008"),
    ("secure-none", {"COOKIE": {"SECURE": None}}, "E008"),
    ("max-age-string", {"COOKIE": {"MAX_AGE": "60"}}, "E008"),
    ("max-age-bool", {"COOKIE": {"MAX_AGE": True}}, "E008"),
    ("max-age-nan", {"COOKIE": {"MAX_AGE": float("nan")}}, "E008"),
    ("max-age-infinite", {"COOKIE": {"MAX_AGE": float("inf")}}, "E008"),
    ("samesite-unknown", {"COOKIE": {"SAMESITE": "sometimes"}}, "E008"),
    ("samesite-int", {"COOKIE": {"SAMESITE": 1}}, "E008"),
    ("priority-unknown", {"COOKIE": {"PRIORITY": "urgent"}}, "E008"),
    ("priority-int", {"COOKIE": {"PRIORITY": 1}}, "E008"),
    ("domain-number", {"COOKIE": {"DOMAIN": 42}}, "E008"),
    ("domain-space", {"COOKIE": {"DOMAIN": "exa mple.com"}}, "E008"),
    ("domain-port", {"COOKIE": {"DOMAIN": "example.com:8000"}}, "E008"),
    ("path-relative", {"COOKIE": {"PATH": "admin"}}, "E008"),
    ("path-semicolon", {"COOKIE": {"PATH": "/a;b"}}, "E008"),
    ("path-control-character", {"COOKIE": {"PATH": "/a\nb"}}, "E008"),
    ("path-none", {"COOKIE": {"PATH": None}}, "E008"),
    ("partitioned-int", {"COOKIE": {"PARTITIONED": 1}}, "E008"),
    ("store-string", {"STORE": "memory"}, "E009"),
    ("store-no-backend", {"STORE": {"OPTIONS": {}}}, "E009"),
    ("store-backend-not-importable", {"STORE": {"BACKEND": "no.such.Store"}}, "E009"),
    ("store-backend-missing-class", {"STORE": {"BACKEND": "django_expsession.stores.memory.Nope"}}, "E009"),
    ("store-backend-not-a-store", {"STORE": {"BACKEND": "django.http.HttpResponse"}}, "E009"),
    ("store-backend-function", {"STORE": {"BACKEND": "tests.test_settings.not_a_store"}}, "E009"),
    ("store-unknown-key", {"STORE": {"BACKEND": MEMORY, "OPTION": {}}}, "E009"),
    ("store-options-list", {"STORE": {"BACKEND": MEMORY, "OPTIONS": ["TTL"]}}, "E009"),
    ("store-options-unknown", {"STORE": {"BACKEND": MEMORY, "OPTIONS": {"NOPE": 1}}}, "E009"),
    ("store-options-ttl-negative", {"STORE": {"BACKEND": MEMORY, "OPTIONS": {"TTL": -1}}}, "E009"),
    ("store-options-touch-after", {"STORE": {"BACKEND": MEMORY, "OPTIONS": {"TOUCH_AFTER": "soon"}}}, "E009"),
    ("store-options-using", {"STORE": {"BACKEND": DATABASE, "OPTIONS": {"USING": 42}}}, "E009"),
    ("concurrency-unknown", {"CONCURRENCY": "last-wins"}, "E010"),
    ("on-store-error-unknown", {"ON_STORE_ERROR": "ignore"}, "E011"),
    ("unknown-key", {"SECERT": "typo"}, "E012"),
    ("lower-case-key", {"cookie": {}}, "E012"),
    # Lifetimes no HTTP date can hold (issue 9): refused with the allowed range.
    ("max-age-trillions", {"COOKIE": {"MAX_AGE": 10**12}}, "E008"),
    ("max-age-negative-trillions", {"COOKIE": {"MAX_AGE": -(10**12)}}, "E008"),
    ("max-age-float-overflow", {"COOKIE": {"MAX_AGE": 1e308}}, "E008"),
    ("max-age-huge-timedelta", {"COOKIE": {"MAX_AGE": timedelta(days=10**8)}}, "E008"),
    ("path-comma", {"COOKIE": {"PATH": "/a,b"}}, "E008"),
    ("absolute-timeout-zero", {"ABSOLUTE_TIMEOUT": 0}, "E015"),
    ("absolute-timeout-string", {"ABSOLUTE_TIMEOUT": "1h"}, "E015"),
    ("renew-after-negative", {"RENEW_AFTER": -5}, "E015"),
    ("renew-after-infinite", {"RENEW_AFTER": float("inf")}, "E015"),
    ("renew-grace-none", {"RENEW_GRACE": None}, "E015"),
    ("renew-grace-huge", {"RENEW_GRACE": 10**12}, "E015"),
    ("track-ip-string", {"TRACK_IP": "yes"}, "E005"),
    ("host-prefix-not-secure", {"NAME": "__Host-sid"}, "E016"),
    (
        "host-prefix-with-domain",
        {"NAME": "__Host-sid", "COOKIE": {"SECURE": True, "DOMAIN": "a.example"}},
        "E016",
    ),
    ("host-prefix-other-path", {"NAME": "__Host-sid", "COOKIE": {"SECURE": True, "PATH": "/app"}}, "E016"),
    ("secure-prefix-not-secure", {"NAME": "__Secure-sid", "COOKIE": {"SECURE": False}}, "E016"),
]


@pytest.mark.parametrize(("overrides", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_an_invalid_value_is_a_system_check_error_with_a_hint(settings, overrides, expected):
    settings.EXPSESSION = {**VALID, **overrides}
    errors = [m for m in run() if m.id == f"expsession.{expected}"]
    assert len(errors) == 1
    [error] = errors
    assert error.level == checks.ERROR
    assert error.hint
    assert ids(run()) - {f"expsession.{expected}"} <= {"expsession.W006", "expsession.W007"}


@pytest.mark.parametrize(("overrides", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_an_invalid_value_stops_the_middleware_at_construction(overrides, expected):
    with override_settings(EXPSESSION={**VALID, **overrides}):
        [error] = [m for m in setting_errors() if m.id == f"expsession.{expected}"]
        with pytest.raises(ImproperlyConfigured) as excinfo:
            SessionMiddleware(lambda r: None)
        assert error.msg in str(excinfo.value)


@pytest.mark.parametrize("value", [["SECRET"], "SECRET=x", 42])
def test_a_setting_that_is_not_a_dict_is_e001(settings, value):
    settings.EXPSESSION = value
    [error] = [m for m in run() if m.id == "expsession.E001"]
    assert error.hint
    with pytest.raises(ImproperlyConfigured, match="should be a dict"):
        SessionMiddleware(lambda r: None)


def test_no_secret_and_an_empty_secret_key_is_e002(settings):
    settings.EXPSESSION = {**VALID, "SECRET": None}
    settings.SECRET_KEY = ""
    [error] = [m for m in run() if m.id == "expsession.E002"]
    assert "SECRET_KEY" in error.msg
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        SessionMiddleware(lambda r: None)


def test_every_error_is_reported_at_once(settings):
    settings.EXPSESSION = {**VALID, "SECRET": [], "UNSET": "x", "STORE": "x", "NAME": "a b"}
    assert {"expsession.E002", "expsession.E003", "expsession.E006", "expsession.E009"} <= ids(run())


def test_an_unknown_backend_error_names_the_dotted_path(settings):
    settings.EXPSESSION = {**VALID, "STORE": {"BACKEND": "no.such.Store"}}
    [error] = [m for m in run() if m.id == "expsession.E009"]
    assert "'no.such.Store'" in error.msg


@pytest.mark.parametrize(
    "overrides",
    [
        {"SECRET": ["a", b"raw bytes"]},
        {"SECRET": ("a", "b")},
        {"NAME": "my.sid_1!"},
        {"GENID": "tests.test_settings.fixed_genid"},
        {"GENID": fixed_genid},
        {"GENID": lambda request: "x"},
        {"PROXY": True},
        {"PROXY": False},
        {"UNSET": "destroy"},
        {"CONCURRENCY": "overwrite"},
        {"ON_STORE_ERROR": "anonymous"},
        {"COOKIE": None},
        {"COOKIE": dynamic_cookie},
        {"COOKIE": "tests.test_settings.dynamic_cookie"},
        {"COOKIE": {"max_age": 60, "SameSite": "lax"}},
        {"COOKIE": {"MAX_AGE": timedelta(days=1), "SECURE": "auto", "SAMESITE": "auto"}},
        {"COOKIE": {"MAX_AGE": 0.5, "PRIORITY": "high", "PARTITIONED": True, "HTTPONLY": False}},
        {"COOKIE": {"DOMAIN": ".example.org", "PATH": "/app", "SECURE": True, "SAMESITE": True}},
        {"COOKIE": {"DOMAIN": None, "MAX_AGE": None, "SAMESITE": None, "PRIORITY": None}},
        {"STORE": {"BACKEND": MEMORY, "OPTIONS": {"TTL": 60, "TOUCH_AFTER": 10, "MAX_ENTRIES": 5}}},
        {"STORE": {"BACKEND": DATABASE, "OPTIONS": {"USING": "default", "TTL": 3600}}},
        {"STORE": {"BACKEND": DATABASE}},
    ],
)
def test_valid_values_give_no_error(settings, overrides):
    settings.EXPSESSION = {**VALID, **overrides}
    assert setting_errors() == []
    assert not [m for m in run() if m.level >= checks.ERROR]
    SessionMiddleware(lambda r: None)


# -- warnings ---------------------------------------------------------------------------


def test_missing_resave_and_save_uninitialized_are_warned(settings):
    settings.EXPSESSION = {"SECRET": "s", "STORE": {"BACKEND": MEMORY}}
    messages = {m.id: m for m in check_settings()}
    assert messages["expsession.W001"].level == checks.WARNING
    assert "RESAVE" in messages["expsession.W001"].msg and messages["expsession.W001"].hint
    assert "SAVE_UNINITIALIZED" in messages["expsession.W002"].msg and messages["expsession.W002"].hint
    SessionMiddleware(lambda r: None)  # a warning does not stop startup


def test_each_missing_key_is_warned_on_its_own(settings):
    settings.EXPSESSION = {"RESAVE": True, "STORE": {"BACKEND": MEMORY}}
    assert ids(check_settings()) == {"expsession.W002"}
    settings.EXPSESSION = {"SAVE_UNINITIALIZED": True, "STORE": {"BACKEND": MEMORY}}
    assert ids(check_settings()) == {"expsession.W001"}


def test_explicit_resave_and_save_uninitialized_silence_the_warnings(settings):
    settings.EXPSESSION = VALID
    assert check_settings() == []
    settings.EXPSESSION = {**VALID, "RESAVE": True, "SAVE_UNINITIALIZED": True}
    assert check_settings() == []


def test_an_absent_setting_is_warned_like_express_deprecations(settings):
    del settings.EXPSESSION
    assert ids(check_settings()) == {"expsession.W001", "expsession.W002"}


# -- deployment checks -------------------------------------------------------------------

DEPLOY_IDS = {"expsession.W003", "expsession.W004", "expsession.W005"}
RISKY = {**VALID, "COOKIE": {"HTTPONLY": False}}


def test_deployment_warnings_only_run_with_deploy(settings):
    settings.DEBUG = False
    settings.EXPSESSION = RISKY
    assert ids(run()) & DEPLOY_IDS == set()
    assert ids(run(deploy=True)) & DEPLOY_IDS == DEPLOY_IDS


def test_memory_store_with_debug_off_is_warned(settings):
    settings.EXPSESSION = VALID
    settings.DEBUG = False
    [warning] = [m for m in check_deployment() if m.id == "expsession.W003"]
    assert warning.level == checks.WARNING and warning.hint
    settings.DEBUG = True
    assert "expsession.W003" not in ids(check_deployment())
    settings.DEBUG = False
    settings.EXPSESSION = {**VALID, "STORE": {"BACKEND": DATABASE}}
    assert "expsession.W003" not in ids(check_deployment())


@pytest.mark.parametrize("cookie", [None, {}, {"SECURE": False}, {"MAX_AGE": 60}])
def test_an_insecure_cookie_is_warned(settings, cookie):
    settings.EXPSESSION = {**VALID, "COOKIE": cookie}
    [warning] = [m for m in check_deployment() if m.id == "expsession.W004"]
    assert warning.hint


@pytest.mark.parametrize("secure", [True, "auto"])
def test_a_secure_or_auto_cookie_is_not_warned(settings, secure):
    settings.EXPSESSION = {**VALID, "COOKIE": {"SECURE": secure}}
    assert "expsession.W004" not in ids(check_deployment())


def test_a_cookie_readable_by_scripts_is_warned(settings):
    settings.EXPSESSION = {**VALID, "COOKIE": {"SECURE": True, "HTTPONLY": False}}
    [warning] = [m for m in check_deployment() if m.id == "expsession.W005"]
    assert warning.hint
    settings.EXPSESSION = {**VALID, "COOKIE": {"SECURE": True, "HTTPONLY": True}}
    assert "expsession.W005" not in ids(check_deployment())


@pytest.mark.parametrize("store", ["memory", None, {"OPTIONS": {}}, {"BACKEND": 42}])
def test_deployment_checks_survive_a_broken_store_setting(settings, store):
    settings.EXPSESSION = {**VALID, "STORE": store}
    messages = run(deploy=True)
    assert "expsession.E009" in ids(messages)


def test_the_deploy_check_passes_a_production_configuration(settings):
    settings.DEBUG = False
    settings.EXPSESSION = {
        **VALID,
        "STORE": {"BACKEND": DATABASE},
        "COOKIE": {"SECURE": True, "MAX_AGE": 3600},
    }
    assert ids(run(deploy=True)) & (DEPLOY_IDS | {"expsession.W001", "expsession.W002"}) == set()


# -- settings changes take effect ------------------------------------------------------


def test_the_store_is_built_once_and_rebuilt_when_settings_change(settings):
    settings.EXPSESSION = VALID
    first = get_store()
    assert isinstance(first, MemoryStore)
    assert get_store() is first
    settings.EXPSESSION = {**VALID, "STORE": {"BACKEND": MEMORY, "OPTIONS": {"TTL": 5}}}
    second = get_store()
    assert second is not first
    assert second.ttl == 5
    settings.EXPSESSION = {**VALID, "STORE": {"BACKEND": DATABASE}}
    assert isinstance(get_store(), DatabaseStore)


def test_override_settings_takes_effect_on_the_next_request(app, expsession, client):
    expsession.configure(NAME="first.sid")
    assert list(client.get("/").cookies) == ["first.sid"]
    with override_settings(EXPSESSION={**VALID, "NAME": "second.sid", "SAVE_UNINITIALIZED": True}):
        client.cookies.clear()
        assert list(client.get("/").cookies) == ["second.sid"]
    client.cookies.clear()
    assert list(client.get("/").cookies) == ["first.sid"]


# -- GENID ------------------------------------------------------------------------------


def _sid(response: Any, name: str = "connect.sid", secret: str = "keyboard cat") -> str | None:
    raw = signing.decode_uri_component(response.cookies[name].value)
    return signing.unsign_cookie(raw, [secret])


def test_genid_as_a_dotted_path(app, expsession, client):
    store = expsession.configure(GENID="tests.test_settings.fixed_genid")
    response = client.get("/")
    assert _sid(response) == "dotted-path-id"
    assert store.get("dotted-path-id") is not None


def test_genid_as_a_callable_receives_the_request(app, expsession, client):
    seen: list[str] = []

    def genid(request: HttpRequest) -> str:
        seen.append(request.path)
        return f"id-for-{len(seen)}"

    store = expsession.configure(GENID=genid)
    response = client.get("/some/where")
    assert seen == ["/some/where"]
    assert _sid(response) == "id-for-1"
    assert store.get("id-for-1") is not None


def test_without_genid_ids_are_32_url_safe_characters(app, expsession, client):
    expsession.configure()
    sid = _sid(client.get("/"))
    assert sid is not None and len(sid) == 32
    assert set(sid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# -- COOKIE as a callable ---------------------------------------------------------------


@freeze_time(NOW_ISO)
@pytest.mark.parametrize(
    "option", [dynamic_cookie, "tests.test_settings.dynamic_cookie"], ids=["callable", "dotted"]
)
def test_dynamic_cookie_options_reach_the_set_cookie_header(app, expsession, client, option):
    expsession.configure(COOKIE=option, GENID=fixed_genid)
    value = signing.cookie_value("dotted-path-id", "keyboard cat")
    short = client.get("/")
    assert short.cookies["connect.sid"].OutputString() == (
        f"connect.sid={value}; Domain=testserver.example; Path=/; "
        "Expires=Wed, 02 Jan 2030 03:05:05 GMT; HttpOnly; SameSite=Strict"
    )
    client.cookies.clear()
    remembered = client.get("/?remember=1")
    assert remembered.cookies["connect.sid"].OutputString() == (
        f"connect.sid={value}; Domain=testserver.example; Path=/; "
        "Expires=Wed, 02 Jan 2030 04:04:05 GMT; HttpOnly; SameSite=Strict"
    )


def test_dynamic_cookie_path_decides_which_requests_get_a_session(app, expsession, client):
    expsession.configure(
        COOKIE=lambda request: {"PATH": "/admin" if request.path.startswith("/admin") else "/app"}
    )

    @app
    def view(request):
        return HttpResponse("yes" if request.session else "no")

    assert client.get("/admin/x").cookies["connect.sid"]["path"] == "/admin"
    client.cookies.clear()
    assert client.get("/app/x").cookies["connect.sid"]["path"] == "/app"
    client.cookies.clear()
    outside = client.get("/elsewhere")
    assert "connect.sid" not in outside.cookies
    assert outside.content == b"no"


def test_dynamic_cookie_options_that_are_invalid_fail_the_request_clearly(app, expsession, client):
    expsession.configure(COOKIE=lambda request: {"SAMESITE": "sometimes"})
    with pytest.raises(ImproperlyConfigured, match="SAMESITE"):
        client.get("/")


def test_database_store_without_time_zone_support_is_a_check_error(settings):
    from django_expsession.checks import check_time_zone_support

    settings.USE_TZ = False
    settings.EXPSESSION = {"STORE": {"BACKEND": "django_expsession.stores.db.DatabaseStore"}}
    assert [e.id for e in check_time_zone_support()] == ["expsession.E014"]
    settings.EXPSESSION = {}  # the default store is the database store too
    assert [e.id for e in check_time_zone_support()] == ["expsession.E014"]
    settings.EXPSESSION = {"STORE": {"BACKEND": "django_expsession.stores.memory.MemoryStore"}}
    assert check_time_zone_support() == []
    settings.USE_TZ = True
    settings.EXPSESSION = {"STORE": {"BACKEND": "django_expsession.stores.db.DatabaseStore"}}
    assert check_time_zone_support() == []


# -- a store Express can share ---------------------------------------------------------

REDIS_STORE = {
    "BACKEND": "django_expsession.stores.redis.RedisStore",
    "OPTIONS": {"URL": "redis://127.0.0.1:1/0"},
}


def test_a_shared_layout_signed_with_secret_key_is_warned(settings):
    unset = {key: value for key, value in VALID.items() if key != "SECRET"}
    settings.EXPSESSION = {**unset, "STORE": REDIS_STORE}
    [warning] = [m for m in run() if m.id == "expsession.W011"]
    assert "connect-redis" in warning.msg and "SECRET_KEY" in warning.msg
    assert "SILENCED_SYSTEM_CHECKS" in warning.hint
    settings.EXPSESSION = {**unset, "SECRET": None, "STORE": REDIS_STORE}
    assert "expsession.W011" in ids(run())


def test_a_shared_layout_with_its_own_secret_or_a_private_store_is_not_warned(settings):
    settings.EXPSESSION = {**VALID, "STORE": REDIS_STORE}
    assert "expsession.W011" not in ids(run())
    unset = {key: value for key, value in VALID.items() if key != "SECRET"}
    for store in ({"BACKEND": MEMORY}, {"BACKEND": DATABASE}):
        settings.EXPSESSION = {**unset, "STORE": store}
        assert "expsession.W011" not in ids(run())
    settings.EXPSESSION = {**unset, "STORE": {"BACKEND": "no.such.Store"}}
    assert ids(run()) & {"expsession.W011", "expsession.E099"} == set()


def test_a_cluster_with_hash_tags_is_no_connect_redis_layout(settings):
    unset = {key: value for key, value in VALID.items() if key != "SECRET"}
    cluster = {**REDIS_STORE, "OPTIONS": {**REDIS_STORE["OPTIONS"], "CLUSTER": True}}
    settings.EXPSESSION = {**unset, "STORE": cluster}
    assert "expsession.W011" not in ids(run())
    plain = {**REDIS_STORE, "OPTIONS": {**cluster["OPTIONS"], "HASH_TAGS": False}}
    settings.EXPSESSION = {**unset, "STORE": plain}
    assert "expsession.W011" in ids(run())
