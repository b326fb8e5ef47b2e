"""What both management commands share: the store, its errors, and arguments."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from .. import conf, signing
from ..stores import get_store
from ..stores.base import Store, StoreError


def configured_store() -> Store:
    try:
        return get_store()
    except ImproperlyConfigured as exc:
        raise CommandError(str(exc)) from exc


def store_name(store: Store) -> str:
    return type(store).__name__


@contextmanager
def store_errors(store: Store, action: str) -> Iterator[None]:
    """Turn a store's failure into a CommandError sentence (non-zero exit).

    ``action`` completes "cannot ..." / "Could not ...", e.g. "list sessions".
    """
    try:
        yield
    except CommandError:
        raise
    except NotImplementedError as exc:
        raise CommandError(
            f"The configured store ({store_name(store)}) cannot {action}: {exc}. "
            "Use a store that supports it, e.g. the DatabaseStore."
        ) from exc
    except StoreError as exc:
        raise CommandError(f"Could not {action}: {exc}") from exc  # it names store and server
    except Exception as exc:
        # The command line is the boundary: say what failed; --traceback shows the rest.
        raise CommandError(
            f"Could not {action}: the configured store ({store_name(store)}) failed with "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return number


def session_id(value: str) -> str:
    """A session id, given as is or as the cookie value a browser holds (``s:...``)."""
    decoded = signing.decode_uri_component(value) or value
    if not decoded.startswith(signing.SIGNED_PREFIX):
        return value
    sid = signing.unsign_cookie(decoded, conf.current().keys)
    if sid is None:
        raise CommandError(
            f"{value!r} looks like a signed cookie value, but none of the EXPSESSION secrets "
            "signed it. Give the session id itself, or check the SECRET setting."
        )
    return sid


def sessions(count: int) -> str:
    return f"{count} session" if count == 1 else f"{count} sessions"
