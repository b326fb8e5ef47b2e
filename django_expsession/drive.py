"""One implementation for the sync and the async request path.

Flows that talk to a store (a save with its retries, the end of a request)
are written once as coroutines that await the store through an adapter.
Given the sync adapter, whose methods never suspend, such a coroutine runs
to completion in a single ``send``: :func:`run` does that, so the sync path
needs no event loop and no thread.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends; return its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("A sync session operation tried to suspend; this is a bug in django-expsession.")
