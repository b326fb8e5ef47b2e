"""``request.session`` as a managed attribute over the request's session state.

express distinguishes "the handler deleted req.session" (the UNSET option)
from "the session was destroyed". A plain attribute cannot report a delete,
and after one contrib.auth would fail on ``request.session[...]``. So the
middleware gives the request a per-class subclass whose ``session`` is a
property over a :class:`RequestSession`: deleting it or assigning None is
recorded, and reading it then returns an inert, empty session. The session
itself is made on first use (a stored one is read at the start of the
request; a new one costs nothing until something needs its id or cookie).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from .session import InertSession, Session

if TYPE_CHECKING:
    from .factory import SessionFactory
    from .stores.base import Record

_STATE = "_expsession_state"
_subclasses: dict[type, type] = {}


class RequestSession:
    """One request's session state: what the cookie said, what the store had, what the view did."""

    __slots__ = (
        "_inert",
        "_session",
        "cookie_id",
        "factory",
        "options",
        "owner",
        "record",
        "replacement",
        "request",
        "unset",
    )

    def __init__(
        self,
        owner: object,
        request: HttpRequest,
        factory: SessionFactory | None,
        options: Mapping[str, Any] | None,
        cookie_id: str | None,
        record: Record | None,
    ) -> None:
        self.owner = owner
        self.request = request
        self.factory = factory  # None: no session here (outside the cookie path, or the store failed)
        self.options = options
        self.cookie_id = cookie_id
        self.record = record
        self.unset = False
        self.replacement: Any = None
        self._session: Session | None = None
        self._inert: InertSession | None = None

    @property
    def session(self) -> Session | None:
        """The request's session, made now if it was not yet (None: there is none here)."""
        if self._session is None and self.factory is not None:
            factory = self.factory
            if self.record is not None and self.cookie_id is not None:
                self._session = factory.inflate(self.record, self.cookie_id, self.request, self.options)
            if self._session is None:
                self._session = factory.new(self.request, self.options)
        return self._session

    @property
    def made(self) -> Session | None:
        """The session if it was made (without making it)."""
        return self._session

    @made.setter
    def made(self, session: Session | None) -> None:
        self._session = session

    @property
    def inert(self) -> InertSession:
        if self._inert is None:
            self._inert = InertSession()
        return self._inert

    @property
    def live(self) -> Session | None:
        """The session the end-of-request step works on, if any."""
        if self.unset or self.replacement is not None:
            return None
        session = self.session
        return None if session is None or session.destroyed else session

    @property
    def accessed(self) -> bool:
        """Whether the view read or wrote the session (then responses vary on Cookie)."""
        session, inert = self._session, self._inert
        return (session is not None and session.accessed) or (inert is not None and inert.accessed)

    def current(self) -> Any:
        if self.replacement is not None:
            return self.replacement
        live = self.live  # presence, not truthiness: an empty session is falsy
        return live if live is not None else self.inert


class _SessionAttribute:
    def __get__(self, request: HttpRequest | None, owner: type) -> Any:
        if request is None:
            return self
        return state(request).current()

    def __set__(self, request: HttpRequest, value: Any) -> None:
        found = state(request)
        if value is None:
            found.unset, found.replacement = True, None
        elif value is found.made:
            found.unset, found.replacement = False, None
        else:
            found.replacement = value

    def __delete__(self, request: HttpRequest) -> None:
        found = state(request)
        found.unset, found.replacement = True, None


def state(request: HttpRequest) -> RequestSession:
    return request.__dict__[_STATE]  # type: ignore[no-any-return]


def bind(request: HttpRequest, found: RequestSession) -> None:
    cls = type(request)
    if not isinstance(cls.__dict__.get("session"), _SessionAttribute):
        sub = _subclasses.get(cls)
        if sub is None:
            sub = type(cls.__name__, (cls,), {"session": _SessionAttribute(), "__module__": cls.__module__})
            _subclasses[cls] = sub
        request.__class__ = sub
    request.__dict__.pop("session", None)
    request.__dict__[_STATE] = found


def bound(request: HttpRequest) -> RequestSession | None:
    return request.__dict__.get(_STATE)
