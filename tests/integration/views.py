"""Views the integration tests need beside the demo's."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.contrib.auth import aauthenticate, alogin, alogout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token

calls: dict[str, int] = {}


def _called(name: str) -> None:
    calls[name] = calls.get(name, 0) + 1


def whoami(request: HttpRequest) -> HttpResponse:
    user = request.user
    return HttpResponse(user.get_username() if user.is_authenticated else "anonymous")


async def awhoami(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return HttpResponse(user.get_username() if user.is_authenticated else "anonymous")


async def alogin_view(request: HttpRequest) -> HttpResponse:
    user = await aauthenticate(request, username=request.POST["username"], password=request.POST["password"])
    if user is None:
        return HttpResponse("bad credentials", status=403)
    await alogin(request, user)
    return HttpResponse("logged in")


async def alogout_view(request: HttpRequest) -> HttpResponse:
    await alogout(request)
    return HttpResponse("logged out")


def add_messages(request: HttpRequest) -> HttpResponse:
    size = int(request.GET.get("size", "5"))
    for i in range(int(request.GET.get("n", "1"))):
        # Random filler does not compress, so it really fills the messages cookie.
        filler = secrets.token_hex(size)[:size] if "random" in request.GET else "x" * size
        messages.info(request, f"message {i} {filler}")
    return HttpResponseRedirect("/t/messages/show/")


def show_messages(request: HttpRequest) -> HttpResponse:
    return HttpResponse("\n".join(str(m) for m in messages.get_messages(request)))


def csrf_form(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return HttpResponse("posted")
    return HttpResponse(get_token(request))


def plain(request: HttpRequest) -> HttpResponse:
    """A page that never touches the session."""
    _called("plain")
    return HttpResponse("the same for everyone")


def reads(request: HttpRequest) -> HttpResponse:
    """A page that reads the session without changing it."""
    _called("reads")
    return HttpResponse(f"hello {request.session.get('name', 'stranger')}")


def remember(request: HttpRequest, name: str) -> HttpResponse:
    request.session["name"] = name
    return HttpResponse("remembered")


def session_id(request: HttpRequest) -> HttpResponse:
    session: Any = request.session
    return HttpResponse(session.id or "")
