from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SessionQuerySet(models.QuerySet["Session"]):
    def active(self, now: object) -> SessionQuerySet:
        return self.filter(expires__gt=now)

    def expired(self, now: object) -> SessionQuerySet:
        return self.filter(expires__lte=now)


class Session(models.Model):
    """One stored session: the express JSON document and its expiry."""

    sid = models.CharField(_("session id"), max_length=255, primary_key=True)
    # Kept as text so the document round-trips byte for byte (jsonb would
    # reorder keys, and key order is part of express's change detection).
    data = models.TextField(_("session data"))
    expires = models.DateTimeField(_("expires"), db_index=True)
    # Copied from the document's _auth_user_id so "all sessions of a user"
    # is an index lookup.
    user_id = models.CharField(_("user id"), max_length=255, null=True, blank=True, db_index=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    # Raised by every write of the data: a save compares and sets on it, so
    # concurrent requests of one session never overwrite each other's changes.
    # A database default too, so that rows written by other tools (and older
    # code) start at version 0.
    version = models.BigIntegerField(_("version"), default=0, db_default=0)

    objects = SessionQuerySet.as_manager()

    class Meta:
        db_table = "django_expsession"
        verbose_name = _("session")
        verbose_name_plural = _("sessions")

    def __str__(self) -> str:
        return self.sid
