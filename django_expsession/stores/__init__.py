"""The configured store: ``get_store()`` builds it once from ``STORE``."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import Store, StoreError

_lock = threading.Lock()
_store: Store | None = None


def build_store(config: Any) -> Store:
    """Build a store from ``{"BACKEND": dotted.path, "OPTIONS": {...}}``."""
    if not isinstance(config, Mapping) or not isinstance(config.get("BACKEND"), str):
        raise ImproperlyConfigured(
            "EXPSESSION['STORE'] should be a dict with a 'BACKEND' dotted path, "
            'e.g. {"BACKEND": "django_expsession.stores.db.DatabaseStore"}.'
        )
    unknown = set(config) - {"BACKEND", "OPTIONS"}
    if unknown:
        raise ImproperlyConfigured(
            f"EXPSESSION['STORE'] has unknown keys {sorted(unknown)}; only BACKEND and OPTIONS are allowed."
        )
    path = config["BACKEND"]
    try:
        backend = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"EXPSESSION['STORE']['BACKEND'] = {path!r} cannot be imported: {exc}."
        ) from exc
    if not (isinstance(backend, type) and issubclass(backend, Store)):
        raise ImproperlyConfigured(
            f"EXPSESSION['STORE']['BACKEND'] = {path!r} is not a subclass of "
            "django_expsession.stores.base.Store."
        )
    options = config.get("OPTIONS") or {}
    if not isinstance(options, Mapping):
        raise ImproperlyConfigured("EXPSESSION['STORE']['OPTIONS'] should be a dict.")
    kwargs = {str(key).lower(): value for key, value in options.items()}
    try:
        return backend(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"EXPSESSION['STORE'] OPTIONS are not valid for {path}: {exc}") from exc


def get_store() -> Store:
    """The store configured in ``EXPSESSION["STORE"]`` (built once)."""
    global _store
    store = _store
    if store is None:
        with _lock:
            if _store is None:
                from ..conf import conf

                _store = build_store(conf["STORE"])
            store = _store
    return store


def reset_store() -> None:
    """Forget the built store (settings changed)."""
    global _store
    with _lock:
        old, _store = _store, None
    if old is not None:
        old.close()


__all__ = ["Store", "StoreError", "build_store", "get_store", "reset_store"]
