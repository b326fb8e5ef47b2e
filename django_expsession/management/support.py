"""What the management commands share: the store, error sentences, exit codes, arguments.

Both commands follow one contract: stdout carries only data, every message
and count goes to stderr, and the exit code says how it went:

- 0: done;
- 1: an error (the sentence on stderr says what to do);
- 2: the command line was wrong (argparse's code);
- 3 (:data:`NOT_FOUND`): a session or user asked for has no session;
- 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from .. import conf, signing
from ..listing import process_local
from ..stores import get_store
from ..stores.base import Store, StoreError

NOT_FOUND = 3
INTERRUPTED = 130


class OperatorCommand(BaseCommand):
    """A command run by people and scripts: clean exits for Ctrl-C and closed pipes."""

    from_command_line = False

    def run_from_argv(self, argv: list[str]) -> None:
        # manage.py started a process for this command alone (not call_command).
        self.from_command_line = True
        super().run_from_argv(argv)

    def execute(self, *args: Any, **options: Any) -> Any:
        self._verbosity = int(options.get("verbosity", 1))
        try:
            return super().execute(*args, **options)
        except KeyboardInterrupt:
            raise CommandError(self.interrupted_message(), returncode=INTERRUPTED) from None
        except BrokenPipeError:
            # The reader went away (``| head``): what it wanted was written.
            return None

    def interrupted_message(self) -> str:
        return "Interrupted; nothing more was done."

    def note(self, message: str, *, level: int = 1, ending: str | None = None) -> None:
        """A message on stderr, shown from verbosity ``level`` on.

        Plain: Django styles everything on a terminal's stderr as an error.
        """
        if self.verbosity >= level:
            self.stderr.write(message, style_func=plain, ending=ending)

    @property
    def verbosity(self) -> int:
        return getattr(self, "_verbosity", 1)

    def store(self) -> Store:
        """The configured store, refused when it cannot be seen from this process."""
        try:
            store = get_store()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        reason = process_local(store)
        if reason and self.from_command_line:
            raise CommandError(
                f"{reason}, so this command, which runs in a process of its own, cannot see or change "
                "them; use the admin (it runs in the server), or a shared store such as DatabaseStore "
                "or RedisStore."
            )
        return store


def global_options() -> argparse.ArgumentParser:
    """Django's options, for subcommands: ``expsession count --settings=... -v 2``.

    Absent options are left to the main parser (``SUPPRESS``), so they keep
    their defaults or the values given before the subcommand.
    """
    parser = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbosity", type=int, choices=[0, 1, 2, 3], help=argparse.SUPPRESS)
    for name in ("--settings", "--pythonpath"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    for name in ("--traceback", "--no-color", "--force-color", "--skip-checks"):
        parser.add_argument(name, action="store_true", help=argparse.SUPPRESS)
    return parser


def plain(text: str) -> str:
    return text


def name(store: Store) -> str:
    return type(store).__name__


def failure(store: Store, action: str, exc: BaseException) -> CommandError:
    """One sentence for a store's failure to ``action`` (e.g. "list sessions")."""
    if isinstance(exc, StoreError):
        return CommandError(str(exc))  # it names the store and the server, and what to check
    if isinstance(exc, NotImplementedError):
        return unsupported(store, action)
    detail = " ".join(str(exc).split()).rstrip(".") or "no details"
    if isinstance(exc, DatabaseError):
        if any(words in detail.lower() for words in ("no such table", "does not exist", "doesn't exist")):
            return CommandError(
                f"{name(store)} could not {action}: the session table is missing ({detail}); "
                "run manage.py migrate first."
            )
        return CommandError(
            f"{name(store)} could not {action}: {store.address()} failed ({type(exc).__name__}: {detail}); "
            "check that the server is running and that the settings point at it."
        )
    return CommandError(
        f"{name(store)} could not {action} ({type(exc).__name__}: {detail}); "
        "run the command again with --traceback to see where it failed."
    )


def unsupported(store: Store, action: str) -> CommandError:
    return CommandError(
        f"{name(store)} cannot {action}; use a store that can, such as DatabaseStore or RedisStore."
    )


@contextmanager
def store_errors(store: Store, action: str) -> Iterator[None]:
    """Turn a store's failure to ``action`` into a CommandError sentence."""
    try:
        yield
    except (CommandError, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # the command line is the boundary; --traceback shows the rest
        raise failure(store, action, exc) from exc


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return number


def positive_seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {value!r}")
    return number


def session_id(value: str) -> str:
    """A session id, given as is or as the cookie value a browser holds (``s:...``)."""
    decoded = signing.decode_uri_component(value) or value
    if not decoded.startswith(signing.SIGNED_PREFIX):
        return value
    sid = signing.unsign_cookie(decoded, conf.current().keys)
    if sid is None:
        raise CommandError(
            f"{value!r} looks like a signed cookie value, but none of the EXPSESSION secrets signed it; "
            "give the session id itself, or check the SECRET setting."
        )
    return sid


def sessions(count: int, adjective: str = "") -> str:
    """``"1 session"``, ``"1,200 expired sessions"``."""
    word = f"{adjective} session" if adjective else "session"
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def duration(seconds: float) -> str:
    """``"0.4 s"``, ``"12 s"``, ``"3 min 5 s"``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
