"""DatabaseStore specifics: routers, the USING alias, the row it writes."""

from __future__ import annotations

from typing import Any

import pytest
from freezegun import freeze_time

from django_expsession import document as doc
from django_expsession.models import Session
from django_expsession.stores.db import DatabaseStore

from .conftest import T0, at, document, touched

SERVER_DB_STORES = ["db-postgres", "db-mariadb"]


class SessionsRouter:
    """Sends the session model to ``target``; everything else is left alone."""

    target = "default"

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return self.target if model is Session else None

    db_for_write = db_for_read


@pytest.fixture
def routed_to(settings: Any, expsession: Any) -> str:
    alias = expsession.param.database
    SessionsRouter.target = alias
    settings.DATABASE_ROUTERS = [f"{__name__}.SessionsRouter"]
    return alias


@pytest.mark.parametrize("store_name", SERVER_DB_STORES)
def test_without_using_the_store_goes_where_the_routers_send_the_model(routed_to):
    store = DatabaseStore()
    assert store.db_for_read() == store.db_for_write() == routed_to
    store.set("sid-1", document(n=1))
    assert Session.objects.using(routed_to).filter(sid="sid-1").exists()
    assert store.get("sid-1")["n"] == 1
    assert f"database {routed_to!r}" in store.address()


@pytest.mark.parametrize("store_name", SERVER_DB_STORES)
def test_using_wins_over_the_routers(routed_to, settings):
    SessionsRouter.target = "nowhere"
    store = DatabaseStore(using=routed_to)
    store.set("sid-1", document(n=1))
    assert store.get("sid-1")["n"] == 1


@pytest.mark.parametrize("store_name", ["db-sqlite", *SERVER_DB_STORES])
def test_the_row_carries_expiry_user_and_timestamps(make_store):
    store = make_store(TTL=100)
    with freeze_time(T0) as clock:
        store.set("sid-1", document(max_age=None, _auth_user_id=42))
        row = Session.objects.using(store.db_for_write()).get(sid="sid-1")
        assert (row.expires, row.user_id, row.created, row.updated) == (at(100), "42", T0, T0)
        clock.move_to(at(10))
        store.set("sid-1", document(max_age=60))
        row = Session.objects.using(store.db_for_write()).get(sid="sid-1")
        assert (row.expires, row.user_id, row.created, row.updated) == (at(70), None, T0, at(10))
        assert row.data == doc.dumps(document(max_age=60))


@pytest.mark.parametrize("store_name", ["db-sqlite", *SERVER_DB_STORES])
def test_touch_updates_the_expiry_column_only(make_store):
    store = make_store()
    with freeze_time(T0) as clock:
        stored = document(n=1)
        store.set("sid-1", stored)
        clock.move_to(at(30))
        store.touch("sid-1", touched(stored, n=2))
        row = Session.objects.using(store.db_for_write()).get(sid="sid-1")
        assert row.expires == at(90)
        assert row.data == doc.dumps(stored)  # the document keeps its saved cookie
        assert row.updated == T0
