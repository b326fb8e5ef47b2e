"""The Django side of the interop tests: the same routes as ``app.js``.

Every view answers JSON describing the session as the view saw it (before
the middleware's end-of-request touch and save), in the shape Express's
routes answer.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

USER_KEY = "userId"  # where either side records who logged in


class SharedLoginMiddleware:
    """``request.user`` from the user id an Express login put in the session.

    Express cannot write contrib.auth's keys (``_auth_user_hash`` is keyed
    with Django's SECRET_KEY), so a login made there is recognised by the
    user id it stores. Goes after AuthenticationMiddleware.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user_id = request.session.get(USER_KEY)
        if user_id is not None and not request.user.is_authenticated:
            user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
            if user is not None:
                request.user = user
        return self.get_response(request)  # type: ignore[no-any-return]


def _iso(moment: datetime) -> str:
    """JavaScript's ``Date.toISOString()``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def describe(request: HttpRequest) -> dict[str, Any]:
    session: Any = request.session
    if not session.id:
        return {"id": None, "data": None, "cookie": None, "userId": None}
    cookie = session.cookie
    expires = cookie.expires
    original = cookie.original_max_age
    return {
        "id": session.id,
        "data": dict(session.items()),
        "cookie": {
            "originalMaxAge": None if original is None else round(original * 1000),
            "expires": None if expires is None else _iso(expires),
        },
        "userId": request.user.pk if request.user.is_authenticated else None,
    }


def _body(request: HttpRequest) -> Any:
    return json.loads(request.body or b"{}")


def _pause(request: HttpRequest) -> None:
    """``?delay=<ms>`` (as app.js): wait with the session loaded, so that the other side can overlap."""
    delay = float(request.GET.get("delay", 0)) / 1000
    if delay > 0:
        request.session.get(USER_KEY)  # loaded now (it is lazy), saved after the wait
        time.sleep(delay)


def read(request: HttpRequest) -> JsonResponse:
    _pause(request)
    return JsonResponse(describe(request))


def write(request: HttpRequest) -> JsonResponse:
    _pause(request)
    request.session.update(_body(request))
    return JsonResponse(describe(request))


def login_view(request: HttpRequest) -> JsonResponse:
    user = get_user_model().objects.get(pk=_body(request)[USER_KEY])
    login(request, user)  # rotates the session id, as express's regenerate()
    request.session[USER_KEY] = user.pk
    return JsonResponse(describe(request))


def logout_view(request: HttpRequest) -> JsonResponse:
    destroyed = request.session.session_key
    logout(request)
    return JsonResponse({"destroyed": destroyed})


routes = [
    path("read", read),
    path("whoami", read),
    path("write", write),
    path("login", login_view),
    path("logout", logout_view),
]
# The same routes under /app/, for a Django app mounted below Express's root.
urlpatterns = [path("", include(routes)), path("app/", include(routes))]
