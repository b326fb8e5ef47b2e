"""Static files and the favicon answered before Django's middleware runs.

The demo's catch-all view counts page views in the session: an asset
request that reached it (uvicorn serves no static files, browsers ask for
/favicon.ico) would count as a view and touch the session. runserver
already serves STATIC_URL before the middleware; these wrappers do the same
under uvicorn and any WSGI server, and answer /favicon.ico with the
static favicon.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler, StaticFilesHandler

FAVICON = (Path(__file__).resolve().parent / "static" / "favicon.svg").read_bytes()
_FAVICON_HEADERS = [("Content-Type", "image/svg+xml"), ("Cache-Control", "max-age=86400")]


def wsgi(application: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    served = StaticFilesHandler(application) if settings.DEBUG else application

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/favicon.ico":
            start_response("200 OK", _FAVICON_HEADERS)
            return [FAVICON]
        return served(environ, start_response)

    return app


def asgi(application: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    served = ASGIStaticFilesHandler(application) if settings.DEBUG else application

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") == "/favicon.ico":
            headers = [(name.lower().encode(), value.encode()) for name, value in _FAVICON_HEADERS]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": FAVICON})
            return
        await served(scope, receive, send)

    return app
