"""``request.session``: express's Session with Django's session API on top.

Change detection follows express: a session is modified when the canonical
JSON of its data (without the cookie) differs from what was loaded, so
re-assigning an equal value is not a change and nested in-place mutation is.
Setting ``modified = True`` forces a save.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, ItemsView, Iterator, KeysView, MutableMapping, ValuesView
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
    return hashlib.sha1(canonical(data).encode("utf-8"), usedforsecurity=False).hexdigest()


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
        self.original_id = sid
        self.original_hash = data_hash(data)
        # With resave off a loaded, unchanged session counts as saved.
        self.saved_hash: str | None = self.original_hash if (loaded and not resave) else None
        self._saved_id: str | None = None  # the id of the last explicit save

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

    def is_modified(self) -> bool:
        return self.original_id != self._sid or self.original_hash != data_hash(self._session_cache)

    def is_saved(self) -> bool:
        # express compares against the original id only, so a regenerated
        # session saved explicitly is saved again at the end (its #935).
        saved_id = self.original_id if self._saved_id is None else self._saved_id
        return (
            not self._forced and saved_id == self._sid and self.saved_hash == data_hash(self._session_cache)
        )

    def document(self) -> doc.Document:
        """The express JSON document this session is stored as."""
        canonical(self._session_cache)  # names the offending key, if any
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
        """Persist now; the end-of-request save is skipped unless data changes again."""
        if self._store is None or self._sid is None:
            return
        document, digest = self.document(), data_hash(self._session_cache)
        self._store.set(self._sid, document)
        self._mark_saved(digest)

    async def asave(self, must_create: bool = False) -> None:
        if self._store is None or self._sid is None:
            return
        document, digest = self.document(), data_hash(self._session_cache)
        await self._store.aset(self._sid, document)
        self._mark_saved(digest)

    def _mark_saved(self, digest: str) -> None:
        self.saved_hash = digest
        self._saved_id = self._sid
        self._forced = False

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
        self.cookie = Cookie.from_json(data.pop(RESERVED_KEY))
        self._session_cache = data

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
