"""The session Cookie: express's Set-Cookie and JSON shape, Django's seconds API.

Set-Cookie vectors come from express-session 1.19 + cookie 0.7.2; the unit
cases follow express-session's test/cookie.js (EXPRESS-SESSION.md section 10).
"""

from __future__ import annotations

import copy
import io
import pickle
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpResponse
from django.test import RequestFactory
from freezegun import freeze_time

from django_expsession import signing
from django_expsession.conf import cookie_options
from django_expsession.cookie import JSON_KEYS, Cookie, CookieError, SetCookieMorsel

from . import vectors

NOW_ISO = "2030-01-02T03:04:05.678Z"
NOW = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
NOW_MS = 1893553445678

SET_COOKIE = vectors.entries("set_cookie_vectors")
SET_COOKIE_IDS = vectors.ids("set_cookie_vectors")

# express Cookie option -> EXPSESSION["COOKIE"] key.
SETTINGS_KEYS = {
    "path": "PATH",
    "domain": "DOMAIN",
    "httpOnly": "HTTPONLY",
    "secure": "SECURE",
    "maxAge": "MAX_AGE",
    "sameSite": "SAMESITE",
    "priority": "PRIORITY",
    "partitioned": "PARTITIONED",
}


def as_settings(options: dict[str, Any]) -> dict[str, Any]:
    """express cookie options as the user writes them in EXPSESSION["COOKIE"]."""
    result = {}
    for key, value in options.items():
        result[SETTINGS_KEYS[key]] = value / 1000 if key == "maxAge" else value
    return result


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def without_original_max_age(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "originalMaxAge"}


# -- set_cookie_vectors ---------------------------------------------------------


@freeze_time(NOW_ISO)
@pytest.mark.parametrize("vector", SET_COOKIE, ids=SET_COOKIE_IDS)
def test_set_cookie_header_matches_express(vector):
    # As the middleware builds a new session's cookie: settings -> options -> Cookie.
    cookie = Cookie.from_options(cookie_options(as_settings(vector["cookie_options"])))
    if vector["effective_expires_iso"] is not None:
        cookie.expires = parse_iso(vector["effective_expires_iso"])
    value = signing.cookie_value(vector["sid"], vectors.secret(vector["secret_id"]))
    assert cookie.header(vector["name"], value) == vector["set_cookie"]


@freeze_time(NOW_ISO)
@pytest.mark.parametrize("vector", SET_COOKIE, ids=SET_COOKIE_IDS)
def test_stored_cookie_shape_matches_express(vector):
    cookie = Cookie.from_options(cookie_options(as_settings(vector["cookie_options"])))
    if vector["effective_expires_iso"] is not None:
        cookie.expires = parse_iso(vector["effective_expires_iso"])
    data = without_original_max_age(cookie.to_json())
    assert data == vector["cookie_data"]
    assert list(data) == list(vector["cookie_data"])


@freeze_time(NOW_ISO)
@pytest.mark.parametrize("vector", SET_COOKIE, ids=SET_COOKIE_IDS)
def test_morsel_output_is_the_express_header(vector):
    cookie = Cookie.from_options(cookie_options(as_settings(vector["cookie_options"])))
    if vector["effective_expires_iso"] is not None:
        cookie.expires = parse_iso(vector["effective_expires_iso"])
    value = signing.cookie_value(vector["sid"], vectors.secret(vector["secret_id"]))
    morsel = cookie.morsel(vector["name"], value)
    assert isinstance(morsel, SetCookieMorsel)
    assert morsel.OutputString() == vector["set_cookie"]
    assert morsel.output() == "Set-Cookie: " + vector["set_cookie"]
    assert morsel.key == vector["name"]
    assert morsel.value == morsel.coded_value == value


# -- serialize_error_vectors ----------------------------------------------------

ERRORS = {v["description"]: v for v in vectors.entries("serialize_error_vectors")}
OPTION_ERRORS = ["bad sameSite", "bad priority", "bad domain", "bad path"]


def _message(vector: dict[str, Any]) -> str:
    return vector["result"].removeprefix("TypeError: ")


def test_an_invalid_cookie_name_is_rejected_with_express_message():
    vector = ERRORS["bad name"]
    with pytest.raises(CookieError) as excinfo:
        Cookie().header(vector["name"], vector["value"])
    assert str(excinfo.value) == _message(vector) == "argument name is invalid"


@pytest.mark.parametrize("description", OPTION_ERRORS)
def test_an_invalid_attribute_is_rejected_with_express_message(description):
    vector = ERRORS[description]
    cookie = Cookie(vector["options"])
    with pytest.raises(CookieError) as excinfo:
        cookie.header(vector["name"], vector["value"])
    assert str(excinfo.value) == _message(vector)
    with pytest.raises(CookieError):
        cookie.morsel(vector["name"], vector["value"])


@pytest.mark.parametrize("description", ["invalid date", "expires not a Date"])
def test_an_expiry_that_is_not_a_datetime_is_rejected_on_assignment(description):
    # The Python Cookie keeps expires as a number, so a bad value cannot
    # reach the serializer: it is refused where express's would fail.
    cookie = Cookie()
    with pytest.raises(TypeError, match="expires"):
        cookie.expires = ERRORS[description]["options"]["expires"]
    assert cookie.expires is None


def test_a_naive_datetime_expiry_is_rejected():
    cookie = Cookie()
    with pytest.raises(ValueError, match="timezone-aware"):
        cookie.expires = datetime(2030, 1, 1)


def test_attribute_case_is_folded_in_the_header_but_kept_in_json():
    cookie = Cookie({"sameSite": "sTrIcT", "priority": "hIGH"})
    assert cookie.header("n", "v") == "n=v; Path=/; HttpOnly; Priority=High; SameSite=Strict"
    assert cookie.to_json()["sameSite"] == "sTrIcT"


# -- the Python API, in seconds -------------------------------------------------


def test_max_age_is_the_remaining_lifetime_in_seconds_as_a_float():
    with freeze_time(NOW_ISO) as frozen:
        cookie = Cookie.from_options({"maxAge": 60000})
        assert cookie.max_age == 60.0
        assert isinstance(cookie.max_age, float)
        frozen.tick(timedelta(milliseconds=1500))
        assert cookie.max_age == 58.5
        assert cookie.original_max_age == 60.0
        frozen.tick(timedelta(seconds=60))
        assert cookie.max_age == -1.5


def test_assigning_seconds_moves_expires_and_resets_the_original_max_age():
    with freeze_time(NOW_ISO) as frozen:
        cookie = Cookie.from_options({"maxAge": 60000})
        frozen.tick(timedelta(seconds=10))
        cookie.max_age = 30
        assert cookie.expires == NOW + timedelta(seconds=40)
        assert cookie.original_max_age == 30.0
        assert cookie.to_json()["originalMaxAge"] == 30000


def test_assigning_a_timedelta_works_like_seconds():
    with freeze_time(NOW_ISO):
        cookie = Cookie()
        cookie.max_age = timedelta(hours=1, milliseconds=5)
        assert cookie.expires == NOW + timedelta(seconds=3600.005)
        assert cookie.original_max_age == 3600.005


def test_assigning_none_makes_a_browser_session_cookie():
    with freeze_time(NOW_ISO):
        cookie = Cookie.from_options({"maxAge": 60000})
        cookie.max_age = None
        assert cookie.expires is None
        assert cookie.max_age is None
        assert cookie.original_max_age is None
        assert "Expires" not in cookie.header("n", "v")


def test_assigning_expires_sets_original_max_age_to_the_remaining_time():
    with freeze_time(NOW_ISO):
        cookie = Cookie()
        cookie.expires = NOW + timedelta(minutes=5)
        assert cookie.expires == NOW + timedelta(minutes=5)
        assert cookie.max_age == 300.0
        assert cookie.original_max_age == 300.0
        cookie.expires = None
        assert cookie.max_age is None
        assert cookie.original_max_age is None


def test_expires_accepts_any_timezone_and_reports_utc():
    from zoneinfo import ZoneInfo

    with freeze_time(NOW_ISO):
        cookie = Cookie()
        cookie.expires = datetime(2030, 1, 2, 4, 4, 5, 678000, tzinfo=ZoneInfo("Europe/Paris"))
        assert cookie.expires == NOW
        assert cookie.expires.utcoffset() == timedelta(0)
        assert cookie.to_json()["expires"] == NOW_ISO


def test_reset_max_age_restarts_the_original_lifetime_from_now():
    with freeze_time(NOW_ISO) as frozen:
        cookie = Cookie.from_options({"maxAge": 60000})
        frozen.tick(timedelta(seconds=45))
        assert cookie.max_age == 15.0
        cookie.reset_max_age()
        assert cookie.max_age == 60.0
        assert cookie.expires == NOW + timedelta(seconds=105)
        assert cookie.original_max_age == 60.0


def test_reset_max_age_keeps_a_browser_session_cookie():
    with freeze_time(NOW_ISO):
        cookie = Cookie()
        cookie.reset_max_age()
        assert cookie.expires is None
        assert cookie.original_max_age is None


@pytest.mark.parametrize(
    ("seconds", "ms"),
    [(1.5007, 1500), (0.0009, 0), (1.001, 1001), (4.35, 4350), (60, 60000), (0.1 + 0.2, 300)],
)
def test_fractional_milliseconds_are_truncated(seconds, ms):
    with freeze_time(NOW_ISO):
        cookie = Cookie()
        cookie.max_age = seconds
        assert cookie.to_json()["originalMaxAge"] == ms
        assert cookie.expires_ms == NOW_MS + ms


def test_a_fractional_max_age_option_is_truncated_like_a_javascript_date():
    with freeze_time(NOW_ISO):
        assert Cookie.from_options({"maxAge": 1500.7}).to_json()["originalMaxAge"] == 1500


def test_a_zero_max_age_expires_now():
    with freeze_time(NOW_ISO):
        cookie = Cookie.from_options({"maxAge": 0})
        assert cookie.expires == NOW
        assert cookie.max_age == 0.0
        assert cookie.to_json()["originalMaxAge"] == 0


def test_a_negative_max_age_gives_an_expiry_in_the_past():
    with freeze_time(NOW_ISO):
        cookie = Cookie()
        cookie.max_age = -10
        assert cookie.expires == NOW - timedelta(seconds=10)
        assert cookie.max_age == -10.0
        assert cookie.header("n", "v") == "n=v; Path=/; Expires=Wed, 02 Jan 2030 03:03:55 GMT; HttpOnly"


def test_a_past_expiry_is_written_as_express_writes_it():
    with freeze_time(NOW_ISO):
        cookie = Cookie()
        cookie.expires = datetime(1970, 1, 1, tzinfo=UTC)
        assert cookie.header("n", "v") == "n=v; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly"
        assert cookie.to_json()["expires"] == "1970-01-01T00:00:00.000Z"
        assert cookie.to_json()["originalMaxAge"] == -NOW_MS
        cookie.expires = datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
        assert cookie.to_json()["expires"] == "1969-12-31T23:59:59.999Z"
        assert "Expires=Wed, 31 Dec 1969 23:59:59 GMT" in cookie.header("n", "v")


@pytest.mark.parametrize(
    ("expires", "header"),
    [
        ("2030-01-02T03:04:05.999Z", "Wed, 02 Jan 2030 03:04:05 GMT"),
        ("2030-01-02T03:04:05.000Z", "Wed, 02 Jan 2030 03:04:05 GMT"),
        ("2030-01-09T23:59:59.999Z", "Wed, 09 Jan 2030 23:59:59 GMT"),
        ("2031-06-01T00:00:00.001Z", "Sun, 01 Jun 2031 00:00:00 GMT"),
    ],
)
def test_expires_drops_the_milliseconds_and_keeps_a_two_digit_day(expires, header):
    with freeze_time(NOW_ISO):
        cookie = Cookie()
        cookie.expires = parse_iso(expires)
        assert f"; Expires={header};" in cookie.header("n", "v")
        assert cookie.to_json()["expires"] == expires


@pytest.mark.parametrize("bad", ["42", True, False, lambda: 1, [1]])
def test_max_age_rejects_values_that_are_not_seconds(bad):
    cookie = Cookie()
    with pytest.raises(TypeError, match="max_age"):
        cookie.max_age = bad
    assert cookie.expires is None


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e12, -1e12, 1e300])
def test_max_age_rejects_lifetimes_no_date_can_hold(bad):
    cookie = Cookie()
    with pytest.raises(ValueError, match="max_age"):
        cookie.max_age = bad
    assert cookie.expires is None


def test_max_age_does_not_accept_a_datetime():
    # express deprecates a Date for maxAge; here expires takes datetimes.
    with pytest.raises(TypeError):
        Cookie().max_age = NOW  # type: ignore[assignment]


def test_attribute_properties_read_and_write_express_attributes():
    cookie = Cookie()
    assert (cookie.path, cookie.domain, cookie.httponly, cookie.secure) == ("/", None, True, False)
    assert (cookie.samesite, cookie.priority, cookie.partitioned) == (None, None, False)
    cookie.path, cookie.domain, cookie.httponly, cookie.secure = "/app", "example.com", False, True
    cookie.samesite, cookie.priority, cookie.partitioned = "Lax", "High", True
    assert cookie.header("n", "v") == (
        "n=v; Domain=example.com; Path=/app; Secure; Partitioned; Priority=High; SameSite=Lax"
    )
    assert cookie.to_json() == {
        "originalMaxAge": None,
        "partitioned": True,
        "priority": "High",
        "expires": None,
        "secure": True,
        "httpOnly": False,
        "domain": "example.com",
        "path": "/app",
        "sameSite": "Lax",
    }


def test_unset_attributes_are_absent_from_the_json():
    assert Cookie().to_json() == {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"}


# -- express test/cookie.js ------------------------------------------------------


def test_new_cookie_has_express_defaults():
    cookie = Cookie()
    assert cookie.expires is None
    assert cookie.httponly is True
    assert cookie.path == "/"
    assert cookie.max_age is None
    assert cookie.original_max_age is None


def test_cookie_from_empty_options_has_the_defaults():
    assert Cookie.from_options({}).to_json() == Cookie().to_json()


def test_the_data_option_is_ignored():
    cookie = Cookie.from_options({"data": {"path": "/nope"}, "path": "/foo"})
    assert cookie.path == "/foo"
    assert "data" not in cookie.to_json()
    assert "data" not in cookie.attrs


def test_expires_option_sets_expires_and_max_age():
    with freeze_time(NOW_ISO):
        cookie = Cookie.from_options({"expires": NOW_MS + 30_000})
        assert cookie.expires == NOW + timedelta(seconds=30)
        assert cookie.max_age == 30.0
        assert cookie.original_max_age == 30.0


def test_http_only_false_is_kept():
    cookie = Cookie.from_options({"httpOnly": False})
    assert cookie.httponly is False
    assert "HttpOnly" not in cookie.header("n", "v")


def test_max_age_option_sets_expires_and_max_age():
    with freeze_time(NOW_ISO):
        cookie = Cookie.from_options({"maxAge": 2000})
        assert cookie.expires == NOW + timedelta(seconds=2)
        assert cookie.max_age == 2.0
        assert cookie.original_max_age == 2.0


def test_the_later_of_max_age_and_expires_wins():
    with freeze_time(NOW_ISO):
        later_expires = Cookie.from_options({"maxAge": 60000, "expires": NOW_MS + 5000})
        assert later_expires.expires_ms == NOW_MS + 5000
        assert later_expires.original_max_age_ms == 5000
        later_max_age = Cookie.from_options({"expires": NOW_MS + 5000, "maxAge": 60000})
        assert later_max_age.expires_ms == NOW_MS + 60000
        assert later_max_age.original_max_age_ms == 60000


def test_partitioned_option_is_set():
    cookie = Cookie.from_options({"partitioned": True})
    assert cookie.partitioned is True
    assert cookie.header("n", "v").endswith("; Partitioned")


def test_path_option_is_set():
    assert Cookie.from_options({"path": "/foo/bar"}).path == "/foo/bar"


def test_priority_is_stored_as_given_and_capitalised_in_the_header():
    cookie = Cookie.from_options({"priority": "high"})
    assert cookie.priority == "high"
    assert cookie.to_json()["priority"] == "high"
    assert cookie.header("n", "v").endswith("; Priority=High")


# -- JSON round trip -------------------------------------------------------------


def test_to_json_follows_express_key_order():
    cookie = Cookie.from_json(
        {
            "sameSite": "lax",
            "path": "/",
            "domain": "example.com",
            "httpOnly": True,
            "secure": False,
            "expires": NOW_ISO,
            "priority": "low",
            "partitioned": False,
            "originalMaxAge": 1000,
        }
    )
    assert tuple(cookie.to_json()) == JSON_KEYS


@pytest.mark.parametrize("vector", SET_COOKIE, ids=SET_COOKIE_IDS)
def test_from_json_and_to_json_round_trip(vector):
    stored = {"originalMaxAge": 1234, **vector["cookie_data"]}
    cookie = Cookie.from_json(stored)
    assert cookie.to_json() == stored
    assert Cookie.from_json(cookie.to_json()).to_json() == stored
    if vector["effective_expires_iso"] is not None:
        assert cookie.expires == parse_iso(vector["effective_expires_iso"])


def test_from_json_ignores_unknown_keys():
    cookie = Cookie.from_json({"originalMaxAge": None, "expires": None, "path": "/", "signed": True})
    assert "signed" not in cookie.to_json()


def test_copy_is_independent():
    with freeze_time(NOW_ISO):
        cookie = Cookie.from_options({"maxAge": 1000, "sameSite": "lax"})
        clone = cookie.copy()
        clone.max_age = 5
        clone.samesite = "strict"
        assert cookie.to_json()["originalMaxAge"] == 1000
        assert cookie.samesite == "lax"


# -- the Morsel in Django's response ------------------------------------------


@freeze_time(NOW_ISO)
def test_morsel_keeps_the_usual_morsel_keys_for_code_that_reads_them():
    cookie = Cookie.from_options({"maxAge": 60000, "sameSite": True, "secure": True, "domain": "a.example"})
    morsel = cookie.morsel("connect.sid", "v")
    assert morsel["path"] == "/"
    assert morsel["domain"] == "a.example"
    assert morsel["httponly"] is True
    assert morsel["secure"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["expires"] == "Wed, 02 Jan 2030 03:05:05 GMT"
    assert morsel["max-age"] == ""


@freeze_time(NOW_ISO)
def test_a_response_writes_the_morsel_unchanged():
    cookie = Cookie.from_options({"maxAge": 60000, "sameSite": "lax", "priority": "high"})
    expected = (
        "connect.sid=v; Path=/; Expires=Wed, 02 Jan 2030 03:05:05 GMT; HttpOnly; Priority=High; SameSite=Lax"
    )
    response = HttpResponse("ok")
    response.cookies["connect.sid"] = cookie.morsel("connect.sid", "v")
    assert str(response.cookies) == "Set-Cookie: " + expected
    assert response.cookies.output(header="") == " " + expected


@pytest.mark.django_db  # the handler's request_finished closes old connections
@freeze_time(NOW_ISO)
def test_the_wsgi_handler_sends_the_express_header(settings, app):
    cookie = Cookie.from_options({"maxAge": 60000, "partitioned": True, "sameSite": "none", "secure": True})
    expected = (
        "prefs=v; Path=/; Expires=Wed, 02 Jan 2030 03:05:05 GMT; HttpOnly; Secure; Partitioned; SameSite=None"
    )
    settings.EXPSESSION = {
        "SECRET": "keyboard cat",
        "SAVE_UNINITIALIZED": False,
        "STORE": {"BACKEND": "django_expsession.stores.memory.MemoryStore"},
    }

    @app
    def view(request):
        response = HttpResponse("ok")
        response.cookies["prefs"] = cookie.morsel("prefs", "v")
        return response

    environ = RequestFactory().get("/").environ
    environ["wsgi.input"] = io.BytesIO()
    environ["wsgi.errors"] = sys.stderr
    captured: list[tuple[str, list[tuple[str, str]]]] = []
    body = WSGIHandler()(environ, lambda status, headers: captured.append((status, headers)))
    b"".join(body)
    status, headers = captured[0]
    assert status.startswith("200")
    # Django 5.2 writes Morsel.output(header=""), which starts with a space
    # (for every cookie, not only ours); Django 6.1 writes OutputString().
    assert [v.lstrip(" ") for k, v in headers if k == "Set-Cookie"] == [expected]


@freeze_time(NOW_ISO)
def test_the_test_client_sees_the_express_header(app, expsession, client):
    expsession.configure(
        COOKIE={"MAX_AGE": 60, "SAMESITE": "Strict", "PRIORITY": "Low"}, GENID=lambda r: "abc"
    )
    response = client.get("/")
    expected = (
        f"connect.sid={signing.cookie_value('abc', 'keyboard cat')}; Path=/; "
        "Expires=Wed, 02 Jan 2030 03:05:05 GMT; HttpOnly; Priority=Low; SameSite=Strict"
    )
    assert response.cookies["connect.sid"].OutputString() == expected
    assert str(response.cookies) == "Set-Cookie: " + expected


def test_a_pickled_or_copied_morsel_writes_the_same_header():
    morsel = Cookie({"sameSite": "lax"}).morsel("connect.sid", "v")
    header = morsel.OutputString()
    for clone in (
        pickle.loads(pickle.dumps(morsel)),
        copy.copy(morsel),
        copy.deepcopy(morsel),
        morsel.copy(),
    ):
        assert isinstance(clone, SetCookieMorsel)
        assert clone.OutputString() == header
        assert clone.value == "v"
        assert clone["samesite"] == "lax"


def test_a_cached_response_with_the_session_cookie_can_be_written_again():
    response = HttpResponse("ok")
    response.cookies["connect.sid"] = Cookie().morsel("connect.sid", "v")
    restored = pickle.loads(pickle.dumps(response))
    assert restored.cookies.output() == "Set-Cookie: connect.sid=v; Path=/; HttpOnly"


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("domain", "exa mple.com"),
        ("path", "/a;b"),
        ("samesite", "auto"),
        ("samesite", "sometimes"),
        ("priority", "urgent"),
        ("httponly", "yes"),
        ("secure", 1),
        ("partitioned", None),
    ],
)
def test_assigning_an_unsendable_attribute_fails_at_once_and_changes_nothing(attribute, value):
    cookie = Cookie.from_options({"path": "/", "maxAge": 1000}, now=0)
    before = cookie.to_json()
    with pytest.raises(CookieError):
        setattr(cookie, attribute, value)
    assert cookie.to_json() == before


@pytest.mark.parametrize(
    ("attribute", "value", "fragment"),
    [
        ("domain", "example.org", "Domain=example.org"),
        ("path", "/admin", "Path=/admin"),
        ("samesite", "strict", "SameSite=Strict"),
        ("priority", "low", "Priority=Low"),
        ("httponly", False, None),
        ("secure", True, "Secure"),
        ("partitioned", True, "Partitioned"),
    ],
)
def test_assigning_a_valid_attribute_reaches_the_header(attribute, value, fragment):
    cookie = Cookie.from_options({}, now=0)
    setattr(cookie, attribute, value)
    header = cookie.header("connect.sid", "v")
    if fragment is None:
        assert "HttpOnly" not in header
    else:
        assert fragment in header.split("; ")
