"""``manage.py expsession_createtable``: make connect-pg-simple's table for the store.

For a DatabaseStore with ``TABLE_LAYOUT = "connect-pg-simple"``: the table
connect-pg-simple's own ``table.sql`` describes (and, with ``USER_INDEX``,
the store's user id index), each part only if it is missing, so running it
again changes nothing. An existing table that does not have
connect-pg-simple's columns is reported, never altered.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from ...stores.db import DatabaseStore
from ...stores.pgsimple import LAYOUT
from ...stores.pgsimpleops import PgSimpleTable
from ..support import OperatorCommand, name, store_errors


class Command(OperatorCommand):
    help = (
        "Create connect-pg-simple's session table and its indexes, where missing, for the "
        f"configured DatabaseStore with TABLE_LAYOUT {LAYOUT!r}."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--sql",
            action="store_true",
            help="Print the SQL that creates what may be missing, and change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        store = self.store()
        if not isinstance(store, DatabaseStore) or store.pg_simple_table is None:
            raise CommandError(
                f"The configured store ({name(store)}) does not use connect-pg-simple's table. "
                f"Set EXPSESSION['STORE'] to a DatabaseStore on PostgreSQL with OPTIONS "
                f"{{'TABLE_LAYOUT': {LAYOUT!r}}} first."
            )
        table = store.pg_simple_table
        if options["sql"]:
            for statement in table.table.create(user_index=table.user_index):
                self.stdout.write(f"{statement};")
            return
        self._create(store, table)

    def _create(self, store: DatabaseStore, table: PgSimpleTable) -> None:
        alias = store.db_for_write()
        where = f"{table.table.label!r} in database {alias!r}"
        with store_errors(store, "create connect-pg-simple's table"):
            before = table.inspect(store, alias)
            if before.problems:
                raise CommandError(
                    f"The table {where} exists but is not connect-pg-simple's: "
                    f"{'; '.join(before.problems)}. Nothing was changed; fix the table, or set "
                    "the TABLE option to another one."
                )
            created = table.create(store, alias, before)
        if not created:
            self.stderr.write(f"The table {where} and its indexes are already there; nothing was changed.")
        elif created[0] == "table":
            self.stderr.write(f"Created the table {where} with its {' and '.join(created[1:])}.")
        else:
            self.stderr.write(f"The table {where} was there; created its {' and '.join(created)}.")
