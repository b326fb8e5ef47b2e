"""A user's sessions, on every store: list them, end them ("log out everywhere").

Each store finds a user's sessions through its own index (the database's
``user_id`` column, a Redis set, an index entry of a cache, a map in
memory), never by reading every session. The records carry no session id,
only its keyed hash (``signing.id_hash``), so a page that shows them gives
nothing away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async

from . import document as doc
from . import events, signals
from .clock import ms_to_datetime
from .lifetime import META_KEY, read_meta
from .signing import id_hash
from .stores import get_store

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class UserSession:
    """One of a user's sessions, as a "your sessions" page shows it."""

    id_hash: str
    created: datetime | None
    last_seen: datetime | None
    expires: datetime | None  # None: ends when the browser closes (the store keeps it TTL seconds)
    user_agent: str | None
    ip: str | None  # only with TRACK_IP


def _record(sid: str, document: doc.Document) -> UserSession:
    meta = read_meta(document.get(META_KEY)) or {}
    cookie = document["cookie"]
    expires = doc.expires_ms(document)
    seen = meta.get("seen")
    original = cookie.get("originalMaxAge")
    if expires is not None and isinstance(original, int | float):
        # The last touch or save restarted the cookie: its expiry minus its lifetime.
        touched = int(expires - original)
        seen = touched if seen is None else max(seen, touched)
    return UserSession(
        id_hash=id_hash(sid),
        created=None if "created" not in meta else ms_to_datetime(meta["created"]),
        last_seen=None if seen is None else ms_to_datetime(seen),
        expires=None if expires is None else ms_to_datetime(expires),
        user_agent=meta.get("ua"),
        ip=meta.get("ip"),
    )


def _user_id(user: Any) -> str:
    pk = getattr(user, "pk", user)
    if pk is None:
        raise ValueError("user_sessions() needs a saved user (or its primary key).")
    return str(pk)


def _sessions(user: Any) -> list[tuple[str, doc.Document]]:
    return list(get_store().user_sessions(_user_id(user)))


def user_sessions(user: Any) -> list[UserSession]:
    """The user's live sessions, most recently seen first."""
    records = [_record(sid, document) for sid, document in _sessions(user)]
    return sorted(records, key=lambda r: r.last_seen or r.created or _NEVER, reverse=True)


def _kept_hash(keep: Any) -> str | None:
    """``keep`` as an id hash: a session object, a session id, or an id hash."""
    if keep is None:
        return None
    sid = getattr(keep, "id", None)
    if isinstance(sid, str):
        return id_hash(sid)
    if isinstance(keep, str):
        return keep if len(keep) == 32 and all(c in "0123456789abcdef" for c in keep) else id_hash(keep)
    raise TypeError(f"keep should be a session, a session id or an id hash, not {type(keep).__name__}.")


def destroy_user_sessions(user: Any, keep: Any = None) -> int:
    """End every session of ``user`` but ``keep`` (a session, its id, or its id hash); how many ended."""
    return _destroy(_sessions(user), _kept_hash(keep))


def destroy_user_session(user: Any, hashed: str) -> bool:
    """End the one session of ``user`` whose id hash is ``hashed``; False when there is none."""
    matching = [(sid, d) for sid, d in _sessions(user) if id_hash(sid) == hashed]
    return _destroy(matching, None) == 1


def _destroy(found: Iterable[tuple[str, doc.Document]], kept: str | None) -> int:
    store = get_store()
    count = 0
    for sid, _ in found:
        if kept is not None and id_hash(sid) == kept:
            continue
        store.destroy(sid)
        events.send(signals.session_destroyed, sid, None)
        count += 1
    return count


async def auser_sessions(user: Any) -> list[UserSession]:
    return await sync_to_async(user_sessions)(user)


async def adestroy_user_sessions(user: Any, keep: Any = None) -> int:
    return await sync_to_async(destroy_user_sessions)(user, keep)
