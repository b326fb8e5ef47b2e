"""The stored document: express's JSON shape, read defensively; change hashing."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
from freezegun import freeze_time

from django_expsession import document as doc
from django_expsession import signing
from django_expsession.session import SessionDataError, canonical
from django_expsession.stores.base import Record

from . import vectors

SECURITY_LOGGER = "django.security.expsession"
NOW_ISO = "2030-01-02T03:04:05.678Z"
NOW_MS = 1893553445678

EXPRESS_DEFAULT = '{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}}'
EXPRESS_FULL = (
    '{"cookie":{"originalMaxAge":60000,"partitioned":true,"priority":"high",'
    '"expires":"2026-11-25T17:38:37.504Z","secure":false,"httpOnly":true,'
    '"domain":"example.com","path":"/","sameSite":"lax"},"user":"bob"}'
)


def loads(text: str | bytes | None, sid: str | None = None) -> doc.Document | None:
    """A stored text as every store hands it to the request path."""
    return None if text is None else Record(text=text).current_document(sid)


def validate(document: object, sid: str | None = None) -> doc.Document | None:
    """A stored object (a custom store's) as the request path takes it."""
    return Record(document=document).current_document(sid)  # type: ignore[arg-type]


def security_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SECURITY_LOGGER and r.levelno == logging.WARNING]


# -- accepted ----------------------------------------------------------------------


@pytest.mark.parametrize("text", [EXPRESS_DEFAULT, EXPRESS_FULL], ids=["default", "all-attributes"])
def test_loads_accepts_express_documents_and_keeps_key_order(text, caplog):
    document = loads(text, "sid")
    assert document == json.loads(text)
    assert list(document) == list(json.loads(text))
    assert list(document["cookie"]) == list(json.loads(text)["cookie"])
    assert doc.dumps(document) == text
    assert security_warnings(caplog) == []


def test_loads_accepts_bytes():
    assert loads(EXPRESS_DEFAULT.encode(), "sid") == json.loads(EXPRESS_DEFAULT)


@pytest.mark.parametrize(
    "vector", vectors.entries("end_to_end_vectors"), ids=vectors.ids("end_to_end_vectors")
)
def test_every_document_express_stored_is_accepted(vector):
    for text in vector["store_after"].values():
        assert loads(text) == json.loads(text)


def test_a_minimal_cookie_object_is_enough():
    assert validate({"cookie": {}}) == {"cookie": {}}
    assert validate({"cookie": {"path": "/"}, "x": [1, {"y": None}]}) is not None


def test_loads_of_none_is_no_session_and_not_logged(caplog):
    assert loads(None) is None
    assert security_warnings(caplog) == []


def test_dumps_is_compact_and_keeps_non_ascii():
    assert doc.dumps({"cookie": {"path": "/"}, "u": "ü✓"}) == '{"cookie":{"path":"/"},"u":"ü✓"}'


def test_dumps_refuses_nan_which_json_stringify_would_turn_into_null():
    with pytest.raises(ValueError):
        doc.dumps({"x": float("nan")})


# -- rejected ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "{", "not json", "{'cookie': {}}", b"\xff\xfe", '{"cookie":{}}x'],
    ids=["empty", "truncated", "garbage", "python-repr", "bad-utf8", "trailing"],
)
def test_loads_rejects_text_that_is_not_json_and_logs_it(text, caplog):
    assert loads(text, "thesid") is None
    [record] = security_warnings(caplog)
    # The id hash, never the id: a log reader must not be able to take over the session.
    assert signing.id_hash("thesid") in record.getMessage()
    assert "thesid" not in record.getMessage()
    assert "not valid JSON" in record.getMessage()


@pytest.mark.parametrize("text", ["[]", '"cookie"', "1", "null", "true", '[{"cookie":{}}]'])
def test_loads_rejects_json_that_is_not_an_object(text, caplog):
    assert loads(text, "thesid") is None
    [record] = security_warnings(caplog)
    assert "not a JSON object" in record.getMessage()


@pytest.mark.parametrize(
    "document",
    [{}, {"user": "bob"}, {"cookie": None}, {"cookie": "path=/"}, {"cookie": []}, {"Cookie": {}}],
)
def test_validate_rejects_a_missing_or_non_object_cookie(document, caplog):
    assert validate(document, "thesid") is None
    [record] = security_warnings(caplog)
    assert "no cookie object" in record.getMessage()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("originalMaxAge", "60000"),
        ("originalMaxAge", True),
        ("originalMaxAge", []),
        ("expires", 1893553445678),
        ("expires", True),
        ("expires", {}),
        ("secure", "true"),
        ("secure", 1),
        ("secure", None),
        ("httpOnly", "yes"),
        ("httpOnly", 0),
        ("partitioned", "no"),
        ("domain", 42),
        ("domain", False),
        ("path", ["/"]),
        ("path", True),
        ("sameSite", 1),
        ("sameSite", []),
        ("priority", 3),
        ("priority", True),
    ],
)
def test_validate_rejects_wrong_types_in_the_cookie(key, value, caplog):
    assert validate({"cookie": {"path": "/", key: value}}, "thesid") is None
    [record] = security_warnings(caplog)
    assert f"cookie.{key}" in record.getMessage()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("originalMaxAge", 60000),
        ("originalMaxAge", 1500.5),
        ("originalMaxAge", None),
        ("expires", None),
        ("secure", False),
        ("sameSite", True),
        ("sameSite", "lax"),
        ("sameSite", None),
        ("domain", None),
        ("priority", "high"),
    ],
)
def test_validate_accepts_every_type_express_writes(key, value, caplog):
    assert validate({"cookie": {key: value}}) == {"cookie": {key: value}}
    assert security_warnings(caplog) == []


@pytest.mark.parametrize(
    "expires",
    [
        "",
        "tomorrow",
        "2030-13-01T00:00:00.000Z",
        "2030-01-02",
        "2030-01-02T03:04:05",
        "Wed, 02 Jan 2030 03:04:05 GMT",
    ],
    ids=["empty", "word", "month-13", "date-only", "naive", "http-date"],
)
def test_validate_rejects_an_expires_that_is_not_an_iso_instant(expires, caplog):
    assert validate({"cookie": {"expires": expires}}, "thesid") is None
    [record] = security_warnings(caplog)
    assert "not an ISO date" in record.getMessage()


def test_validate_accepts_an_iso_instant_with_an_offset():
    document = {"cookie": {"expires": "2030-01-02T04:04:05.678+01:00"}}
    assert validate(document) == document
    assert doc.expires_ms(document) == NOW_MS


# -- expiry --------------------------------------------------------------------------


def test_expires_ms_reads_the_cookie_expiry():
    assert doc.expires_ms({"cookie": {"expires": NOW_ISO}}) == NOW_MS
    assert doc.expires_ms({"cookie": {"expires": None}}) is None
    assert doc.expires_ms({"cookie": {}}) is None


@freeze_time("2020-05-05T00:00:00Z")
def test_store_expiry_of_a_persistent_cookie_is_its_expiry():
    assert doc.store_expiry_ms({"cookie": {"expires": NOW_ISO}}, ttl=86400) == NOW_MS


@freeze_time(NOW_ISO)
def test_store_expiry_of_a_browser_session_cookie_is_now_plus_ttl():
    assert doc.store_expiry_ms({"cookie": {"expires": None}}, ttl=86400) == NOW_MS + 86_400_000
    assert doc.store_expiry_ms({"cookie": {}}, ttl=1.5) == NOW_MS + 1500


@freeze_time(NOW_ISO)
def test_a_document_is_expired_at_its_expiry_instant_not_before():
    document = {"cookie": {"expires": NOW_ISO}}
    assert doc.is_expired(document) is True
    assert doc.is_expired(document, now=NOW_MS - 1) is False
    assert doc.is_expired({"cookie": {"expires": None}}) is False


# -- change detection hash ---------------------------------------------------------

HASHES = vectors.entries("hash_vectors")


@pytest.mark.parametrize("vector", HASHES, ids=[v["sha1_hex"][:8] for v in HASHES])
def test_canonical_data_is_express_hashed_string(vector):
    stored = json.loads(vector["session_json_in_store"])
    data = {k: v for k, v in stored.items() if k != "cookie"}
    assert canonical(data) == vector["hashed_string"]
    assert hashlib.sha1(canonical(data).encode("utf-8")).hexdigest() == vector["sha1_hex"]


def test_key_order_changes_the_hash():
    assert canonical({"a": 1, "b": 2}) != canonical({"b": 2, "a": 1})


def test_a_nested_cookie_key_is_hashed():
    assert canonical({"user": {"cookie": 1}}) != canonical({"user": {"cookie": 2}})


@pytest.mark.parametrize(
    "value", [object(), {1, 2}, b"bytes", float("nan"), float("inf"), {"deep": [object()]}]
)
def test_an_unserialisable_value_raises_an_error_naming_the_key(value):
    with pytest.raises(SessionDataError) as excinfo:
        canonical({"fine": 1, "culprit": value})
    message = str(excinfo.value)
    assert "'culprit'" in message
    assert "'fine'" not in message
    assert isinstance(excinfo.value, TypeError)
