"""A corrupt or tampered record is no session: logged, never an exception."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches
from django.http import HttpResponse

from django_expsession import signing

from .conftest import document, plant, raw

BROKEN = {
    "not-json": "{'cookie': nope",
    "not-an-object": "[1, 2, 3]",
    "no-cookie": '{"foo": "bar"}',
    "cookie-not-an-object": '{"cookie": "yes"}',
    "expires-a-number": '{"cookie": {"expires": 5, "originalMaxAge": 60000}}',
    "expires-not-a-date": '{"cookie": {"expires": "tomorrow", "originalMaxAge": null}}',
    "original-max-age-a-string": '{"cookie": {"expires": null, "originalMaxAge": "60"}}',
    "secure-a-string": '{"cookie": {"expires": null, "secure": "yes"}}',
}
SECURITY_LOGGER = "django.security.expsession"


@pytest.mark.parametrize("text", list(BROKEN.values()), ids=list(BROKEN))
def test_a_malformed_document_is_no_session_and_is_logged(make_store, caplog, text):
    store = make_store()
    held = plant(store, "bad", text)  # False: the backend cannot even hold it
    store.set("good", document())
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert store.get("bad") is None
        assert [sid for sid, _ in store.all()] == ["good"]
    warnings = [record for record in caplog.records if record.name == SECURITY_LOGGER]
    assert bool(warnings) is held
    assert all("treated as no session" in record.getMessage() for record in warnings)


@pytest.mark.parametrize("text", list(BROKEN.values())[:3], ids=list(BROKEN)[:3])
def test_a_request_with_a_malformed_stored_session_gets_a_new_session(make_store, app, client, caplog, text):
    store = make_store()
    held = plant(store, "bad", text)  # False: the backend cannot even hold it

    @app
    def view(request):
        request.session["n"] = request.session.get("n", 0) + 1
        return HttpResponse(str(request.session["n"]))

    client.cookies["connect.sid"] = signing.cookie_value("bad", "keyboard cat")
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/")
    assert response.status_code == 200
    assert response.content == b"1"
    fresh = response.cookies["connect.sid"].value
    assert fresh != signing.cookie_value("bad", "keyboard cat")
    assert any(record.name == SECURITY_LOGGER for record in caplog.records) is held


@pytest.mark.parametrize(
    "entry",
    ["not an entry", "soon:{}", ":{}", "-5:{}", 42, b"1:{}"],
    ids=["no-expiry", "expiry-a-word", "expiry-empty", "expiry-negative", "not-text", "bytes"],
)
@pytest.mark.parametrize("store_name", ["cache-locmem"])
def test_a_generic_cache_entry_without_a_readable_expiry_is_no_session(make_store, entry):
    store = make_store()
    caches[store.cache_alias].set(store.key_prefix + "sid-1", entry, 60)
    assert store.get("sid-1") is None
    assert [sid for sid, _ in store.all()] == []


# -- issue 9: numbers, dates, depth and size that JSON allows but a session cannot hold ----

INSANE = {
    "nan-in-data": '{"cookie": {"expires": null, "originalMaxAge": null}, "n": NaN}',
    "infinity-in-data": '{"cookie": {"expires": null, "originalMaxAge": null}, "n": -Infinity}',
    "float-overflow": '{"cookie": {"expires": null, "originalMaxAge": null}, "n": 1e400}',
    "nan-max-age": '{"cookie": {"expires": null, "originalMaxAge": NaN}}',
    "huge-max-age": '{"cookie": {"expires": null, "originalMaxAge": 1e300}}',
    "huge-negative-max-age": '{"cookie": {"expires": null, "originalMaxAge": -1e300}}',
    "max-age-past-any-date": '{"cookie": {"expires": null, "originalMaxAge": 9e15}}',
    "expires-beyond-year-9999": '{"cookie": {"expires": "+275760-09-13T00:00:00.000Z", "originalMaxAge": 1}}',
    "expires-year-zero": '{"cookie": {"expires": "0000-01-01T00:00:00.000Z", "originalMaxAge": 1}}',
    "expires-no-zone": '{"cookie": {"expires": "2030-01-01T00:00:00.000", "originalMaxAge": 1}}',
    "int-too-long": '{"cookie": {"expires": null, "originalMaxAge": null}, "n": ' + "9" * 5000 + "}",
    "nested-too-deep": '{"cookie": {"expires": null, "originalMaxAge": null}, "n": '
    + "[" * 100
    + "]" * 100
    + "}",
    "nested-past-the-recursion-limit": '{"cookie": {"expires": null, "originalMaxAge": null}, "n": '
    + "[" * 5000
    + "]" * 5000
    + "}",
    "too-long": '{"cookie": {"expires": null, "originalMaxAge": null}, "n": "'
    + "x" * (4 * 1024 * 1024)
    + '"}',
    "path-with-semicolon": '{"cookie": {"expires": null, "originalMaxAge": null, "path": "/;Domain=evil"}}',
    "path-with-newline": '{"cookie": {"expires": null, "originalMaxAge": null, "path": "/\\r\\nX-Evil: 1"}}',
    "domain-invalid": '{"cookie": {"expires": null, "originalMaxAge": null, "domain": "ev il.example"}}',
    "priority-invalid": '{"cookie": {"expires": null, "originalMaxAge": null, "priority": "urgent"}}',
    "samesite-invalid": '{"cookie": {"expires": null, "originalMaxAge": null, "sameSite": "sometimes"}}',
}


@pytest.mark.parametrize("text", list(INSANE.values()), ids=list(INSANE))
def test_a_document_json_allows_but_no_session_can_hold_is_no_session_and_is_logged(make_store, caplog, text):
    store = make_store()
    held = plant(store, "bad", text)  # False: the backend cannot even hold it (NaN in a json column)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert store.get("bad") is None
        assert list(store.all()) == []
    assert any(record.name == SECURITY_LOGGER for record in caplog.records) is held


@pytest.mark.parametrize("text", list(INSANE.values()), ids=list(INSANE))
def test_a_request_with_such_a_document_gets_a_new_session_and_leaves_the_record_alone(
    make_store, app, client, caplog, text
):
    store = make_store()
    held = plant(store, "bad", text)

    @app
    def view(request):
        request.session["n"] = request.session.get("n", 0) + 1
        return HttpResponse(str(request.session["n"]))

    client.cookies["connect.sid"] = signing.cookie_value("bad", "keyboard cat")
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/")
    assert response.status_code == 200
    assert response.content == b"1"
    assert response.cookies["connect.sid"].value != signing.cookie_value("bad", "keyboard cat")
    if not held:  # no such record can exist: an unknown id, not a warning
        assert [record for record in caplog.records if record.name == SECURITY_LOGGER] == []
        return
    # Logged once, with the reason and the id's hash, never the id.
    [warning] = [record for record in caplog.records if record.name == SECURITY_LOGGER]
    message = warning.getMessage()
    assert "invalid-document" in message and signing.id_hash("bad") in message and "bad" not in message
    # Nothing was written over it (or from it).
    assert raw(store, "bad") == text
    assert len(list(store.all())) == 1


def test_a_stored_lone_surrogate_is_read_and_written_back_as_json_stringify_writes_it(make_store):
    # JavaScript strings may hold one; JSON.stringify writes it as an escape.
    store = make_store()
    text = '{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"k":"\\ud83d"}'
    plant(store, "sid-1", text)
    document = store.get("sid-1")
    assert document is not None and document["k"] == "\ud83d"
    store.set("sid-1", document)
    assert raw(store, "sid-1") == text
