"""Django's expiry API on ``request.session``: set_expiry and the getters, through the request cycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from freezegun import freeze_time

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def expires_of(response: Any) -> datetime | None:
    line = response.cookies["connect.sid"].OutputString()
    for part in line.split("; "):
        if part.startswith("Expires="):
            return parsedate_to_datetime(part[len("Expires=") :])
    return None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (120, NOW + timedelta(seconds=120)),
        (timedelta(hours=2), NOW + timedelta(hours=2)),
        (datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC), datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)),
        (0, None),  # a browser-session cookie
        (None, NOW + timedelta(seconds=60)),  # back to the configured MAX_AGE
    ],
    ids=["seconds", "timedelta", "datetime", "zero", "none"],
)
def test_set_expiry_moves_the_cookie_and_forces_a_save_and_a_set_cookie(expsession, app, value, expected):
    store = expsession.configure(RESAVE=False, SAVE_UNINITIALIZED=False, COOKIE={"MAX_AGE": 60})
    seen: dict[str, Any] = {}

    @app
    def view(request: HttpRequest) -> HttpResponse:
        if request.path == "/set":
            request.session.set_expiry(value)
            seen["at_close"] = request.session.get_expire_at_browser_close()
            seen["age"] = request.session.get_expiry_age()
        else:
            request.session["n"] = 1
        return HttpResponse("ok")

    client = Client()
    with freeze_time(NOW):
        client.get("/start")
        expsession.calls.clear()
        response = client.get("/set")
    assert response.status_code == 200
    assert expsession.calls["set"] == 1  # forced, though no data changed
    assert expires_of(response) == expected
    assert seen["at_close"] is (expected is None)
    if expected is not None:
        assert seen["age"] == int((expected - NOW).total_seconds())
    sid = next(iter(dict(store.all())))
    stored = store.get(sid)["cookie"]["expires"]
    assert (stored is None) is (expected is None)


@pytest.mark.parametrize("value", [10**13, -(10**13), 1e308, float("nan"), timedelta(days=10**8)])
def test_a_lifetime_no_date_can_hold_is_a_value_error_in_the_view_and_changes_nothing(expsession, app, value):
    # (The request still does what express does with an untouched session: a touch.)
    store = expsession.configure(RESAVE=False, SAVE_UNINITIALIZED=False, COOKIE={"MAX_AGE": 60})
    errors: list[Exception] = []

    @app
    def view(request: HttpRequest) -> HttpResponse:
        if request.path == "/set":
            try:
                request.session.set_expiry(value)
            except ValueError as exc:
                errors.append(exc)
            try:
                request.session.cookie.max_age = value
            except ValueError as exc:
                errors.append(exc)
        else:
            request.session["n"] = 1
        return HttpResponse("ok")

    client = Client()
    client.get("/start")
    [(sid, before)] = list(store.all())
    expsession.calls.clear()
    response = client.get("/set")
    assert response.status_code == 200
    assert len(errors) == 2
    assert all("max_age" in str(error) or "max age" in str(error) for error in errors)
    assert "connect.sid" not in response.cookies
    assert expsession.calls["set"] == 0
    after = store.get(sid)
    assert after["n"] == before["n"] == 1
    assert after["cookie"]["originalMaxAge"] == before["cookie"]["originalMaxAge"] == 60_000
