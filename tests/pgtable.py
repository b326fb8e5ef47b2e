"""connect-pg-simple's table in the PostgreSQL test database, seen from the tests.

Rows are read and planted through Django's connection ``postgres`` (so a
test sees what its store wrote inside the test's transaction); tables are
made and dropped on a connection of their own, in autocommit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import connections

from django_expsession.clock import ms_to_datetime
from django_expsession.stores.pgsimple import Table

ALIAS = "postgres"
# The contract suite's table (STORES["db-pgsimple"]), in a schema of its own:
# connect-pg-simple names its constraint and index after "session" whatever
# the table, and those names must stay free for the tables it makes itself.
CONTRACT = Table("session", "expsession_contract")
SERVER_ZONE = "(SELECT reset_val FROM pg_settings WHERE name = 'TimeZone')"


@contextmanager
def connect_test_database() -> Iterator[Any]:
    """An autocommit psycopg connection to the test database (its name set by pytest-django)."""
    import psycopg

    settings = connections[ALIAS].settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    ) as connection:
        yield connection


def url() -> str:
    """The test database as a connection string (for Node's pg)."""
    s = connections[ALIAS].settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return f"postgresql://{s['USER']}{password}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def create(table: Table, *, user_index: bool = False) -> None:
    with connect_test_database() as connection:
        if table.schema is not None:
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.schema}"')
        for statement in table.create(user_index=user_index):
            connection.execute(statement)


def drop(table: Table) -> None:
    with connect_test_database() as connection:
        connection.execute(f"DROP TABLE IF EXISTS {table.qualified}")


def row(sid: str, table: Table | None = None) -> tuple[str, datetime] | None:
    """``(sess as text, expire as stored: a naive wall clock time)``, or None."""
    where = (table or CONTRACT).qualified
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(f"SELECT sess::text, expire FROM {where} WHERE sid = %s", [sid])
        found = cursor.fetchone()
    return None if found is None else (found[0], found[1])


def expire_epoch(sid: str, table: Table | None = None, zone: str | None = None) -> float | None:
    """``expire`` as an instant (epoch seconds), read as the server's TimeZone (or ``zone``)."""
    where = (table or CONTRACT).qualified
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(
            f"SELECT extract(epoch FROM timezone({'%s' if zone else SERVER_ZONE}, expire)) "
            f"FROM {where} WHERE sid = %s",
            [zone, sid] if zone else [sid],
        )
        found = cursor.fetchone()
    return None if found is None else float(found[0])


def plant(sid: str, text: str, expires_ms: int, table: Table | None = None) -> None:
    """Write a row as connect-pg-simple would: ``expire`` in the server's TimeZone."""
    where = (table or CONTRACT).qualified
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {where} (sid, sess, expire) VALUES (%s, CAST(%s AS json), "
            f"timezone({SERVER_ZONE}, %s))",
            [sid, text, ms_to_datetime(expires_ms)],
        )


def set_expire(sid: str, expires_ms: int, table: Table | None = None) -> None:
    """Move ``expire`` alone, as a touch by connect-pg-simple would."""
    where = (table or CONTRACT).qualified
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(
            f"UPDATE {where} SET expire = timezone({SERVER_ZONE}, %s) WHERE sid = %s",
            [ms_to_datetime(expires_ms), sid],
        )
