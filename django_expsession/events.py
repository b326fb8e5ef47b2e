"""Security events: the ``django.security.expsession`` log and the signals.

Every rejection is logged: a forged cookie or a malformed record at
WARNING, an id the store does not have (or no longer: expired, past
ABSOLUTE_TIMEOUT) at INFO, since every browser returning after its
session ended sends one. At most :data:`LOG_BURST` lines per
:data:`LOG_WINDOW` seconds get through, so that a flood of bad cookies
cannot fill a disk; what was left out is counted in the next line that
gets through.
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


#: Rejections that point at tampering or a damaged store; the others are routine.
SUSPICIOUS = frozenset({"bad-signature", "invalid-document"})


def log_security(message: str, *args: Any, level: int = logging.WARNING) -> None:
    if not logger.isEnabledFor(level):
        return
    dropped = _admit()
    if dropped is None:
        return
    if dropped:
        message += " (%d similar messages were left out before this one.)"
        args = (*args, dropped)
    logger.log(level, message, *args)


def rejected(reason: str, sid: str | None, request: HttpRequest | None, detail: str = "") -> None:
    """A cookie or stored session that was not accepted, and why."""
    hashed = log_rejection(reason, sid, detail)
    if signals.session_rejected.receivers:
        if hashed is None and sid:
            hashed = id_hash(sid)
        signals.session_rejected.send(sender=None, request=request, id_hash=hashed, reason=reason)


def log_rejection(reason: str, sid: str | None, detail: str = "") -> str | None:
    """Log a refused cookie or record (no signal: also for listings); the id hash, if computed."""
    level = logging.WARNING if reason in SUSPICIOUS else logging.INFO
    if not logger.isEnabledFor(level):
        return None
    hashed = id_hash(sid) if sid else None
    log_security(
        "Session rejected (%s%s), id hash %s; treated as no session.",
        reason,
        f": {detail}" if detail else "",
        hashed or "-",
        level=level,
    )
    return hashed


def send(signal: Any, sid: str, request: HttpRequest | None, **extra: Any) -> None:
    if signal.receivers:
        signal.send(sender=None, request=request, id_hash=id_hash(sid), **extra)
