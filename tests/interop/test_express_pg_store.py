"""The Express app on connect-pg-simple, ready for the PostgreSQL layout.

Only the Express side exists so far: DatabaseStore does not read
connect-pg-simple's table yet (issue 12, item 2). This checks that
``app.js`` with ``STORE=pg`` runs and writes the layout that work will
share: ``sid`` (the session id), ``sess`` (express's JSON document) and
``expire`` (the cookie's expiry).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from .. import services
from .harness import Browser

pytestmark = pytest.mark.django_db(databases=["postgres"], transaction=True)


@pytest.fixture
def table() -> Iterator[str]:
    if not services.available("postgres"):
        pytest.skip(services.skip_reason("postgres"))
    name = f"session_interop_{secrets.token_hex(4)}"
    yield name
    with connections["postgres"].cursor() as cursor:
        cursor.execute(f'DROP TABLE IF EXISTS "{name}"')


def test_express_keeps_its_sessions_in_connect_pg_simples_table(start_express: Any, table: str) -> None:
    settings = connections["postgres"].settings_dict
    url = "postgresql://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(**settings)
    express = start_express(env={"STORE": "pg", "PG_URL": url, "PG_TABLE": table})
    browser = Browser()
    written = browser.post(express, "/write", {"ключ": ["значение", 1]})

    with connections["postgres"].cursor() as cursor:
        cursor.execute(f'SELECT sid, sess, extract(epoch FROM expire) FROM "{table}"')
        rows = cursor.fetchall()
    assert len(rows) == 1
    sid, sess, expire = rows[0]
    assert sid == browser.sid() == written.body["id"]
    document = sess if isinstance(sess, dict) else json.loads(sess)
    assert document["ключ"] == ["значение", 1]
    assert document["cookie"]["expires"] is not None
    # connect-pg-simple keeps whole seconds, rounded up; Expires is cut down.
    assert 0 <= float(expire) - (written.expires("app.sid") or 0) < 2
    assert browser.get(express, "/read").body["data"] == {"ключ": ["значение", 1]}
