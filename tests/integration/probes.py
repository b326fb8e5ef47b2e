"""What the ASGI server test observes from inside the server process.

The stores record every operation the middleware asks of them with the
thread it ran on; the views report their own thread. Nothing is faked:
the stores are the shipped ones, with async twins that do their work in
the calling thread (the memory store has no I/O to wait for).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, JsonResponse

from django_expsession.document import Document
from django_expsession.stores.base import Record, Replaced
from django_expsession.stores.db import DatabaseStore
from django_expsession.stores.memory import MemoryStore

log: list[dict[str, Any]] = []


def _where() -> dict[str, Any]:
    return {"thread": threading.get_ident(), "main": threading.current_thread() is threading.main_thread()}


def _record(op: str) -> None:
    log.append({"op": op, **_where()})


class AsyncMemoryStore(MemoryStore):
    """A MemoryStore that is async-capable: its twins run inline, no thread hop."""

    def read(self, sid: str) -> Record | None:
        _record("read")
        return super().read(sid)

    def set(self, sid: str, data: Document) -> None:
        _record("set")
        super().set(sid, data)

    def touch(self, sid: str, data: Document) -> None:
        _record("touch")
        super().touch(sid, data)

    def destroy(self, sid: str) -> None:
        _record("destroy")
        super().destroy(sid)

    async def aread(self, sid: str) -> Record | None:
        _record("aread")
        return MemoryStore.read(self, sid)

    async def aset(self, sid: str, data: Document) -> None:
        _record("aset")
        MemoryStore.set(self, sid, data)

    async def atouch(self, sid: str, data: Document) -> None:
        _record("atouch")
        MemoryStore.touch(self, sid, data)

    async def adestroy(self, sid: str) -> None:
        _record("adestroy")
        MemoryStore.destroy(self, sid)

    # CONCURRENCY = "merge" (the default) saves a loaded session with these.
    def replace(self, sid: str, *args: Any) -> Replaced:
        _record("replace")
        return super().replace(sid, *args)

    async def areplace(self, sid: str, *args: Any) -> Replaced:
        _record("areplace")
        return MemoryStore.replace(self, sid, *args)


def _recorded(op: str, method: Callable[..., Any]) -> Callable[..., Any]:
    if op.startswith("a"):

        async def async_(self: Any, *args: Any) -> Any:
            _record(op)
            return await method(self, *args)

        return async_

    def sync(self: Any, *args: Any) -> Any:
        _record(op)
        return method(self, *args)

    return sync


# The database store as shipped (its sync statements in a worker thread
# under the base class's async twins), recording where the middleware calls it from.
RecordingDatabaseStore = type(
    "RecordingDatabaseStore",
    (DatabaseStore,),
    {
        op: _recorded(op, getattr(DatabaseStore, op))
        # (Only the async twins: each runs the sync statement in a worker thread.)
        for op in ("aread", "aset", "atouch", "adestroy", "areplace")
    },
)


def sync_view(request: HttpRequest) -> JsonResponse:
    session: Any = request.session
    session["sync"] = session.get("sync", 0) + 1
    return JsonResponse({"view": _where(), "sync": session["sync"], "async": session.get("async", 0)})


async def async_view(request: HttpRequest) -> JsonResponse:
    session: Any = request.session
    await session.aset("async", await session.aget("async", 0) + 1)
    return JsonResponse({"view": _where(), "sync": await session.aget("sync", 0), "async": session["async"]})


async def log_view(request: HttpRequest) -> JsonResponse:
    """Hand over and forget the log (this request itself does no store work: no cookie)."""
    records = list(log)
    log.clear()
    return JsonResponse({"log": records, "view": _where()})
