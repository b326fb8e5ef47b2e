"""The harness itself: each mode really takes its own request path."""

from __future__ import annotations

import asyncio

from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest


def running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_each_mode_serves_the_view_through_its_own_handler(http, expsession):
    expsession.configure()

    @http.view
    async def view(request):
        kind = (
            "asgi"
            if isinstance(request, ASGIRequest)
            else "wsgi"
            if isinstance(request, WSGIRequest)
            else "?"
        )
        return f"{kind} {running_loop()}"

    res = http.get()

    assert res.body == ("asgi True" if http.mode == "async" else "wsgi False")


def test_requests_carry_only_the_cookies_given(http, expsession):
    expsession.configure()

    @http.view
    async def view(request):
        request.session["n"] = request.session.get("n", 0) + 1
        return str(request.session["n"])

    first = http.get()
    assert first.cookie is not None

    assert http.get().body == "1"  # no cookie jar carried the first cookie
    assert http.get(cookie=first.cookie).body == "2"
