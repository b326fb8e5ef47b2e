"""The store contract and its sync <-> async adapters.

A backend implements ``get``/``set``/``destroy`` (and optionally ``touch``,
``all``, ``length``, ``clear``, ``clear_expired``) on either side, sync or
async; the base class derives the other side. "Not found" is ``None``;
errors propagate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async

from ..document import Document

# (sync name, async name) of every store operation.
_PAIRS = (
    ("get", "aget"),
    ("set", "aset"),
    ("destroy", "adestroy"),
    ("touch", "atouch"),
    ("all", "aall"),
    ("length", "alength"),
    ("clear", "aclear"),
    ("clear_expired", "aclear_expired"),
)


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

    # -- derived ----------------------------------------------------------

    @property
    def supports_touch(self) -> bool:
        return self._implements("touch")

    def supports(self, operation: str) -> bool:
        return self._implements(operation)

    # -- adapters ---------------------------------------------------------

    def _implements(self, name: str) -> bool:
        sync_name, async_name = _pair(name)
        cls = type(self)
        return getattr(cls, sync_name) is not getattr(Store, sync_name) or getattr(
            cls, async_name
        ) is not getattr(Store, async_name)

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
