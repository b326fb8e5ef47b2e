"""The SQL of DatabaseStore's request path: one statement per operation.

Built once per database connection from the model's table and column
names; every statement runs on its own in autocommit (no BEGIN/COMMIT).
``version`` increases with every write of the data, so a save can compare
and set in one UPDATE (``WHERE sid = ... AND version = ...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..clock import ms_to_datetime

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

_NAIVE_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Statements:
    read: str  # -> (data, expires, version)
    insert: str | None  # an upsert; None: this database has none we know (use the ORM)
    replace: str  # compare-and-set
    touch: str  # move the expiry of a live row
    touch_after: str  # touch, unless the expiry was moved within TOUCH_AFTER
    destroy: str
    naive: bool  # datetimes are sent as naive UTC strings (SQLite, MySQL)

    def when(self, ms: int) -> Any:
        """An epoch-ms instant as this database takes a datetime parameter."""
        if self.naive:
            return str(_NAIVE_EPOCH + timedelta(milliseconds=ms))
        return ms_to_datetime(ms)


def statements(connection: BaseDatabaseWrapper, table: str) -> Statements:
    q = connection.ops.quote_name
    t, sid, data, expires, user, created, updated, version = (
        q(name) for name in (table, "sid", "data", "expires", "user_id", "created", "updated", "version")
    )
    live = f"{sid} = %s AND {expires} > %s"
    columns = f"{sid}, {data}, {expires}, {user}, {created}, {updated}, {version}"
    values = "%s, %s, %s, %s, %s, %s, 1"
    insert: str | None = None
    if connection.vendor in ("sqlite", "postgresql"):
        insert = (
            f"INSERT INTO {t} ({columns}) VALUES ({values}) ON CONFLICT ({sid}) DO UPDATE SET "
            f"{data} = EXCLUDED.{data}, {expires} = EXCLUDED.{expires}, {user} = EXCLUDED.{user}, "
            f"{updated} = EXCLUDED.{updated}, {version} = {t}.{version} + 1"
        )
    elif connection.vendor == "mysql":
        # MySQL 8.0.19+ deprecates VALUES() in favour of a row alias; MariaDB has no alias.
        mariadb = getattr(connection, "mysql_is_mariadb", False)
        new = "" if mariadb else " AS new"
        given = [
            f"VALUES({column})" if mariadb else f"new.{column}" for column in (data, expires, user, updated)
        ]
        insert = (
            f"INSERT INTO {t} ({columns}) VALUES ({values}){new} ON DUPLICATE KEY UPDATE "
            f"{data} = {given[0]}, {expires} = {given[1]}, {user} = {given[2]}, "
            f"{updated} = {given[3]}, {version} = {t}.{version} + 1"
        )
    touch = f"UPDATE {t} SET {expires} = %s WHERE {live}"
    return Statements(
        read=f"SELECT {data}, {expires}, {version} FROM {t} WHERE {live}",
        insert=insert,
        replace=(
            f"UPDATE {t} SET {data} = %s, {expires} = %s, {user} = %s, {updated} = %s, "
            f"{version} = {version} + 1 WHERE {live} AND {version} = %s"
        ),
        touch=touch,
        touch_after=f"{touch} AND NOT ({expires} > %s AND {expires} <= %s)",
        destroy=f"DELETE FROM {t} WHERE {sid} = %s",
        naive=connection.vendor in ("sqlite", "mysql"),
    )
