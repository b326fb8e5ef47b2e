"""connect-pg-simple's table: ``expsession_createtable`` makes it, the system checks verify it.

The table check is a database check, as Django's own: it runs with
``migrate`` and ``check --database <alias>``, on the store's alias only.
Tables made here go away with each test's transaction, unless a test says
otherwise.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from django_expsession.stores.pgsimple import Table

from . import services
from .conftest import free_port

pytestmark = pytest.mark.django_db(databases=["default", "postgres"])
DATABASE_STORE = "django_expsession.stores.db.DatabaseStore"
LAYOUT = "connect-pg-simple"


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    if not services.available("postgres"):
        pytest.skip(services.skip_reason("postgres"))


@pytest.fixture
def table_name() -> str:
    return f"sessions_{secrets.token_hex(4)}"


@pytest.fixture
def configure(settings: Any, table_name: str) -> Any:
    def configure(alias: str = "postgres", **options: Any) -> None:
        settings.EXPSESSION = {
            "SECRET": "keyboard cat",
            "RESAVE": False,
            "SAVE_UNINITIALIZED": False,
            "STORE": {
                "BACKEND": DATABASE_STORE,
                "OPTIONS": {
                    "USING": alias,
                    "TABLE_LAYOUT": "connect-pg-simple",
                    "TABLE": table_name,
                    **options,
                },
            },
        }

    return configure


def sql(statement: str) -> None:
    with connections["postgres"].cursor() as cursor:
        cursor.execute(statement)


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("expsession_createtable", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def found(databases: list[str] | None = None) -> dict[str, checks.CheckMessage]:
    # As `manage.py check --tag expsession [--database ...]` runs them.
    messages = checks.run_checks(tags=["expsession"], databases=databases)
    return {m.id: m for m in messages if m.id and m.id.startswith("expsession.")}


def table_checks(databases: list[str] | None = None) -> set[str]:
    ours = {"expsession.E017", "expsession.E018", "expsession.E019", "expsession.W012", "expsession.W013"}
    return set(found(databases)) & ours


# -- expsession_createtable -------------------------------------------------------------


def test_the_command_creates_connect_pg_simples_table_once(configure, table_name):
    configure()
    out, err = run()
    assert out == ""
    assert err == f"Created the table {table_name!r} in database 'postgres' with its expire index.\n"
    with connections["postgres"].cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, datetime_precision, is_nullable FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            [table_name],
        )
        assert cursor.fetchall() == [
            ("sid", "character varying", None, "NO"),
            ("sess", "json", None, "NO"),
            ("expire", "timestamp without time zone", 6, "NO"),
        ]
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY 1", [table_name])
        assert cursor.fetchall() == [(f"IDX_{table_name}_expire",), (f"{table_name}_pkey",)]
    assert table_checks(["postgres"]) == set()
    assert run() == (
        "",
        f"The table {table_name!r} in database 'postgres' and its indexes are already there; "
        "nothing was changed.\n",
    )


def test_the_command_adds_the_user_index_to_a_table_connect_pg_simple_made(configure, table_name):
    table = Table(table_name)
    for statement in table.create(user_index=False):  # what createTableIfMissing makes
        sql(statement)
    configure(USER_INDEX=True)
    assert set(table_checks(["postgres"])) == {"expsession.W013"}
    assert run()[1] == f"The table {table_name!r} in database 'postgres' was there; created its user index.\n"
    assert table_checks(["postgres"]) == set()


def test_the_command_prints_its_sql_and_changes_nothing(configure, table_name):
    configure(USER_INDEX=True)
    out, err = run("--sql")
    assert out.splitlines() == [f"{statement};" for statement in Table(table_name).create(user_index=True)]
    assert err == ""
    assert set(table_checks(["postgres"])) == {"expsession.E017"}


def test_the_command_makes_the_table_in_a_schema(configure, table_name):
    sql(f'CREATE SCHEMA "{table_name}_schema"')
    configure(SCHEMA=f"{table_name}_schema")
    assert run()[1].startswith(f"Created the table '{table_name}_schema.{table_name}'")
    sql(f"INSERT INTO \"{table_name}_schema\".\"{table_name}\" VALUES ('x', '{{}}', now())")


def test_the_command_leaves_a_table_that_is_not_connect_pg_simples_alone(configure, table_name):
    sql(f'CREATE TABLE "{table_name}" (sid text PRIMARY KEY, data text)')
    configure()
    with pytest.raises(CommandError, match=r"exists but is not connect-pg-simple's: it has no column 'sess'"):
        run()
    with connections["postgres"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [table_name])
        assert cursor.fetchone() == (1,)  # no expire index was added


def test_the_command_needs_the_layout(settings):
    settings.EXPSESSION = {"SECRET": "keyboard cat", "STORE": {"BACKEND": DATABASE_STORE}}
    with pytest.raises(CommandError, match=r"does not use connect-pg-simple's table.*TABLE_LAYOUT"):
        run()


# -- the checks ---------------------------------------------------------------------------


def test_an_unset_secret_is_warned_about_as_for_connect_redis(configure, settings):
    configure()
    settings.EXPSESSION = {**settings.EXPSESSION, "SECRET": None}
    message = found()["expsession.W011"]
    assert "uses connect-pg-simple's layout" in message.msg


def test_a_layout_on_another_database_vendor_is_a_store_error_at_start_up(configure):
    configure(alias="default")
    message = found()["expsession.E009"]
    assert "needs a PostgreSQL database, but database 'default' is sqlite" in message.msg


def test_the_table_is_checked_only_as_a_database_check_of_the_stores_alias(configure):
    configure()  # no such table
    [check] = [
        c for c in checks.registry.registry.get_checks() if c.__name__ == "check_connect_pg_simple_table"
    ]
    assert checks.Tags.database in check.tags  # so `manage.py check` and runserver skip it
    assert table_checks(["default"]) == set()  # not the store's database
    message = found(["postgres"])["expsession.E017"]
    assert "should exist" in message.msg and "expsession_createtable" in message.hint


def test_a_table_with_other_columns_is_an_error_naming_each(configure, table_name):
    sql(f'CREATE TABLE "{table_name}" (sid integer, sess jsonb, expire timestamptz, owner text NOT NULL)')
    configure()
    message = found(["postgres"])["expsession.E018"]
    for problem in (
        "its column 'sid' is integer, not varchar",
        "its column 'sess' is jsonb, not json",
        "its column 'expire' is timestamp with time zone, not timestamp(6) (without time zone)",
        "its column 'owner' is NOT NULL without a default",
        "'sid' is not its primary key (nor unique)",
    ):
        assert problem in message.msg


def test_missing_indexes_are_a_warning(configure, table_name):
    sql(f'CREATE TABLE "{table_name}" (sid varchar PRIMARY KEY, sess json, expire timestamp)')
    configure(USER_INDEX=True)
    message = found(["postgres"])["expsession.W013"]
    assert "has no expire index and no user index" in message.msg


def test_connect_pg_simples_own_table_passes(configure, table_name, settings):
    sql(
        f'CREATE TABLE "{table_name}" (sid varchar NOT NULL COLLATE "default", sess json NOT NULL, '
        "expire timestamp(6) NOT NULL)"
    )
    sql(f'ALTER TABLE "{table_name}" ADD CONSTRAINT "session_pkey" PRIMARY KEY ("sid")')
    sql(f'CREATE INDEX "IDX_session_expire" ON "{table_name}" ("expire")')  # its names, whatever the table
    configure()
    assert table_checks(["postgres"]) == set()


def test_an_unknown_time_zone_is_an_error(configure):
    configure(TIME_ZONE="Mars/Olympus_Mons")
    run()  # the table is fine
    message = found(["postgres"])["expsession.E019"]
    assert "Mars/Olympus_Mons" in message.msg


@pytest.fixture
def unreachable_postgres(django_db_blocker: Any) -> Iterator[str]:
    """A PostgreSQL alias whose server is down."""
    alias = "unreachable_postgres"
    config = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": free_port(),
        "USER": "postgres",
        "NAME": "expsession_down",
        "OPTIONS": {"connect_timeout": 2},
    }
    configured = connections.configure_settings({"default": connections.settings["default"], alias: config})
    connections.settings[alias] = configured[alias]
    with django_db_blocker.unblock():
        yield alias
    connections[alias].close()
    del connections[alias]
    del connections.settings[alias]


def test_a_database_that_is_down_is_a_warning_not_a_crash(configure, unreachable_postgres):
    configure(alias=unreachable_postgres)
    messages = found([unreachable_postgres])
    assert set(messages) & {"expsession.E099", "expsession.E017"} == set()
    warning = messages["expsession.W012"]
    assert "could not be checked" in warning.msg and "connection" in warning.msg.lower()
