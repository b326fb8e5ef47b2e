"""Every system check under every combination of the settings it reads: none ever raises.

A check that cannot decide reports ``expsession.E099`` with a hint instead
of a traceback; for the combinations below none of them may even need to.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.core import checks
from django.http import HttpRequest
from django.utils.module_loading import import_string

from django_expsession.stores.db import DatabaseStore
from django_expsession.stores.memory import MemoryStore

from .conftest import STORES


def genid(request: HttpRequest) -> str:
    return "table-id"


def cookie(request: HttpRequest) -> dict[str, Any]:
    return {"MAX_AGE": 60}


BACKENDS = {
    "dotted": lambda store: {"BACKEND": STORES[store].backend, "OPTIONS": STORES[store].options},
    "class": lambda store: {
        "BACKEND": import_string(STORES[store].backend),
        "OPTIONS": STORES[store].options,
    },
    "unimportable": lambda store: {"BACKEND": "no.such.Store"},
    "not-a-store": lambda store: {"BACKEND": "django.http.HttpRequest"},
    "not-a-class": lambda store: {"BACKEND": 42},
    "bad-options": lambda store: {"BACKEND": STORES[store].backend, "OPTIONS": {"NO_SUCH_OPTION": 1}},
    "not-a-dict": lambda store: "django_expsession.stores.db.DatabaseStore",
}
GENIDS = {
    "default": None,
    "callable": genid,
    "dotted": "tests.test_checks_table.genid",
    "bad": "no.such.genid",
}
COOKIES = {
    "dict": {"MAX_AGE": 60, "SECURE": "auto"},
    "callable": cookie,
    "dotted": "tests.test_checks_table.cookie",
    "bad-dotted": "no.such.cookie",
    "bad-value": {"MAX_AGE": 10**15},
    "not-a-dict": 42,
}
STORE_ROWS = ["memory", "db-sqlite", "cache-locmem", "redis-url"]


@pytest.mark.parametrize("store", STORE_ROWS)
@pytest.mark.parametrize("use_tz", [True, False], ids=["tz", "no-tz"])
@pytest.mark.parametrize("debug", [True, False], ids=["debug", "no-debug"])
def test_no_check_raises_for_any_combination(settings, store, use_tz, debug):
    settings.USE_TZ, settings.DEBUG = use_tz, debug
    store_class = import_string(STORES[store].backend)
    for (backend, make), (genid_name, genid_value), (cookie_name, cookie_value) in itertools.product(
        BACKENDS.items(), GENIDS.items(), COOKIES.items()
    ):
        settings.EXPSESSION = {
            "SECRET": "keyboard cat",
            "STORE": make(store),
            "GENID": genid_value,
            "COOKIE": cookie_value,
        }
        case = f"{backend}/{genid_name}/{cookie_name}"
        messages = checks.run_checks(tags=["expsession"], include_deployment_checks=True)
        ids = {message.id for message in messages}
        assert "expsession.E099" not in ids, (case, [m.msg for m in messages])
        valid = (
            backend in ("dotted", "class")
            and genid_name != "bad"
            and cookie_name in ("dict", "callable", "dotted")
        )
        if valid:
            errors = {i for i in ids if i and i.startswith("expsession.E")}
            expected = (
                {"expsession.E014"} if (not use_tz and issubclass(store_class, DatabaseStore)) else set()
            )
            assert errors == expected, (case, [m.msg for m in messages])
        else:
            assert any(i and i.startswith("expsession.E") for i in ids), case
        if valid and issubclass(store_class, MemoryStore):
            assert ("expsession.W003" in ids) is (not debug), case


def test_a_check_that_fails_inside_reports_an_error_with_a_hint(settings, monkeypatch):
    from django_expsession import checks as our_checks

    def broken() -> Any:
        raise RuntimeError("the sky fell")

    monkeypatch.setattr(our_checks, "_backend", broken)
    settings.USE_TZ = False
    settings.EXPSESSION = {"SECRET": "keyboard cat", "STORE": {"BACKEND": STORES["db-sqlite"].backend}}
    [message] = [m for m in checks.run_checks(tags=["expsession"]) if m.id == "expsession.E099"]
    assert "the sky fell" in message.msg and message.hint
