"""Sphinx configuration of django-expsession's documentation.

Build it from the repository root with warnings as errors, as CI does::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import tomllib
from pathlib import Path

_pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text("utf-8"))

project = "django-expsession"
author = "The django-expsession authors"
project_copyright = "the django-expsession authors (MIT licence)"
release = _pyproject["project"]["version"]
version = ".".join(release.split(".")[:2])

extensions: list[str] = []
root_doc = "index"
exclude_patterns = ["_build"]
# Every page states its own title; ``default`` roles would hide typos.
default_role = None
nitpicky = True
highlight_language = "python"

html_theme = "furo"
html_title = f"django-expsession {release}"
html_static_path: list[str] = []
