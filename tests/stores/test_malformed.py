"""A corrupt or tampered record is no session: logged, never an exception."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches
from django.http import HttpResponse

from django_expsession import signing

from .conftest import document, plant

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
    plant(store, "bad", text)
    store.set("good", document())
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert store.get("bad") is None
        assert [sid for sid, _ in store.all()] == ["good"]
    warnings = [record for record in caplog.records if record.name == SECURITY_LOGGER]
    assert warnings
    assert all("treated as no session" in record.getMessage() for record in warnings)


@pytest.mark.parametrize("text", list(BROKEN.values())[:3], ids=list(BROKEN)[:3])
def test_a_request_with_a_malformed_stored_session_gets_a_new_session(make_store, app, client, caplog, text):
    store = make_store()
    plant(store, "bad", text)

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
    assert any(record.name == SECURITY_LOGGER for record in caplog.records)


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
