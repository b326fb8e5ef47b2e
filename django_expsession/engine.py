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

from . import factory as factories
from . import signing
from .clock import now_ms
from .cookie import Cookie
from .lifetime import deadline
from .session import _MISSING, Session
from .stores import get_store
from .stores.base import Record


def sid_from_key(session_key: str | None, keys: tuple[bytes, ...] | None = None) -> str | None:
    """The verified id inside a cookie value (``s%3A...`` or ``s:...``), else None."""
    if not session_key or not isinstance(session_key, str):
        return None
    decoded = signing.decode_uri_component(session_key)
    return signing.unsign_cookie(
        session_key if decoded is None else decoded, keys or factories.current().settings.keys
    )


def _store_sid(session_key: str) -> str | None:
    # Server-side lookups (exists/delete) also take the bare id: nothing is
    # adopted from them, and admin-style code holds bare ids.
    if session_key.startswith(("s:", "s%3A", "s%3a")):
        return sid_from_key(session_key)
    return session_key or None


class SessionStore(Session):
    """A lazily loaded session, addressed by its signed cookie value."""

    def __init__(self, session_key: str | None = None) -> None:
        factory = factories.current()
        self._loaded = True  # while the base class sets up
        super().__init__(factory, HttpRequest(), sid=sid_from_key(session_key, factory.settings.keys))
        # An invalid or absent cookie is a new session: nothing to load.
        self._loaded = self._sid is None
        self.original_id = self._sid

    # -- identity: the cookie value outside, the bare id inside ------------

    @property
    def session_key(self) -> str | None:
        if self._sid is None:
            return None
        assert self._factory is not None
        return signing.cookie_value(self._sid, self._factory.settings.keys[0])

    @property
    def id(self) -> str | None:
        return self._sid

    # -- lazy state ----------------------------------------------------------

    @property
    def _data(self) -> dict[str, Any]:
        self._ensure_loaded()
        return self.__dict__["_data"]  # type: ignore[no-any-return]

    @_data.setter
    def _data(self, value: dict[str, Any]) -> None:
        self.__dict__["_data"] = value

    @property
    def cookie(self) -> Cookie:
        self._ensure_loaded()
        if self._cookie is None:
            assert self._factory is not None
            self._cookie = self._factory.new_cookie(self._request, None)
        return self._cookie

    @cookie.setter
    def cookie(self, value: Cookie) -> None:
        self._cookie = value

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._apply(self._store.read(self._sid) if self._store is not None and self._sid else None)

    async def _aensure_loaded(self) -> None:
        if not self._loaded:
            self._apply(await self._store.aread(self._sid) if self._store is not None and self._sid else None)

    def _apply(self, record: Record | None) -> None:
        self._loaded = True
        assert self._factory is not None
        unpacked = (
            None if record is None or self._sid is None else self._factory.unpack(record, self._sid, None)
        )
        if unpacked is not None:
            data, cookie, meta = unpacked
            end = deadline(meta, self._factory.settings.absolute_timeout)
            if end is None or end > now_ms():
                self.meta = meta
                self._take(self._sid or "", data, cookie, record)  # type: ignore[arg-type]
                return
        # Django's contract: a session the store lacks starts over, key-less.
        self._start(None, {}, None)
        self.original_id = None

    async def _aget_session(self, no_load: bool = False) -> dict[str, Any]:
        await self._aensure_loaded()
        return self._get_session()

    # Change tracking must not load: Channels asks on every message.
    @property
    def modified(self) -> bool:
        return self._forced or (self._loaded and self.is_modified())

    @modified.setter
    def modified(self, value: bool) -> None:
        self._forced = bool(value)

    def is_empty(self) -> bool:
        return not self._sid and not (self._loaded and self.__dict__.get("_data"))

    # -- async twins that must load without blocking -------------------------

    async def aget(self, key: str, default: Any = None) -> Any:
        await self._aensure_loaded()
        return self.get(key, default)

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

    async def ahas_key(self, key: str) -> bool:
        await self._aensure_loaded()
        return key in self

    async def akeys(self) -> Any:
        await self._aensure_loaded()
        return self.keys()

    async def avalues(self) -> Any:
        await self._aensure_loaded()
        return self.values()

    async def aitems(self) -> Any:
        await self._aensure_loaded()
        return self.items()

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
        return self._get_session()

    async def aload(self) -> dict[str, Any]:
        return await self._aget_session()

    def exists(self, session_key: str) -> bool:
        sid = _store_sid(session_key)
        return sid is not None and self._store is not None and self._store.get(sid) is not None

    async def aexists(self, session_key: str) -> bool:
        sid = _store_sid(session_key)
        return sid is not None and self._store is not None and await self._store.aget(sid) is not None

    def _prepare_save(self) -> None:
        if self._sid is None:
            assert self._factory is not None
            self._sid = self._factory.new_id(self._request)
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
        self._record = None
        self.save()

    async def acreate(self) -> None:
        await self._aensure_loaded()
        self._sid = None
        self._record = None
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
        old = self._start_over()
        if old is not None and self._store is not None:
            self._store.destroy(old)

    async def aflush(self) -> None:
        old = self._start_over()
        if old is not None and self._store is not None:
            await self._store.adestroy(old)

    def _start_over(self) -> str | None:
        old = self._sid
        self._loaded = True
        self._start(None, {}, None)
        self.original_id = None
        self.accessed = True
        self._forced = True
        return old

    @classmethod
    def clear_expired(cls) -> None:
        get_store().clear_expired()

    @classmethod
    async def aclear_expired(cls) -> None:
        await get_store().aclear_expired()
