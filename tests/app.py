"""A catch-all URLconf whose view is whatever the current test registers.

express's tests build a small app per test; ``app.handler`` plays that
role. ``tests.app`` routes to a sync view, ``tests.app_async`` to an async
one, so each test can run through either request path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.urls import re_path

Handler = Callable[[HttpRequest], Any]


def _default(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")


class App:
    def __init__(self) -> None:
        self.handler: Handler = _default

    def __call__(self, handler: Handler) -> Handler:
        self.handler = handler
        return handler

    def reset(self) -> None:
        self.handler = _default


app = App()


def _as_response(result: Any) -> HttpResponse:
    if isinstance(result, HttpResponse) or hasattr(result, "status_code"):
        return result  # type: ignore[no-any-return]
    return HttpResponse("" if result is None else str(result))


def sync_view(request: HttpRequest, rest: str = "") -> HttpResponse:
    if iscoroutinefunction(app.handler):
        raise TypeError("This test's handler is async; use the async urlconf.")
    return _as_response(app.handler(request))


async def async_view(request: HttpRequest, rest: str = "") -> HttpResponse:
    result = app.handler(request)
    if isinstance(result, Awaitable):
        result = await result
    return _as_response(result)


urlpatterns = [re_path(r"^(?P<rest>.*)$", sync_view)]
