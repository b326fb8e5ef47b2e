"""Django's session API on top of express's Session (see ``session.py``).

What ``django.contrib.auth``, messages, ``CSRF_USE_SESSIONS``, the admin
and the test client call: ``cycle_key``, ``flush``, ``set_expiry``, the
expiry getters, the storage hooks, and the async twins. Django's own async
twins set ``modified = True``, which here would force a save; these go
through the mapping methods instead, so that express's change detection
decides.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils import timezone

from . import document as doc

if TYPE_CHECKING:
    from .cookie import Cookie
    from .factory import SessionFactory
    from .stores.base import Store

_MISSING: Any = object()


class DjangoSessionAPI(SessionBase):
    """The Django half of ``Session``, which provides what is declared here."""

    _factory: SessionFactory | None
    _store: Store | None
    _request: HttpRequest | None
    _options: Any
    _sid: str | None
    _forced: bool
    accessed: bool
    cookie_forced: bool

    @property
    def cookie(self) -> Cookie:
        raise NotImplementedError

    @cookie.setter
    def cookie(self, value: Cookie) -> None:
        raise NotImplementedError

    def _new_identity(self, *, keep_data: bool) -> str | None:
        raise NotImplementedError

    def regenerate(self) -> None:
        raise NotImplementedError

    async def aregenerate(self) -> None:
        raise NotImplementedError

    # -- contrib.auth's login/logout ------------------------------------------------

    def cycle_key(self) -> None:
        """New id, same data (contrib.auth's login); the old id is destroyed."""
        old = self._new_identity(keep_data=True)
        if old is not None and self._store is not None:
            self._store.destroy(old)

    async def acycle_key(self) -> None:
        old = self._new_identity(keep_data=True)
        if old is not None and self._store is not None:
            await self._store.adestroy(old)

    def flush(self) -> None:
        """contrib.auth's logout: like ``regenerate()``."""
        self.regenerate()

    async def aflush(self) -> None:
        await self.aregenerate()

    # -- expiry ------------------------------------------------------------------

    def set_expiry(self, value: int | float | datetime | timedelta | None) -> None:
        """Django's set_expiry on the cookie; it forces a save and a Set-Cookie.

        Seconds or a timedelta: sliding lifetime; a datetime: absolute
        expiry; 0: a browser-session cookie; None: the configured MAX_AGE.
        A lifetime no cookie can have is a ValueError here, not later.
        """
        if value is None:
            default = (
                None if self._factory is None else self._factory.new_cookie(self._request, self._options)
            )
            self.cookie.max_age = None if default is None else default.original_max_age
        elif isinstance(value, datetime):
            self.cookie.expires = value
        elif value == 0 and not isinstance(value, timedelta):
            self.cookie.max_age = None
        else:
            self.cookie.max_age = value
        self.accessed = True
        self._forced = True
        self.cookie_forced = True

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

    # -- async twins of the mapping -------------------------------------------------

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self[key] = value

    async def asetdefault(self, key: str, value: Any) -> Any:
        return self.setdefault(key, value)

    async def apop(self, key: str, default: Any = _MISSING) -> Any:
        return self.pop(key) if default is _MISSING else self.pop(key, default)

    async def aupdate(self, dict_: Any) -> None:
        self.update(dict_)

    def has_key(self, key: str) -> bool:
        return key in self

    async def ahas_key(self, key: str) -> bool:
        return key in self

    # -- SessionBase's storage hooks: the store does this work here ------------------

    def exists(self, session_key: str) -> bool:
        return self._store is not None and self._store.get(session_key) is not None

    def create(self) -> None:
        self._new_identity(keep_data=True)

    def delete(self, session_key: str | None = None) -> None:
        sid = self._sid if session_key is None else session_key
        if sid is not None and self._store is not None:
            self._store.destroy(sid)

    def encode(self, session_dict: dict[str, Any]) -> str:
        return doc.dumps(session_dict)

    def decode(self, session_data: str | bytes) -> dict[str, Any]:
        try:
            value = json.loads(session_data)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
