"""A device in a few words from its User-Agent header: "Firefox on Linux", "Safari on iPhone".

Enough for a person to recognise their own browser on the "your sessions"
page, not a user-agent database: a short, ordered list of tokens per
family, first match wins. The header is untrusted input, so this only
looks for fixed substrings (no regular expressions, nothing that grows
with the input beyond one pass per token).
"""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN = "Unknown device"

# Order matters: many browsers also claim to be the ones after them
# (Edge and Opera say "Chrome/", Chrome says "Safari/", iOS browsers "Version/").
_BROWSERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Edge", ("Edg/", "EdgA/", "EdgiOS/", "Edge/")),
    ("Opera", ("OPR/", "OPT/", "OPiOS/", "Opera")),
    ("Samsung Internet", ("SamsungBrowser/",)),
    ("Vivaldi", ("Vivaldi/",)),
    ("Yandex Browser", ("YaBrowser/",)),
    ("Firefox", ("Firefox/", "FxiOS/")),
    ("Headless Chrome", ("HeadlessChrome/",)),
    ("Chromium", ("Chromium/",)),
    ("Chrome", ("CriOS/", "Chrome/")),
    ("Internet Explorer", ("MSIE ", "Trident/")),
    ("Safari", ("Safari/",)),
    ("curl", ("curl/",)),
    ("Wget", ("Wget/",)),
    ("Python Requests", ("python-requests/",)),
)
_OPERATING_SYSTEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("iPhone", ("iPhone",)),
    ("iPad", ("iPad",)),
    ("iPod", ("iPod",)),
    ("Windows Phone", ("Windows Phone",)),
    ("Android", ("Android",)),
    ("ChromeOS", ("CrOS ",)),
    ("Windows", ("Windows",)),
    ("macOS", ("Macintosh", "Mac OS X")),
    ("FreeBSD", ("FreeBSD",)),
    ("OpenBSD", ("OpenBSD",)),
    ("Linux", ("Linux", "X11")),
)


@dataclass(frozen=True)
class Device:
    browser: str | None
    os: str | None

    def __str__(self) -> str:
        if self.browser and self.os:
            return f"{self.browser} on {self.os}"
        if self.browser:
            return self.browser
        if self.os:
            return f"A browser on {self.os}"
        return UNKNOWN


def _family(agent: str, table: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    return next((name for name, tokens in table if any(token in agent for token in tokens)), None)


def parse(user_agent: str | None) -> Device:
    """The browser and operating system families named by ``user_agent`` (None where unknown)."""
    if not user_agent:
        return Device(None, None)
    return Device(_family(user_agent, _BROWSERS), _family(user_agent, _OPERATING_SYSTEMS))


def describe(user_agent: str | None) -> str:
    """``user_agent`` in a few words for people: "Firefox on Linux", or "Unknown device"."""
    return str(parse(user_agent))
