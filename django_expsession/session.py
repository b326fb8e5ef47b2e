"""``request.session``: express's Session, with Django's session API mixed in.

Change detection follows express: a session is modified when the canonical
JSON of its data (without the cookie) differs from what was loaded, so
re-assigning an equal value is not a change and nested in-place mutation
is. Setting ``modified = True`` forces a save. To keep that cheap, the data
is serialised only when it may have changed: the text of the data as loaded
is taken just before the first write or the first hand-out of a mutable
value (a dict or a list), and a session that got neither is unchanged
without a look at its data.

Nothing is built that a request does not use: a new session has no id
and no cookie until something asks for them (see ``factory.py``).

CONCURRENCY = "merge" changes how a save writes, never whether or when: a
session read from the store is written back whole by compare-and-set on
what was read; when another request wrote it meanwhile, this request's own changes
(key by key, against the data as read) are applied to what is stored now,
and the write is tried again. A session destroyed meanwhile is never
written back. New, regenerated and cycled sessions write their whole
document: nobody else has them yet.
"""

from __future__ import annotations

import json
import math
from collections.abc import ItemsView, Iterator, KeysView, MutableMapping, ValuesView
from typing import TYPE_CHECKING, Any

from . import document as doc
from . import events, signals
from .clock import now_ms
from .cookie import Cookie
from .djangoapi import DjangoSessionAPI
from .drive import run
from .lifetime import META_KEY, deadline, new_meta
from .stores.base import MERGE_ATTEMPTS, AsyncCalls, Calls, Record, StoreError, SyncCalls, merged_document

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .factory import SessionFactory
    from .stores.base import Store

_MISSING: Any = object()
RESERVED_KEY = "cookie"
AUTH_KEY = "_auth_user_id"  # contrib.auth's SESSION_KEY
HASH_KEY = "_auth_user_hash"  # contrib.auth's HASH_SESSION_KEY
_SCALARS = frozenset({str, int, float, bool, type(None)})
# original_id of a new session: "the id it is first given" (ids are lazy).
_FIRST_ID: Any = object()
# _saved of a loaded session under RESAVE off: "as loaded".
_AS_LOADED: Any = object()


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
    if key == META_KEY:
        raise SessionDataError(
            f"{META_KEY!r} is reserved for django-expsession's own record; pick another key."
        )


def _check_value(key: str, value: Any) -> None:
    if type(value) in _SCALARS and (type(value) is not float or math.isfinite(value)):
        return
    try:
        doc.dumps(value)
    except (TypeError, ValueError, RecursionError) as exc:
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


def document_text(cookie: dict[str, Any], data_text: str) -> str:
    """The stored document's JSON, cookie first, from the data's JSON text."""
    cookie_text = doc.dumps(cookie)
    if data_text == "{}":
        return '{"cookie":' + cookie_text + "}"
    return '{"cookie":' + cookie_text + "," + data_text[1:]


class Session(DjangoSessionAPI, MutableMapping[str, Any]):
    """One request's session. Built by the session factory, never directly."""

    def __init__(
        self,
        factory: SessionFactory | None,
        request: HttpRequest | None,
        options: Any = None,
        *,
        sid: str | None = None,
        data: dict[str, Any] | None = None,
        cookie: Cookie | None = None,
        record: Record | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        # SessionBase.__init__ is not called: it would read SESSION_SERIALIZER
        # and validate keys by Django's rules, neither of which applies.
        self._factory = factory
        self._store: Store | None = None if factory is None else factory.store
        self._request = request
        self._options = options  # the request's cookie options, for a new cookie
        self.accessed = False
        self.destroyed = False
        self._forced = False
        self.cookie_forced = False  # set_expiry(): send the cookie whatever express would do
        self._final = False  # the end of the request: no view code runs any more
        self._text: str | None = None  # the data's JSON, while _final
        self._dirty = False  # a write or a mutable hand-out happened
        self._base: str | None = None  # the data's JSON as last read or written, when it moved
        self._saved: Any = None  # the data's JSON at the last save (or _AS_LOADED)
        self._saved_id: str | None = None
        # Outside the data: creation time, id issue time, client (see lifetime.py).
        self.meta: dict[str, Any] | None = meta
        self.meta_changed = False  # a save must write it (the decision asks for one)
        if record is None:
            self._start(sid, {} if data is None else data, cookie)
        else:
            assert sid is not None and data is not None and cookie is not None
            self._take(sid, data, cookie, record)

    def _start(self, sid: str | None, data: dict[str, Any], cookie: Cookie | None) -> None:
        """State of a new session (its id and cookie may come later)."""
        self._sid = sid
        self._data = data
        self._cookie = cookie
        self._record: Record | None = None
        self.loaded = False
        self.stored_expires_ms: int | None = None
        self.original_id: Any = _FIRST_ID
        self._pristine: str | None = canonical(data) if data else "{}"
        self.fresh = True  # announced as created by its first save
        self.loaded_auth: tuple[Any, Any] = (None, None)

    def _take(self, sid: str, data: dict[str, Any], cookie: Cookie, record: Record) -> None:
        """State of a session read from the store."""
        self._sid = sid
        self._data = data
        self._cookie = cookie
        self._record = record  # its version makes a compare-and-set save
        self.loaded = True
        self.stored_expires_ms = cookie.expires_ms  # TOUCH_AFTER decides from it without a query
        self.original_id = sid
        self._pristine = None  # the data's JSON as loaded: taken when first needed
        self.fresh = False
        self.loaded_auth = (data.get(AUTH_KEY), data.get(HASH_KEY))
        if self._factory is not None and not self._factory.settings.resave:
            self._saved = _AS_LOADED  # with resave off a loaded, unchanged session counts as saved

    # -- identity (lazy for a new session) --------------------------------------

    @property
    def id(self) -> str | None:
        if self._sid is None and self._factory is not None and not self.destroyed:
            self._sid = self._factory.new_id(self._request)
            if self.original_id is _FIRST_ID:
                self.original_id = self._sid
        return self._sid

    @property
    def session_key(self) -> str | None:
        return self.id

    @property
    def _session_key(self) -> str | None:
        return self.id

    @_session_key.setter
    def _session_key(self, value: str | None) -> None:
        self._sid = value

    @property
    def has_id(self) -> bool:
        """Whether an id was given (a new session's id is made when first asked for)."""
        return self._sid is not None

    @property
    def store(self) -> Store | None:
        return self._store

    @property
    def cookie(self) -> Cookie:
        if self._cookie is None:
            self._cookie = (
                Cookie() if self._factory is None else self._factory.new_cookie(self._request, self._options)
            )
        return self._cookie

    @cookie.setter
    def cookie(self, value: Cookie) -> None:
        self._cookie = value

    # -- change tracking ---------------------------------------------------------

    def _will_change(self) -> None:
        """Before a write or the hand-out of a mutable value: keep the data as it is now."""
        if not self._dirty:
            if self._pristine is None:
                self._pristine = canonical(self._data)
            self._dirty = True
        self._text = None

    def _data_text(self) -> str:
        """The data's canonical JSON now (computed once at the end of the request)."""
        if not self._dirty:
            if self._pristine is None:
                self._pristine = canonical(self._data)
            return self._pristine
        if self._final and self._text is not None:
            return self._text
        text = canonical(self._data)
        if self._final:
            self._text = text
        return text

    def finalize(self) -> None:
        """The view is done: the data can no longer change behind our back."""
        self._final = True

    def _data_changed(self) -> bool:
        return self._dirty and self._data_text() != self._pristine

    def _id_changed(self) -> bool:
        return self.original_id is not _FIRST_ID and self.original_id != self._sid

    @property
    def modified(self) -> bool:
        return self._forced or self._id_changed() or self._data_changed()

    @modified.setter
    def modified(self, value: bool) -> None:
        self._forced = bool(value)

    def is_modified(self) -> bool:
        """express's isModified: another id, or other data (``modified = True`` aside)."""
        return self._id_changed() or self._data_changed()

    def is_saved(self) -> bool:
        # express compares against the original id only, so a regenerated
        # session saved explicitly is saved again at the end (its #935).
        if self._forced or self._saved is None:
            return False
        saved_id = self.original_id if self._saved_id is None else self._saved_id
        if saved_id is _FIRST_ID or saved_id != self._sid:
            return False
        if self._saved is _AS_LOADED:
            return not self._data_changed()
        return bool(self._data_text() == self._saved)

    @property
    def factory_settings(self) -> Any:
        return None if self._factory is None else self._factory.settings

    def get_raw(self, key: str) -> Any:
        """A value without marking the session accessed (for the middleware's own use)."""
        return self._data.get(key)

    def password_changed(self) -> bool:
        """The same user, another password hash (contrib.auth's update_session_auth_hash)."""
        user, hashed = self.loaded_auth
        return user is not None and self._data.get(AUTH_KEY) == user and self._data.get(HASH_KEY) != hashed

    def never_saved(self) -> bool:
        """express's ``savedHash`` unset: neither saved nor loaded with resave off."""
        return self._saved is None

    def document(self) -> doc.Document:
        """The express JSON document this session is stored as (with its text)."""
        return self.document_with(self._meta_to_write())

    def document_with(self, meta: dict[str, Any] | None) -> doc.Encoded:
        cookie = self.cookie.to_json()
        text = self._data_text()
        if meta is None:
            return doc.Encoded({RESERVED_KEY: cookie, **self._data}, document_text(cookie, text))
        body = document_text(cookie, text)
        return doc.Encoded(
            {RESERVED_KEY: cookie, **self._data, META_KEY: meta},
            body[:-1] + ',"' + META_KEY + '":' + doc.dumps(meta) + "}",
            deadline(meta, None if self._factory is None else self._factory.settings.absolute_timeout),
        )

    def _meta_to_write(self) -> dict[str, Any] | None:
        """The meta, made now for a session that needs one (logged in, or timeouts on)."""
        factory = self._factory
        if self.meta is None and factory is not None and (factory.keeps_meta or AUTH_KEY in self._data):
            self.meta = new_meta(self._request, factory.settings.track_ip)
            self.meta_changed = True
        if self.meta is not None and "created" in self.meta:
            self.meta["seen"] = now_ms()  # "last seen" on the user's sessions page
        return self.meta

    # -- mapping ---------------------------------------------------------------

    def _get_session(self, no_load: bool = False) -> dict[str, Any]:
        # Whoever holds the dict may change it.
        self.accessed = True
        self._will_change()
        return self._data

    async def _aget_session(self, no_load: bool = False) -> dict[str, Any]:
        return self._get_session()

    _session = property(_get_session)

    def load(self) -> dict[str, Any]:
        return self._get_session()

    def _read(self, value: Any) -> Any:
        if type(value) not in _SCALARS:
            self._will_change()
        return value

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return self._read(self._data[key])

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return self._read(self._data.get(key, default))

    def __setitem__(self, key: str, value: Any) -> None:
        _check_key(key)
        _check_value(key, value)
        self.accessed = True
        self._will_change()
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        self.accessed = True
        self._will_change()
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        self.accessed = True
        return iter(list(self._data))

    def __len__(self) -> int:
        self.accessed = True
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        self.accessed = True
        return key in self._data

    def __bool__(self) -> bool:
        return not self.is_empty()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._sid!r}>"

    def is_empty(self) -> bool:
        return not self._sid and not self._data

    # django-stubs types SessionBase as a dict; these are the mapping views.
    def keys(self) -> KeysView[str]:  # type: ignore[override]
        self.accessed = True
        return self._data.keys()

    def values(self) -> ValuesView[Any]:  # type: ignore[override]
        return self._get_session().values()

    def items(self) -> ItemsView[str, Any]:  # type: ignore[override]
        return self._get_session().items()

    async def akeys(self) -> KeysView[str]:  # type: ignore[override]
        return self.keys()

    async def avalues(self) -> ValuesView[Any]:  # type: ignore[override]
        return self.values()

    async def aitems(self) -> ItemsView[str, Any]:  # type: ignore[override]
        return self.items()

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        self.accessed = True
        self._will_change()
        if default is _MISSING:
            return self._data.pop(key)
        return self._data.pop(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self._data:
            self[key] = default
        return self[key]

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        for key, value in dict(other, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        self.accessed = True
        self._will_change()
        self._data.clear()

    # -- saving ----------------------------------------------------------------

    def _require_store(self) -> Store:
        if self._store is None:
            raise SessionError("This session has no store (it is outside the cookie path or destroyed).")
        return self._store

    def save(self, must_create: bool = False) -> None:
        """Persist now; the end-of-request save is skipped unless data changes again.

        With CONCURRENCY "merge", a session found gone from the store
        (destroyed meanwhile) is not written back: it counts as destroyed.
        """
        if self._store is not None and not self.destroyed:
            run(self.write(SyncCalls(self._store)))

    async def asave(self, must_create: bool = False) -> None:
        if self._store is not None and not self.destroyed:
            await self.write(AsyncCalls(self._store))

    async def write(self, calls: Calls) -> None:
        """The save itself: a whole document, an expiry, or a compare-and-set."""
        sid = self.id
        assert sid is not None
        document = self.document()
        text = self._data_text()
        record = self._record
        if record is None or self._factory is None or not self._factory.settings.merge:
            await calls.set(sid, document)
            self._mark_saved(text)
            if self.fresh:
                self.fresh = False
                events.send(signals.session_created, sid, self._request)
            return
        # Also when nothing but the expiry changed (RESAVE): the stored
        # cookie then follows, as express's whole-document save does.
        base = self._base if self._base is not None else self._pristine if self._dirty else text
        await self._compare_and_set(calls, sid, document, base, text, record)

    async def _compare_and_set(
        self, calls: Calls, sid: str, document: doc.Document, base: str | None, text: str, record: Record
    ) -> None:
        outcome = await calls.replace(sid, document, record.version)
        attempts = 1
        merged: doc.Document | None = None
        while not outcome.written:
            current = outcome.current
            stored = None if current is None else current.current_document(sid)
            if current is None or stored is None:
                self._gone()
                return
            if attempts == MERGE_ATTEMPTS:
                raise StoreError(
                    f"{type(calls.store).__name__} could not save the session: other requests changed it "
                    f"{MERGE_ATTEMPTS} times in a row. Try again."
                )
            changes, removed = self._own_changes(base)
            merged = merged_document(stored, changes, removed, document[RESERVED_KEY])
            if self.meta is not None:
                merged[META_KEY] = self.meta
            outcome = await calls.replace(
                sid,
                doc.Encoded(merged, doc.dumps(merged), getattr(document, "deadline", None)),
                current.version,
            )
            attempts += 1
        self._record = Record(version=outcome.version)
        if merged is None:
            self._base = text
            self._mark_saved(text)
        else:
            self._adopt(merged, text)

    def _own_changes(self, base: str | None) -> tuple[dict[str, Any], list[str]]:
        """This request's changes, key by key, against the data as last read or written."""
        before: dict[str, Any] = {} if base is None else json.loads(base)
        data = self._data
        changes = {
            key: value
            for key, value in data.items()
            if key not in before or doc.dumps(before[key]) != doc.dumps(value)
        }
        return changes, [key for key in before if key not in data]

    def _adopt(self, merged: doc.Document, text_before: str) -> None:
        """Take the stored result: other requests' keys, this request's own objects."""
        data = self._data
        fresh: dict[str, Any] = {}
        for key, value in merged.items():
            if key in (RESERVED_KEY, META_KEY):
                continue
            # The view may hold references into its values: keep them where equal.
            fresh[key] = data[key] if key in data and doc.dumps(data[key]) == doc.dumps(value) else value
        data.clear()
        data.update(fresh)
        self._text = None
        text = canonical(data)
        if self._pristine == text_before:
            # Others' changes do not make it modified (express's rules see
            # only what this request did).
            self._pristine = text
        self._base = text
        self._mark_saved(text)

    def _mark_saved(self, text: str) -> None:
        self._saved = text
        self._saved_id = self._sid
        self._forced = False
        self.meta_changed = False

    def _gone(self) -> None:
        """Destroyed meanwhile (e.g. logged out elsewhere): never written back."""
        self.destroyed = True
        self._record = None

    # -- express's methods -----------------------------------------------------

    def touch(self) -> Session:
        """Reset ``cookie.max_age`` to its original value (in memory)."""
        self.cookie.reset_max_age()
        return self

    reset_max_age = touch

    def reload(self) -> None:
        """Re-read data and cookie from the store; SessionError if it is gone."""
        run(self._reload(SyncCalls(self._require_store())))

    async def areload(self) -> None:
        await self._reload(AsyncCalls(self._require_store()))

    async def _reload(self, calls: Calls) -> None:
        sid, factory = self._sid, self._factory
        record = loaded = None
        if sid is not None and factory is not None:
            record = await calls.read(sid)
            loaded = None if record is None else factory.unpack(record, sid, self._request)
        if loaded is None:
            raise SessionError("failed to load session")
        data, cookie, meta = loaded
        self._will_change()  # the data as first loaded stays the baseline of "modified"
        self.meta = meta if meta is not None else self.meta
        self._data = data
        self._cookie = cookie
        self._record = record
        self.stored_expires_ms = cookie.expires_ms
        self._base = canonical(data)

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
        """The id to destroy in the store, if it was ever given one there."""
        self.destroyed = True
        if self._store is None or self._sid is None:
            return None
        events.send(signals.session_destroyed, self._sid, self._request)
        return self._sid

    def regenerate(self) -> None:
        """Destroy in the store, then start over: new id, empty data, new cookie."""
        old = self._new_identity(keep_data=False)
        if old is not None:
            self._require_store().destroy(old)

    async def aregenerate(self) -> None:
        old = self._new_identity(keep_data=False)
        if old is not None:
            await self._require_store().adestroy(old)

    def _new_identity(self, *, keep_data: bool) -> str | None:
        """Give the session a new id (and, unless ``keep_data``, empty data); return the old id."""
        if self._factory is None:
            return None
        old = self._sid
        if self.original_id is _FIRST_ID:
            self.original_id = self._sid  # None when none was made: the new one differs
        self._record = None  # a new id: its first save writes the whole document
        self._sid = self._factory.new_id(self._request)
        if self.meta is not None:
            # The creation time stays (a login does not extend ABSOLUTE_TIMEOUT); the id is new.
            fresh = new_meta(self._request, self._factory.settings.track_ip)
            self.meta = {**self.meta, **fresh, "created": self.meta["created"]}
            self.meta_changed = True
        if not keep_data:
            self._will_change()
            self._data = {}
            self._cookie = self._factory.new_cookie(self._request, self._options)
        self.fresh = True  # the new id is announced by its first save, data kept or not
        if old is not None:
            events.send(signals.session_destroyed, old, self._request)
        return old


class InertSession(Session):
    """The session outside the cookie path and after destroy/unset.

    Falsy, no id; writes are accepted but never persisted and no cookie is
    sent, so contrib.auth simply sees an anonymous user.
    """

    def __init__(self) -> None:
        super().__init__(None, None)

    def __bool__(self) -> bool:
        return False

    def is_empty(self) -> bool:
        return True
