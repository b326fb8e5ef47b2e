"""The demo: express-session's README page-view counter, a login, the cookie's expiry."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from django_expsession.stores import get_store


def _count(views: dict[str, int], path: str) -> int:
    views[path] = views.get(path, 0) + 1
    return views[path]


def counter(request: HttpRequest, path: str = "") -> HttpResponse:
    """Count views per path, as in express-session's README example (a sync view)."""
    # Mutating the nested dict in place is a change: the session is saved.
    count = _count(request.session.setdefault("views", {}), "/" + path)
    session: Any = request.session
    context = {"count": count, "sid": session.id, "cookie": session.cookie.to_json()}
    return render(request, "counter.html", context)


def stored(request: HttpRequest) -> JsonResponse:
    """The session as the store holds it now (the counter page fetches it after its save)."""
    sid = request.GET.get("sid", "")
    # Only the caller's own session: the id must be the one its cookie carries.
    own = getattr(request.session, "id", None)
    document = get_store().get(sid) if sid and sid == own else None
    return JsonResponse({"sid": sid, "document": document}, json_dumps_params={"indent": 2})


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
