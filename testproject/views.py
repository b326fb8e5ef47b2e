"""The demo: express-session's README page-view counter, and a login."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.html import escape


def counter(request: HttpRequest, path: str = "") -> HttpResponse:
    """Count views per path, as in express-session's README example."""
    pathname = "/" + path
    views = request.session.setdefault("views", {})
    views[pathname] = views.get(pathname, 0) + 1
    user = request.user.get_username() if request.user.is_authenticated else "anonymous"
    body = (
        "<!doctype html><title>django-expsession demo</title>"
        f"<p id='views'>you viewed this page {views[pathname]} times</p>"
        f"<p id='user'>user: {escape(user)}</p>"
        "<p><a href='/login/'>log in</a> · <a href='/expiry/'>cookie expiry</a></p>"
    )
    return HttpResponse(body)
