"""A middleware that puts its own ``request.session`` in place first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.utils.decorators import sync_and_async_middleware


@sync_and_async_middleware
def preset_session(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> Any:
            request.session = {"preset": True}  # type: ignore[assignment]
            return await get_response(request)

        return async_middleware

    def middleware(request: HttpRequest) -> Any:
        request.session = {"preset": True}  # type: ignore[assignment]
        return get_response(request)

    return middleware
