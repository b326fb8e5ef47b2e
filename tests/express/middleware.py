"""A middleware that puts its own ``request.session`` in place first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.utils.decorators import sync_and_async_middleware


def _presetting(value: Callable[[], Any]) -> Callable[..., Any]:
    @sync_and_async_middleware
    def preset(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
        if iscoroutinefunction(get_response):

            async def async_middleware(request: HttpRequest) -> Any:
                request.session = value()  # type: ignore[attr-defined]
                return await get_response(request)

            return async_middleware

        def middleware(request: HttpRequest) -> Any:
            request.session = value()  # type: ignore[attr-defined]
            return get_response(request)

        return middleware

    return preset


preset_session = _presetting(lambda: {"preset": True})
# Empty, hence falsy, but present: presence decides, not truthiness (issue 9).
preset_empty_session = _presetting(dict)
