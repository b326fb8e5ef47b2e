"""Fixtures for the Django-integration tests.

``site`` configures the demo's session settings (RESAVE and
SAVE_UNINITIALIZED off, a one-hour Lax cookie) on the sqlite database
store and on the memory store, routes to ``tests.integration.urls`` and
returns the store. The store parametrization is local: users keep their
sessions in the database, and auth needs the database anyway.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from ..conftest import ExpSession

SITE_STORES = ["db-sqlite", "memory"]
SITE_SETTINGS: dict[str, Any] = {
    "RESAVE": False,
    "SAVE_UNINITIALIZED": False,
    "COOKIE": {"MAX_AGE": 3600, "SAMESITE": "Lax"},
}


@pytest.fixture(params=SITE_STORES)
def site(request: pytest.FixtureRequest, settings: Any) -> ExpSession:
    settings.ROOT_URLCONF = "tests.integration.urls"
    helper = ExpSession(settings, request.param)
    helper.configure(**SITE_SETTINGS)
    return helper


@pytest.fixture
def alice(db: None) -> Any:
    return get_user_model().objects.create_user("alice", "alice@example.com", "wonderland")


@pytest.fixture
def admin_user(db: None) -> Any:
    return get_user_model().objects.create_superuser("root", "root@example.com", "hunter22")
