"""Sessions in the Django admin, whatever store is configured.

"Sessions" is registered on the ``Session`` model, so it is in the admin
index with the model's permissions (view, delete), but its pages read the
configured store (:mod:`.listing`): the table through the ORM for the
DatabaseStore, the store's own listing API for any other. A store that
cannot list (a plain cache) gets an explanation, and a form to open one
session by its id.

Nothing is editable. Destroying goes through the store's ``destroy()``,
after a confirmation page that lists what will go: the selected sessions,
or every session of the selected sessions' users ("log out everywhere").
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from . import adminpages as pages
from . import adminusers
from .models import Session
from .stores import get_store

ACTIONS = {
    "destroy_sessions": gettext_lazy("Destroy selected sessions"),
    "destroy_user_sessions": gettext_lazy("Log the selected sessions' users out everywhere"),
}


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The admin's pages for sessions, built on the configured store."""

    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name="{}_{}_changelist".format(*info)),
            path("<path:object_id>/change/", wrap(self.change_view), name="{}_{}_change".format(*info)),
            path("<path:object_id>/delete/", wrap(self.delete_view), name="{}_{}_delete".format(*info)),
            path("<path:object_id>/", wrap(self.redirect_to_detail)),
        ]

    def _url(self, name: str, *args: str) -> str:
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args
        )

    def context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "changelist_url": self._url("changelist"),
            "store": pages.describe(get_store()),
            **extra,
        }

    # -- the list ---------------------------------------------------------------------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            return self.action_view(request)
        if not self.has_view_permission(request):
            raise PermissionDenied
        store = get_store()
        wanted = request.GET.get("id", "").strip()
        if wanted:
            return HttpResponseRedirect(self._url("change", quote(wanted)))
        listing = pages.changelist(request, store, self.list_per_page)
        for row in listing["rows"]:
            row["url"] = self._url("change", quote(row["entry"].sid))
        context = self.context(
            request,
            _("Sessions"),
            **listing,
            actions=ACTIONS.items() if self.has_delete_permission(request) else (),
        )
        return TemplateResponse(request, "admin/django_expsession/session/change_list.html", context)

    # -- one session ------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied  # read-only
        if not self.has_view_permission(request):
            raise PermissionDenied
        sid = unquote(object_id)
        detail = pages.detail(get_store(), sid)
        if detail is None:
            self.message_user(
                request,
                _("No session has the id %(sid)s (it may have ended).") % {"sid": repr(sid)},
                messages.WARNING,
            )
            return HttpResponseRedirect(self._url("changelist"))
        context = self.context(
            request,
            _("Session %(sid)s") % {"sid": pages.short(sid)},
            detail=detail,
            can_destroy=self.has_delete_permission(request),
        )
        return TemplateResponse(request, "admin/django_expsession/session/detail.html", context)

    def redirect_to_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return HttpResponseRedirect(self._url("change", object_id))

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The admin's usual delete link: the confirmation for this one session."""
        if not self.has_delete_permission(request):
            raise PermissionDenied
        return self._confirm(request, "destroy_sessions", [unquote(object_id)])

    # -- destroying -----------------------------------------------------------------------

    def action_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_delete_permission(request):
            raise PermissionDenied
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            raise Http404("No such action.")
        sids = request.POST.getlist("_selected_action")
        if not sids:
            self.message_user(
                request, _("Select the sessions to act on first; nothing was destroyed."), messages.WARNING
            )
            return HttpResponseRedirect(self._url("changelist"))
        if request.POST.get("post") != "yes":
            return self._confirm(request, action, sids)
        store = get_store()
        if action == "destroy_sessions":
            count = pages.destroy(store, sids, request)
            message = ngettext("Destroyed %(count)d session.", "Destroyed %(count)d sessions.", count) % {
                "count": count
            }
        else:
            users = request.POST.getlist("user")
            going = [sid for user in users for sid, _data in store.user_sessions(user)]
            count = pages.destroy(store, going, request)
            message = pages.logged_out_message(len(users), count)
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(self._url("changelist"))

    def _confirm(self, request: HttpRequest, action: str, sids: list[str]) -> HttpResponse:
        store = get_store()
        if action == "destroy_sessions":
            going = pages.selected(store, sids)
            context = self.context(request, _("Destroy sessions?"), action=action, sessions=going, sids=sids)
        else:
            users = pages.selected_users(store, sids)
            context = self.context(
                request, _("Log users out everywhere?"), action=action, users=users, sids=sids
            )
        return TemplateResponse(request, "admin/django_expsession/session/confirm.html", context)


# The user admin of django.contrib.auth (or the project's) is registered by
# now when its app comes first in INSTALLED_APPS; the app's ready() tries
# again once every admin module is loaded.
adminusers.attach(admin.site)
