"""The reference pages list what the code has: every setting and every check id."""

from __future__ import annotations

import re
from pathlib import Path

from django_expsession.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_PAGE = (ROOT / "docs" / "settings.rst").read_text(encoding="utf-8")


def ids_in_code() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "django_expsession").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"""["'](?:expsession\.)?([EW]\d{3})["']""", text))
    return found


def test_every_check_id_is_in_the_table_of_checks_and_nothing_else() -> None:
    table = SETTINGS_PAGE.split("All checks", 1)[1]
    documented = set(re.findall(r"^\s*\* - ``expsession\.([EW]\d{3})``", table, re.MULTILINE))
    assert documented == ids_in_code()


def test_every_setting_has_its_own_heading() -> None:
    headings = set(re.findall(r"^``([A-Z_]+)``\n-+$", SETTINGS_PAGE, re.MULTILINE))
    assert set(DEFAULTS) <= headings
