"""connect-pg-simple's table: its names, its SQL, and how it writes ``expire``.

What connect-pg-simple 10 does, and this layout therefore does too:

- the table has ``sid varchar`` (primary key), ``sess json NOT NULL``
  (express's document, the text ``JSON.stringify`` made of it: a ``json``
  column keeps its input text as it was given) and ``expire timestamp(6)
  NOT NULL`` (indexed);
- ``expire`` is the cookie's expiry, or now + ttl (one day by default) for
  a browser-session cookie, rounded *up* to a whole second and written with
  ``to_timestamp()``: a ``timestamp`` without time zone then holds the wall
  clock time of that instant in the connection's ``TimeZone``, the
  server's default unless the client set another;
- a row is live while ``expire >= to_timestamp(ceil(now))``; a touch
  rewrites ``expire`` only.

Every instant here crosses as a ``timestamptz`` and is turned into the wall
clock time of ``zone`` (``timezone(zone, instant)``), so Django's own
connection time zone (UTC) never comes into it. A row ends here when
``expire <= now``, as the model layout's rows do; connect-pg-simple keeps
it for that one millisecond more.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .. import document as doc

LAYOUT = "connect-pg-simple"
DEFAULT_TABLE = "session"

# The columns connect-pg-simple's table.sql makes, as format_type() names
# them: (accepted types, what the table should say).
COLUMNS: dict[str, tuple[tuple[str, ...], str]] = {
    "sid": (("character varying", "text"), "varchar"),
    "sess": (("json",), "json"),
    "expire": (("timestamp without time zone",), "timestamp(6) (without time zone)"),
}

# A user's sessions are found in the stored text, never with PostgreSQL's
# json operators: ``sess ->> '_auth_user_id'`` fails on a whole document
# that holds a \u0000 or a lone surrogate escape (JSON.stringify and Django
# write both), so a query with it fails for everyone once one such session
# exists, and an index on it makes Express's save of such a session fail.
# Text operations never fail. Each finds every "_auth_user_id" key, at any
# depth (nested ones included: a superset), and the store keeps the rows
# whose document has the user at its top level, as contrib.auth writes it.
USER_KEY = '"_auth_user_id":"'
USER_PATTERN = r'"_auth_user_id":"((?:[^"\\]|\\.)*)"'  # the id as the JSON text spells it
USER_FUNCTION = "expsession_user_ids"  # text -> every such id, for a GIN index


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def spelled(value: str) -> str:
    """``value`` as its JSON string spells it between the quotes (as Django writes it)."""
    return doc.dumps(value)[1:-1]


def quote(name: str) -> str:
    """An identifier as connect-pg-simple quotes it: always in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def expire_ms(data: doc.Document, ttl: float) -> int:
    """The ``expire`` connect-pg-simple writes for ``data``, in epoch ms (whole seconds).

    Its expiry rounded up to the second, as connect-pg-simple rounds it; an
    ABSOLUTE_TIMEOUT deadline is rounded down instead (never outlived).
    """
    expiry = doc.store_expiry_ms(data, ttl)
    deadline = data.deadline if isinstance(data, doc.Encoded) else None
    if deadline is not None and expiry == deadline:
        return expiry // 1000 * 1000
    return -(-expiry // 1000) * 1000


@dataclass(frozen=True)
class Table:
    name: str = DEFAULT_TABLE
    schema: str | None = None

    @property
    def qualified(self) -> str:
        """The table as SQL names it, as connect-pg-simple's ``quotedTable()`` does."""
        table = quote(self.name)
        return table if self.schema is None else f"{quote(self.schema)}.{table}"

    @property
    def label(self) -> str:
        return self.name if self.schema is None else f"{self.schema}.{self.name}"

    # Named after the table (connect-pg-simple names them after "session"
    # whatever the table, so that a second table's index clashes).
    @property
    def primary_key(self) -> str:
        return quote(f"{self.name}_pkey")

    @property
    def expire_index(self) -> str:
        return quote(f"IDX_{self.name}_expire")

    @property
    def user_index(self) -> str:
        return quote(f"IDX_{self.name}_user")

    @property
    def user_function(self) -> str:
        """The function behind the user index, beside the table."""
        name = quote(USER_FUNCTION)
        return name if self.schema is None else f"{quote(self.schema)}.{name}"

    def create(self, *, user_index: bool) -> list[str]:
        """The DDL of connect-pg-simple's table and index, each part only if missing."""
        t = self.qualified
        statements = [
            f'CREATE TABLE IF NOT EXISTS {t} ("sid" varchar NOT NULL COLLATE "default", '
            f'"sess" json NOT NULL, "expire" timestamp(6) NOT NULL, '
            f'CONSTRAINT {self.primary_key} PRIMARY KEY ("sid"))',
            f'CREATE INDEX IF NOT EXISTS {self.expire_index} ON {t} ("expire")',
        ]
        if user_index:
            # The ids of every "_auth_user_id" key in a document's text (immutable: no table access).
            statements += [
                f"CREATE OR REPLACE FUNCTION {self.user_function}(text) RETURNS text[] "
                "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
                f"$$SELECT coalesce(array_agg(m[1]), '{{}}') FROM regexp_matches($1, "
                f"'{USER_PATTERN}', 'g') AS m$$",
                f"CREATE INDEX IF NOT EXISTS {self.user_index} ON {t} "
                f"USING gin ({self.user_function}(sess::text))",
            ]
        return statements


# Each instant is two parameters, (zone, aware datetime): its wall clock time in zone.
AT = "timezone(%s, %s)"
# The column back as an instant (a timestamptz), one parameter: the zone.
EXPIRES = "timezone(%s, expire)"
# Conditions on a row: (zone, now) each; user() also takes the user's key first.
LIVE = f"expire > {AT}"
EXPIRED = f"expire <= {AT}"


@dataclass(frozen=True)
class Statements:
    """The layout's SQL for one table; ``zone`` is the wall clock ``expire`` is kept in."""

    table: Table
    zone: str
    user_index: bool = False

    def _t(self) -> str:
        return self.table.qualified

    def user(self, user_id: str) -> tuple[str, str]:
        """The condition on a user's rows, and its first parameter (then zone and now)."""
        if self.user_index:  # a GIN index lookup
            return f"{self.table.user_function}(sess::text) @> ARRAY[%s]::text[] AND {LIVE}", spelled(user_id)
        return f"sess::text LIKE %s AND {LIVE}", "%" + like_escape(f'{USER_KEY}{spelled(user_id)}"') + "%"

    @cached_property
    def read(self) -> str:  # (zone, sid, zone, now) -> (sess text, expire instant)
        return f"SELECT sess::text, {EXPIRES} FROM {self._t()} WHERE sid = %s AND {LIVE}"

    @cached_property
    def insert(self) -> str:  # (sid, text, zone, expire)
        return (
            f"INSERT INTO {self._t()} (sid, sess, expire) VALUES (%s, CAST(%s AS json), {AT}) "
            "ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire"
        )

    @cached_property
    def replace(self) -> str:  # (text, zone, expire, sid, zone, now, digest)
        return (
            f"UPDATE {self._t()} SET sess = CAST(%s AS json), expire = {AT} "
            f"WHERE sid = %s AND {LIVE} AND sha256(convert_to(sess::text, 'UTF8')) = %s"
        )

    @cached_property
    def touch(self) -> str:  # (zone, expire, sid, zone, now)
        return f"UPDATE {self._t()} SET expire = {AT} WHERE sid = %s AND {LIVE}"

    @cached_property
    def touch_after(self) -> str:  # touch's, then (zone, new - touch_after, zone, new)
        return f"{self.touch} AND NOT (expire > {AT} AND expire <= {AT})"

    @cached_property
    def destroy(self) -> str:
        return f"DELETE FROM {self._t()} WHERE sid = %s"

    def rows(self, condition: str, *, first: bool) -> str:
        """A page of ``(sid, text, expire instant)``: (zone, after this sid, *condition's, limit)."""
        after = ">=" if first else ">"  # the first page starts at "" itself
        return (
            f"SELECT sid, sess::text, {EXPIRES} FROM {self._t()} "
            f"WHERE sid {after} %s AND {condition} ORDER BY sid LIMIT %s"
        )

    def count(self, condition: str) -> str:
        return f"SELECT count(*) FROM {self._t()} WHERE {condition}"

    @cached_property
    def clear(self) -> str:
        return f"DELETE FROM {self._t()}"

    @cached_property
    def clear_expired(self) -> str:  # (zone, now, limit, zone, now)
        # One batch, in one statement; rows a request holds are left to the next run.
        return (
            f"DELETE FROM {self._t()} WHERE sid IN (SELECT sid FROM {self._t()} "
            f"WHERE expire <= {AT} LIMIT %s FOR UPDATE SKIP LOCKED) AND expire <= {AT}"
        )


# The database's own TimeZone: what a new connection starts with before
# Django sets its own (and what connect-pg-simple's connections keep).
DEFAULT_ZONE_SQL = "SELECT reset_val FROM pg_settings WHERE name = 'TimeZone'"

# (name, type, not null, has default) of each column, or no rows: no table.
COLUMNS_SQL = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef "
    "FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped"
)
# The definitions of the table's indexes, and whether each is unique.
INDEXES_SQL = "SELECT pg_get_indexdef(indexrelid), indisunique FROM pg_index WHERE indrelid = to_regclass(%s)"
ZONE_CHECK_SQL = "SELECT timezone(%s, now())"
