"""``manage.py expsession``: list, show, destroy and count stored sessions.

stdout carries only data: ``list`` one session a line (``--format json``:
one JSON object a line), ``show`` the document as JSON, ``destroy`` the ids
it destroyed, ``count`` the number. Messages and counts go to stderr. A
session or user that has no session exits with code 3 (``NOT_FOUND``).
Django's global options (``--settings``, ``-v``, ...) work before or after
the action.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from ... import events, signals
from ...clock import iso_of
from ...listing import Entry, Query, source_for
from ...stores import as_redis_store
from ...stores.base import Store
from ...stores.cache import CacheStore
from ..support import (
    NOT_FOUND,
    OperatorCommand,
    global_options,
    positive_int,
    session_id,
    sessions,
    store_errors,
    unsupported,
)


class Command(OperatorCommand):
    help = "Inspect the sessions in the configured EXPSESSION store: list, show, destroy, count."

    def add_arguments(self, parser: ArgumentParser) -> None:
        common: dict[str, Any] = {
            "parents": [global_options()],
            # Usage errors after the action exit like those before it (code 2).
            "called_from_command_line": getattr(self, "_called_from_command_line", None),
        }
        actions = parser.add_subparsers(dest="action", required=True, metavar="{list,show,destroy,count}")

        listing = actions.add_parser(
            "list", help="List sessions, soonest to expire first: id, user id, expiry.", **common
        )
        listing.add_argument("--user", metavar="ID", help="Only the sessions of the user with this id.")
        state = listing.add_mutually_exclusive_group()
        state.add_argument(
            "--active",
            action="store_false",
            dest="expired",
            default=False,
            help="Only active sessions (the default).",
        )
        state.add_argument(
            "--expired",
            action="store_true",
            dest="expired",
            help="Only expired sessions the store still keeps (clearsessions removes them).",
        )
        listing.add_argument("--limit", type=positive_int, metavar="N", help="List at most N sessions.")
        _format(listing, "one JSON object a line: id, user, expires, browser_session, last_seen, active")

        show = actions.add_parser(
            "show", help="Print one session's stored document as indented JSON.", **common
        )
        show.add_argument("sid", metavar="SID", help="A session id, or the signed cookie value (s:...).")

        destroy = actions.add_parser(
            "destroy", help="Destroy sessions by id, or every session of a user; prints their ids.", **common
        )
        destroy.add_argument(
            "sids", nargs="*", metavar="SID", help="Session ids, or signed cookie values (s:...)."
        )
        destroy.add_argument(
            "--user",
            metavar="ID",
            help="Destroy every session of the user with this id (log out everywhere).",
        )

        count = actions.add_parser("count", help="Print the number of active sessions.", **common)
        count.add_argument("--user", metavar="ID", help="Count only the sessions of the user with this id.")
        count.add_argument(
            "--expired", action="store_true", help="Count the expired sessions the store still keeps instead."
        )
        _format(count, 'a JSON object, {"count": N}')

    def handle(self, *args: Any, **options: Any) -> None:
        store = self.store()
        getattr(self, f"_{options['action']}")(store, options)

    # -- list -------------------------------------------------------------------------

    def _list(self, store: Store, options: dict[str, Any]) -> None:
        expired, user = options["expired"], options["user"]
        source = source_for(store)
        if not source.can_list:
            raise _cannot_list(store)
        if expired and not source.keeps_expired:
            self._no_expired(store)
            return
        query = Query(
            status="expired" if expired else "active", users=None if user is None else frozenset([user])
        )
        listed = 0
        with store_errors(store, "list expired sessions" if expired else "list sessions"):
            for found in source.iterate(query, options["limit"]):
                self.stdout.write(_json(found) if options["format"] == "json" else _line(found))
                listed += 1
        self.note(f"{sessions(listed)} listed.")

    def _no_expired(self, store: Store) -> None:
        if as_redis_store(store) is not None or isinstance(store, CacheStore):
            where = "Redis" if as_redis_store(store) is not None else "the cache"
            self.note(
                f"{type(store).__name__} keeps no expired sessions: {where} removes each one at its expiry."
            )
            return
        raise unsupported(store, "list expired sessions")

    # -- show ---------------------------------------------------------------------------

    def _show(self, store: Store, options: dict[str, Any]) -> None:
        sid = session_id(options["sid"])
        with store_errors(store, "read a session"):
            document = store.get(sid)
        if document is None:
            raise CommandError(
                f"No active session has the id {sid!r}; `expsession list` shows the ids.",
                returncode=NOT_FOUND,
            )
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))

    # -- destroy ------------------------------------------------------------------------

    def _destroy(self, store: Store, options: dict[str, Any]) -> None:
        user, given = options["user"], options["sids"]
        if bool(user) == bool(given):
            raise CommandError("Give either session ids or --user ID to destroy, not both and not neither.")
        if user:
            self._destroy_user(store, user)
            return
        sids = list(dict.fromkeys(session_id(value) for value in given))
        missing = []
        with store_errors(store, "destroy sessions"):
            for sid in sids:
                if store.get(sid) is None:
                    missing.append(sid)
                # A missing id too: that also removes an expired record not cleared yet.
                store.destroy(sid)
                if sid not in missing:
                    events.send(signals.session_destroyed, sid, None)
                    self.stdout.write(sid)
        self.note(f"Destroyed {sessions(len(sids) - len(missing))}.")
        if missing:
            ids = ", ".join(repr(sid) for sid in missing)
            raise CommandError(
                f"No active session had the id{'s' if len(missing) > 1 else ''} {ids}; "
                "`expsession list` shows the ids.",
                returncode=NOT_FOUND,
            )

    def _destroy_user(self, store: Store, user: str) -> None:
        if not store.supports("user_sessions"):
            raise unsupported(store, "find a user's sessions")
        with store_errors(store, "destroy sessions"):
            # Collect first: destroying while the store iterates could skip records.
            sids = [sid for sid, _ in store.user_sessions(user)]
            for sid in sids:
                store.destroy(sid)
                events.send(signals.session_destroyed, sid, None)
                self.stdout.write(sid)
        if not sids:
            raise CommandError(
                f"User {user} has no active session; `expsession list` shows the users.", returncode=NOT_FOUND
            )
        self.note(f"Destroyed {sessions(len(sids))} of user {user}.")

    # -- count ----------------------------------------------------------------------------

    def _count(self, store: Store, options: dict[str, Any]) -> None:
        expired, user = options["expired"], options["user"]
        with store_errors(store, "count sessions"):
            if user is None:
                count = self._count_all(store, expired=expired)
            else:
                source = source_for(store)
                if not source.can_list and not (store.supports("user_sessions") and not expired):
                    raise _cannot_list(store)
                if expired and not source.keeps_expired:
                    count = 0
                else:
                    query = Query(status="expired" if expired else "active", users=frozenset([user]))
                    count = sum(1 for _ in source.iterate(query))
        self.stdout.write(json.dumps({"count": count}) if options["format"] == "json" else str(count))

    @staticmethod
    def _count_all(store: Store, *, expired: bool) -> int:
        operation = "count_expired" if expired else "length"
        if not store.supports(operation):
            raise unsupported(store, "count expired sessions" if expired else "count its sessions")
        return store.count_expired() if expired else store.length()


def _format(parser: ArgumentParser, json_help: str) -> None:
    parser.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help=f"Output format: text (the default) or json ({json_help}).",
    )


def _cannot_list(store: Store) -> CommandError:
    reason = ""
    if isinstance(store, CacheStore):
        reason = (
            f" (only django-redis caches and LocMemCache can list their keys, and {store.address()} cannot)"
        )
    return CommandError(
        f"{type(store).__name__} cannot list its sessions{reason}; "
        "use a store that can, such as DatabaseStore or RedisStore."
    )


def _line(found: Entry) -> str:
    expires = (
        "browser session" if found.browser_session else (iso_of(found.expires) if found.expires else "-")
    )
    return f"{found.sid}\t{found.user_id or '-'}\t{expires}"


def _json(found: Entry) -> str:
    return json.dumps(
        {
            "id": found.sid,
            "user": found.user_id,
            "expires": iso_of(found.expires) if found.expires else None,
            "browser_session": found.browser_session,
            "last_seen": iso_of(found.last_seen) if found.last_seen else None,
            "active": found.active,
        },
        ensure_ascii=False,
    )
