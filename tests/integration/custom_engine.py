"""A project's own SESSION_ENGINE built on ours (the W006 check accepts it)."""

from django_expsession.engine import SessionStore as BaseSessionStore


class SessionStore(BaseSessionStore):
    pass
