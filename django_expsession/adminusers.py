""" "Log out everywhere" on the admin's user list, whatever store is configured.

:func:`log_out_everywhere` is an admin action for the user model's admin:
after a confirmation page that lists each selected user's sessions, it
destroys every one of them through the store (so it works on every store
that keeps a per-user index, which every shipped store does) and sends
``session_destroyed`` for each, with the admin's request.

:func:`attach` adds it to the registered user admin. The app calls it when
the admin is loaded; a project whose own user admin is registered later
(or on another admin site) adds ``log_out_everywhere`` to its ``actions``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import adminpages as pages
from .stores import get_store

#: The permission that destroying sessions needs, in the session admin as here.
PERMISSION = "django_expsession.delete_session"


@admin.action(description=gettext_lazy("Log the selected users out everywhere"))
def log_out_everywhere(
    modeladmin: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    queryset: QuerySet[Any],
) -> HttpResponse | None:
    if not request.user.has_perm(PERMISSION):
        modeladmin.message_user(
            request,
            _("Logging users out needs the permission to delete sessions; nothing was destroyed."),
            messages.ERROR,
        )
        return None
    store = get_store()
    users = list(queryset)
    if request.POST.get("post") != "yes":
        opts = modeladmin.model._meta
        context = {
            **modeladmin.admin_site.each_context(request),
            "opts": opts,
            "title": _("Log users out everywhere?"),
            "users": [
                {"user": user, "sessions": [pages.short(sid) for sid, _data in store.user_sessions(user.pk)]}
                for user in users
            ],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "admin/django_expsession/log_out_everywhere.html", context)
    # Collect first: destroying while the store iterates its index could skip ids.
    going = [sid for user in users for sid, _data in store.user_sessions(user.pk)]
    count = pages.destroy(store, going, request)
    modeladmin.message_user(request, pages.logged_out_message(len(users), count), messages.SUCCESS)
    return None


def attach(site: admin.AdminSite = admin.site) -> bool:
    """Add :func:`log_out_everywhere` to ``site``'s user admin; False when the user model has none."""
    model_admin = site._registry.get(get_user_model())
    if model_admin is None:
        return False
    actions = list(model_admin.actions or ())
    if log_out_everywhere not in actions:
        # On the instance: the project's UserAdmin class is left as it is.
        model_admin.actions = [*actions, log_out_everywhere]
    return True
