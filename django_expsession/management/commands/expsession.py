"""``manage.py expsession``: list, show, destroy and count stored sessions.

Everything goes through the Store API (``all``, ``get``, ``destroy``,
``length``, ``user_sessions``, ``expired_sessions``), so it works on any
store that has those operations and says so clearly on one that has not.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ... import document as doc
from ...stores.base import Store
from ..support import configured_store, positive_int, session_id, sessions, store_errors

Rows = Iterator[tuple[str, doc.Document]]


class Command(BaseCommand):
    help = "Inspect the sessions in the configured EXPSESSION store: list, show, destroy, count."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{list,show,destroy,count}")

        listing = actions.add_parser("list", help="List sessions: id, user id and expiry, one a line.")
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

        show = actions.add_parser("show", help="Print one session's stored document as indented JSON.")
        show.add_argument("sid", metavar="SID", help="A session id, or the signed cookie value (s:...).")

        destroy = actions.add_parser("destroy", help="Destroy sessions by id, or every session of a user.")
        destroy.add_argument(
            "sids", nargs="*", metavar="SID", help="Session ids, or signed cookie values (s:...)."
        )
        destroy.add_argument(
            "--user",
            metavar="ID",
            help="Destroy every session of the user with this id (log out everywhere).",
        )

        count = actions.add_parser("count", help="Print the number of active sessions.")
        count.add_argument("--user", metavar="ID", help="Count only the sessions of the user with this id.")
        count.add_argument(
            "--expired", action="store_true", help="Count the expired sessions the store still keeps instead."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        store = configured_store()
        getattr(self, f"_{options['action']}")(store, options)

    def _list(self, store: Store, options: dict[str, Any]) -> None:
        expired, user = options["expired"], options["user"]
        listed = 0
        with store_errors(store, "list expired sessions" if expired else "list sessions"):
            for sid, document in islice(self._rows(store, expired=expired, user=user), options["limit"]):
                expires = document["cookie"].get("expires") or "browser session"
                self.stdout.write(f"{sid}\t{doc.user_id(document) or '-'}\t{expires}")
                listed += 1
        self.stdout.write(f"{sessions(listed)} listed.")

    def _show(self, store: Store, options: dict[str, Any]) -> None:
        sid = session_id(options["sid"])
        with store_errors(store, "read a session"):
            document = store.get(sid)
        if document is None:
            raise CommandError(f"No active session has the id {sid!r}; `expsession list` shows the ids.")
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))

    def _destroy(self, store: Store, options: dict[str, Any]) -> None:
        user, given = options["user"], options["sids"]
        if bool(user) == bool(given):
            raise CommandError("Give either session ids or --user ID to destroy, not both and not neither.")
        sids = [session_id(value) for value in given]
        with store_errors(store, "destroy sessions"):
            if user:
                # Collect first: destroying while the store iterates could skip records.
                sids = [sid for sid, _ in store.user_sessions(user)]
                found = len(sids)
            else:
                missing = [sid for sid in sids if store.get(sid) is None]
                for sid in missing:
                    self.stderr.write(f"No active session has the id {sid!r}.")
                found = len(set(sids) - set(missing))
            for sid in sids:
                # Missing ids too: that also removes an expired record not cleared yet.
                store.destroy(sid)
        owner = f" of user {user}" if user else ""
        self.stdout.write(f"Destroyed {sessions(found)}{owner}.")

    def _count(self, store: Store, options: dict[str, Any]) -> None:
        expired, user = options["expired"], options["user"]
        with store_errors(store, "count sessions"):
            if user is not None:
                count = sum(1 for _ in self._rows(store, expired=expired, user=user))
            else:
                count = store.count_expired() if expired else store.length()
        self.stdout.write(str(count))

    @staticmethod
    def _rows(store: Store, *, expired: bool, user: str | None) -> Rows:
        if not expired:
            return store.all() if user is None else store.user_sessions(user)
        rows = store.expired_sessions()
        return rows if user is None else ((sid, d) for sid, d in rows if doc.user_id(d) == str(user))
