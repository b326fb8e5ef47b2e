"""The demo: express-session's README page-view counter, a login, the cookie's expiry."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def _count(views: dict[str, int], path: str) -> int:
    views[path] = views.get(path, 0) + 1
    return views[path]


def counter(request: HttpRequest, path: str = "") -> HttpResponse:
    """Count views per path, as in express-session's README example (a sync view)."""
    # Mutating the nested dict in place is a change: the session is saved.
    count = _count(request.session.setdefault("views", {}), "/" + path)
    return render(request, "counter.html", {"count": count})


async def expiry(request: HttpRequest) -> HttpResponse:
    """Show when the session cookie expires (an async view, using the async API)."""
    session: Any = request.session
    _count(await session.asetdefault("views", {}), request.path)
    # The response will carry a fresh expiry (ROLLING): show that one.
    session.touch()
    cookie = session.cookie
    context = {
        # Resolved here: the template must not query the database from async code.
        "user": await request.auser(),
        "expires": cookie.to_json()["expires"],  # ISO 8601 with milliseconds, or None
        "max_age": cookie.max_age,
        "original_max_age": cookie.original_max_age,
    }
    return render(request, "expiry.html", context)
