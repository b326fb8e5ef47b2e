"""Store operations per request, counted at the servers where they can tell.

SQL: every statement Django sends on the connection (``execute_wrapper``),
and every transaction Django opens (``atomic`` blocks outside autocommit,
counted at the connection's ``commit``/``rollback``); on MariaDB also the
server's own ``Com_*`` counters for the session. Redis: the server's
``INFO commandstats`` (the benchmark's own ``INFO`` calls subtracted).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_VERB = re.compile(r"\s*(\w+)")
MARIADB_COUNTERS = (
    "Com_select",
    "Com_insert",
    "Com_update",
    "Com_delete",
    "Com_begin",
    "Com_commit",
    "Com_rollback",
)


class SQLCounter:
    """Statements by verb and transactions, on one Django connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.counts: Counter[str] = Counter()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        match = _VERB.match(sql)
        self.counts[(match.group(1) if match else "?").upper()] += 1
        return execute(sql, params, many, context)

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        self.counts = Counter()
        connection = self.connection
        commit, rollback = connection.commit, connection.rollback

        def counted_commit() -> None:
            self.counts["COMMIT"] += 1
            commit()

        def counted_rollback() -> None:
            self.counts["ROLLBACK"] += 1
            rollback()

        connection.commit, connection.rollback = counted_commit, counted_rollback
        try:
            with connection.execute_wrapper(self):
                yield self.counts
        finally:
            del connection.commit, connection.rollback


def mariadb_status(connection: Any) -> Counter[str]:
    """The server's statement counters for this connection's session."""
    with connection.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(MARIADB_COUNTERS))
        cursor.execute(f"SHOW SESSION STATUS WHERE Variable_name IN ({placeholders})", list(MARIADB_COUNTERS))
        return Counter({name: int(value) for name, value in cursor.fetchall()})


def redis_commandstats(client: Any) -> Counter[str]:
    stats = client.info("commandstats")
    return Counter({key.removeprefix("cmdstat_").upper(): value["calls"] for key, value in stats.items()})


def describe(counts: Counter[str], requests: int) -> str:
    """``SELECT 1, UPDATE 1`` per request (fractions kept), empty counts left out."""
    parts = []
    for name, value in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        per = value / requests
        if per:
            parts.append(f"{name} {per:g}" if per != int(per) else f"{name} {int(per)}")
    return ", ".join(parts) or "none"


def total(counts: Counter[str], requests: int) -> float:
    return sum(counts.values()) / requests
