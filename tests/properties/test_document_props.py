"""Properties of the stored-document validator (``document.parse`` + ``document.check``).

A store may hand back anything: text another program wrote, or objects a
custom store built. The validator either accepts a document or raises
``InvalidDocumentError``; nothing else. What it accepts is compared with a
reference predicate written here from SPEC.md 4/5 and EXPRESS-SESSION.md
5.3-5.4 (express's stored shape and what its Set-Cookie serializer takes),
and an accepted document must survive being written back and read again.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpResponse
from django.test import RequestFactory
from hypothesis import assume, event, example, given
from hypothesis import strategies as st

from django_expsession import document as doc
from django_expsession import signing
from django_expsession.middleware import SessionMiddleware
from django_expsession.stores import get_store
from tests.stores.conftest import plant

from .conftest import PROFILE

# -- the reference predicate ---------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The instants an HTTP date with a four-digit year can carry.
FIRST_MS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
LAST_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
DEPTH_LIMIT = 64
THOUSAND_YEARS_MS = 1000 * 365 * 86400 * 1000
# cookie 0.7.2's domain rule (EXPRESS-SESSION.md 5.4).
_DOMAIN = re.compile(
    r"[.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*", re.IGNORECASE
)
_JSON_SCALARS = (str, int, float, bool, type(None))
_TYPES = {
    "originalMaxAge": (int, float, type(None)),
    "expires": (str, type(None)),
    "secure": (bool,),
    "httpOnly": (bool,),
    "partitioned": (bool,),
    "domain": (str, type(None)),
    "path": (str, type(None)),
    "sameSite": (str, bool, type(None)),
    "priority": (str, type(None)),
}


def _depth(value: Any) -> int:
    """Levels of containers: ``{}`` is 1, ``{"a": []}`` is 2 (iterative: values may be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def _json_only(value: Any) -> bool:
    """JSON's types only: string keys, finite numbers."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            if not all(type(key) is str for key in item):
                return False
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
        elif type(item) not in _JSON_SCALARS or (type(item) is float and not math.isfinite(item)):
            return False
    return True


def _expires_ms(value: str) -> int | None:
    """Epoch ms of an ISO 8601 date with a zone (datetime's reading of ISO); None if it is none."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return (parsed - _EPOCH) // timedelta(milliseconds=1)


def _sendable(cookie: dict[str, Any]) -> bool:
    """What express's serializer would write without throwing."""
    domain, path = cookie.get("domain"), cookie.get("path", "/")
    priority, samesite = cookie.get("priority"), cookie.get("sameSite")
    if domain and not _DOMAIN.fullmatch(domain):
        return False
    if path and not all(0x20 <= ord(c) <= 0x7E and c != ";" for c in path):
        return False
    if priority and priority.lower() not in ("low", "medium", "high"):
        return False
    return not (samesite and samesite is not True and samesite.lower() not in ("strict", "lax", "none"))


def ref_verdict(value: Any) -> tuple[bool, int | None]:
    """(accepted, cookie expiry in epoch ms) for a parsed document."""
    if type(value) is not dict or not _json_only(value) or _depth(value) > DEPTH_LIMIT:
        return False, None
    cookie = value.get("cookie")
    if type(cookie) is not dict:
        return False, None
    for key, types in _TYPES.items():
        if key in cookie and type(cookie[key]) not in types:
            return False, None
    original = cookie.get("originalMaxAge")
    # A lifetime within a thousand years either way: now + originalMaxAge (a touch)
    # must stay a date an HTTP header can carry.
    if original is not None and not (-THOUSAND_YEARS_MS <= original <= THOUSAND_YEARS_MS):
        return False, None
    if not _sendable(cookie):
        return False, None
    expires = cookie.get("expires")
    if expires is None:
        return True, None
    ms = _expires_ms(expires)
    if ms is None or not FIRST_MS <= ms <= LAST_MS:
        return False, None
    return True, ms


def ref_load(text: str | bytes) -> Any:
    """The JSON value of a text (Python's reader); a sentinel when it is not JSON at all."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return NOT_JSON


NOT_JSON = object()


def validate(text: str | bytes) -> tuple[bool, int | None, Any]:
    """What the package decides: (accepted, expiry ms, document); only InvalidDocumentError allowed."""
    try:
        document = doc.parse(text)
        return True, doc.check(document), document
    except doc.InvalidDocumentError as exc:
        assert exc.reason and isinstance(exc.reason, str)
        return False, None, None


# -- strategies -------------------------------------------------------------------------

_numbers = st.one_of(
    st.integers(),
    st.integers(-(10**400), 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            *(THOUSAND_YEARS_MS, THOUSAND_YEARS_MS + 1, -THOUSAND_YEARS_MS, -THOUSAND_YEARS_MS - 1),
            *(LAST_MS, -LAST_MS, 0, -0.0, 2**53, 1e308, 10**309, 60000),
        ]
    ),
)
_scalars = st.one_of(st.none(), st.booleans(), _numbers, st.text(max_size=12))
json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def _iso(ms: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds") + "Z"


_dates = st.one_of(
    st.integers(FIRST_MS, LAST_MS).map(_iso),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),  # no zone
    st.sampled_from(
        [
            "9999-12-31T23:59:59.999Z",
            "9999-12-31T23:59:59.999-01:00",
            "0001-01-01T00:00:00.000+01:00",
            "0001-01-01T00:00:00.000Z",
            "2030-01-02T03:04:05.678Z",
            "2030-01-02",
            "tomorrow",
            "",
            "2030-13-01T00:00:00Z",
        ]
    ),
    st.text(max_size=30),
)
_attribute_values: dict[str, Any] = {
    "originalMaxAge": st.one_of(st.none(), _numbers),
    "expires": st.one_of(st.none(), _dates),
    "secure": st.one_of(st.booleans(), _scalars),
    "httpOnly": st.one_of(st.booleans(), _scalars),
    "partitioned": st.one_of(st.booleans(), _scalars),
    "domain": st.one_of(
        st.none(),
        st.sampled_from(["example.com", ".example.com", "a-.b", "", "x" * 70]),
        st.text(max_size=12),
    ),
    "path": st.one_of(st.none(), st.sampled_from(["/", "/a;b", "", "/é", "/a b"]), st.text(max_size=12)),
    "sameSite": st.one_of(st.none(), st.booleans(), st.sampled_from(["lax", "Strict", "NONE", "auto", ""])),
    "priority": st.one_of(st.none(), st.sampled_from(["low", "Medium", "HIGH", "urgent", ""]), _scalars),
}


_valid_attribute_values: dict[str, Any] = {
    "originalMaxAge": st.one_of(
        st.none(),
        st.integers(-THOUSAND_YEARS_MS, THOUSAND_YEARS_MS),
        st.sampled_from([THOUSAND_YEARS_MS, -THOUSAND_YEARS_MS, LAST_MS, -LAST_MS, 60000, 0]),
        st.floats(-1e12, 1e12),
    ),
    "expires": st.one_of(st.none(), st.integers(FIRST_MS, LAST_MS).map(lambda ms: _iso(ms))),
    "secure": st.booleans(),
    "httpOnly": st.booleans(),
    "partitioned": st.booleans(),
    "domain": st.sampled_from([None, "example.com", ".example.com"]),
    "path": st.sampled_from(["/", "/admin", None]),
    "sameSite": st.sampled_from([None, False, True, "lax", "Strict", "none"]),
    "priority": st.sampled_from([None, "low", "Medium", "HIGH"]),
}


@st.composite
def cookie_objects(draw: Any) -> Any:
    """A sound cookie object, then (often) one to three of its values swapped for anything."""
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)  # not even an object, usually
    keys = draw(st.lists(st.sampled_from(list(_attribute_values)), unique=True))
    cookie = {key: draw(_valid_attribute_values[key]) for key in keys}
    for key in draw(st.lists(st.sampled_from(list(_attribute_values)), max_size=3)):
        cookie[key] = draw(_attribute_values[key])
    if draw(st.integers(0, 4)) == 0:
        cookie.update(draw(st.dictionaries(st.text(max_size=5), _scalars, max_size=2)))
    return cookie


def _nest(value: Any, levels: int, as_list: bool) -> Any:
    for _ in range(levels):
        value = [value] if as_list else {"n": value}
    return value


@st.composite
def documents(draw: Any) -> Any:
    """Express-shaped documents, most of them a little wrong."""
    body: Any = {}
    if draw(st.integers(0, 4)) > 0:
        body["cookie"] = draw(cookie_objects())
    body.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3)))
    if draw(st.integers(0, 7)) == 0:
        levels = draw(st.integers(55, 70))
        body["deep"] = _nest(draw(json_values), levels, draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(json_values, st.lists(st.just(body), max_size=2)))  # wrong top level
    return body


def _text_of(value: Any) -> str:
    # allow_nan: the text then holds NaN / Infinity, which Python's reader accepts and JSON does not.
    return json.dumps(value, allow_nan=True, ensure_ascii=False)


@st.composite
def document_texts(draw: Any) -> str | bytes:
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.text(max_size=40))
    if choice == 1:
        return draw(st.binary(max_size=40))
    text = _text_of(draw(documents()))
    if choice == 2 and text:  # a slip of the pen somewhere
        at = draw(st.integers(0, len(text)))
        text = (
            text[:at]
            + draw(st.sampled_from(["", "}", "]", ",", "NaN", "-Infinity", "1e999", " ", "\\ud800"]))
            + text[at:]
        )
    if choice == 3:
        text = draw(st.sampled_from(["  ", "\n", "\t"])) + text + draw(st.sampled_from(["", " ", "\n", " x"]))
    if choice == 4:
        return text.encode("utf-8")
    return text


# -- properties -----------------------------------------------------------------------------


@PROFILE
@given(text=document_texts())
@example(text='{"cookie": {"originalMaxAge": NaN}}')
@example(text='{"cookie": {"originalMaxAge": Infinity}}')
@example(text='{"cookie": {"expires": "2030-01-02T03:04:05.678Z"}, "n": -Infinity}')
@example(text='{"cookie": {}, "n": 1e400}')
@example(text='{"cookie": {}, "n": 1' + "0" * 5000 + "}")
@example(text="[" * 100_000 + "]" * 100_000)
@example(text='{"cookie": {}, "d": ' + "[" * 64 + "]" * 64 + "}")
@example(text='{"cookie": {}, "d": ' + "[" * 63 + "]" * 63 + "}")
@example(text='{"cookie": {"expires": "9999-12-31T23:59:59.999-01:00"}}')
@example(text=b'{"cookie": {}, "x": "\xff"}')
def test_the_validator_accepts_exactly_what_the_reference_accepts(text):
    value = ref_load(text)
    accepted, expires, document = validate(text)
    # Python's reader takes NaN and Infinity; the validator must refuse them.
    expected = (False, None) if value is NOT_JSON else ref_verdict(value)
    event("accepted" if accepted else "refused")
    assert (accepted, expires) == expected
    if accepted:
        assert document == value


_finite_json = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=15,
)


@st.composite
def sound_documents(draw: Any) -> Any:
    """Documents meant to be accepted: any sound cookie, any finite user data."""
    keys = draw(st.lists(st.sampled_from(list(_valid_attribute_values)), unique=True))
    cookie = {key: draw(_valid_attribute_values[key]) for key in keys}
    return {"cookie": cookie, **draw(st.dictionaries(st.text(max_size=8), _finite_json, max_size=4))}


@PROFILE
@given(value=st.one_of(sound_documents(), documents()))
def test_an_accepted_document_written_back_reads_back_the_same(value):
    accepted, expires, document = validate(_text_of(value))
    assume(accepted)
    text = doc.dumps(document)  # what a store is given
    again = doc.parse(text)
    assert again == document
    assert doc.dumps(again) == text  # key order and numbers kept exactly
    assert doc.check(again) == expires
    assert json.loads(text) == document  # plain JSON, no NaN or other extensions


_objects = st.recursive(
    st.one_of(
        _scalars,
        st.binary(max_size=3),
        st.sampled_from([float("nan"), float("inf"), (1, 2), {1, 2}, object(), datetime(2030, 1, 1)]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(), st.none()), inner, max_size=3),
    ),
    max_leaves=12,
)


@PROFILE
@given(
    value=st.one_of(
        documents(),
        st.builds(
            lambda c, d: {"cookie": c, **d}, cookie_objects(), st.dictionaries(st.text(max_size=4), _objects)
        ),
        _objects,
    )
)
def test_a_custom_stores_objects_are_checked_like_text(value):
    """``check_tree`` + ``check``: for a store that returns Python objects, not JSON text."""
    try:
        doc.check_tree(value)
        expires = doc.check(value)
        accepted = True
    except doc.InvalidDocumentError:
        accepted, expires = False, None
    assert (accepted, expires) == ref_verdict(value)


# -- through the request cycle ------------------------------------------------------------

SID = "plantedsessionid0123456789abcdef"


def test_a_request_with_any_stored_document_gets_that_session_or_a_new_one(settings):
    """No stored document ends in a 5xx; a refused one is a new session, and nothing bad is written."""
    settings.EXPSESSION = {
        "SECRET": "keyboard cat",
        "RESAVE": True,
        "SAVE_UNINITIALIZED": False,
        "COOKIE": {"MAX_AGE": 60},
        "STORE": {"BACKEND": "django_expsession.stores.memory.MemoryStore"},
    }
    factory = RequestFactory()
    cookie = "connect.sid=" + signing.cookie_value(SID, "keyboard cat")
    seen: dict[str, Any] = {}

    def view(request):
        seen["id"] = request.session.session_key
        seen["data"] = dict(request.session)
        if "write" in request.GET:
            request.session["visits"] = 1
        return HttpResponse("ok")

    middleware = SessionMiddleware(view)
    store = get_store()

    ran = [0]  # examples, printed for the long run's record

    @PROFILE
    @given(text=document_texts(), write=st.booleans())
    def check(text, write):
        ran[0] += 1
        value = ref_load(text)
        assume(not isinstance(text, bytes))  # a memory store holds text
        store.clear()
        plant(store, SID, text)
        response = middleware(factory.get("/?write" if write else "/", HTTP_COOKIE=cookie))
        assert response.status_code == 200
        accepted = value is not NOT_JSON and ref_verdict(value)[0]
        event("loaded" if accepted else "new session")
        if accepted:
            assert seen["id"] == SID
            assert seen["data"] == {k: v for k, v in value.items() if k not in ("cookie", "_expsession")}
        else:
            assert seen["id"] != SID
        # Whatever is stored now is a sound document: a bad value never spreads.
        for sid, stored in store.all():
            assert ref_verdict(json.loads(doc.text_of(stored)))[0], (sid, stored)

    check()
    print(f"\nexamples run: {ran[0]}")


def test_the_reference_pins_a_few_fixed_points():
    assert ref_verdict({"cookie": {}}) == (True, None)
    assert ref_verdict({"cookie": {"originalMaxAge": True}})[0] is False
    assert ref_verdict({"cookie": {"expires": "2030-01-02T03:04:05.678Z"}}) == (True, 1893553445678)
    assert ref_verdict({"cookie": {}, "d": _nest(1, 63, True)})[0] is True  # 64 levels
    assert ref_verdict({"cookie": {}, "d": _nest(1, 64, True)})[0] is False
