"""``manage.py clearsessions``: remove expired sessions from the configured store.

django.contrib.sessions is not installed beside this app, so this is the
project's ``clearsessions``; run it from cron or a systemd timer like
Django's. What it does depends on the store:

- DatabaseStore: deletes the expired rows in short, time-budgeted batches
  (:mod:`django_expsession.stores.dbcleanup`), safe to run under traffic;
  on connect-pg-simple's table, the store's own batched ``clear_expired``;
- RedisStore: Redis removes expired sessions itself; the command prunes
  the per-user indexes of the ids of ended sessions;
- CacheStore: the cache removes expired sessions itself; the command checks
  that the cache answers and says so;
- any other store: its ``clear_expired_batches()``.

The final line (stderr) gives the count and the time; stdout stays empty.
"""

from __future__ import annotations

import copy
import sys
from argparse import ArgumentParser
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError
from django.utils import timezone

from ...stores import as_redis_store, dbcleanup
from ...stores.base import Store
from ...stores.cache import CacheStore
from ...stores.db import DatabaseStore
from ..progress import Progress
from ..support import (
    OperatorCommand,
    duration,
    plain,
    positive_int,
    positive_seconds,
    sessions,
    store_errors,
)

if TYPE_CHECKING:
    from ...stores import redisprune
    from ...stores.redis import RedisStore


class Command(OperatorCommand):
    help = (
        "Remove expired sessions from the configured EXPSESSION store, in short batches that are "
        "safe under traffic. With --all, remove every session (everyone is logged out)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be removed, and remove nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            metavar="N",
            help="Delete N sessions per statement instead of sizing each batch to take about 75 ms "
            "(40 ms on SQLite); DatabaseStore and stores with a BATCH_SIZE option only.",
        )
        parser.add_argument(
            "--max-seconds",
            type=positive_seconds,
            metavar="N",
            help="Stop after about N seconds, between two batches; the next run goes on from there.",
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
        store = self.store()
        self._removed = 0
        if options["everything"]:
            self._clear_all(store, dry_run=options["dry_run"], interactive=options["interactive"])
        elif isinstance(store, DatabaseStore) and store.pg_simple_table is None:
            self._clear_database(store, options)
        elif (redis_store := as_redis_store(store)) is not None:
            self._prune_redis(redis_store, options)
        elif isinstance(store, CacheStore):
            self._check_cache(store)
        else:
            self._clear_other(store, options)

    def interrupted_message(self) -> str:
        if self._removed:
            return (
                f"Interrupted after removing {sessions(self._removed, 'expired')}; "
                "run clearsessions again to remove the rest."
            )
        return "Interrupted; nothing was removed."

    # -- DatabaseStore: dbcleanup ------------------------------------------------

    def _clear_database(self, store: DatabaseStore, options: dict[str, Any]) -> None:
        alias, now = store.db_for_write(), timezone.now()
        if options["dry_run"]:
            with store_errors(store, "count expired sessions"):
                count = dbcleanup.count_expired(alias, now=now)
            self.note(f"Would remove {sessions(count, 'expired')}; nothing was removed.")
            return
        progress = self._progress("Removing expired sessions")

        def on_batch(batch: dbcleanup.Batch) -> None:
            self._removed = batch.total
            progress.update(batch.total, batch.expected, batch.elapsed)

        try:
            with store_errors(store, "remove expired sessions"):
                result = dbcleanup.delete_expired(
                    alias,
                    now=now,
                    batch_size=options["batch_size"],
                    max_seconds=options["max_seconds"],
                    on_batch=on_batch,
                    count=progress.enabled,
                )
        except CommandError as exc:
            raise self._partly(exc) from exc.__cause__
        finally:
            progress.finish()
        average = result.deleted // max(1, result.batches)
        self.note(
            f"{result.batches:,} batch{'' if result.batches == 1 else 'es'} of about {average:,} "
            f"row{'' if average == 1 else 's'}, following the "
            + ("expiry index" if result.order == "expiry" else "table's storage order")
            + f"; slowest {result.longest * 1000:.0f} ms; {result.retries} retried.",
            level=2,
        )
        self._report(result.deleted, result.seconds, complete=result.complete)

    def _partly(self, exc: CommandError) -> CommandError:
        """The failure, with what had been removed before it."""
        if not self._removed:
            return exc
        return CommandError(
            f"{str(exc).rstrip('.')} ({sessions(self._removed)} had been removed before the failure; "
            "run clearsessions again once it is fixed)."
        )

    def _report(self, removed: int, seconds: float, *, complete: bool) -> None:
        if complete:
            self.note(f"Removed {sessions(removed, 'expired')} in {duration(seconds)}.")
        else:
            self.note(
                f"Removed {sessions(removed, 'expired')} in {duration(seconds)} and stopped at the "
                "--max-seconds limit; run clearsessions again to remove the rest."
            )

    def _progress(self, what: str) -> Progress:
        return Progress(self.stderr, what, enabled=self.verbosity >= 1 and self.stderr.isatty())

    # -- stores that expire sessions themselves ------------------------------------

    def _prune_redis(self, store: RedisStore, options: dict[str, Any]) -> None:
        from ...stores import redisprune as prune  # imports redis-py, which only RedisStore needs

        progress = self._progress("Pruning per-user indexes")

        def on_progress(step: redisprune.PruneProgress) -> None:
            progress.update(step.indexes, None, step.elapsed)

        try:
            with store_errors(store, "prune its per-user indexes"):
                result = prune.prune_user_indexes(
                    store,
                    dry_run=options["dry_run"],
                    max_seconds=options["max_seconds"],
                    on_progress=on_progress,
                )
        finally:
            progress.finish()
        ids = f"{result.removed:,} id{'' if result.removed == 1 else 's'} of ended sessions"
        where = f"{result.indexes:,} per-user index{'' if result.indexes == 1 else 'es'}"
        self.note("Redis removes expired sessions itself, each at its expiry.")
        if options["dry_run"]:
            self.note(f"Would prune {ids} from {where}; nothing was changed.")
        elif result.complete:
            self.note(f"Pruned {ids} from {where} in {duration(result.seconds)}.")
        else:
            self.note(
                f"Pruned {ids} from {where} in {duration(result.seconds)} and stopped at the "
                "--max-seconds limit; run clearsessions again to go on."
            )

    def _check_cache(self, store: CacheStore) -> None:
        try:
            store.cache.get(f"{store.key_prefix}clearsessions-probe")  # any read: the cache must answer
        except Exception as exc:
            detail = " ".join(str(exc).split()).rstrip(".") or "no details"
            raise CommandError(
                f"CacheStore could not reach {store.address()} ({type(exc).__name__}: {detail}); "
                "check that the server is running and that the settings point at it."
            ) from exc
        self.note(
            f"Nothing to remove: {store.address()} removes expired sessions itself, "
            "each entry at its session's expiry."
        )

    # -- any other store -----------------------------------------------------------

    def _clear_other(self, store: Store, options: dict[str, Any]) -> None:
        if options["dry_run"]:
            with store_errors(store, "count expired sessions"):
                count = store.count_expired()
            self.note(f"Would remove {sessions(count, 'expired')}; nothing was removed.")
            return
        if options["batch_size"] is not None:
            if hasattr(store, "batch_size"):
                store = _with_batch_size(store, options["batch_size"])
            else:
                self.note(f"--batch-size is ignored: {type(store).__name__} does not delete in batches.")
        progress = self._progress("Removing expired sessions")
        started = timezone.now()
        try:
            with store_errors(store, "remove expired sessions"):
                for count in store.clear_expired_batches():
                    self._removed += count
                    progress.update(self._removed, None, (timezone.now() - started).total_seconds())
        except CommandError as exc:
            raise self._partly(exc) from exc.__cause__
        finally:
            progress.finish()
        self._report(self._removed, (timezone.now() - started).total_seconds(), complete=True)

    # -- --all -----------------------------------------------------------------------

    def _clear_all(self, store: Store, *, dry_run: bool, interactive: bool) -> None:
        total = self._count_all(store) if store.supports("length") else None
        if total == 0:
            self.note("There are no sessions to remove.")
            return
        what = "every session" if total is None else f"all {sessions(total)}"
        if dry_run:
            self.note(f"Would remove {what}; nothing was removed.")
            return
        if interactive and not self._confirmed(
            f"This removes {what} from {type(store).__name__} and logs every user out.\n"
            "Type 'yes' to continue, or anything else to cancel: "
        ):
            self.note("Cancelled; nothing was removed.")
            return
        with store_errors(store, "remove every session"):
            store.clear()
        self.note(f"Removed {what}.")

    def _confirmed(self, question: str) -> bool:
        self.stderr.write(question, style_func=plain, ending="")
        self.stderr.flush()
        answer = sys.stdin.readline()
        if not answer:  # end of input: nobody to ask
            self.stderr.write("", style_func=plain)
            raise CommandError(
                "clearsessions --all needs a 'yes' to go on, and its input ended without one; "
                "run it on a terminal, or add --no-input to remove every session without asking."
            )
        return answer.strip().lower() == "yes"

    @staticmethod
    def _count_all(store: Store) -> int:
        with store_errors(store, "count its sessions"):
            # clear() also takes the expired records a store still keeps.
            expired = store.count_expired() if store.supports("count_expired") else 0
            return store.length() + expired


def _with_batch_size(store: Store, batch_size: int) -> Store:
    """A copy of the store for this run; the shared one keeps its option."""
    copied = copy.copy(store)
    copied.batch_size = batch_size  # type: ignore[attr-defined]
    return copied
