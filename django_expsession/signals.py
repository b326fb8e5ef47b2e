"""Signals about sessions; none carries a session id or a cookie value.

Each is sent with ``request`` (the current request, or None outside one)
and ``id_hash``, a keyed hash of the id (:func:`signing.id_hash`): the same
for the whole life of one session id, and useless to anyone without the
``SECRET_KEY``. ``session_rejected`` also has ``reason``: one of
:data:`REJECTION_REASONS`.
"""

from __future__ import annotations

from django.dispatch import Signal

session_created = Signal()
session_destroyed = Signal()
session_renewed = Signal()  # also ``old_id_hash``
session_rejected = Signal()  # also ``reason``

REJECTION_REASONS = ("bad-signature", "unknown-id", "expired", "absolute-timeout", "invalid-document")
