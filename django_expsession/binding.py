"""``request.session`` as a managed attribute.

express distinguishes "the handler deleted req.session" (the UNSET option)
from "the session was destroyed". A plain attribute cannot report a delete,
and after one contrib.auth would fail on ``request.session[...]``. So the
middleware gives the request a per-class subclass whose ``session`` is a
property: deleting it or assigning None is recorded, and reading it then
returns an inert, empty session.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .session import InertSession, Session

_STATE = "_expsession_binding"
_subclasses: dict[type, type] = {}


class Binding:
    """Per-request record of what happened to ``request.session``."""

    __slots__ = ("_inert", "cookie_id", "replacement", "session", "unset")

    def __init__(self, session: Session | None, cookie_id: str | None) -> None:
        self.session = session
        self.cookie_id = cookie_id
        self.unset = False
        self.replacement: Any = None
        self._inert: InertSession | None = None

    @property
    def inert(self) -> InertSession:
        if self._inert is None:
            self._inert = InertSession()
        return self._inert

    @property
    def live(self) -> Session | None:
        """The session the end-of-request step works on, if any."""
        session = self.session
        if self.unset or self.replacement is not None or session is None or session.destroyed:
            return None
        return session

    @property
    def accessed(self) -> bool:
        """Whether the view read or wrote the session (then responses vary on Cookie)."""
        return any(s is not None and s.accessed for s in (self.session, self._inert))

    def current(self) -> Any:
        if self.replacement is not None:
            return self.replacement
        return self.live or self.inert


class _SessionAttribute:
    def __get__(self, request: HttpRequest | None, owner: type) -> Any:
        if request is None:
            return self
        return binding(request).current()

    def __set__(self, request: HttpRequest, value: Any) -> None:
        state = binding(request)
        if value is None:
            state.unset, state.replacement = True, None
        elif value is state.session:
            state.unset, state.replacement = False, None
        else:
            state.replacement = value

    def __delete__(self, request: HttpRequest) -> None:
        state = binding(request)
        state.unset, state.replacement = True, None


def binding(request: HttpRequest) -> Binding:
    return request.__dict__[_STATE]  # type: ignore[no-any-return]


def bind(request: HttpRequest, state: Binding) -> None:
    cls = type(request)
    if not isinstance(cls.__dict__.get("session"), _SessionAttribute):
        sub = _subclasses.get(cls)
        if sub is None:
            sub = type(cls.__name__, (cls,), {"session": _SessionAttribute(), "__module__": cls.__module__})
            _subclasses[cls] = sub
        request.__class__ = sub
    request.__dict__.pop("session", None)
    request.__dict__[_STATE] = state


def bound(request: HttpRequest) -> Binding | None:
    return request.__dict__.get(_STATE)
