"""Sessions as the admin and the ``expsession`` command list them, from any store.

:func:`source_for` picks how a store is listed. The DatabaseStore's table
goes through the ORM: the database filters, orders and pages on its indexes.
Any other store goes through its own listing API (``all()``,
``expired_sessions()``, ``user_sessions()``); those sessions are filtered
and sorted in memory, at most :data:`STORE_LIMIT` of them per listing.
"""

from __future__ import annotations

import contextlib
import heapq
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain, islice
from typing import Any, Literal

from django.core.cache.backends.locmem import LocMemCache
from django.db.models import Q, QuerySet
from django.utils import timezone

from .clock import iso_of
from .stores.base import Store
from .stores.cache import CacheStore
from .stores.db import DatabaseStore
from .stores.memory import MemoryStore

Status = Literal["active", "expired", "all"]
Document = dict[str, Any]

#: The most sessions a listing collects from a store that is not the database.
STORE_LIMIT = 10_000


@dataclass(frozen=True)
class Query:
    status: Status = "active"
    #: Only these users' sessions, or (with ``prefix``) sessions whose id starts so.
    users: frozenset[str] | None = None
    prefix: str = ""
    newest_first: bool = False

    def matches(self, sid: str, user_id: str | None) -> bool:
        if self.users is None and not self.prefix:
            return True
        return (self.users is not None and user_id in self.users) or bool(
            self.prefix and sid.startswith(self.prefix)
        )


@dataclass(frozen=True)
class Entry:
    sid: str
    user_id: str | None
    #: When the store ends the session; None when the store does not say
    #: (a browser-session cookie on a store that keeps no expiry beside it).
    expires: datetime | None
    browser_session: bool  # the cookie has no expiry: it ends when the browser closes
    #: The last save or touch, where the record tells it.
    last_seen: datetime | None
    active: bool


@dataclass(frozen=True)
class Detail:
    entry: Entry
    document: Document | None  # None: the stored data is not a valid document
    raw: str = ""  # the stored text, where the store gives it


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    total: int
    #: The store has more sessions than STORE_LIMIT: only that many were looked at.
    truncated: bool = False


def parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def entry(
    sid: str,
    document: Document,
    *,
    active: bool,
    expires: datetime | None = None,
    updated: datetime | None = None,
    user_id: str | None = None,
) -> Entry:
    """The listing entry of a document; ``expires``/``updated`` when the store keeps them apart."""
    found = document.get("cookie")
    cookie: dict[str, Any] = found if isinstance(found, dict) else {}
    browser_session = cookie.get("expires") is None
    expires = expires or parse_iso(cookie.get("expires"))
    original = cookie.get("originalMaxAge")
    last_seen = updated
    if (
        expires is not None
        and not browser_session
        and isinstance(original, int | float)
        and not isinstance(original, bool)
        and original > 0
    ):
        # Every save and touch sets the expiry to then + maxAge.
        with contextlib.suppress(OverflowError):
            last_seen = expires - timedelta(milliseconds=original)
    user = document.get("_auth_user_id")
    user_id = user_id if user_id is not None else (None if user is None else str(user))
    return Entry(sid, user_id, expires, browser_session, last_seen, active)


def _order(entries: Iterable[Entry], *, newest_first: bool, limit: int | None = None) -> list[Entry]:
    """By expiry (unknown expiries last), then id."""
    far = datetime.max.replace(tzinfo=UTC)

    def key(e: Entry) -> tuple[bool, float, str]:
        moment = (e.expires or far).timestamp()
        return (e.expires is None, -moment if newest_first else moment, e.sid)

    if limit is not None:
        return heapq.nsmallest(limit, entries, key=key)
    return sorted(entries, key=key)


class Source:
    """How one store's sessions are listed."""

    store: Store
    can_list: bool = True
    keeps_expired: bool = True

    def page(self, query: Query, offset: int, limit: int) -> Page:
        raise NotImplementedError("subclasses of Source must provide page()")

    def iterate(self, query: Query, limit: int | None = None) -> Iterator[Entry]:
        """The sessions ``query`` asks for, ordered by expiry."""
        raise NotImplementedError("subclasses of Source must provide iterate()")

    def detail(self, sid: str) -> Detail | None:
        raise NotImplementedError("subclasses of Source must provide detail()")


def process_local(store: Store) -> str | None:
    """Why ``store``'s sessions live in each server process's memory, or None."""
    if isinstance(store, MemoryStore) or getattr(store, "process_local", False):
        return f"{type(store).__name__} keeps sessions in the memory of each server process"
    if isinstance(store, CacheStore) and isinstance(store.cache, LocMemCache):
        return (
            f"CacheStore keeps sessions in cache {store.cache_alias!r}, a LocMemCache, which lives "
            "in the memory of each server process"
        )
    return None


def source_for(store: Store) -> Source:
    """The model's table through the ORM; anything else (connect-pg-simple's table too) by its API."""
    if isinstance(store, DatabaseStore) and store.pg_simple_table is None:
        return DatabaseSource(store)
    return StoreSource(store)


class DatabaseSource(Source):
    """The ``Session`` table, on the database the store reads."""

    def __init__(self, store: DatabaseStore) -> None:
        self.store = store
        self.alias = store.db_for_read()

    def _rows(self, query: Query) -> QuerySet[Any, tuple[Any, ...]]:
        from .models import Session

        now = timezone.now()
        rows = Session.objects.using(self.alias).all()
        if query.status == "active":
            rows = rows.filter(expires__gt=now)
        elif query.status == "expired":
            rows = rows.filter(expires__lte=now)
        if query.users is not None or query.prefix:
            match = Q(pk__in=[])
            if query.users:
                match |= Q(user_id__in=sorted(query.users))
            if query.prefix:
                match |= Q(sid__startswith=query.prefix)
            rows = rows.filter(match)
        order = ("-expires", "sid") if query.newest_first else ("expires", "sid")
        return rows.order_by(*order).values_list("sid", "data", "expires", "user_id", "updated")

    def _entries(self, rows: Iterable[tuple[Any, ...]]) -> Iterator[Entry]:
        now = timezone.now()
        for sid, text, expires, user_id, updated in rows:
            yield entry(
                sid,
                _loads(text) or {},
                active=expires > now,
                expires=expires,
                updated=updated,
                user_id=user_id,
            )

    def page(self, query: Query, offset: int, limit: int) -> Page:
        rows = self._rows(query)
        return Page(list(self._entries(rows[offset : offset + limit])), rows.count())

    def iterate(self, query: Query, limit: int | None = None) -> Iterator[Entry]:
        rows = self._rows(query)
        if limit is not None:
            rows = rows[:limit]
        return self._entries(rows.iterator(chunk_size=1000))

    def detail(self, sid: str) -> Detail | None:
        from .models import Session

        row = (
            Session.objects.using(self.alias)
            .filter(sid=sid)
            .values_list("data", "expires", "user_id", "updated")
        )
        found = list(row[:1])
        if not found:
            return None
        text, expires, user_id, updated = found[0]
        document = _loads(text)
        if document is not None and document["cookie"].get("expires") is not None:
            document["cookie"]["expires"] = iso_of(expires)  # touch moves only the column
        shown = entry(
            sid,
            document or {},
            active=expires > timezone.now(),
            expires=expires,
            updated=updated,
            user_id=user_id,
        )
        return Detail(shown, document, text)


@dataclass
class StoreSource(Source):
    """Any store, through its listing API."""

    store: Store
    can_list: bool = field(init=False)
    keeps_expired: bool = field(init=False)

    def __post_init__(self) -> None:
        self.can_list = self.store.supports("all")
        self.keeps_expired = self.store.supports("expired_sessions")

    def _documents(self, query: Query) -> Iterator[tuple[str, Document, bool]]:
        found: list[Iterable[tuple[str, Document, bool]]] = []
        # Expired first: listing a MemoryStore's live sessions sweeps the expired ones.
        if query.status in ("expired", "all") and self.keeps_expired:
            found.append((sid, d, False) for sid, d in self.store.expired_sessions())
        if query.status in ("active", "all"):
            live: Iterable[tuple[str, Document]]
            if query.users is not None and not query.prefix:
                live = chain.from_iterable(self.store.user_sessions(user) for user in sorted(query.users))
            else:
                live = self.store.all()
            found.append((sid, d, True) for sid, d in live)
        for sid, document, active in chain.from_iterable(found):
            user = document.get("_auth_user_id")
            if query.matches(sid, None if user is None else str(user)):
                yield sid, document, active

    def _collect(self, query: Query) -> tuple[list[Entry], bool]:
        documents = self._documents(query)
        entries = [entry(sid, d, active=active) for sid, d, active in islice(documents, STORE_LIMIT)]
        truncated = next(documents, None) is not None
        return entries, truncated

    def page(self, query: Query, offset: int, limit: int) -> Page:
        entries, truncated = self._collect(query)
        ordered = _order(entries, newest_first=query.newest_first)
        return Page(ordered[offset : offset + limit], len(ordered), truncated)

    def iterate(self, query: Query, limit: int | None = None) -> Iterator[Entry]:
        entries = (entry(sid, d, active=active) for sid, d, active in self._documents(query))
        return iter(_order(entries, newest_first=query.newest_first, limit=limit))

    def detail(self, sid: str) -> Detail | None:
        if self.keeps_expired:
            # First: reading an expired record can drop it (MemoryStore).
            for expired_sid, expired in self.store.expired_sessions():
                if expired_sid == sid:
                    return Detail(entry(sid, expired, active=False), expired)
        document = self.store.get(sid)
        if document is not None:
            return Detail(entry(sid, document, active=True), document)
        return None


def _loads(text: str) -> Document | None:
    """The stored document, or None when it is not one (listed anyway: it can be destroyed)."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("cookie"), dict):
        return document
    return None
