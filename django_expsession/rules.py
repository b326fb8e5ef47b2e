"""express-session's end-of-request decisions, as pure functions.

Names follow express: N ("is new") means the cookie's sid is not the
session's id, which holds for a missing or invalid cookie, an id the store
did not know, and after regenerate().
"""

from __future__ import annotations

from dataclasses import dataclass

from .session import Session


@dataclass(frozen=True)
class Options:
    resave: bool
    save_uninitialized: bool
    rolling: bool


@dataclass(frozen=True)
class Decision:
    save: bool
    touch: bool
    set_cookie: bool


def should_save(session: Session, is_new: bool, options: Options, modified: bool, saved: bool) -> bool:
    if not options.save_uninitialized and session.saved_hash is None and is_new:
        return modified
    return not saved


def should_set_cookie(session: Session, is_new: bool, options: Options, modified: bool) -> bool:
    if is_new:
        return options.save_uninitialized or modified
    return options.rolling or (session.cookie.expires_ms is not None and modified)


def decide(session: Session, cookie_id: str | None, options: Options, secure: bool) -> Decision:
    """What to do with a live session at the end of a request.

    ``secure`` is whether the request came over HTTPS (the secure gate):
    a Secure cookie is not sent over plain HTTP, though the session is saved.
    """
    is_new = cookie_id != session.id
    digest = session.digest()  # the data's hash, once for all the predicates
    modified = session.forced or session.is_modified(digest)
    save = should_save(session, is_new, options, modified, session.is_saved(digest))
    touch = not save and not is_new
    set_cookie = should_set_cookie(session, is_new, options, modified) and (
        secure or not session.cookie.secure
    )
    return Decision(save=save, touch=touch, set_cookie=set_cookie)
