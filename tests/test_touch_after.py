"""TOUCH_AFTER through the request cycle: a recent touch costs no store call."""

from __future__ import annotations

from django.http import HttpResponse
from freezegun import freeze_time


def _cookie(response) -> str:
    return "connect.sid=" + response.cookies["connect.sid"].coded_value


def test_unchanged_session_within_touch_after_is_not_touched_at_all(app, expsession, client):
    expsession.configure(
        RESAVE=False, SAVE_UNINITIALIZED=False, COOKIE={"MAX_AGE": 3600}, STORE_OPTIONS={"TOUCH_AFTER": 60}
    )

    @app
    def view(request):
        if "login" in request.GET:
            request.session["user"] = "bob"
        return HttpResponse(request.session.get("user", ""))

    with freeze_time("2030-01-02 03:04:05", tick=False) as frozen:
        cookie = _cookie(client.get("/?login"))
        expsession.calls.clear()

        frozen.tick(30)  # within TOUCH_AFTER: decided from the loaded expiry
        assert client.get("/", headers={"cookie": cookie}).content == b"bob"
        assert expsession.calls["touch"] == 0
        assert expsession.calls["get"] == 1

        frozen.tick(31)  # 61 s after the last refresh: touched
        assert client.get("/", headers={"cookie": cookie}).content == b"bob"
        assert expsession.calls["touch"] == 1
        stored = expsession.store.get(cookie.split("s%3A", 1)[1].split(".", 1)[0])
        assert stored["cookie"]["expires"] == "2030-01-02T04:05:06.000Z"


def test_without_touch_after_every_unchanged_request_touches(app, expsession, client):
    expsession.configure(RESAVE=False, SAVE_UNINITIALIZED=False, COOKIE={"MAX_AGE": 3600})

    @app
    def view(request):
        request.session.setdefault("user", "bob")
        return HttpResponse("ok")

    with freeze_time("2030-01-02 03:04:05", tick=False) as frozen:
        cookie = _cookie(client.get("/"))
        expsession.calls.clear()
        frozen.tick(1)
        client.get("/", headers={"cookie": cookie})
        assert expsession.calls["touch"] == 1
