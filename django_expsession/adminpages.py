"""What the admin's session pages show (see :mod:`.admin`): rows, users, notes, pages."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin import site
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import events, signals
from .listing import STORE_LIMIT, Detail, Entry, Query, Status, process_local, source_for
from .stores import as_redis_store
from .stores.base import Store
from .stores.cache import CacheStore

SHORT_SID = 8
SEARCH_USERS = 100  # users a search by name looks at


def short(sid: str) -> str:
    return sid if len(sid) <= SHORT_SID else f"{sid[:SHORT_SID]}…"


def describe(store: Store) -> str:
    return f"{type(store).__name__}, {store.address()}"


# -- users ------------------------------------------------------------------------------


def users_by_id(ids: Iterable[str | None]) -> dict[str, Model]:
    """The users with these ids (as sessions store them, text), in one query."""
    model = get_user_model()
    keys = {}
    for value in {value for value in ids if value is not None}:
        try:
            keys[model._meta.pk.to_python(value)] = value
        except ValidationError:
            continue  # not a key of this user model: no such user
    if not keys:
        return {}
    found = model._default_manager.in_bulk(list(keys))
    return {keys[pk]: user for pk, user in found.items()}


def user_view(user_id: str | None, users: dict[str, Model]) -> dict[str, Any]:
    """``{"label", "url"}`` for a session's user: a link where the admin has the user."""
    if user_id is None:
        return {"label": "-", "url": None}
    user = users.get(user_id)
    if user is None:
        return {"label": _("%(id)s (no such user)") % {"id": user_id}, "url": None}
    url = None
    opts = user._meta
    if site.is_registered(type(user)):
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[user.pk])
        except NoReverseMatch:
            url = None
    return {"label": str(user), "url": url}


def search(q: str) -> Query:
    """A search: users whose name starts with ``q``, the user whose id is ``q``, ids starting with ``q``."""
    model = get_user_model()
    field = f"{model.USERNAME_FIELD}__istartswith"
    named = model._default_manager.filter(**{field: q}).values_list("pk", flat=True)[:SEARCH_USERS]
    return Query(users=frozenset([q, *(str(pk) for pk in named)]), prefix=q)


# -- the list --------------------------------------------------------------------------------


def rows(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    entries = list(entries)
    users = users_by_id(entry.user_id for entry in entries)
    return [{"entry": e, "short": short(e.sid), "user": user_view(e.user_id, users)} for e in entries]


def cannot_list(store: Store) -> str:
    if isinstance(store, CacheStore):
        return _(
            "CacheStore cannot list the sessions in %(where)s: only django-redis caches and LocMemCache can "
            "enumerate their keys. Sessions work all the same; to see them here, use one of those caches, "
            "or DatabaseStore or RedisStore."
        ) % {"where": store.address()}
    return _(
        "%(store)s cannot list its sessions. Sessions work all the same; to see them here, use a store "
        "that can, such as DatabaseStore or RedisStore."
    ) % {"store": type(store).__name__}


def changelist(request: HttpRequest, store: Store, per_page: int) -> dict[str, Any]:
    """The changelist page's context: filters, notes, rows and pages."""
    source = source_for(store)
    if not source.can_list:
        return {"cannot_list": cannot_list(store), "rows": []}
    statuses: list[tuple[Status, str]] = [("all", _("All")), ("active", _("Active"))]
    if source.keeps_expired:
        statuses.append(("expired", _("Expired")))
    asked = request.GET.get("status", "all")
    status: Status = next((value for value, _label in statuses if value == asked), "all")
    q = request.GET.get("q", "").strip()
    base = search(q) if q else Query()
    query = Query(status=status, users=base.users, prefix=base.prefix, newest_first=True)
    try:
        number = max(1, int(request.GET.get("p", "1")))
    except ValueError:
        number = 1
    page = source.page(query, (number - 1) * per_page, per_page)
    pages = max(1, math.ceil(page.total / per_page))
    notes = []
    reason = process_local(store)
    if reason:
        notes.append(
            _("%(reason)s: this page lists only the sessions of the process that served it.")
            % {"reason": reason}
        )
    if page.truncated:
        notes.append(
            _(
                "The store holds more than %(limit)s sessions for this view; the %(limit)s it returned "
                "first are listed. Search to narrow the list."
            )
            % {"limit": f"{STORE_LIMIT:,}"}
        )
    if not source.keeps_expired:
        where = "Redis" if as_redis_store(store) is not None else _("the cache")
        notes.append(
            _("%(store)s keeps no expired sessions: %(where)s removes each one at its expiry.")
            % {"store": type(store).__name__, "where": where}
        )

    def link(**changes: Any) -> str:
        params = {"status": status, "q": q, "p": number, **changes}
        return "?" + urlencode({k: v for k, v in params.items() if v not in ("", None, 1, "all")})

    return {
        "rows": rows(page.entries),
        "total": page.total,
        "q": q,
        "notes": notes,
        "filters": [(label, link(status=value, p=1), value == status) for value, label in statuses],
        "page_number": number,
        "pages": pages,
        "previous_url": link(p=number - 1) if number > 1 else None,
        "next_url": link(p=number + 1) if number < pages else None,
    }


# -- one session, and what a confirmation lists -----------------------------------------------------


def detail(store: Store, sid: str) -> dict[str, Any] | None:
    found: Detail | None = source_for(store).detail(sid)
    if found is None:
        return None
    users = users_by_id([found.entry.user_id])
    shown = json.dumps(found.document, indent=2, ensure_ascii=False) if found.document is not None else None
    return {
        "entry": found.entry,
        "user": user_view(found.entry.user_id, users),
        "document": shown,
        "raw": found.raw,
    }


def selected(store: Store, sids: list[str]) -> list[dict[str, Any]]:
    """The selected sessions still there, for the confirmation page."""
    source = source_for(store)
    found = [d.entry for d in (source.detail(sid) for sid in dict.fromkeys(sids)) if d is not None]
    return rows(found)


def selected_users(store: Store, sids: list[str]) -> list[dict[str, Any]]:
    """The users of the selected sessions, each with all of their sessions."""
    source = source_for(store)
    ids = []
    for sid in dict.fromkeys(sids):
        found = source.detail(sid)
        if found is not None and found.entry.user_id is not None and found.entry.user_id not in ids:
            ids.append(found.entry.user_id)
    users = users_by_id(ids)
    return [
        {
            "id": user_id,
            "user": user_view(user_id, users),
            "sessions": [short(sid) for sid, _data in store.user_sessions(user_id)],
        }
        for user_id in ids
    ]


def logged_out_message(users: int, sessions: int) -> str:
    """What the admin says after logging ``users`` out everywhere."""
    message = ngettext(
        "Logged %(users)d user out everywhere:", "Logged %(users)d users out everywhere:", users
    ) % {"users": users}
    return (
        message
        + " "
        + ngettext("destroyed %(count)d session.", "destroyed %(count)d sessions.", sessions)
        % {"count": sessions}
    )


def destroy(store: Store, sids: Iterable[str], request: HttpRequest | None = None) -> int:
    """Destroy these sessions through the store; how many of them were there.

    Each one that was there sends ``session_destroyed`` with the admin's
    request, so an audit log sees who ended it.
    """
    source = source_for(store)
    count = 0
    for sid in dict.fromkeys(sids):
        present = source.detail(sid) is not None
        store.destroy(sid)  # a record the listing could not read goes too
        if present:
            count += 1
            events.send(signals.session_destroyed, sid, request)
    return count
