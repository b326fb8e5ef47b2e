"""The ``http`` fixture: every test here runs through the sync and the async path."""

from __future__ import annotations

from typing import Any

import pytest

from .harness import Http


@pytest.fixture(params=["sync", "async"])
def http(request: pytest.FixtureRequest, app: Any, settings: Any, expsession: Any) -> Http:
    """Requests through the sync or the async path; ``expsession`` picks the store."""
    return Http(request.param, app, settings)
