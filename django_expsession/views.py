"""The "your sessions" page: a user's sessions, and POST buttons to end one or all others.

Plain sync views, CSRF-checked like any other: the work is a few store
calls, and sync views let an overriding template use ``request.user``
(lazy, a database query) under ASGI too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.generic import TemplateView

from . import devices
from .signing import id_hash
from .users import UserSession, destroy_user_session, destroy_user_sessions, user_sessions


@dataclass(frozen=True)
class ListedSession(UserSession):
    """A session as the page lists it: the record, its device in words, whether it is this one."""

    device: str = devices.UNKNOWN
    current: bool = False


def current_id_hash(request: HttpRequest) -> str | None:
    sid = getattr(request.session, "id", None)
    return id_hash(sid) if isinstance(sid, str) else None


def listed_sessions(request: HttpRequest) -> list[ListedSession]:
    """The user's sessions, this one first, then the most recently seen."""
    current = current_id_hash(request)
    rows = [
        ListedSession(
            **asdict(record), device=devices.describe(record.user_agent), current=record.id_hash == current
        )
        for record in user_sessions(request.user)
    ]
    return sorted(rows, key=lambda row: not row.current)  # stable: the rest keep their order


def _back(request: HttpRequest) -> HttpResponseRedirect:
    namespace = request.resolver_match.namespace if request.resolver_match else None
    return HttpResponseRedirect(reverse("expsession:sessions", current_app=namespace))


class SessionsView(LoginRequiredMixin, TemplateView):
    """The list. URL kwargs (``include(..., {"base_template": ...})``) choose the look.

    ``base_template``: the template ``sessions.html`` extends; ``admin_site``:
    an ``AdminSite`` whose context (header, user tools) the page gets, with
    ``admin/base_site.html`` as the default base.
    """

    template_name = "django_expsession/sessions.html"
    base_template = "django_expsession/base.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        admin_site = kwargs.pop("admin_site", None)
        base_template = kwargs.pop("base_template", None)
        if base_template is None:
            base_template = "admin/base_site.html" if admin_site is not None else self.base_template
        context = super().get_context_data(**kwargs)
        if admin_site is not None:
            context = {**admin_site.each_context(self.request), **context}
        sessions = listed_sessions(self.request)
        context.update(
            title=gettext_lazy("Your sessions"),
            base_template=base_template,
            sessions=sessions,
            others=sum(not s.current for s in sessions),
            show_ip=any(s.ip for s in sessions),
        )
        return context


class EndSessionView(LoginRequiredMixin, View):
    """End the session whose id hash is posted as ``session``; ending this one logs out."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        hashed = request.POST.get("session", "")
        if hashed and hashed == current_id_hash(request):
            logout(request)
            messages.info(request, _("This session has ended: you are logged out."), fail_silently=True)
        elif hashed and destroy_user_session(request.user, hashed):
            messages.success(request, _("The session has ended."), fail_silently=True)
        else:
            # Another user's session, or one that ended meanwhile: nothing to do.
            messages.warning(request, _("That session had already ended."), fail_silently=True)
        return _back(request)


class EndOtherSessionsView(LoginRequiredMixin, View):
    """End every session of the user but this one."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        count = destroy_user_sessions(request.user, keep=request.session)
        message = ngettext(
            "%(count)d other session has ended.", "%(count)d other sessions have ended.", count
        ) % {"count": count}
        messages.success(request, message, fail_silently=True)
        return _back(request)
