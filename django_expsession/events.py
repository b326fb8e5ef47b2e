"""Security events: the ``django.security.expsession`` log and the signals.

Rejections are logged at WARNING, at most :data:`LOG_BURST` lines per
:data:`LOG_WINDOW` seconds, so that a flood of bad cookies cannot fill a
disk; what was left out is counted in the next line that gets through.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.http import HttpRequest

from . import signals
from .signing import id_hash

logger = logging.getLogger("django.security.expsession")

LOG_BURST = 20
LOG_WINDOW = 10.0

_lock = threading.Lock()
_window_start = 0.0
_logged = 0
_suppressed = 0


def _admit() -> int | None:
    """None: drop this line; else how many lines were dropped before it."""
    global _window_start, _logged, _suppressed
    now = time.monotonic()
    with _lock:
        if now - _window_start >= LOG_WINDOW:
            _window_start, _logged = now, 0
        if _logged >= LOG_BURST:
            _suppressed += 1
            return None
        _logged += 1
        dropped, _suppressed = _suppressed, 0
        return dropped


def reset_rate_limit() -> None:
    """Start a new window (for tests)."""
    global _window_start, _logged, _suppressed
    with _lock:
        _window_start, _logged, _suppressed = 0.0, 0, 0


def log_security(message: str, *args: Any) -> None:
    dropped = _admit()
    if dropped is None:
        return
    if dropped:
        message += " (%d similar messages were left out before this one.)"
        args = (*args, dropped)
    logger.warning(message, *args)


def rejected(reason: str, sid: str | None, request: HttpRequest | None, detail: str = "") -> None:
    """A cookie or stored session that was not accepted, and why."""
    hashed = None
    if reason in ("bad-signature", "invalid-document"):
        hashed = log_rejection(reason, sid, detail)
    if signals.session_rejected.receivers:
        if hashed is None and sid:
            hashed = id_hash(sid)
        signals.session_rejected.send(sender=None, request=request, id_hash=hashed, reason=reason)


def log_rejection(reason: str, sid: str | None, detail: str = "") -> str | None:
    """Log a refused cookie or record (no signal: also for listings); return the id hash."""
    hashed = id_hash(sid) if sid else None
    log_security(
        "Session rejected (%s%s), id hash %s; treated as no session.",
        reason,
        f": {detail}" if detail else "",
        hashed or "-",
    )
    return hashed


def send(signal: Any, sid: str, request: HttpRequest | None, **extra: Any) -> None:
    if signal.receivers:
        signal.send(sender=None, request=request, id_hash=id_hash(sid), **extra)
