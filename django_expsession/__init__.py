"""express-session's semantics for Django sessions."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# A user's sessions, from django_expsession.users; imported on first use,
# because importing it needs the apps (and settings) to be ready.
_USERS = ("user_sessions", "destroy_user_sessions", "auser_sessions", "adestroy_user_sessions", "UserSession")
__all__ = ["__version__", *_USERS]


def __getattr__(name: str) -> Any:
    if name in _USERS:
        from . import users

        return getattr(users, name)
    raise AttributeError(f"module 'django_expsession' has no attribute {name!r}")
