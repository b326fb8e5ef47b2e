"""A session's life beyond express's idle timeout: creation time, absolute timeout, id renewal.

What these need travels with the stored document in one top-level key,
``"_expsession"`` (an Express app sharing the store sees it as session data
and keeps it): ``created`` and ``issued`` (epoch ms: the session's start,
and when its current id was given), ``ua`` and ``ip`` (the client, for the
"your sessions" page; ``ip`` only with ``TRACK_IP``). A renewed id's record
is replaced for ``RENEW_GRACE`` seconds by a forward, ``{"renewed": <new
id>, "until": <ms>}``, so that requests still carrying the old cookie reach
the renewed session (and get its cookie) instead of renewing it again.

The load flow here runs only when ``ABSOLUTE_TIMEOUT`` or ``RENEW_AFTER`` is
set; without them a request's load is the store's one read.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from . import document as doc
from . import events, signals
from .clock import in_range, now_ms
from .signing import id_hash
from .stores.base import Calls, Record

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .factory import SessionFactory
    from .session import Session

META_KEY = "_expsession"
_UA_LIMIT = 512
_IP_LIMIT = 64


def client_of(request: HttpRequest | None, track_ip: bool) -> dict[str, str]:
    if request is None:
        return {}
    found: dict[str, str] = {}
    agent = request.META.get("HTTP_USER_AGENT")
    if isinstance(agent, str) and agent:
        found["ua"] = agent[:_UA_LIMIT]
    address = request.META.get("REMOTE_ADDR")
    if track_ip and isinstance(address, str) and address:
        found["ip"] = address[:_IP_LIMIT]
    return found


def new_meta(request: HttpRequest | None, track_ip: bool, now: int | None = None) -> dict[str, Any]:
    now = now_ms() if now is None else now
    return {"created": now, "issued": now, **client_of(request, track_ip)}


def _instant(value: Any) -> bool:
    return type(value) is int and in_range(value)


def read_meta(value: Any) -> dict[str, Any] | None:
    """The meta of a stored document, or None when it has none we can use."""
    if not isinstance(value, dict):
        return None
    if "renewed" in value:
        ok = isinstance(value["renewed"], str) and _instant(value.get("until"))
    else:
        ok = _instant(value.get("created")) and _instant(value.get("issued"))
        ok = ok and ("seen" not in value or _instant(value["seen"]))
    for key, limit in (("ua", _UA_LIMIT), ("ip", _IP_LIMIT)):
        if key in value and not (isinstance(value[key], str) and len(value[key]) <= limit):
            ok = False
    return dict(value) if ok else None


def deadline(meta: Mapping[str, Any] | None, absolute_timeout: float | None) -> int | None:
    """When the session ends whatever its activity (epoch ms), or None."""
    if meta is None or absolute_timeout is None or "created" not in meta:
        return None
    return int(meta["created"] + math.floor(absolute_timeout * 1000))


def forward(new_sid: str, until: int) -> dict[str, Any]:
    return {"renewed": new_sid, "until": until}


# -- the load flow --------------------------------------------------------------------


async def load(
    calls: Calls,
    factory: SessionFactory,
    request: HttpRequest,
    options: Mapping[str, Any] | None,
    sid: str,
) -> tuple[Record | None, Session | None]:
    """Read the session for ``sid``, applying the absolute timeout, forwards and renewal.

    Returns (record, session): the session when it was made here, else the
    record for the lazy path (or nothing: a new session).
    """
    record = await calls.read(sid)
    if record is None:
        events.rejected("unknown-id", sid, request)
        return None, None
    settings = factory.settings
    session = factory.inflate(record, sid, request, options)
    if session is None:
        return None, None  # rejected (logged) by the factory
    meta = session.meta
    now = now_ms()
    if meta is not None and "renewed" in meta:
        return None, await _follow(calls, factory, request, options, sid, meta, now)
    end = deadline(meta, settings.absolute_timeout)
    if end is not None and end <= now:
        await calls.destroy(sid)
        events.rejected("absolute-timeout", sid, request)
        events.send(signals.session_destroyed, sid, request)
        return None, None
    renew = settings.renew_after
    if renew is not None and meta is not None and meta["issued"] + math.floor(renew * 1000) <= now:
        return None, await _renew(calls, factory, request, options, sid, session, record, now)
    return None, session


async def _follow(
    calls: Calls,
    factory: SessionFactory,
    request: HttpRequest,
    options: Mapping[str, Any] | None,
    old: str,
    meta: Mapping[str, Any],
    now: int,
) -> Session | None:
    """An old id within its grace: the renewed session, and its cookie for this client."""
    if meta["until"] <= now:
        return None
    new = meta["renewed"]
    record = await calls.read(new)
    session = None if record is None else factory.inflate(record, new, request, options)
    if session is not None:
        session.cookie_forced = True
    return session


async def _renew(
    calls: Calls,
    factory: SessionFactory,
    request: HttpRequest,
    options: Mapping[str, Any] | None,
    old: str,
    session: Session,
    record: Record,
    now: int,
) -> Session:
    """Move the session to a new id; leave a forward at the old one for the grace period.

    The forward is written by compare-and-set on what was read, so of two
    requests renewing at once one wins; the other follows its forward.
    """
    settings = factory.settings
    new = factory.new_id(request)
    meta = {**(session.meta or {}), "issued": now}
    moved = session.document_with(meta)
    await calls.set(new, moved)
    until = now + math.floor(settings.renew_grace * 1000)
    stub = {"cookie": moved["cookie"], META_KEY: forward(new, until)}
    outcome = await calls.replace(old, doc.Encoded(stub, doc.dumps(stub), deadline=until), record.version)
    if not outcome.written:
        await calls.destroy(new)  # another request renewed it, or changed it: ours is not needed
        current = outcome.current
        found = None if current is None else factory.inflate(current, old, request, None)
        if found is not None and found.meta is not None and "renewed" in found.meta:
            followed = await _follow(calls, factory, request, None, old, found.meta, now)
            if followed is not None:
                return followed
        return found if found is not None else factory.new(request, None)
    renewed_record = await calls.read(new)
    renewed = None if renewed_record is None else factory.inflate(renewed_record, new, request, None)
    if renewed is None:  # gone at once (destroyed meanwhile): a fresh session
        return factory.new(request, None)
    renewed.cookie_forced = True
    events.send(signals.session_renewed, new, request, old_id_hash=id_hash(old))
    return renewed
