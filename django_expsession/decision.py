"""express-session's end-of-request decision, as a pure function of a few facts.

Names follow express: N ("is new") means the cookie's sid is not the
session's id, which holds for a missing or invalid cookie, an id the store
did not know, and after regenerate().
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Action(enum.Enum):
    NOTHING = "nothing"
    SAVE = "save"  # store.set (or a compare-and-set)
    TOUCH = "touch"  # store.touch
    DESTROY = "destroy"  # UNSET "destroy"


class Options(NamedTuple):
    resave: bool
    save_uninitialized: bool
    rolling: bool


class Facts(NamedTuple):
    """What express's predicates look at, for one live session."""

    is_new: bool  # N: the cookie's sid is not the session's id
    modified: bool  # isModified, or ``modified = True``
    saved: bool  # isSaved
    never_saved: bool  # savedHash unset (no explicit save, not loaded with resave off)
    has_expires: bool  # cookie.expires != null
    secure_cookie: bool  # cookie.secure
    secure_request: bool  # issecure(req)
    cookie_forced: bool = False  # Django's set_expiry(), a renewed id: the browser must hear of it
    must_save: bool = False  # the stored record lacks what ABSOLUTE_TIMEOUT/RENEW_AFTER need


class Decision(NamedTuple):
    action: Action
    set_cookie: bool = False


SKIP = Decision(Action.NOTHING)
_DECISIONS = {(action, flag): Decision(action, flag) for action in Action for flag in (False, True)}


def should_save(facts: Facts, options: Options) -> bool:
    if facts.must_save:
        return True
    if not options.save_uninitialized and facts.never_saved and facts.is_new:
        return facts.modified
    return not facts.saved


def should_set_cookie(facts: Facts, options: Options) -> bool:
    if facts.cookie_forced:
        wanted = True
    elif facts.is_new:
        wanted = options.save_uninitialized or facts.modified
    else:
        wanted = options.rolling or (facts.has_expires and facts.modified)
    # The secure gate: a Secure cookie is not sent over plain HTTP (the
    # session is still saved).
    return wanted and (facts.secure_request or not facts.secure_cookie)


def decide(facts: Facts, options: Options) -> Decision:
    """What to do with a live session at the end of a request.

    A loaded session that needs no save gets a store touch (the caller
    drops it when the store has no touch or TOUCH_AFTER says it is recent).
    """
    if should_save(facts, options):
        action = Action.SAVE
    elif not facts.is_new:
        action = Action.TOUCH
    else:
        action = Action.NOTHING
    return _DECISIONS[action, should_set_cookie(facts, options)]
