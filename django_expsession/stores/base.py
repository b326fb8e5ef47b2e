"""The store contract, its capabilities, and its sync <-> async adapters.

A backend implements ``get``/``set``/``destroy`` on either side, sync or
async, and the base class derives the other side. The request path uses a
richer, optional contract that the shipped stores implement natively:

``read(sid) -> Record | None``
    the stored document (or its JSON text), a *version* that identifies
    what was read, and the store's own expiry for it when the store keeps
    one apart from the document;
``replace(sid, data, version) -> Replaced``
    compare-and-set: write only when the stored version is still
    ``version``; otherwise report what is stored now (or that it is gone);
``touch(sid, data)``
    express's store touch (TOUCH_AFTER is applied by the caller).

The generic versions here are built on get/set and are not atomic: a
backend that can compare and set in one operation overrides them. Optional
operations are declared in :attr:`Store.capabilities`. "Not found" is
``None``; a backend failure is a :class:`StoreError` naming the store and
its server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from asgiref.sync import async_to_sync, sync_to_async

from .. import document as doc
from ..clock import format_iso
from ..drive import run
from ..events import log_rejection

#: Operations every store has (derived by this class where not native).
BASIC = frozenset({"get", "set", "destroy", "read", "replace", "merge"})
#: Operations a store may declare in ``capabilities``.
OPTIONAL = frozenset(
    {
        "touch",  # express's store.touch
        "all",  # iterate (sid, document) over live sessions
        "length",  # count live sessions
        "clear",  # remove every session
        "clear_expired",  # remove expired records (or nothing: the backend expires them itself)
        "count_expired",
        "expired_sessions",  # iterate expired records not removed yet
        "user_sessions",  # a user's sessions without a scan of every session
        "atomic",  # replace() compares and sets atomically
        "shared",  # other processes see the same sessions
    }
)

# A save that keeps losing the race this often gives up (a StoreError).
MERGE_ATTEMPTS = 100


class StoreError(OSError):
    """A store's server failed or could not be reached.

    The message names the store and the server address; the backend's own
    exception is chained (``__cause__``).
    """


@dataclass(slots=True)
class Record:
    """What ``read`` found: a document (or its JSON text) and how to recognise it.

    ``version`` is the store's token for compare-and-set (None: the store
    cannot compare). ``expires_ms`` is the record's expiry as the store
    keeps it apart from the document (a database column, a Redis TTL); it
    wins over the document's ``cookie.expires``, which a touch leaves as it was.
    """

    text: str | bytes | None = None
    document: doc.Document | None = None
    version: Any = None
    expires_ms: int | None = None

    def parsed(self) -> doc.Document:
        """The document; :class:`~django_expsession.document.InvalidDocumentError` if malformed."""
        if self.document is None:
            if self.text is None:
                raise doc.InvalidDocumentError("the store returned neither text nor a document")
            self.document = doc.parse(self.text)
        return self.document

    def current_document(self, sid: str | None = None) -> doc.Document | None:
        """The document with the store's expiry in its cookie; None (logged) when malformed."""
        try:
            document = self.parsed()
            if self.text is None:
                doc.check_tree(document)
            expires = doc.check(document)
        except doc.InvalidDocumentError as exc:
            log_rejection("invalid-document", sid, exc.reason)
            return None
        if self.expires_ms is not None and expires is not None and expires != self.expires_ms:
            document["cookie"]["expires"] = format_iso(self.expires_ms)
        return document


@dataclass(slots=True, frozen=True)
class Replaced:
    """What ``replace`` did: written (with the new version), or not and why."""

    written: bool
    version: Any = None
    current: Record | None = None  # when not written: what is stored now; None: gone


def merged_document(
    stored: doc.Document, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
) -> doc.Document:
    """``stored`` with one request's own changes applied, under its cookie.

    Keys the request removed go, keys it set take its value (new keys come
    last), every other key stays as stored: another request's work.
    """
    gone = set(removed)
    data = {key: value for key, value in stored.items() if key != "cookie" and key not in gone}
    data.update(changes)
    return {"cookie": cookie, **data}


def _digest(document: doc.Document) -> str | None:
    """A generic version: the data's JSON (the cookie moves with every touch)."""
    try:
        return doc.dumps({key: value for key, value in document.items() if key != "cookie"})
    except (TypeError, ValueError, RecursionError):
        return None


_SIDES: dict[tuple[type, str], str | None] = {}


class Store:
    """Base class of session stores. Subclass and implement one side."""

    #: Default lifetime, in seconds, of a browser-session cookie's record.
    default_ttl: float = 86400
    #: Optional operations this store has (see ``OPTIONAL``).
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: False for stores whose sync methods never wait on I/O: their async
    #: twins then call them directly instead of in a thread.
    blocking: ClassVar[bool] = True
    #: The Node store whose layout this store's records follow when it has
    #: one (an Express app can then share the sessions), else None.
    shared_layout: str | None = None

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

    def supports(self, operation: str) -> bool:
        return operation in BASIC or operation in self.capabilities

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

    def touch_skipped(self, stored_ms: int, new_ms: int) -> bool:
        """TOUCH_AFTER: the stored expiry was refreshed less than that long ago.

        A touch that shortens the expiry (the cookie's max age went down) is
        never skipped.
        """
        return bool(self.touch_after) and 0 <= new_ms - stored_ms < self.touch_after * 1000

    # -- the basic contract (either side) ----------------------------------------

    def get(self, sid: str) -> doc.Document | None:
        if self._side("get") == "async":
            return async_to_sync(self.aget)(sid)
        if self._side("read") is None:
            raise NotImplementedError("subclasses of Store must provide get()")
        record = self.read(sid)
        return None if record is None else record.current_document(sid)

    async def aget(self, sid: str) -> doc.Document | None:
        if self._side("get") == "sync":
            return await self._in_thread(self.get, sid)  # type: ignore[no-any-return]
        if self._side("read") is None:
            raise NotImplementedError("subclasses of Store must provide get()")
        record = await self.aread(sid)
        return None if record is None else record.current_document(sid)

    def set(self, sid: str, data: doc.Document) -> None:
        self._to_sync("set", sid, data)

    async def aset(self, sid: str, data: doc.Document) -> None:
        await self._to_async("set", sid, data)

    def destroy(self, sid: str) -> None:
        self._to_sync("destroy", sid)

    async def adestroy(self, sid: str) -> None:
        await self._to_async("destroy", sid)

    def touch(self, sid: str, data: doc.Document) -> None:
        """Move the record's expiry to ``data["cookie"]``'s; never create it."""
        self._to_sync("touch", sid, data)

    async def atouch(self, sid: str, data: doc.Document) -> None:
        await self._to_async("touch", sid, data)

    # -- the request path's contract: generic versions ----------------------------

    def read(self, sid: str) -> Record | None:
        if self._side("read") == "async":
            return async_to_sync(self.aread)(sid)
        if self._side("get") is None:
            raise NotImplementedError("subclasses of Store must provide get()")
        document = self.get(sid)
        return None if document is None else Record(document=document, version=_digest(document))

    async def aread(self, sid: str) -> Record | None:
        if self._side("read") == "sync":
            return await self._in_thread(self.read, sid)  # type: ignore[no-any-return]
        if self._side("get") is None:
            raise NotImplementedError("subclasses of Store must provide get()")
        document = await self.aget(sid)
        return None if document is None else Record(document=document, version=_digest(document))

    def replace(self, sid: str, data: doc.Document, version: Any) -> Replaced:
        """Write ``data`` if the stored record is still the one ``version`` names.

        The generic version reads, compares and writes: not atomic (a write
        by another request between the two is lost).
        """
        if self._side("replace") == "async":
            return async_to_sync(self.areplace)(sid, data, version)
        return run(self._replace(SyncCalls(self), sid, data, version))

    async def areplace(self, sid: str, data: doc.Document, version: Any) -> Replaced:
        if self._side("replace") == "sync":
            return await self._in_thread(self.replace, sid, data, version)  # type: ignore[no-any-return]
        return await self._replace(AsyncCalls(self), sid, data, version)

    @staticmethod
    async def _replace(calls: Calls, sid: str, data: doc.Document, version: Any) -> Replaced:
        current = await calls.read(sid)
        if current is None:
            return Replaced(False)
        if version is not None and current.version != version:
            return Replaced(False, current=current)
        await calls.set(sid, data)
        return Replaced(True, _digest(data))

    def merge(
        self, sid: str, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
    ) -> doc.Document | None:
        """Apply one request's changes to the stored document; return the result.

        ``changes`` are the top-level keys the request set, ``removed`` those
        it deleted, ``cookie`` its cookie. Returns None, writing nothing, when
        the record is gone (destroyed or expired): a merge never creates one.
        """
        return run(merge_flow(SyncCalls(self), sid, changes, removed, cookie))

    async def amerge(
        self, sid: str, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
    ) -> doc.Document | None:
        return await merge_flow(AsyncCalls(self), sid, changes, removed, cookie)

    # -- optional: listing, counting, clearing -------------------------------------

    def all(self) -> Iterator[tuple[str, doc.Document]]:
        """Iterate ``(sid, document)`` over the live records."""
        if self._side("all") != "async":
            raise NotImplementedError("subclasses of Store must provide all()")

        async def collect() -> list[tuple[str, doc.Document]]:
            return [item async for item in self.aall()]

        return iter(async_to_sync(collect)())

    async def aall(self) -> AsyncIterator[tuple[str, doc.Document]]:
        if self._side("all") != "sync":
            raise NotImplementedError("subclasses of Store must provide all()")
        items = await self._in_thread(lambda: list(self.all()))
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

    def expired_sessions(self) -> Iterator[tuple[str, doc.Document]]:
        """Iterate ``(sid, document)`` over expired records not removed yet."""
        raise NotImplementedError("subclasses of Store must provide expired_sessions()")

    def user_sessions(self, user_id: object) -> Iterator[tuple[str, doc.Document]]:
        """The live sessions of one user (``_auth_user_id``): "log out everywhere".

        The default scans ``all()``; a backend with an index overrides it.
        """
        wanted = str(user_id)
        return ((sid, data) for sid, data in self.all() if doc.user_id(data) == wanted)

    async def auser_sessions(self, user_id: object) -> AsyncIterator[tuple[str, doc.Document]]:
        if self._side("user_sessions") in ("sync", "both"):
            # The backend's own index, in a thread.
            for item in await self._in_thread(lambda: list(self.user_sessions(user_id))):
                yield item
            return
        wanted = str(user_id)
        async for sid, data in self.aall():
            if doc.user_id(data) == wanted:
                yield sid, data

    # -- adapters ---------------------------------------------------------------

    def _side(self, name: str) -> str | None:
        """The side of ``name`` the backend implements: "sync", "async", "both" or None.

        The backend is the class nearest to Store that defines either side;
        subclasses above it (spies, instrumentation) only wrap.
        """
        key = (type(self), name)
        try:
            return _SIDES[key]
        except KeyError:
            pass
        side = None
        for cls in reversed(type(self).__mro__):
            if cls is Store or not issubclass(cls, Store):
                continue
            sync, async_ = name in cls.__dict__, "a" + name in cls.__dict__
            if sync or async_:
                side = "both" if sync and async_ else ("sync" if sync else "async")
                break
        _SIDES[key] = side
        return side

    async def _in_thread(self, function: Any, *args: Any) -> Any:
        if not self.blocking:
            return function(*args)
        return await sync_to_async(function, thread_sensitive=True)(*args)

    def _to_sync(self, name: str, *args: Any) -> Any:
        if self._side(name) not in ("async", "both"):
            raise NotImplementedError(f"subclasses of Store must provide {name}()")
        return async_to_sync(getattr(self, "a" + name))(*args)

    async def _to_async(self, name: str, *args: Any) -> Any:
        if self._side(name) not in ("sync", "both"):
            raise NotImplementedError(f"subclasses of Store must provide {name}()")
        return await self._in_thread(getattr(self, name), *args)


class SyncCalls:
    """A store's sync operations as awaitables that never suspend (see ``drive.run``)."""

    __slots__ = ("store",)

    def __init__(self, store: Store) -> None:
        self.store = store

    async def read(self, sid: str) -> Record | None:
        return self.store.read(sid)

    async def replace(self, sid: str, data: doc.Document, version: Any) -> Replaced:
        return self.store.replace(sid, data, version)

    async def set(self, sid: str, data: doc.Document) -> None:
        self.store.set(sid, data)

    async def touch(self, sid: str, data: doc.Document) -> None:
        self.store.touch(sid, data)

    async def destroy(self, sid: str) -> None:
        self.store.destroy(sid)


class AsyncCalls(SyncCalls):
    """The same operations through the store's async twins."""

    __slots__ = ()

    async def read(self, sid: str) -> Record | None:
        return await self.store.aread(sid)

    async def replace(self, sid: str, data: doc.Document, version: Any) -> Replaced:
        return await self.store.areplace(sid, data, version)

    async def set(self, sid: str, data: doc.Document) -> None:
        await self.store.aset(sid, data)

    async def touch(self, sid: str, data: doc.Document) -> None:
        await self.store.atouch(sid, data)

    async def destroy(self, sid: str) -> None:
        await self.store.adestroy(sid)


Calls = SyncCalls


async def merge_flow(
    calls: Calls, sid: str, changes: dict[str, Any], removed: Iterable[str], cookie: dict[str, Any]
) -> doc.Document | None:
    """Read, apply ``changes``, compare-and-set; on a conflict start from what is stored now."""
    removed = list(removed)
    record = await calls.read(sid)
    for _ in range(MERGE_ATTEMPTS):
        if record is None:
            return None
        stored = record.current_document(sid)
        if stored is None:
            return None  # malformed: nothing to merge into, and never revived
        merged = merged_document(stored, changes, removed, cookie)
        outcome = await calls.replace(sid, doc.Encoded(merged, doc.dumps(merged)), record.version)
        if outcome.written:
            return merged
        record = outcome.current
    raise StoreError(
        f"{type(calls.store).__name__} could not save session changes: the session was changed by "
        f"other requests {MERGE_ATTEMPTS} times in a row. Try again."
    )
