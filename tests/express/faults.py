"""Fault injection: real store subclasses with one behaviour changed.

express's tests swap a store method for one that calls back with an error
or returns odd data; here a subclass of the store under test (its counting
spy, so calls are still counted) does the same from its sync and async side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

from django_expsession.stores.base import Store

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


def _without_cookie(base: type[Store]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``get`` as another program might have written the record: no ``cookie``."""

    def strip(document: Any) -> Any:
        return None if document is None else {k: v for k, v in document.items() if k != "cookie"}

    def sync(self: Store, sid: str) -> Any:
        return strip(base.get(self, sid))

    async def async_(self: Store, sid: str) -> Any:
        return strip(await base.aget(self, sid))

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
            namespace[op], namespace["a" + op] = _raising(op)
        return namespace

    return _subclass(backend, "Failing" + "".join(op.title() for op in ops), build)


def cookieless(backend: str) -> str:
    """The dotted path of a subclass whose ``get`` drops the document's ``cookie``."""

    def build(base: type[Store]) -> dict[str, Any]:
        sync, async_ = _without_cookie(base)
        return {"get": sync, "aget": async_}

    return _subclass(backend, "Cookieless", build)
