"""The configured store: ``get_store()`` builds it once from ``STORE``."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import Record, Replaced, Store, StoreError

if TYPE_CHECKING:
    from .redis import RedisStore

_lock = threading.Lock()
_store: Store | None = None


def as_redis_store(store: Store) -> RedisStore | None:
    """``store`` if it is a RedisStore, else None; never imports redis-py.

    Code that only asks (the admin, the commands) must work where redis-py
    is not installed: a store that is a RedisStore has imported it already.
    """
    module = sys.modules.get(f"{__name__}.redis")
    return store if module is not None and isinstance(store, module.RedisStore) else None


def backend_class(backend: Any) -> type[Store]:
    """The Store subclass that ``BACKEND`` (a class or a dotted path) names."""
    path = backend if isinstance(backend, str) else getattr(backend, "__qualname__", repr(backend))
    if isinstance(backend, str):
        try:
            backend = import_string(backend)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"EXPSESSION['STORE']['BACKEND'] = {path!r} cannot be imported: {exc}."
            ) from exc
    if not (isinstance(backend, type) and issubclass(backend, Store)):
        raise ImproperlyConfigured(
            f"EXPSESSION['STORE']['BACKEND'] = {path!r} is not a subclass of "
            "django_expsession.stores.base.Store."
        )
    return backend


def build_store(config: Any) -> Store:
    """Build a store from ``{"BACKEND": class or dotted path, "OPTIONS": {...}}``."""
    if not isinstance(config, Mapping) or not isinstance(config.get("BACKEND"), str | type):
        raise ImproperlyConfigured(
            "EXPSESSION['STORE'] should be a dict with a 'BACKEND' (a Store subclass or its dotted "
            'path), e.g. {"BACKEND": "django_expsession.stores.db.DatabaseStore"}.'
        )
    unknown = set(config) - {"BACKEND", "OPTIONS"}
    if unknown:
        raise ImproperlyConfigured(
            f"EXPSESSION['STORE'] has unknown keys {sorted(map(str, unknown))}; only BACKEND and OPTIONS "
            "are allowed."
        )
    backend = backend_class(config["BACKEND"])
    options = config.get("OPTIONS") or {}
    if not isinstance(options, Mapping):
        raise ImproperlyConfigured("EXPSESSION['STORE']['OPTIONS'] should be a dict.")
    kwargs = {str(key).lower(): value for key, value in options.items()}
    try:
        return backend(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"EXPSESSION['STORE'] OPTIONS are not valid for {backend.__qualname__}: {exc}"
        ) from exc


def get_store() -> Store:
    """The store configured in ``EXPSESSION["STORE"]`` (built once)."""
    global _store
    store = _store
    if store is None:
        with _lock:
            if _store is None:
                from ..conf import store_setting

                _store = build_store(store_setting())
            store = _store
    return store


def reset_store() -> None:
    """Forget the built store (settings changed)."""
    global _store
    with _lock:
        old, _store = _store, None
    if old is not None:
        old.close()


__all__ = [
    "Record",
    "Replaced",
    "Store",
    "StoreError",
    "backend_class",
    "build_store",
    "get_store",
    "reset_store",
]
