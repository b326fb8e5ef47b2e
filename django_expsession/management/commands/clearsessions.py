"""``manage.py clearsessions``: remove expired sessions from the configured store.

django.contrib.sessions is not installed beside this app, so this is the
project's ``clearsessions``; run it from cron like Django's.
"""

from __future__ import annotations

import copy
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...stores.base import Store
from ..support import configured_store, positive_int, sessions, store_errors, store_name


class Command(BaseCommand):
    help = (
        "Remove expired sessions from the configured EXPSESSION store, in batches. "
        "With --all, remove every session (everyone is logged out)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the sessions that would be removed, and remove nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            metavar="N",
            help="Delete at most N sessions per batch (and per transaction) for this run, on "
            "stores that delete in batches; default: the store's BATCH_SIZE option.",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            dest="everything",
            help="Remove every session, expired or not, which logs every user out. "
            "Asks for confirmation unless --no-input is given.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation before --all removes every session.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        store = self._store(options["batch_size"])
        if options["everything"]:
            self._clear_all(store, dry_run=options["dry_run"], interactive=options["interactive"])
        elif options["dry_run"]:
            with store_errors(store, "count expired sessions"):
                count = store.count_expired()
            self.stdout.write(f"Would remove {sessions(count)} (expired). Nothing was removed.")
        else:
            self._clear_expired(store)

    def _store(self, batch_size: int | None) -> Store:
        store = configured_store()
        if batch_size is None:
            return store
        if not hasattr(store, "batch_size"):
            self.stderr.write(f"--batch-size is ignored: {store_name(store)} does not delete in batches.")
            return store
        # A copy for this run: the shared store keeps its configured option.
        store = copy.copy(store)
        store.batch_size = batch_size
        return store

    def _clear_expired(self, store: Store) -> None:
        total = 0
        progress = self.stdout.isatty()
        try:
            with store_errors(store, "remove expired sessions"):
                for count in store.clear_expired_batches():
                    total += count
                    if progress and count:
                        self.stdout.write(f"\rRemoved {sessions(total)} so far...", ending="")
                        self.stdout.flush()
        except CommandError as exc:
            if not total:
                raise
            raise CommandError(
                f"{exc} ({sessions(total)} had been removed before the failure; "
                "fix the cause and run clearsessions again.)"
            ) from exc.__cause__
        finally:
            if progress and total:
                self.stdout.write("")  # end the progress line
        self.stdout.write(f"Removed {sessions(total)} (expired).")

    def _clear_all(self, store: Store, *, dry_run: bool, interactive: bool) -> None:
        total = self._count_all(store) if store.supports("length") else None
        if total == 0:
            self.stdout.write("There are no sessions to remove.")
            return
        what = "every session" if total is None else f"all {sessions(total)}"
        if dry_run:
            self.stdout.write(f"Would remove {what}. Nothing was removed.")
            return
        if interactive:
            answer = input(
                f"This removes {what} from {store_name(store)} and logs every user out.\n"
                "Type 'yes' to continue, or anything else to cancel: "
            )
            if answer.strip().lower() != "yes":
                self.stdout.write("Cancelled. Nothing was removed.")
                return
        with store_errors(store, "remove every session"):
            store.clear()
        self.stdout.write(f"Removed {what}.")

    @staticmethod
    def _count_all(store: Store) -> int:
        with store_errors(store, "count its sessions"):
            # clear() also takes the expired records a store still keeps.
            expired = store.count_expired() if store.supports("count_expired") else 0
            return store.length() + expired
