"""The store contract and its sync <-> async adapters.

A backend implements ``get``/``set``/``destroy`` (and optionally ``touch``,
``all``, ``length``, ``clear``, ``clear_expired``) on either side, sync or
async; the base class derives the other side. ``merge`` and ``refresh``
(CONCURRENCY = "merge") have generic versions built on get/set that a
backend overrides to make them atomic. "Not found" is ``None``; a backend
failure is a :class:`StoreError` naming the store and its server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async

from ..document import Document
from ..document import user_id as document_user_id

# (sync name, async name) of every store operation.
_PAIRS = (
    ("get", "aget"),
    ("set", "aset"),
    ("destroy", "adestroy"),
    ("touch", "atouch"),
    ("merge", "amerge"),
    ("refresh", "arefresh"),
    ("all", "aall"),
    ("length", "alength"),
    ("clear", "aclear"),
    ("clear_expired", "aclear_expired"),
    ("count_expired", "acount_expired"),
)


def merged_document(
    stored: Document, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
) -> Document:
    """``stored`` with one request's own changes applied, under its cookie.

    Keys the request removed go, keys it set take its value (new keys come
    last), every other key stays as stored: another request's work.
    """
    gone = set(removed)
    data = {key: value for key, value in stored.items() if key != "cookie" and key not in gone}
    data.update(changes)
    return {"cookie": cookie, **data}


class StoreError(OSError):
    """A store's server failed or could not be reached.

    The message names the store and the server address; the backend's own
    exception is chained (``__cause__``).
    """


class Store:
    """Base class of session stores. Subclass and implement one side."""

    #: Default lifetime, in seconds, of a browser-session cookie's record.
    default_ttl: float = 86400

    def __init__(self, *, touch_after: float = 0, ttl: float | None = None) -> None:
        if isinstance(touch_after, bool) or not isinstance(touch_after, int | float) or touch_after < 0:
            raise ValueError("touch_after should be a number of seconds >= 0.")
        self.touch_after = float(touch_after)
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
            raise ValueError("ttl should be a number of seconds > 0.")
        self.ttl = float(ttl) if ttl is not None else self.default_ttl

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__}>"

    def close(self) -> None:
        """Release connections this store opened itself (when it is replaced)."""

    def address(self) -> str:
        """Where the records live, for error messages (no credentials)."""
        return "its backend"

    @contextmanager
    def _failures(self, operation: str, errors: tuple[type[BaseException], ...]) -> Iterator[None]:
        """Turn the backend's ``errors`` into a StoreError that says where."""
        try:
            yield
        except StoreError:
            raise
        except errors as exc:
            detail = " ".join(str(exc).split()).rstrip(".") or "no details"
            raise StoreError(
                f"{type(self).__name__} could not {operation}: {self.address()} failed "
                f"({type(exc).__name__}: {detail}). Check that the server is running "
                "and that the settings point at it."
            ) from exc

    def _touch_skipped(self, stored_ms: int, new_ms: int) -> bool:
        """TOUCH_AFTER: the stored expiry was refreshed less than that long ago.

        A touch that shortens the expiry (the cookie's max age went down) is
        never skipped.
        """
        return bool(self.touch_after) and 0 <= new_ms - stored_ms < self.touch_after * 1000

    # -- what a backend implements (either side) --------------------------

    def get(self, sid: str) -> Document | None:
        return self._to_sync("get", sid)  # type: ignore[no-any-return]

    async def aget(self, sid: str) -> Document | None:
        return await self._to_async("get", sid)  # type: ignore[no-any-return]

    def set(self, sid: str, data: Document) -> None:
        self._to_sync("set", sid, data)

    async def aset(self, sid: str, data: Document) -> None:
        await self._to_async("set", sid, data)

    def destroy(self, sid: str) -> None:
        self._to_sync("destroy", sid)

    async def adestroy(self, sid: str) -> None:
        await self._to_async("destroy", sid)

    def touch(self, sid: str, data: Document) -> None:
        """Refresh the record's expiry to ``data["cookie"]``; never create it."""
        self._to_sync("touch", sid, data)

    async def atouch(self, sid: str, data: Document) -> None:
        await self._to_async("touch", sid, data)

    # -- CONCURRENCY = "merge": generic, override to make them atomic ------

    def merge(
        self, sid: str, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
    ) -> Document | None:
        """Apply one request's changes to the stored document; return the result.

        ``changes`` are the top-level keys the request set, ``removed`` those
        it deleted, ``cookie`` its cookie, which replaces the stored one and
        sets the record's expiry. Returns None, writing nothing, when the
        record is gone (destroyed or expired): a merge never creates one.

        This generic version is a ``get`` then a ``set``: not atomic, so a
        write by another request between the two is lost. Backends that can
        lock or watch the record override it.
        """
        if self._native_side("merge") == "async":
            return async_to_sync(self.amerge)(sid, changes, removed, cookie)
        stored = self.get(sid)
        if stored is None:
            return None
        merged = merged_document(stored, changes, removed, cookie)
        self.set(sid, merged)
        return merged

    async def amerge(
        self, sid: str, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
    ) -> Document | None:
        if self._native_side("merge") == "sync":
            return await sync_to_async(self.merge, thread_sensitive=True)(sid, changes, removed, cookie)
        stored = await self.aget(sid)
        if stored is None:
            return None
        merged = merged_document(stored, changes, removed, cookie)
        await self.aset(sid, merged)
        return merged

    def refresh(self, sid: str, data: Document) -> bool:
        """Save a session whose data did not change: move the record's expiry.

        ``data`` is the session's document; only its cookie's expiry is new
        (a store that keeps the cookie apart from the data may write the
        whole cookie). Unlike ``touch`` it is never skipped by TOUCH_AFTER,
        and it says whether the record is there (False: gone, not revived).
        The generic version is a ``merge`` that changes nothing.
        """
        if self._native_side("refresh") == "async":
            return async_to_sync(self.arefresh)(sid, data)
        return self.merge(sid, {}, (), data["cookie"]) is not None

    async def arefresh(self, sid: str, data: Document) -> bool:
        if self._native_side("refresh") == "sync":
            return await sync_to_async(self.refresh, thread_sensitive=True)(sid, data)
        return await self.amerge(sid, {}, (), data["cookie"]) is not None

    def all(self) -> Iterator[tuple[str, Document]]:
        """Iterate ``(sid, document)`` over the live records."""
        if type(self).aall is Store.aall:
            raise NotImplementedError("subclasses of Store must provide all()")

        async def collect() -> list[tuple[str, Document]]:
            return [item async for item in self.aall()]

        return iter(async_to_sync(collect)())

    async def aall(self) -> AsyncIterator[tuple[str, Document]]:
        if type(self).all is Store.all:
            raise NotImplementedError("subclasses of Store must provide all()")
        items = await sync_to_async(lambda: list(self.all()), thread_sensitive=True)()
        for item in items:
            yield item

    def length(self) -> int:
        return self._to_sync("length")  # type: ignore[no-any-return]

    async def alength(self) -> int:
        return await self._to_async("length")  # type: ignore[no-any-return]

    def clear(self) -> None:
        self._to_sync("clear")

    async def aclear(self) -> None:
        await self._to_async("clear")

    def clear_expired(self) -> int:
        """Remove expired records; return how many went."""
        return self._to_sync("clear_expired")  # type: ignore[no-any-return]

    async def aclear_expired(self) -> int:
        return await self._to_async("clear_expired")  # type: ignore[no-any-return]

    # -- maintenance: commands and admin (optional) -------------------------

    def count_expired(self) -> int:
        """How many records ``clear_expired()`` would remove now."""
        return self._to_sync("count_expired")  # type: ignore[no-any-return]

    async def acount_expired(self) -> int:
        return await self._to_async("count_expired")  # type: ignore[no-any-return]

    def clear_expired_batches(self) -> Iterator[int]:
        """``clear_expired()`` one batch at a time, yielding each batch's count.

        Lets ``clearsessions`` report progress; the default is a single batch.
        """
        yield self.clear_expired()

    def expired_sessions(self) -> Iterator[tuple[str, Document]]:
        """Iterate ``(sid, document)`` over expired records not removed yet."""
        raise NotImplementedError("subclasses of Store must provide expired_sessions()")

    def user_sessions(self, user_id: object) -> Iterator[tuple[str, Document]]:
        """The live sessions of one user (``_auth_user_id``): "log out everywhere".

        The default scans ``all()``; a backend with an index overrides it.
        """
        wanted = str(user_id)
        return ((sid, data) for sid, data in self.all() if document_user_id(data) == wanted)

    async def auser_sessions(self, user_id: object) -> AsyncIterator[tuple[str, Document]]:
        wanted = str(user_id)
        async for sid, data in self.aall():
            if document_user_id(data) == wanted:
                yield sid, data

    # -- derived ----------------------------------------------------------

    @property
    def supports_touch(self) -> bool:
        return self._implements("touch")

    def supports(self, operation: str) -> bool:
        if operation == "user_sessions":  # the default scans all()
            return type(self).user_sessions is not Store.user_sessions or self._implements("all")
        if operation == "expired_sessions":  # sync only, no twin
            return type(self).expired_sessions is not Store.expired_sessions
        if operation in ("merge", "refresh"):  # the generic versions work everywhere
            return True
        return self._implements(operation)

    # -- adapters ---------------------------------------------------------

    def _implements(self, name: str) -> bool:
        sync_name, async_name = _pair(name)
        cls = type(self)
        return getattr(cls, sync_name) is not getattr(Store, sync_name) or getattr(
            cls, async_name
        ) is not getattr(Store, async_name)

    def _native_side(self, name: str) -> str | None:
        """The side of ``name`` the backend implements: "sync", "async" or None.

        The backend is the class nearest to Store that defines either side;
        subclasses above it (spies, instrumentation) only wrap, so wrapping
        both sides of an atomic sync ``merge`` keeps it atomic. None: both
        sides or neither (then each side has its own generic version).
        """
        for cls in reversed(type(self).__mro__):
            if cls is Store or not issubclass(cls, Store):
                continue
            sync, async_ = name in cls.__dict__, "a" + name in cls.__dict__
            if sync or async_:
                return None if sync and async_ else ("sync" if sync else "async")
        return None

    def _to_sync(self, name: str, *args: Any) -> Any:
        _, async_name = _pair(name)
        if getattr(type(self), async_name) is getattr(Store, async_name):
            raise NotImplementedError(f"subclasses of Store must provide {name}()")
        return async_to_sync(getattr(self, async_name))(*args)

    async def _to_async(self, name: str, *args: Any) -> Any:
        if getattr(type(self), name) is getattr(Store, name):
            raise NotImplementedError(f"subclasses of Store must provide {name}()")
        return await sync_to_async(getattr(self, name), thread_sensitive=True)(*args)


def _pair(name: str) -> tuple[str, str]:
    for pair in _PAIRS:
        if name in pair:
            return pair
    raise ValueError(name)
