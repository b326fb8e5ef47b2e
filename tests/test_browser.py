"""The demo site in headless Chromium: counter, login, reload, logout, the stored cookie.

Playwright drives Debian's ``/usr/bin/chromium`` (it cannot download its
own browser here); the demo runs under uvicorn on a fresh SQLite file.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from .integration.server import Server, serve
from .services import IN_CI

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAX_AGE = 3600  # the demo's EXPSESSION["COOKIE"]["MAX_AGE"]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not shutil.which(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("demo")
    with serve(tmp, "testproject.settings", setup=(("createdemouser",),)) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing:
        if IN_CI:
            pytest.fail(f"The browser test cannot run in CI: {missing}.")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def session_cookie(page: Any) -> dict[str, Any]:
    [cookie] = [c for c in page.context.cookies() if c["name"] == "connect.sid"]
    return cookie  # type: ignore[no-any-return]


def test_counter_login_reload_logout_in_a_real_browser(demo, page):
    page.goto(f"{demo.url}/")
    assert page.text_content("#views") == "you viewed this page 1 time"
    page.reload()
    assert page.text_content("#views") == "you viewed this page 2 times"
    assert page.text_content("#user") == "user: anonymous"
    anonymous = session_cookie(page)["value"]

    page.click("#login")
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "demo")
    page.click("#submit")
    page.wait_for_url(f"{demo.url}/")

    assert page.text_content("#user") == "user: demo"
    # Login gave the session a new id and kept its data.
    logged_in = session_cookie(page)["value"]
    assert logged_in != anonymous
    assert page.text_content("#views") == "you viewed this page 3 times"

    page.reload()
    assert page.text_content("#user") == "user: demo"
    assert page.text_content("#views") == "you viewed this page 4 times"
    assert session_cookie(page)["value"] == logged_in

    page.click("#logout")
    page.wait_for_url(f"{demo.url}/")
    assert page.text_content("#user") == "user: anonymous"
    assert page.text_content("#views") == "you viewed this page 1 time"
    assert session_cookie(page)["value"] not in (anonymous, logged_in)


def test_the_browser_stores_the_cookie_as_express_sets_it(demo, page):
    page.goto(f"{demo.url}/")
    cookie = session_cookie(page)
    assert re.fullmatch(r"s%3A[\w-]{32}\.[\w%]+", cookie["value"])
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False
    assert cookie["path"] == "/"
    assert cookie["domain"] == "127.0.0.1"
    # A persistent cookie: maxAge one hour from now (Expires has second precision).
    assert abs(cookie["expires"] - (time.time() + MAX_AGE)) < 60
    # HttpOnly: scripts on the page cannot read it.
    assert "connect.sid" not in page.evaluate("document.cookie")


def test_expiry_page_counts_down_from_the_cookie_max_age(demo, page):
    page.goto(f"{demo.url}/expiry/")
    countdown = page.locator("#countdown")
    # The script replaced the server's text with minutes:seconds.
    page.wait_for_function("/^\\d+:\\d\\d$/.test(document.getElementById('countdown').textContent)")
    minutes, seconds = map(int, countdown.text_content().split(":"))
    assert MAX_AGE - 60 < minutes * 60 + seconds <= MAX_AGE
    expires = countdown.get_attribute("data-expires")
    stored = session_cookie(page)["expires"]
    # The page shows the expiry the browser stored for the cookie (Chromium
    # shifts Expires by the server's Date header, which has 1 s precision).
    shown = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
    assert abs(shown - stored) < 5


def log_in(page: Any, url: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "demo")
    page.click("#submit")
    page.wait_for_url(f"{url}/")
    assert page.text_content("#user") == "user: demo"


def test_ending_the_other_session_on_the_sessions_page_logs_that_browser_out(demo, browser, page):
    # Two browsers (contexts share no cookies) logged in as the same user.
    # The other tests here log out at their end, so these are the user's only sessions.
    elsewhere = browser.new_context()
    try:
        other = elsewhere.new_page()
        other.set_default_timeout(15_000)
        log_in(page, demo.url)
        log_in(other, demo.url)

        page.click("#sessions")
        page.wait_for_url(f"{demo.url}/account/sessions/")
        assert page.title() == "Your sessions · django-expsession demo"
        assert page.locator("#sessions tr.session").count() == 2
        this = page.locator("#sessions tr.current")
        assert this.count() == 1
        assert "This session" in this.text_content()
        assert re.fullmatch(r"(Headless )?Chrome on Linux", this.locator(".device").text_content())

        page.click("#sessions tr.session:not(.current) button.end-session")
        page.wait_for_selector("#messages")
        assert page.text_content("#messages").strip() == "The session has ended."
        assert page.locator("#sessions tr.session").count() == 1
        assert page.locator("#sessions tr.current").count() == 1

        other.reload()
        assert other.text_content("#user") == "user: anonymous"
        page.reload()
        assert page.text_content("#user") == "user: demo"
        page.click("#logout")
        page.wait_for_url(f"{demo.url}/")
    finally:
        elsewhere.close()


def test_the_admin_lists_sessions_and_logs_another_browser_out(demo, browser, page):
    # Another browser, logged in as the same user: the session to end.
    other = browser.new_context()
    elsewhere = other.new_page()
    elsewhere.set_default_timeout(15_000)
    try:
        for visitor in (elsewhere, page):
            visitor.goto(f"{demo.url}/login/")
            visitor.fill("input[name=username]", "demo")
            visitor.fill("input[name=password]", "demo")
            visitor.click("#submit")
            visitor.wait_for_url(f"{demo.url}/")
        theirs = session_cookie(elsewhere)["value"]
        assert elsewhere.text_content("#user") == "user: demo"

        page.goto(f"{demo.url}/admin/")
        page.locator("#content-main a[href='/admin/django_expsession/session/']", has_text="Sessions").click()
        page.wait_for_url(f"{demo.url}/admin/django_expsession/session/")
        assert "Store: DatabaseStore, database 'default'" in page.text_content("#session-store")
        # Both browsers' sessions are listed (beside other tests' visitors).
        their_id, my_id = (
            c.split("%3A", 1)[1].split(".", 1)[0] for c in (theirs, session_cookie(page)["value"])
        )
        theirs_row, mine_row = (f"input.action-select[value='{sid}']" for sid in (their_id, my_id))
        assert page.locator(theirs_row).count() == page.locator(mine_row).count() == 1
        page.check(theirs_row)
        page.select_option("select[name=action]", "destroy_sessions")
        page.click("button:has-text('Go')")

        assert "This destroys the following session" in page.text_content("#content")
        page.click("#content form input[type=submit]")  # Yes, I am sure
        page.wait_for_url(f"{demo.url}/admin/django_expsession/session/")
        assert "Destroyed 1 session." in page.text_content(".messagelist")
        assert page.locator(theirs_row).count() == 0
        assert page.locator(mine_row).count() == 1

        elsewhere.reload()
        assert elsewhere.text_content("#user") == "user: anonymous"
        page.goto(f"{demo.url}/")
        assert page.text_content("#user") == "user: demo"  # the admin's own session is untouched
        page.click("#logout")  # the other tests expect the demo user to have no sessions
        page.wait_for_url(f"{demo.url}/")
    finally:
        other.close()
