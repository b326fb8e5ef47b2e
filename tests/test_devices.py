"""The device in words from a User-Agent header (django_expsession.devices)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_expsession import devices
from django_expsession.devices import Device

# Real headers of current browsers, and what a person should read.
AGENTS = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0": "Firefox on Linux",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0": "Firefox on Linux",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0": "Firefox on Windows",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0": "Firefox on macOS",
    "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0": "Firefox on Android",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "FxiOS/127.0 Mobile/15E148 Safari/605.1.15": "Firefox on iPhone",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iPhone",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iPad",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15": "Safari on macOS",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": "Chrome on Windows",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": "Chrome on Linux",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36": "Chrome on Android",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1": "Chrome on iPhone",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": "Chrome on ChromeOS",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/126.0.0.0 Safari/537.36": "Headless Chrome on Linux",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68": "Edge on Windows",
    "Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36 EdgA/126.0.2592.80": "Edge on Android",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0": "Opera on Windows",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36": "Samsung Internet on Android",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Vivaldi/6.8": "Vivaldi on Linux",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko": "Internet Explorer on Windows",
    "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977": "Edge on Windows Phone",
    "curl/8.8.0": "curl",
    "python-requests/2.32.3": "Python Requests",
    "Mozilla/5.0 (X11; Linux x86_64)": "A browser on Linux",
    "Googlebot/2.1 (+http://www.google.com/bot.html)": "Unknown device",
    "": "Unknown device",
}


@pytest.mark.parametrize("agent", AGENTS, ids=[d or "empty" for d in AGENTS.values()])
def test_describe_names_the_browser_and_the_os(agent):
    assert devices.describe(agent) == AGENTS[agent]


def test_no_header_is_an_unknown_device():
    assert devices.describe(None) == "Unknown device"
    assert devices.parse(None) == Device(None, None)


def test_parse_gives_the_two_families():
    assert devices.parse("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0") == Device(
        "Firefox", "Linux"
    )


BROWSERS = {name for name, _ in devices._BROWSERS}
SYSTEMS = {name for name, _ in devices._OPERATING_SYSTEMS}


@given(st.one_of(st.none(), st.text(max_size=600), st.sampled_from(list(AGENTS)).map(lambda a: a * 3)))
def test_any_header_gives_a_short_description_from_the_known_names(agent):
    device = devices.parse(agent)
    assert device.browser is None or device.browser in BROWSERS
    assert device.os is None or device.os in SYSTEMS
    text = devices.describe(agent)
    assert text == str(device)
    assert 0 < len(text) <= 40  # never echoes the header back
