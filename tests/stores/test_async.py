"""The async twins, on every store, directly and through an ASGI request.

The stores are configured (and emptied) in a thread, as any sync setup code
must be from async code.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from freezegun import freeze_time

from .conftest import EXPIRES_ITSELF, T0, at, document, iso, touched


@pytest.fixture(autouse=True)
async def _close_worker_connections():
    """Close what the async ORM opened in asgiref's worker thread.

    Nothing else would: no request ends there. An open PostgreSQL
    connection would keep the test database from being dropped.
    """
    yield
    await sync_to_async(connections.close_all)()


async def test_async_twins_get_set_touch_destroy(make_store):
    store = await sync_to_async(make_store)()
    with freeze_time(T0) as clock:
        stored = document(n=1, name="Zoë")
        await store.aset("sid-1", stored)
        assert await store.aget("sid-1") == stored
        clock.move_to(at(30))
        await store.atouch("sid-1", touched(stored, n=2))
        loaded = await store.aget("sid-1")
        assert loaded["n"] == 1
        assert loaded["cookie"]["expires"] == iso(90)
        await store.atouch("nobody", stored)
        assert await store.aget("nobody") is None
        await store.adestroy("sid-1")
        assert await store.aget("sid-1") is None


async def test_async_twins_list_count_and_clear(make_store, store_name):
    store = await sync_to_async(make_store)()
    with freeze_time(T0) as clock:
        await store.aset("old", document(max_age=1))
        await store.aset("a", document(name="a"))
        await store.aset("b", document(name="b"))
        clock.move_to(at(1))
        assert await store.aclear_expired() == (0 if store_name in EXPIRES_ITSELF else 1)
        assert sorted([sid async for sid, _ in store.aall()]) == ["a", "b"]
        assert await store.alength() == 2
        await store.aclear()
        assert await store.alength() == 0


async def test_async_twins_honour_touch_after(make_store):
    store = await sync_to_async(make_store)(TOUCH_AFTER=10)
    with freeze_time(T0) as clock:
        stored = document()
        await store.aset("sid-1", stored)
        clock.move_to(at(5))
        await store.atouch("sid-1", touched(stored))
        assert (await store.aget("sid-1"))["cookie"]["expires"] == iso(60)
        clock.move_to(at(10))
        await store.atouch("sid-1", touched(stored))
        assert (await store.aget("sid-1"))["cookie"]["expires"] == iso(70)


async def test_an_async_view_under_asgi_keeps_its_session_in_the_store(make_store, async_app, async_client):
    store = await sync_to_async(make_store)()

    @async_app
    async def view(request):
        count = await request.session.aget("count", 0)
        await request.session.aset("count", count + 1)
        return str(count + 1)

    first = await async_client.get("/")
    second = await async_client.get("/")
    assert (first.content, second.content) == (b"1", b"2")
    assert await store.alength() == 1
    assert [data["count"] async for _, data in store.aall()] == [2]
