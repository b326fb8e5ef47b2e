"""Properties of ``Cookie`` built from any options.

Whatever the options, building a cookie and its Set-Cookie header either
fails with a clear ValueError/TypeError (``CookieError`` is a ValueError;
settings fail with ImproperlyConfigured) or gives a header that a small
parser written here reads back with the same attributes, in express's order,
with nothing a header may not carry. Lifetimes never overflow: an expiry is
always a date ``Expires`` can hold, and the stored JSON loads back.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from freezegun import freeze_time
from hypothesis import event, example, given
from hypothesis import strategies as st

from django_expsession import conf
from django_expsession import document as doc
from django_expsession.cookie import Cookie, CookieError

from .conftest import PROFILE

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
FIRST_MS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // MS
LAST_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // MS
THOUSAND_YEARS = 1000 * 365 * 86400  # seconds: the longest lifetime the API allows
NOW = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
NOW_MS = (NOW - _EPOCH) // MS
# Express's attribute order after name=value (EXPRESS-SESSION.md 5.4).
ORDER = ["Domain", "Path", "Expires", "HttpOnly", "Secure", "Partitioned", "Priority", "SameSite"]
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def parse_set_cookie(line: str) -> tuple[str, str, list[tuple[str, str | None]]]:
    """(name, value, [(attribute, value or None for a flag)]) of one Set-Cookie line."""
    first, *rest = line.split("; ")
    name, eq, value = first.partition("=")
    assert eq, line
    attributes = []
    for part in rest:
        key, eq, attr_value = part.partition("=")
        attributes.append((key, attr_value if eq else None))
    return name, value, attributes


def expected_attributes(attrs: dict[str, Any], expires_ms: int | None) -> list[tuple[str, str | None]]:
    """What express writes for these options, from EXPRESS-SESSION.md's table."""
    out: list[tuple[str, str | None]] = []
    if attrs.get("domain"):
        out.append(("Domain", attrs["domain"]))
    if attrs.get("path"):
        out.append(("Path", attrs["path"]))
    if expires_ms is not None:
        d = _EPOCH + expires_ms * MS
        # Date#toUTCString pads the year to four digits (strftime's %Y does not for year < 1000).
        out.append(("Expires", d.strftime("%a, %d %b ") + f"{d.year:04d}" + d.strftime(" %H:%M:%S GMT")))
    for key, label in (("httpOnly", "HttpOnly"), ("secure", "Secure"), ("partitioned", "Partitioned")):
        if attrs.get(key):
            out.append((label, None))
    if attrs.get("priority"):
        out.append(("Priority", attrs["priority"].capitalize()))
    samesite = attrs.get("sameSite")
    if samesite:
        out.append(("SameSite", "Strict" if samesite is True else samesite.capitalize()))
    return out


def assert_sound_header(cookie: Cookie, name: str = "connect.sid", value: str = "s%3Aabc.def") -> str:
    line = cookie.header(name, value)
    # Printable ASCII only: no CR/LF (a second header), no control characters.
    assert all(0x20 <= ord(char) <= 0x7E for char in line), line
    got_name, got_value, attributes = parse_set_cookie(line)
    assert (got_name, got_value) == (name, value)
    assert attributes == expected_attributes(cookie.attrs, cookie.expires_ms)
    assert [key for key, _ in attributes] == [key for key in ORDER if key in dict(attributes)]
    assert "Max-Age" not in dict(attributes)
    expires = dict(attributes).get("Expires")
    if expires is not None:
        # Read back to the second express writes (email.utils would take "0001" for 2001).
        parsed = datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
        assert parsed == (_EPOCH + cookie.expires_ms * MS).replace(microsecond=0)
    # The morsel Django writes out is the same line.
    assert cookie.morsel(name, value).OutputString() == line
    return line


def assert_stores_and_loads(cookie: Cookie) -> None:
    """The cookie as stored JSON passes the validator and rebuilds an equal cookie."""
    data = cookie.to_json()
    expires = doc.check(doc.parse(doc.dumps({"cookie": data})))
    assert expires == cookie.expires_ms
    assert Cookie.from_json(data) == cookie


# -- strategies -------------------------------------------------------------------------

_anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=4),
    st.timedeltas(),
    st.datetimes(),
    st.lists(st.integers(), max_size=2),
)
_seconds = st.one_of(
    st.integers(-2 * THOUSAND_YEARS, 2 * THOUSAND_YEARS),
    st.integers(),
    st.floats(),
    st.sampled_from([THOUSAND_YEARS, THOUSAND_YEARS + 1, -THOUSAND_YEARS, 0, 0.0005, 1.001, 1e308, 2**63]),
    st.timedeltas(),
)
_domains = st.one_of(
    st.sampled_from(
        ["example.com", ".Example.COM", "a.b-c.d", "-a.com", "a..b", "x" * 64 + ".com", "exa mple.com"]
    ),
    st.from_regex(r"\.?[a-z0-9]([a-z0-9-]{0,3}[a-z0-9])?(\.[a-z0-9]{1,4}){0,3}", fullmatch=True),
    st.text(max_size=12),
)
_paths = st.one_of(
    st.sampled_from(["/", "/admin", "/a;b", "/a,b", "/é", "/a b", "", "relative", "/a\tb"]),
    st.text(st.characters(max_codepoint=0x7F), max_size=12).map(lambda s: "/" + s),
    st.text(max_size=12),
)
SETTING_VALUES: dict[str, Any] = {
    "PATH": _paths,
    "DOMAIN": st.one_of(st.none(), _domains),
    "HTTPONLY": st.one_of(st.booleans(), _anything),
    "SECURE": st.one_of(st.booleans(), st.just("auto"), _anything),
    "MAX_AGE": st.one_of(st.none(), _seconds, _anything),
    "SAMESITE": st.one_of(
        st.none(), st.booleans(), st.sampled_from(["Lax", "strict", "NONE", "auto", "AUTO", "lux", ""])
    ),
    "PRIORITY": st.one_of(st.none(), st.sampled_from(["Low", "medium", "HIGH", "urgent", ""]), _anything),
    "PARTITIONED": st.one_of(st.booleans(), _anything),
}
setting_dicts = st.dictionaries(
    st.one_of(st.sampled_from(list(SETTING_VALUES)), st.sampled_from(["path", "max_age", "BOGUS"])),
    st.none(),
    max_size=8,
).flatmap(
    lambda keys: st.fixed_dictionaries({key: SETTING_VALUES.get(str(key).upper(), _anything) for key in keys})
)
# A "now" anywhere a server clock could be, and a little beyond.
_nows = st.one_of(st.just(NOW_MS), st.integers(0, (datetime(3000, 1, 1, tzinfo=UTC) - _EPOCH) // MS))


# -- properties -----------------------------------------------------------------------------


@PROFILE
@given(raw=setting_dicts, now=_nows, secure_request=st.booleans())
@example(raw={"MAX_AGE": 1e308}, now=NOW_MS, secure_request=False)
@example(raw={"MAX_AGE": THOUSAND_YEARS}, now=NOW_MS, secure_request=False)
@example(raw={"MAX_AGE": -THOUSAND_YEARS}, now=0, secure_request=False)
@example(raw={"MAX_AGE": timedelta.max}, now=NOW_MS, secure_request=False)
@example(raw={"MAX_AGE": float("nan")}, now=NOW_MS, secure_request=False)
@example(raw={"PATH": "/a;b"}, now=NOW_MS, secure_request=False)
@example(raw={"DOMAIN": "exa mple.com"}, now=NOW_MS, secure_request=False)
def test_cookie_settings_fail_at_startup_or_always_give_a_sound_header(raw, now, secure_request):
    try:
        options = conf.cookie_options(raw)
    except ImproperlyConfigured as exc:
        event("refused by the settings")
        assert "EXPSESSION['COOKIE']" in str(exc)
        return
    event("accepted")
    # "auto" is resolved when a session is made (factory.new_cookie does the same).
    resolved = dict(options)
    if resolved.get("secure") == "auto":
        resolved["secure"] = secure_request
    if resolved.get("sameSite") == "auto":
        resolved["sameSite"] = "none" if secure_request else "lax"
    cookie = Cookie.from_options(resolved, now=now)
    if "maxAge" in options and options["maxAge"] is not None:
        assert cookie.expires_ms == now + options["maxAge"]
        assert cookie.original_max_age_ms == options["maxAge"]
    else:
        assert cookie.expires_ms is None
    assert_sound_header(cookie)
    assert_stores_and_loads(cookie)


EXPRESS_OPTIONS: dict[str, Any] = {
    "path": st.one_of(_paths, _anything),
    "domain": st.one_of(_domains, _anything),
    "httpOnly": st.one_of(st.booleans(), _anything),
    "secure": st.one_of(st.booleans(), _anything),
    "partitioned": st.one_of(st.booleans(), _anything),
    "sameSite": st.one_of(st.sampled_from([True, False, "lax", "Strict", "none", "auto"]), _anything),
    "priority": st.one_of(st.sampled_from(["low", "Medium", "HIGH"]), _anything),
    "maxAge": st.one_of(st.none(), st.integers(-(10**16), 10**16), st.floats(-1e16, 1e16), st.integers()),
    # Epoch ms; only code passes it (the settings have no EXPIRES), already in range.
    "expires": st.one_of(st.none(), st.integers(FIRST_MS, LAST_MS)),
}


@PROFILE
@given(
    options=st.lists(st.sampled_from(list(EXPRESS_OPTIONS)), unique=True, max_size=9).flatmap(
        lambda keys: st.fixed_dictionaries({key: EXPRESS_OPTIONS[key] for key in keys})
    ),
    now=_nows,
)
def test_express_options_give_a_sound_header_or_a_cookie_error(options, now):
    """``Cookie.from_options`` then ``header()``: the only failure is a CookieError."""
    try:
        cookie = Cookie.from_options(options, now=now)
        cookie.header("connect.sid", "v")
    except CookieError:
        event("refused")
        return
    except TypeError:
        event("refused (TypeError)")  # e.g. an unhashable value: "unhashable type: 'list'"
        return
    event("sent")
    assert cookie.expires_ms is None or FIRST_MS <= cookie.expires_ms <= LAST_MS
    assert_sound_header(cookie)
    # The later of maxAge / expires wins, as express copies keys in order.
    last = [key for key in options if key in ("maxAge", "expires")]
    if last and options[last[-1]] is not None:
        value = options[last[-1]]
        assert cookie.expires_ms == (now + math.floor(value) if last[-1] == "maxAge" else value)


_ATTRIBUTES = {
    "path": _paths,
    "domain": st.one_of(st.none(), _domains),
    "httponly": st.booleans(),
    "secure": st.booleans(),
    "samesite": st.one_of(st.none(), st.sampled_from(["Lax", "Strict", "None", "lax", "auto", "x"])),
    "priority": st.one_of(st.none(), st.sampled_from(["Low", "Medium", "High", "medium", "x"])),
    "partitioned": st.booleans(),
}


@PROFILE
@given(
    changes=st.lists(
        st.sampled_from(list(_ATTRIBUTES)).flatmap(
            lambda key: st.tuples(st.just(key), st.one_of(_ATTRIBUTES[key], _anything))
        ),
        max_size=6,
    )
)
def test_assigning_any_attribute_fails_at_once_or_keeps_the_header_sound(changes):
    cookie = Cookie.from_options({"maxAge": 60000}, now=NOW_MS)
    for attribute, value in changes:
        before = cookie.copy()
        try:
            setattr(cookie, attribute, value)
        except (ValueError, TypeError):
            assert cookie == before  # a refused assignment changes nothing
            continue
        assert getattr(cookie, attribute) == value
        assert_sound_header(cookie)
    assert_stores_and_loads(cookie)


def test_max_age_and_expires_never_overflow():
    """``cookie.max_age = x`` and ``cookie.expires = d``: a clear error, or an expiry Expires can hold.

    The clock is frozen once for all examples (freezing it for each would cost
    more than the example itself); Hypothesis then sees no time pass, so the
    deadline does not apply here.
    """
    with freeze_time(NOW):
        check_lifetimes()
    print(f"\nexamples run: {_lifetimes_ran[0]}")


_lifetimes_ran = [0]  # examples, printed for the long run's record


@PROFILE
@given(
    value=st.one_of(_seconds, _anything, st.none()),
    expires=st.one_of(
        st.none(), st.datetimes(timezones=st.timezones()), st.datetimes(), st.sampled_from([datetime.max])
    ),
)
@example(value=1e308, expires=None)
@example(value=float("inf"), expires=None)
@example(value=timedelta.max, expires=None)
@example(value=-THOUSAND_YEARS, expires=datetime.min.replace(tzinfo=UTC))
@example(value=None, expires=datetime(9999, 12, 31, 22, 59, tzinfo=timezone(timedelta(hours=-1))))
def check_lifetimes(value, expires):
    _lifetimes_ran[0] += 1
    cookie = Cookie.from_options({"maxAge": 60000})
    before = cookie.copy()
    try:
        cookie.max_age = value
    except (ValueError, TypeError):
        event("max_age refused")
        assert cookie == before
    else:
        event("max_age taken")
        if value is None:
            assert cookie.expires is None and cookie.max_age is None
        else:
            seconds = value.total_seconds() if isinstance(value, timedelta) else value
            assert abs(seconds) <= THOUSAND_YEARS
            assert abs(cookie.max_age - seconds) < 0.002
            assert cookie.original_max_age == cookie.max_age
    try:
        cookie.expires = expires
    except (ValueError, TypeError):
        event("expires refused")
    else:
        if expires is not None:
            assert expires.tzinfo is not None and expires.utcoffset() is not None
            assert cookie.expires_ms == (expires - _EPOCH) // MS  # whole ms, as a JS Date
            assert cookie.expires <= expires < cookie.expires + MS
    if cookie.expires_ms is not None:
        assert FIRST_MS <= cookie.expires_ms <= LAST_MS
    # Whatever was taken can be sent, stored and touched.
    assert_sound_header(cookie)
    cookie.reset_max_age()
    assert_sound_header(cookie)
    assert_stores_and_loads(cookie)
