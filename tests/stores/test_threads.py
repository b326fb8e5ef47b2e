"""Many threads writing different sessions at once, on a real thread pool."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

from .conftest import document

THREADS = 50


def test_fifty_threads_writing_different_sessions_at_once_lose_nothing(make_store, transactional_db):
    # transactional_db: the threads' own connections must see each other's
    # commits (a wrapping test transaction would hide them).
    store = make_store()
    start = threading.Barrier(THREADS)

    def write(n: int) -> tuple[str, object]:
        try:
            sid = f"thread-{n}"
            start.wait(timeout=30)
            store.set(sid, document(n=n, payload="x" * n))
            store.touch(sid, document(n=-1))
            return sid, store.get(sid)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = dict(pool.map(write, range(THREADS)))

    assert [results[f"thread-{n}"]["n"] for n in range(THREADS)] == list(range(THREADS))
    assert store.length() == THREADS
    assert {sid: data["payload"] for sid, data in store.all()} == {
        f"thread-{n}": "x" * n for n in range(THREADS)
    }
