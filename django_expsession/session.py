"""``request.session``: express's Session with Django's session API on top.

Change detection follows express: a session is modified when the canonical
JSON of its data (without the cookie) differs from what was loaded, so
re-assigning an equal value is not a change and nested in-place mutation is.
Setting ``modified = True`` forces a save.

CONCURRENCY = "merge" changes how a save writes, never whether or when: a
session read from the store (and still under the id it was read with) sends
the store only its own changes, key by key against the data as read, so a
request running at the same time keeps its own. New, regenerated and cycled
sessions write their whole document: nobody else has them yet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, ItemsView, Iterator, KeysView, MutableMapping, ValuesView
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

from . import document as doc
from .cookie import Cookie

if TYPE_CHECKING:
    from .stores.base import Store

_MISSING: Any = object()
RESERVED_KEY = "cookie"


class SessionError(RuntimeError):
    """A session operation that cannot be carried out (e.g. reload of a gone session)."""


class SessionDataError(TypeError):
    """A session value that cannot be stored as JSON."""


def _check_key(key: Any) -> None:
    if not isinstance(key, str):
        raise SessionDataError(f"Session keys must be strings; got {key!r}.")
    if key == RESERVED_KEY:
        raise SessionDataError(
            "'cookie' is reserved for the session cookie; use request.session.cookie "
            "to change it, or pick another key."
        )


def _check_value(key: str, value: Any) -> None:
    try:
        doc.dumps(value)
    except (TypeError, ValueError) as exc:
        raise SessionDataError(
            f"The value for session key {key!r} cannot be stored as JSON ({exc}); "
            "store only str, int, float, bool, None, lists and dicts. The session is unchanged."
        ) from None


def canonical(data: dict[str, Any]) -> str:
    """The JSON whose changes count as modifications (express's hash input)."""
    try:
        return doc.dumps(data)
    except (TypeError, ValueError):
        for key, value in data.items():
            _check_value(key, value)
        raise


def data_hash(data: dict[str, Any]) -> str:
    if not data:
        return _EMPTY_HASH  # every new session starts empty
    return hashlib.sha1(canonical(data).encode("utf-8"), usedforsecurity=False).hexdigest()


_EMPTY_HASH = hashlib.sha1(b"{}", usedforsecurity=False).hexdigest()


def _cookie_as_read(cookie: Cookie) -> dict[str, Any]:
    """The cookie without its expiry, which every save moves anyway."""
    return {key: value for key, value in cookie.to_json().items() if key != "expires"}


@dataclass
class _Baseline:
    """What a merge compares against: the session as last read from the store."""

    sid: str
    data: dict[str, str]  # key -> canonical JSON
    cookie: dict[str, Any]


@dataclass
class _Write:
    """How one save goes to the store: "set" (whole document), "merge" or "refresh"."""

    how: str
    sid: str
    digest: str
    document: doc.Document
    texts: dict[str, str] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)


class Session(SessionBase, MutableMapping[str, Any]):
    """One request's session. Built by the middleware, never directly."""

    def __init__(
        self,
        *,
        store: Store | None,
        sid: str | None,
        data: dict[str, Any],
        cookie: Cookie,
        new_id: Callable[[], str] | None = None,
        new_cookie: Callable[[], Cookie] | None = None,
        loaded: bool = False,
        resave: bool = True,
        merge: bool = False,
    ) -> None:
        # SessionBase.__init__ is not called: it would read SESSION_SERIALIZER
        # and validate keys by Django's rules, neither of which applies.
        self._store = store
        self._sid = sid
        self._session_cache = data
        self.cookie = cookie
        self._new_id = new_id
        self._new_cookie = new_cookie
        self.accessed = False
        self._forced = False
        self.destroyed = False
        # The stored expiry as read: TOUCH_AFTER decides from it without a query.
        self.stored_expires_ms: int | None = cookie.expires_ms if loaded else None
        self.original_id = sid
        self.original_hash = data_hash(data)
        # With resave off a loaded, unchanged session counts as saved.
        self.saved_hash: str | None = self.original_hash if (loaded and not resave) else None
        self._saved_id: str | None = None  # the id of the last explicit save
        self._merge = merge
        self._baseline: _Baseline | None = None
        if loaded:
            self._read_from_store(data, cookie)

    # -- identity -----------------------------------------------------------

    @property
    def id(self) -> str | None:
        return self._sid

    @property
    def session_key(self) -> str | None:
        return self._sid

    @property
    def _session_key(self) -> str | None:
        return self._sid

    @_session_key.setter
    def _session_key(self, value: str | None) -> None:
        self._sid = value

    @property
    def store(self) -> Store | None:
        return self._store

    # -- change tracking ----------------------------------------------------

    @property
    def modified(self) -> bool:
        return self._forced or self.is_modified()

    @modified.setter
    def modified(self, value: bool) -> None:
        self._forced = bool(value)

    @property
    def forced(self) -> bool:
        """Whether ``modified = True`` was set since the last save."""
        return self._forced

    def digest(self) -> str:
        """The hash change detection compares (pass it on to avoid recomputing)."""
        return data_hash(self._session_cache)

    def is_modified(self, digest: str | None = None) -> bool:
        digest = self.digest() if digest is None else digest
        return self.original_id != self._sid or self.original_hash != digest

    def is_saved(self, digest: str | None = None) -> bool:
        # express compares against the original id only, so a regenerated
        # session saved explicitly is saved again at the end (its #935).
        saved_id = self.original_id if self._saved_id is None else self._saved_id
        digest = self.digest() if digest is None else digest
        return not self._forced and saved_id == self._sid and self.saved_hash == digest

    def document(self) -> doc.Document:
        """The express JSON document this session is stored as."""
        # Not re-checked here: every caller has hashed the data already
        # (data_hash names a key whose value JSON cannot store).
        return {RESERVED_KEY: self.cookie.to_json(), **self._session_cache}

    # -- mapping ------------------------------------------------------------

    def _get_session(self, no_load: bool = False) -> dict[str, Any]:
        self.accessed = True
        return self._session_cache

    async def _aget_session(self, no_load: bool = False) -> dict[str, Any]:
        return self._get_session()

    _session = property(_get_session)

    def __getitem__(self, key: str) -> Any:
        return self._session[key]

    def __setitem__(self, key: str, value: Any) -> None:
        _check_key(key)
        _check_value(key, value)
        self._session[key] = value

    def __delitem__(self, key: str) -> None:
        del self._session[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._session))

    def __len__(self) -> int:
        return len(self._session)

    def __contains__(self, key: object) -> bool:
        return key in self._session

    def __bool__(self) -> bool:
        return not self.is_empty()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._sid!r}>"

    def is_empty(self) -> bool:
        return not self._sid and not self._session_cache

    # django-stubs types SessionBase as a dict; these are the mapping views.
    def keys(self) -> KeysView[str]:  # type: ignore[override]
        return self._get_session().keys()

    def values(self) -> ValuesView[Any]:  # type: ignore[override]
        return self._get_session().values()

    def items(self) -> ItemsView[str, Any]:  # type: ignore[override]
        return self._get_session().items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._session.get(key, default)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        if default is _MISSING:
            return self._session.pop(key)
        return self._session.pop(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self._session:
            self[key] = default
        return self._session[key]

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        for key, value in dict(other, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        self._session.clear()

    async def aset(self, key: str, value: Any) -> None:
        self[key] = value

    async def asetdefault(self, key: str, value: Any) -> Any:
        return self.setdefault(key, value)

    async def apop(self, key: str, default: Any = _MISSING) -> Any:
        return self.pop(key, default)

    async def aupdate(self, dict_: Any) -> None:
        self.update(dict_)

    # -- express methods ----------------------------------------------------

    def _require_store(self) -> Store:
        if self._store is None:
            raise SessionError("This session has no store (it is outside the cookie path or destroyed).")
        return self._store

    def save(self, must_create: bool = False) -> None:
        """Persist now; the end-of-request save is skipped unless data changes again.

        With CONCURRENCY "merge", a session found gone from the store
        (destroyed meanwhile) is not written back: it counts as destroyed.
        """
        if self._store is None or self._sid is None:
            return
        write = self._write()
        if write.how == "set":
            self._store.set(self._sid, write.document)
            self._mark_saved(write.digest)
        elif write.how == "refresh":
            self._refreshed(self._store.refresh(self._sid, write.document), write)
        else:
            cookie = write.document[RESERVED_KEY]
            self._merged(self._store.merge(self._sid, write.changes, write.removed, cookie), write)

    async def asave(self, must_create: bool = False) -> None:
        if self._store is None or self._sid is None:
            return
        write = self._write()
        if write.how == "set":
            await self._store.aset(self._sid, write.document)
            self._mark_saved(write.digest)
        elif write.how == "refresh":
            self._refreshed(await self._store.arefresh(self._sid, write.document), write)
        else:
            cookie = write.document[RESERVED_KEY]
            self._merged(await self._store.amerge(self._sid, write.changes, write.removed, cookie), write)

    def _mark_saved(self, digest: str) -> None:
        self.saved_hash = digest
        self._saved_id = self._sid
        self._forced = False

    # -- CONCURRENCY = "merge" ----------------------------------------------

    def _read_from_store(self, data: dict[str, Any], cookie: Cookie) -> None:
        """``data`` and ``cookie`` were just read from the store: merge against them."""
        if self._merge and self._sid is not None:
            texts = {key: doc.dumps(value) for key, value in data.items()}
            self._baseline = _Baseline(self._sid, texts, _cookie_as_read(cookie))

    def _write(self) -> _Write:
        """Decide how this save writes: the whole document, or only its changes."""
        digest = data_hash(self._session_cache)  # names a key JSON cannot store
        document = self.document()
        base = self._baseline
        if base is None or base.sid != self._sid:
            return _Write("set", self._sid or "", digest, document)
        data = self._session_cache
        texts = {key: doc.dumps(value) for key, value in data.items()}
        changes = {key: data[key] for key, text in texts.items() if base.data.get(key) != text}
        removed = [key for key in base.data if key not in data]
        cookie_changed = _cookie_as_read(self.cookie) != base.cookie
        # Nothing but the expiry to write: the store's cheapest call.
        how = "merge" if changes or removed or cookie_changed else "refresh"
        return _Write(how, base.sid, digest, document, texts, changes, removed)

    def _merged(self, merged: doc.Document | None, write: _Write) -> None:
        """Adopt the stored result: other requests' keys, this request's own objects."""
        if merged is None:
            self._gone()
            return
        data = self._session_cache
        fresh: dict[str, Any] = {}
        texts: dict[str, str] = {}
        for key, value in merged.items():
            if key == RESERVED_KEY:
                continue
            text = write.texts[key] if key in write.changes else doc.dumps(value)
            # The view may hold references into its values: keep them where equal.
            fresh[key] = data[key] if write.texts.get(key) == text else value
            texts[key] = text
        data.clear()
        data.update(fresh)
        self._baseline = _Baseline(write.sid, texts, _cookie_as_read(self.cookie))
        digest = data_hash(data)
        if self.original_hash == write.digest:
            # Others' changes do not make it modified (express's rules see
            # only what this request did).
            self.original_hash = digest
        self._mark_saved(digest)

    def _refreshed(self, present: bool, write: _Write) -> None:
        if present:
            self._mark_saved(write.digest)
        else:
            self._gone()

    def _gone(self) -> None:
        """Destroyed meanwhile (e.g. logged out elsewhere): never written back."""
        self.destroyed = True
        self._baseline = None

    def touch(self) -> Session:
        """Reset ``cookie.max_age`` to its original value (in memory)."""
        self.cookie.reset_max_age()
        return self

    reset_max_age = touch

    def reload(self) -> None:
        """Re-read data and cookie from the store; SessionError if it is gone."""
        self._apply_reloaded(self._require_store().get(self._sid or ""))

    async def areload(self) -> None:
        self._apply_reloaded(await self._require_store().aget(self._sid or ""))

    def _apply_reloaded(self, document: doc.Document | None) -> None:
        if document is not None:
            document = doc.validate(document, self._sid or "?")
        if document is None:
            raise SessionError("failed to load session")
        data = dict(document)
        self.cookie = cookie = Cookie.from_json(data.pop(RESERVED_KEY))
        self.stored_expires_ms = cookie.expires_ms
        self._session_cache = data
        self._read_from_store(data, cookie)

    def destroy(self) -> None:
        """Destroy in the store; ``request.session`` is empty from now on."""
        sid = self._mark_destroyed()
        if sid is not None:
            self._require_store().destroy(sid)

    async def adestroy(self) -> None:
        sid = self._mark_destroyed()
        if sid is not None:
            await self._require_store().adestroy(sid)

    def _mark_destroyed(self) -> str | None:
        self.destroyed = True
        return self._sid if self._store is not None else None

    def regenerate(self) -> None:
        """Destroy in the store, then start over: new id, empty data, new cookie."""
        if self._sid is not None:
            self._require_store().destroy(self._sid)
        self._replace(keep_data=False)

    async def aregenerate(self) -> None:
        if self._sid is not None:
            await self._require_store().adestroy(self._sid)
        self._replace(keep_data=False)

    def _replace(self, *, keep_data: bool) -> None:
        if self._new_id is None:
            return
        self._baseline = None  # a new id: its first save writes the whole document
        self._sid = self._new_id()
        if not keep_data:
            self._session_cache = {}
            if self._new_cookie is not None:
                self.cookie = self._new_cookie()

    # -- Django's session API ---------------------------------------------

    def cycle_key(self) -> None:
        """New id, same data (contrib.auth's login); the old id is destroyed."""
        old = self._sid
        self._replace(keep_data=True)
        if old is not None and self._store is not None:
            self._store.destroy(old)

    async def acycle_key(self) -> None:
        old = self._sid
        self._replace(keep_data=True)
        if old is not None and self._store is not None:
            await self._store.adestroy(old)

    def flush(self) -> None:
        """contrib.auth's logout: like ``regenerate()``."""
        self.regenerate()

    async def aflush(self) -> None:
        await self.aregenerate()

    def set_expiry(self, value: int | float | datetime | timedelta | None) -> None:
        """Django's set_expiry on the cookie; it forces a save and a Set-Cookie.

        Seconds or a timedelta: sliding lifetime; a datetime: absolute
        expiry; 0: a browser-session cookie; None: the configured MAX_AGE.
        """
        if value is None:
            default = self._new_cookie() if self._new_cookie is not None else None
            self.cookie.max_age = None if default is None else default.original_max_age
        elif isinstance(value, datetime):
            self.cookie.expires = value
        elif value == 0 and not isinstance(value, timedelta):
            self.cookie.max_age = None
        else:
            self.cookie.max_age = value
        self.accessed = True
        self._forced = True

    async def aset_expiry(self, value: int | float | datetime | timedelta | None) -> None:
        self.set_expiry(value)

    def get_expiry_age(self, **kwargs: Any) -> int:
        """Seconds until the session expires (the store TTL for browser sessions)."""
        modification = kwargs.get("modification") or timezone.now()
        expires = self.get_expiry_date(modification=modification)
        delta = expires - modification
        return delta.days * 86400 + delta.seconds

    async def aget_expiry_age(self, **kwargs: Any) -> int:
        return self.get_expiry_age(**kwargs)

    def get_expiry_date(self, **kwargs: Any) -> datetime:
        expires = self.cookie.expires
        if expires is not None:
            return expires
        modification = kwargs.get("modification") or timezone.now()
        ttl = self._store.ttl if self._store is not None else 86400
        return modification + timedelta(seconds=ttl)

    async def aget_expiry_date(self, **kwargs: Any) -> datetime:
        return self.get_expiry_date(**kwargs)

    def get_expire_at_browser_close(self) -> bool:
        return self.cookie.expires is None

    async def aget_expire_at_browser_close(self) -> bool:
        return self.get_expire_at_browser_close()

    def get_session_cookie_age(self) -> int:
        return self.get_expiry_age()

    # SessionBase's storage hooks: the store does this work here.
    def exists(self, session_key: str) -> bool:
        return self._store is not None and self._store.get(session_key) is not None

    def create(self) -> None:
        self._replace(keep_data=True)

    def delete(self, session_key: str | None = None) -> None:
        sid = session_key or self._sid
        if sid is not None and self._store is not None:
            self._store.destroy(sid)

    def load(self) -> dict[str, Any]:
        return self._session_cache

    def encode(self, session_dict: dict[str, Any]) -> str:
        return doc.dumps(session_dict)

    def decode(self, session_data: str | bytes) -> dict[str, Any]:
        try:
            value = json.loads(session_data)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class InertSession(Session):
    """The session outside the cookie path and after destroy/unset.

    Falsy, no id; writes are accepted but never persisted and no cookie is
    sent, so contrib.auth simply sees an anonymous user.
    """

    def __init__(self) -> None:
        super().__init__(store=None, sid=None, data={}, cookie=Cookie())

    def __bool__(self) -> bool:
        return False

    def is_empty(self) -> bool:
        return True
