"""The one place sessions are made, for the middleware and the SESSION_ENGINE adapter.

A :class:`SessionFactory` pairs the settings snapshot with the configured
store. It makes new sessions lazily (no id, no cookie until asked for),
inflates stored records (each checked here, once: a malformed one is no
session, logged), and resolves ``"auto"`` cookie values against the request.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from . import conf, events
from . import document as doc
from .clock import now_ms
from .cookie import Cookie
from .decision import Options
from .lifetime import META_KEY, new_meta, read_meta
from .requestinfo import is_secure
from .session import RESERVED_KEY, Session
from .signing import Verifier
from .stores import Store, get_store
from .stores.base import Record

# Printable ASCII but for '"', ',', ';' and '\\'; at most 255 (the database's column).
SID_RE = re.compile(r"[!#-+\--:<-\[\]-~]{1,255}")


class SessionFactory:
    """Sessions for one settings snapshot and one store."""

    def __init__(self, settings: conf.Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.rules = Options(settings.resave, settings.save_uninitialized, settings.rolling)
        self.touches = store.supports("touch")
        self.verifier = Verifier(settings.keys)
        # ABSOLUTE_TIMEOUT/RENEW_AFTER: every session keeps its creation time,
        # and a load looks at it (lifetime.py).
        self.keeps_meta = self.lifecycle = (
            settings.absolute_timeout is not None or settings.renew_after is not None
        )

    def new_id(self, request: HttpRequest | None) -> str:
        sid: Any = self.settings.genid(HttpRequest() if request is None else request)
        if not isinstance(sid, str) or not sid:
            raise TypeError(f"EXPSESSION['GENID'] must return a non-empty str, not {sid!r}.")
        if not SID_RE.fullmatch(sid):
            raise ValueError(
                f"EXPSESSION['GENID'] returned {sid!r}: a session id should be 1 to 255 printable ASCII "
                "characters without spaces, quotes, commas, semicolons or backslashes."
            )
        return sid

    def new_cookie(self, request: HttpRequest | None, options: Mapping[str, Any] | None) -> Cookie:
        """A new session's cookie; 'auto' is resolved now and stored with it (express)."""
        if options is None:
            options = self.options(request)
        secure = options.get("secure")
        samesite = options.get("sameSite")
        if secure == "auto" or samesite == "auto":
            https = request is not None and is_secure(request, self.settings.proxy)
            resolved = dict(options)
            if secure == "auto":
                resolved["secure"] = https
            if samesite == "auto":
                resolved["sameSite"] = "none" if https else "lax"
            options = resolved
        return Cookie.from_options(dict(options))

    def options(self, request: HttpRequest | None) -> Mapping[str, Any]:
        return self.settings.cookie_options(HttpRequest() if request is None else request)

    def unpack(
        self, record: Record, sid: str, request: HttpRequest | None
    ) -> tuple[dict[str, Any], Cookie, dict[str, Any] | None] | None:
        """(data, cookie, meta) of a stored record; None, logged, when it is not a live session."""
        try:
            document = record.parsed()
            if record.text is None:
                doc.check_tree(document)
            expires = doc.check(document)
        except doc.InvalidDocumentError as exc:
            events.rejected("invalid-document", sid, request, exc.reason)
            return None
        if record.expires_ms is not None and expires is not None:
            expires = record.expires_ms  # touch moved only the store's own expiry
        elif expires is not None and expires <= now_ms():
            # The shipped stores never return these; another store might.
            events.rejected("expired", sid, request)
            return None
        data = dict(document) if record.text is None else document
        cookie = Cookie.from_json(data.pop(RESERVED_KEY), expires)
        meta = read_meta(data.pop(META_KEY)) if META_KEY in data else None
        return data, cookie, meta

    def inflate(
        self, record: Record, sid: str, request: HttpRequest | None, options: Mapping[str, Any] | None = None
    ) -> Session | None:
        """The session a stored record holds, or None when it is not a live session."""
        unpacked = self.unpack(record, sid, request)
        if unpacked is None:
            return None
        data, cookie, meta = unpacked
        session = Session(self, request, options, sid=sid, data=data, cookie=cookie, record=record, meta=meta)
        if meta is None and self.keeps_meta:
            # Stored before the timeouts were on: they count from now.
            session.meta = new_meta(request, self.settings.track_ip)
            session.meta_changed = True
        return session

    def new(self, request: HttpRequest | None, options: Mapping[str, Any] | None = None) -> Session:
        """A new session: its id and cookie are made when first needed."""
        meta = new_meta(request, self.settings.track_ip) if self.keeps_meta else None
        return Session(self, request, options, meta=meta)


_lock = threading.Lock()
_factory: SessionFactory | None = None


def current() -> SessionFactory:
    """The factory for the current settings and store."""
    global _factory
    settings, store = conf.current(), get_store()
    found = _factory
    if found is None or found.settings is not settings or found.store is not store:
        with _lock:
            found = _factory = SessionFactory(settings, store)
    return found
