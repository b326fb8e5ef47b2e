"""The security signals and the rate-limited security log; never an id or a cookie in them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client

from django_expsession import events, signals, signing
from django_expsession.stores.base import Record
from django_expsession.stores.memory import MemoryStore

from .express.harness import sign_cookie
from .stores.conftest import plant

NAME = "connect.sid"


@pytest.fixture
def heard() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    pairs = []
    for name in ("session_created", "session_destroyed", "session_renewed", "session_rejected"):

        def listen(sender: Any, _name: str = name, **kwargs: Any) -> None:
            found.append((_name, kwargs))

        getattr(signals, name).connect(listen, weak=False)
        pairs.append((getattr(signals, name), listen))
    yield found
    for signal, listen in pairs:
        signal.disconnect(listen)


@pytest.fixture
def site(app: Any) -> None:
    @app
    def view(request: HttpRequest) -> HttpResponse:
        action = request.GET.get("do")
        if action == "destroy":
            request.session.destroy()
        elif action == "regenerate":
            request.session.regenerate()
            request.session["n"] = 1
        elif action == "cycle":
            request.session.cycle_key()  # what django.contrib.auth.login() does
        else:
            request.session["n"] = request.session.get("n", 0) + 1
        return HttpResponse("ok")


def sid_of(client: Client) -> str:
    sid = signing.unsign_cookie(unquote(client.cookies[NAME].value), ["keyboard cat"])
    assert sid is not None
    return sid


def assert_no_secret(heard: list[tuple[str, dict[str, Any]]], *secrets: str) -> None:
    for _, kwargs in heard:
        assert "request" in kwargs and "id_hash" in kwargs
        assert not any(
            secret in repr({k: v for k, v in kwargs.items() if k != "request"}) for secret in secrets
        )


def test_created_destroyed_and_regenerated_sessions_are_signalled_by_id_hash(expsession, site, heard):
    expsession.configure()
    client = Client()
    client.get("/")
    first = sid_of(client)
    assert [(n, k["id_hash"]) for n, k in heard] == [("session_created", signing.id_hash(first))]
    assert isinstance(heard[0][1]["request"], HttpRequest)
    heard.clear()
    client.get("/", {"do": "regenerate"})
    second = sid_of(client)
    assert [(n, k["id_hash"]) for n, k in heard] == [
        ("session_destroyed", signing.id_hash(first)),
        ("session_created", signing.id_hash(second)),
    ]
    heard.clear()
    client.get("/", {"do": "destroy"})
    assert [(n, k["id_hash"]) for n, k in heard] == [("session_destroyed", signing.id_hash(second))]
    assert_no_secret(heard, first, second, client.cookies[NAME].value)


def test_a_cycled_key_announces_the_new_id_as_created(expsession, site, heard):
    expsession.configure()
    client = Client()
    client.get("/")
    first = sid_of(client)
    heard.clear()
    client.get("/", {"do": "cycle"})
    second = sid_of(client)
    assert second != first
    assert [(n, k["id_hash"]) for n, k in heard] == [
        ("session_destroyed", signing.id_hash(first)),
        ("session_created", signing.id_hash(second)),
    ]
    heard.clear()
    client.get("/")  # the new id is an ordinary session from now on
    assert heard == []


REJECTIONS = {
    "bad-signature": lambda store: sign_cookie("abcdefghijklmnopqrstuvwxyz012345", "nyan cat"),
    "unknown-id": lambda store: signing.cookie_value("nobody-has-this-id-000000000000", "keyboard cat"),
    "invalid-document": lambda store: (
        plant(store, "broken", '{"no": "cookie"}'),
        signing.cookie_value("broken", "keyboard cat"),
    )[1],
}


@pytest.mark.parametrize("reason", list(REJECTIONS))
def test_a_rejected_cookie_or_record_is_signalled_with_its_reason(expsession, site, heard, reason):
    store = expsession.configure()
    client = Client()
    client.cookies[NAME] = value = REJECTIONS[reason](store)
    assert client.get("/").status_code == 200
    [(_name, kwargs)] = [(n, k) for n, k in heard if n == "session_rejected"]
    assert kwargs["reason"] == reason
    if reason == "bad-signature":
        assert kwargs["id_hash"] is None  # a forged id is nobody's: nothing to hash
    assert_no_secret(heard, value, unquote(value))


class ExpiredRecordStore(MemoryStore):
    """A store that hands back records past their expiry (the shipped ones never do)."""

    def read(self, sid: str) -> Record | None:
        return Record(text='{"cookie":{"originalMaxAge":1000,"expires":"2000-01-01T00:00:00.000Z"},"n":5}')


def test_an_expired_record_from_a_store_is_rejected_as_expired(expsession, site, heard, settings):
    expsession.configure(STORE={"BACKEND": "tests.test_signals.ExpiredRecordStore"})
    client = Client()
    client.cookies[NAME] = signing.cookie_value("old", "keyboard cat")
    client.get("/")
    assert [k["reason"] for n, k in heard if n == "session_rejected"] == ["expired"]


def test_the_security_log_is_rate_limited_and_says_how_many_it_left_out(caplog):
    events.reset_rate_limit()
    with caplog.at_level(logging.WARNING, logger="django.security.expsession"):
        for _n in range(events.LOG_BURST + 30):
            events.rejected("bad-signature", None, None)
        assert len(caplog.records) == events.LOG_BURST
        events._window_start -= events.LOG_WINDOW  # the window has passed
        events.rejected("invalid-document", "sid", None, "it is not valid JSON")
    assert len(caplog.records) == events.LOG_BURST + 1
    assert "30 similar messages were left out" in caplog.records[-1].getMessage()


@pytest.mark.parametrize("reason", list(REJECTIONS))
def test_every_rejection_is_logged_routine_ones_at_info(expsession, site, reason, caplog):
    store = expsession.configure()
    client = Client()
    client.cookies[NAME] = value = REJECTIONS[reason](store)
    events.reset_rate_limit()
    with caplog.at_level(logging.INFO, logger="django.security.expsession"):
        client.get("/")
    [record] = [r for r in caplog.records if r.name == "django.security.expsession"]
    assert reason in record.getMessage() and unquote(value) not in record.getMessage()
    assert record.levelno == (logging.INFO if reason == "unknown-id" else logging.WARNING)


def test_an_expired_record_is_logged_at_info_and_not_at_warning(expsession, site, caplog):
    expsession.configure(STORE={"BACKEND": "tests.test_signals.ExpiredRecordStore"})
    client = Client()
    client.cookies[NAME] = signing.cookie_value("old", "keyboard cat")
    events.reset_rate_limit()
    with caplog.at_level(logging.WARNING, logger="django.security.expsession"):
        client.get("/")
    assert [r for r in caplog.records if r.name == "django.security.expsession"] == []
    with caplog.at_level(logging.INFO, logger="django.security.expsession"):
        client.get("/")
    [record] = [r for r in caplog.records if r.name == "django.security.expsession"]
    assert "expired" in record.getMessage() and record.levelno == logging.INFO
