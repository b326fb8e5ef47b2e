"""``SESSION_ENGINE = "django_expsession.engine"``: Django's session API on our store.

Code that builds sessions through ``SESSION_ENGINE`` (Django's test
``Client``, ``clearsessions``, Channels' ``SessionMiddleware``) gets a
:class:`SessionStore` that reads and writes the configured store. Its
``session_key`` is the signed cookie value, because those callers copy
``session_key`` into the session cookie and back; the bare id is ``id``.

Unlike ``request.session`` it follows Django's contract, not express's:
nothing is read from the store until the data is accessed, a missing
session becomes a new, key-less one, ``save()`` creates the key, and
``flush()`` leaves the session key-less.

There is no request here, so anything the settings compute from one
(a dynamic ``COOKIE``, ``GENID``, ``"auto"`` cookie values) is computed
from an empty ``HttpRequest``: no path, no headers, not secure.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from . import signing
from .conf import conf
from .cookie import Cookie
from .document import Document, validate
from .middleware import RequestContext
from .session import _MISSING, RESERVED_KEY, Session, data_hash
from .stores import get_store


def sid_from_key(session_key: str | None) -> str | None:
    """The verified id inside a cookie value (``s%3A...`` or ``s:...``), else None."""
    if not session_key or not isinstance(session_key, str):
        return None
    decoded = signing.decode_uri_component(session_key)
    return signing.unsign_cookie(session_key if decoded is None else decoded, conf.secrets)


def _store_sid(session_key: str) -> str | None:
    # Server-side lookups (exists/delete) also take the bare id: nothing is
    # adopted from them, and admin-style code holds bare ids.
    if session_key.startswith(("s:", "s%3A", "s%3a")):
        return sid_from_key(session_key)
    return session_key or None


class SessionStore(Session):
    """A lazily loaded session, addressed by its signed cookie value."""

    def __init__(self, session_key: str | None = None) -> None:
        self._loaded = False
        self._data: dict[str, Any] = {}
        self._cookie: Cookie | None = None
        self._context: RequestContext | None = None
        sid = sid_from_key(session_key)
        super().__init__(
            store=get_store(),
            sid=sid,
            data={},
            cookie=None,  # type: ignore[arg-type]  # built on first use
            new_id=self._generate_id,
            new_cookie=self._generate_cookie,
            merge=conf.concurrency == "merge",
        )
        # An invalid or absent cookie is a new session: nothing to load.
        self._loaded = sid is None

    # -- identity: the cookie value outside, the bare id inside ------------

    @property
    def session_key(self) -> str | None:
        if self._sid is None:
            return None
        return signing.cookie_value(self._sid, conf.secrets[0])

    # -- new ids and cookies, as the middleware would make them -----------

    def _request_context(self) -> RequestContext:
        if self._context is None:
            self._context = RequestContext(HttpRequest())
        return self._context

    def _generate_id(self) -> str:
        return self._request_context().new_id()

    def _generate_cookie(self) -> Cookie:
        return self._request_context().new_cookie()

    # -- lazy state ----------------------------------------------------------

    @property
    def _session_cache(self) -> dict[str, Any]:
        self._ensure_loaded()
        return self._data

    @_session_cache.setter
    def _session_cache(self, value: dict[str, Any]) -> None:
        self._data = value

    @property
    def cookie(self) -> Cookie:
        self._ensure_loaded()
        if self._cookie is None:
            self._cookie = self._generate_cookie()
        return self._cookie

    @cookie.setter
    def cookie(self, value: Cookie | None) -> None:
        self._cookie = value

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._apply(self._store.get(self._sid) if self._store and self._sid else None)

    async def _aensure_loaded(self) -> None:
        if not self._loaded:
            self._apply(await self._store.aget(self._sid) if self._store and self._sid else None)

    def _apply(self, document: Document | None) -> None:
        self._loaded = True
        if document is not None:
            document = validate(document, self._sid or "?")  # corrupt records: no session
        if document is None:
            # Django's contract: a session the store lacks starts over, key-less.
            self._sid = self.original_id = None
            self._data, self._cookie = {}, None
        else:
            data = dict(document)
            self._cookie = cookie = Cookie.from_json(data.pop(RESERVED_KEY))
            self._data = data
            self._read_from_store(data, cookie)
        self.original_hash = data_hash(self._data)

    def _apply_reloaded(self, document: Document | None) -> None:
        super()._apply_reloaded(document)
        self._loaded = True

    def _get_session(self, no_load: bool = False) -> dict[str, Any]:
        self.accessed = True
        return self._session_cache

    async def _aget_session(self, no_load: bool = False) -> dict[str, Any]:
        await self._aensure_loaded()
        self.accessed = True
        return self._data

    _session = property(_get_session)

    # Change tracking must not load: Channels asks on every message.
    @property
    def modified(self) -> bool:
        return self._forced or (self._loaded and self.is_modified())

    @modified.setter
    def modified(self, value: bool) -> None:
        self._forced = bool(value)

    def is_empty(self) -> bool:
        return not self._sid and not (self._loaded and self._data)

    # -- async twins that must load without blocking -------------------------

    async def aset(self, key: str, value: Any) -> None:
        await self._aensure_loaded()
        self[key] = value

    async def asetdefault(self, key: str, value: Any) -> Any:
        await self._aensure_loaded()
        return self.setdefault(key, value)

    async def apop(self, key: str, default: Any = _MISSING) -> Any:
        await self._aensure_loaded()
        return self.pop(key, default)

    async def aupdate(self, dict_: Any) -> None:
        await self._aensure_loaded()
        self.update(dict_)

    async def aset_expiry(self, value: Any) -> None:
        await self._aensure_loaded()
        self.set_expiry(value)

    async def aget_expiry_age(self, **kwargs: Any) -> int:
        await self._aensure_loaded()
        return self.get_expiry_age(**kwargs)

    async def aget_expiry_date(self, **kwargs: Any) -> Any:
        await self._aensure_loaded()
        return self.get_expiry_date(**kwargs)

    async def aget_expire_at_browser_close(self) -> bool:
        await self._aensure_loaded()
        return self.get_expire_at_browser_close()

    # -- Django's storage API ----------------------------------------------

    def load(self) -> dict[str, Any]:
        self._ensure_loaded()
        return self._data

    async def aload(self) -> dict[str, Any]:
        await self._aensure_loaded()
        return self._data

    def exists(self, session_key: str) -> bool:
        sid = _store_sid(session_key)
        return sid is not None and self._store is not None and self._store.get(sid) is not None

    async def aexists(self, session_key: str) -> bool:
        sid = _store_sid(session_key)
        return sid is not None and self._store is not None and await self._store.aget(sid) is not None

    def _prepare_save(self) -> None:
        if self._sid is None:
            self._sid = self._generate_id()
        # A save is activity: restart the cookie's lifetime, as each request
        # through the middleware does (Django's backends likewise recompute
        # the expiry on save).
        self.cookie.reset_max_age()

    def save(self, must_create: bool = False) -> None:
        self._ensure_loaded()
        self._prepare_save()
        super().save()

    async def asave(self, must_create: bool = False) -> None:
        await self._aensure_loaded()
        self._prepare_save()
        await super().asave()

    def create(self) -> None:
        self._ensure_loaded()
        self._sid = None
        self.save()

    async def acreate(self) -> None:
        await self._aensure_loaded()
        self._sid = None
        await self.asave()

    def delete(self, session_key: str | None = None) -> None:
        sid = self._sid if session_key is None else _store_sid(session_key)
        if sid is not None and self._store is not None:
            self._store.destroy(sid)

    async def adelete(self, session_key: str | None = None) -> None:
        sid = self._sid if session_key is None else _store_sid(session_key)
        if sid is not None and self._store is not None:
            await self._store.adestroy(sid)

    def cycle_key(self) -> None:
        """Same data under a new id; the old id is destroyed (contrib.auth's login)."""
        self._ensure_loaded()
        super().cycle_key()

    async def acycle_key(self) -> None:
        await self._aensure_loaded()
        await super().acycle_key()

    def flush(self) -> None:
        """Destroy in the store and start over key-less, as Django's flush does."""
        old = self._sid
        self._start_over()
        if old is not None and self._store is not None:
            self._store.destroy(old)

    async def aflush(self) -> None:
        old = self._sid
        self._start_over()
        if old is not None and self._store is not None:
            await self._store.adestroy(old)

    def _start_over(self) -> None:
        self._loaded = True
        self._baseline = None
        self._sid = None
        self._data, self._cookie = {}, None
        self.accessed = True
        self._forced = True

    @classmethod
    def clear_expired(cls) -> None:
        get_store().clear_expired()

    @classmethod
    async def aclear_expired(cls) -> None:
        await get_store().aclear_expired()
