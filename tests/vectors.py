"""The vectors produced by the real npm packages (express-vectors.json).

A copy of ``../shared/express-vectors.json`` lives beside this module so the
test-suite is self-contained; EXPRESS-SESSION.md section 6.4 describes it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("express-vectors.json")


@cache
def load() -> dict[str, Any]:
    return json.loads(PATH.read_text(encoding="utf-8"))


def entries(section: str) -> list[dict[str, Any]]:
    return list(load()[section])


def ids(section: str, key: str = "id") -> list[str]:
    return [str(entry.get(key) or entry.get("description") or i) for i, entry in enumerate(entries(section))]


def secret(secret_id: str) -> str | bytes:
    """A vector secret by id: ``{utf8: ...}`` is a str, ``{hex: ...}`` raw bytes."""
    spec = load()["secrets"][secret_id]
    return spec["utf8"] if "utf8" in spec else bytes.fromhex(spec["hex"])
