"""Real stores that also count the operations the middleware asks of them.

Nothing is faked: each spy subclasses a shipped backend and calls it.

A load counts under ``"get"`` whether it is the request path's ``read``
or ``get``. A save counts under ``"set"`` however the store writes it: a
whole document (``set``), or, with CONCURRENCY "merge", a compare-and-set
(``replace``, counted as ``"merge"`` too). So the express suite's counts
hold under either setting; ``calls["merge"]`` says which it was. Operations a
store op makes on the store itself (the base class's generic ``merge`` is
a ``read`` and a ``replace``) are not counted again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async

from django_expsession.stores.base import Store
from django_expsession.stores.cache import CacheStore
from django_expsession.stores.db import DatabaseStore
from django_expsession.stores.memory import MemoryStore
from django_expsession.stores.redis import RedisStore

calls: Counter[str] = Counter()
_OPS = ("get", "set", "destroy", "touch")
# The base class provides these on every store.
_ALWAYS = ("read", "replace", "merge", "refresh")
# What each operation counts as.
_COUNTS = {
    "read": ("get",),
    "replace": ("set", "merge"),
    "merge": ("set", "merge"),
    "refresh": ("set", "refresh"),
}

_inside: ContextVar[bool] = ContextVar("_inside", default=False)


@contextmanager
def _counting(op: str) -> Iterator[None]:
    if _inside.get():
        yield
        return
    for name in _COUNTS.get(op, (op,)):
        calls[name] += 1
    token = _inside.set(True)
    try:
        yield
    finally:
        _inside.reset(token)


def _own(backend: type[Store], name: str) -> bool:
    return getattr(backend, name) is not getattr(Store, name)


def _spy(backend: type[Store]) -> type[Store]:
    namespace: dict[str, Any] = {}
    for op in _OPS + _ALWAYS:
        if op not in _ALWAYS and not (_own(backend, op) or _own(backend, "a" + op)):
            continue  # the backend lacks it: so does its spy

        # Count once, then call the backend's own side directly, so the
        # base class's adapters cannot route back through the spy.
        def sync(self: Store, *args: Any, _op: str = op) -> Any:
            with _counting(_op):
                if _own(backend, _op) or not _own(backend, "a" + _op):
                    return getattr(backend, _op)(self, *args)
                return async_to_sync(getattr(backend, "a" + _op))(self, *args)

        async def async_(self: Store, *args: Any, _op: str = op) -> Any:
            with _counting(_op):
                if _own(backend, "a" + _op) or not _own(backend, _op):
                    return await getattr(backend, "a" + _op)(self, *args)
                return await sync_to_async(getattr(backend, _op))(self, *args)

        namespace[op] = sync
        namespace["a" + op] = async_
    return type(f"Spy{backend.__name__}", (backend,), namespace)


SpyMemoryStore = _spy(MemoryStore)
SpyDatabaseStore = _spy(DatabaseStore)
SpyCacheStore = _spy(CacheStore)

SPIES = {MemoryStore: SpyMemoryStore, DatabaseStore: SpyDatabaseStore, CacheStore: SpyCacheStore}


def register(backend: type[Store]) -> type[Store]:
    """Make a spy for another backend (the cache and Redis stores)."""
    spy = _spy(backend)
    globals()[spy.__name__] = spy
    SPIES[backend] = spy
    return spy


SpyRedisStore = register(RedisStore)
