"""The ``Session`` table (DatabaseStore) in the Django admin, read-only.

Registered whenever the app is installed: the table exists once the app is
migrated, and admin registration happens at import time, when settings must
not decide anything. When the configured store is not a DatabaseStore the
changelist says so, since the table is then not where sessions live.

Nothing is editable (sessions are written by requests, not people); deleting
and the "Destroy selected sessions" action go through the store's
``destroy()``, so a store subclass sees every removal.
"""

from __future__ import annotations

import json
from typing import Any, TypeGuard

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .clock import datetime_to_ms, format_iso
from .models import Session
from .stores import get_store
from .stores.db import DatabaseStore

SHORT_SID = 8


def _keeps_sessions_here(store: object) -> TypeGuard[DatabaseStore]:
    """Whether ``store`` keeps its sessions in this model's table (not connect-pg-simple's)."""
    return isinstance(store, DatabaseStore) and store.pg_simple_table is None


def _describe(store: object) -> str:
    if isinstance(store, DatabaseStore) and store.pg_simple_table is not None:
        return f"DatabaseStore on connect-pg-simple's table {store.pg_simple_table.table.label!r}"
    return type(store).__name__


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("Active")), ("expired", _("Expired"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(expires__gt=now)
        if self.value() == "expired":
            return queryset.filter(expires__lte=now)
        return None


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("short_sid", "user", "expires", "updated", "active")
    list_display_links = ("short_sid",)
    list_filter = (StatusFilter,)
    # A user id is matched exactly (indexed); a session id by its beginning.
    search_fields = ("=user_id", "^sid")
    search_help_text = _("A user id, or the beginning of a session id.")
    ordering = ("-expires",)  # the indexed column
    show_full_result_count = False  # no second COUNT(*) on a huge table
    fields = ("sid", "user", "active", "expires", "created", "updated", "document")
    readonly_fields = fields
    actions = ("destroy_sessions",)

    # -- read-only ------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # action_location exists from Django 6.1; pass it on only when given.
        extra = {} if action_location is None else {"action_location": action_location}
        actions = super().get_actions(request, **extra)
        actions.pop("delete_selected", None)  # "Destroy selected sessions" replaces it
        return actions

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        store = get_store()
        if _keeps_sessions_here(store):
            # The store's USING option wins over the routers, as in the store.
            queryset = queryset.using(store.db_for_read())
        return queryset

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        store = get_store()
        if not _keeps_sessions_here(store):
            self.message_user(
                request,
                _(
                    "The configured session store is %(store)s, not the DatabaseStore: "
                    "the sessions in use are not in this table."
                )
                % {"store": _describe(store)},
                messages.WARNING,
                fail_silently=True,
            )
        return super().changelist_view(request, extra_context)

    # -- destroying goes through the store --------------------------------------

    def _store(self, using: str | None) -> DatabaseStore:
        store = get_store()
        if _keeps_sessions_here(store):
            return store
        return DatabaseStore(using=using)

    def delete_model(self, request: HttpRequest, obj: Session) -> None:
        self._store(obj._state.db).destroy(obj.sid)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        store = self._store(queryset.db)
        for sid in queryset.values_list("sid", flat=True).iterator():
            store.destroy(sid)

    @admin.action(description=_("Destroy selected sessions"), permissions=["delete"])
    def destroy_sessions(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        sids = list(queryset.values_list("sid", flat=True))
        store = self._store(queryset.db)
        for sid in sids:
            store.destroy(sid)
        count = len(sids)
        self.message_user(
            request,
            ngettext("Destroyed %(count)d session.", "Destroyed %(count)d sessions.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    # -- columns -----------------------------------------------------------------

    @admin.display(description=_("session id"), ordering="sid")
    def short_sid(self, obj: Session) -> str:
        return obj.sid if len(obj.sid) <= SHORT_SID else f"{obj.sid[:SHORT_SID]}…"

    @admin.display(description=_("active"), boolean=True)
    def active(self, obj: Session) -> bool:
        return obj.expires > timezone.now()

    @admin.display(description=_("user"), ordering="user_id")
    def user(self, obj: Session) -> str:
        if obj.user_id is None:
            return "-"
        users = getattr(obj, "_users", None)
        found = users.get(obj.user_id) if users is not None else _users([obj.user_id]).get(obj.user_id)
        if found is None:
            return _("%(id)s (no such user)") % {"id": obj.user_id}
        return self._user_link(found)

    def _user_link(self, user: Model) -> str:
        opts = user._meta
        if not self.admin_site.is_registered(type(user)):
            return str(user)
        try:
            url = reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[user.pk])
        except NoReverseMatch:
            return str(user)
        return format_html('<a href="{}">{}</a>', url, user)

    @admin.display(description=_("session data"))
    def document(self, obj: Session) -> str:
        try:
            data = json.loads(obj.data)
        except ValueError:
            return format_html("<pre>{}</pre><p>{}</p>", obj.data, _("This is not valid JSON."))
        cookie = data.get("cookie") if isinstance(data, dict) else None
        if isinstance(cookie, dict) and isinstance(cookie.get("expires"), str):
            # touch() moves only the column; show the expiry the store serves.
            cookie["expires"] = format_iso(datetime_to_ms(obj.expires))
        return format_html("<pre>{}</pre>", json.dumps(data, indent=2, ensure_ascii=False))

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # One query for the page's users instead of one per row.
        rows = list(changelist.result_list)
        users = _users([row.user_id for row in rows if row.user_id is not None])
        for row in rows:
            row._users = users
        return changelist


def _users(ids: list[str]) -> dict[str, Model]:
    """The users with these ids (stored as text), keyed by that text."""
    model = get_user_model()
    keys = {}
    for value in set(ids):
        try:
            keys[model._meta.pk.to_python(value)] = value
        except ValidationError:
            continue  # not a valid key for this user model: no such user
    if not keys:
        return {}
    found = model._default_manager.in_bulk(list(keys))
    return {keys[pk]: user for pk, user in found.items()}
