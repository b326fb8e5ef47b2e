"""SESSION_ENGINE adapter (placeholder until the engine lands)."""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase


class SessionStore(SessionBase):
    pass
