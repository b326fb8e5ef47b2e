"""Fault injection: real store subclasses with one behaviour changed.

express's tests swap a store method for one that calls back with an error
or returns odd data; here a subclass of the store under test (its counting
spy, so calls are still counted) does the same from its sync and async side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

from django_expsession.stores.base import Record, Store

from .. import spy


class BoomError(RuntimeError):
    """The error a failing store raises."""


def _raising(op: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def sync(self: Store, *args: Any) -> Any:
        spy.calls[op] += 1
        raise BoomError("boom!")

    async def async_(self: Store, *args: Any) -> Any:
        spy.calls[op] += 1
        raise BoomError("boom!")

    return sync, async_


# The request path loads with ``read`` and saves with ``set`` or ``replace``
# (compare-and-set): a fault in "get" or "set" is a fault in all of them.
_ALSO = {"get": ("read",), "set": ("replace", "merge")}


def _without_cookie(base: type[Store]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``read`` as another program might have written the record: no ``cookie``."""

    def strip(record: Record | None) -> Record | None:
        if record is None:
            return None
        document = {k: v for k, v in record.parsed().items() if k != "cookie"}
        return Record(document=document, version=record.version)

    def sync(self: Store, sid: str) -> Any:
        return strip(base.read(self, sid))

    async def async_(self: Store, sid: str) -> Any:
        return strip(await base.aread(self, sid))

    return sync, async_


def _subclass(backend: str, label: str, build: Callable[[type[Store]], dict[str, Any]]) -> str:
    base = spy.SPIES[import_string(backend)]
    name = f"{label}{base.__name__}"
    if name not in globals():
        globals()[name] = type(name, (base,), build(base))
    return f"{__name__}.{name}"


def failing(backend: str, *ops: str) -> str:
    """The dotted path of a subclass of ``backend``'s spy whose ``ops`` raise :class:`BoomError`."""

    def build(base: type[Store]) -> dict[str, Any]:
        namespace: dict[str, Any] = {}
        for op in ops:
            for name in (op, *_ALSO.get(op, ())):
                namespace[name], namespace["a" + name] = _raising(op)
        return namespace

    return _subclass(backend, "Failing" + "".join(op.title() for op in ops), build)


def cookieless(backend: str) -> str:
    """The dotted path of a subclass whose ``get`` drops the document's ``cookie``."""

    def build(base: type[Store]) -> dict[str, Any]:
        sync, async_ = _without_cookie(base)
        return {"read": sync, "aread": async_}

    return _subclass(backend, "Cookieless", build)
