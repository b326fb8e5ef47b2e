"""A progress line on a terminal: how far, how fast, how long to go."""

from __future__ import annotations

import time

from django.core.management.base import OutputWrapper

from .support import duration, plain


class Progress:
    """Rewrites one line of ``stream`` (a terminal), at most every ``interval`` seconds."""

    def __init__(self, stream: OutputWrapper, what: str, *, enabled: bool, interval: float = 0.25) -> None:
        self.stream, self.what, self.enabled, self.interval = stream, what, enabled, interval
        self._shown = 0
        self._last = 0.0

    def update(self, done: int, expected: int | None, elapsed: float) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < self.interval:
            return
        self._last = now
        line = f"{self.what}: {done:,}"
        if expected:
            line += f" of {expected:,} ({min(100, 100 * done // expected)}%)"
        if elapsed > 0 and done:
            rate = done / elapsed
            line += f", {rate:,.0f}/s"
            if expected and expected > done:
                line += f", about {duration((expected - done) / rate)} left"
        self._write(line)

    def finish(self) -> None:
        """Clear the line, so the final message takes its place."""
        if self._shown:
            self._write("")
            self.stream.write("\r", style_func=plain, ending="")
            self._shown = 0

    def _write(self, line: str) -> None:
        padding = " " * max(0, self._shown - len(line))
        self.stream.write(f"\r{line}{padding}", style_func=plain, ending="")
        self.stream.flush()
        self._shown = len(line)
