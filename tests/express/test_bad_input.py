"""Bad cookies (issue 2, "Bad input"): a fresh session and a normal 200.

No Cookie header a client can send makes the request fail, and a value
without a valid signature never reaches the store.
"""

from __future__ import annotations

import re

import pytest
from freezegun import freeze_time

from .harness import sign_cookie

SID = re.compile(r"^[A-Za-z0-9_-]{32}$")
UTF8_AS_LATIN1 = "é".encode().decode("latin-1")  # how a server hands over UTF-8 bytes

# Cookie headers whose session cookie has no valid signature.
UNSIGNED = {
    "garbage": "connect.sid=%%%garbage%%%;;==",
    "unsigned": "connect.sid=abcdefghijklmnopqrstuvwxyz012345",
    "unsigned-with-dot": "connect.sid=abc.def",
    "wrongly-signed": "connect.sid=" + sign_cookie("abcdefghijklmnopqrstuvwxyz012345", "nyan cat"),
    "trailing-garbage": "connect.sid={valid}x",
    "other-sessions-signature": "connect.sid=s%3Aabc.{signature}",
    "signed-empty-sid": "connect.sid=" + sign_cookie(""),
    "empty": "connect.sid=",
    "empty-quoted": 'connect.sid=""',
    "prefix-only": "connect.sid=s%3A",
    "no-value": "connect.sid",
    "other-cookie-only": "other=" + sign_cookie("abcdefghijklmnopqrstuvwxyz012345"),
    "empty-header": "",
    "separators-only": ";;; ;",
    "over-long-value": "connect.sid=s%3A" + "a" * 9000 + ".b",
    "over-long-header": "; ".join(f"c{i}={'x' * 90}" for i in range(100)) + "; connect.sid=s%3Ax.y",
    "non-ascii": f"connect.sid=s%3Acaf{UTF8_AS_LATIN1}.xyz",
    "latin-1": "connect.sid=s:caf\xe9.xyz",
    "bad-percent-utf8": "connect.sid=s%3A%C3%28.xyz",
    "bad-percent-escape": "connect.sid=s%3A%zz.xyz",
    "nul-and-controls": "connect.sid=s%3A%00%01%7F.xyz",
    "duplicated-first-invalid": "connect.sid=garbage; connect.sid={valid}",
}


@pytest.fixture
def counting_view(http):
    @http.view
    async def view(request):
        request.session["n"] = request.session.get("n", 0) + 1
        return f"session {request.session['n']}"


@pytest.mark.parametrize("header", list(UNSIGNED.values()), ids=list(UNSIGNED))
def test_invalid_cookie_gets_a_fresh_session_and_no_store_read(http, expsession, counting_view, header):
    store = expsession.configure()
    existing = http.get()
    assert existing.body == "session 1"
    expsession.calls.clear()

    signature = existing.value.rsplit(".", 1)[1]
    res = http.get(cookie=header.format(valid=existing.value, signature=signature))

    assert res.status == 200
    assert res.body == "session 1"
    assert SID.match(res.sid)
    assert res.sid != existing.sid
    assert expsession.calls["get"] == 0
    assert store.length() == 2


# Cookie headers that do carry the valid session cookie ({valid}).
READABLE = {
    "set-cookie-line-echoed": "{line}",
    "quoted": 'connect.sid="{valid}"',
    "spaces-and-tabs": " \t connect.sid = \t{valid}\t ;other=1",
    "among-others": "a=1; b=%zz; connect.sid={valid}; c",
    "duplicated-first-valid": "connect.sid={valid}; connect.sid=garbage",
    "duplicated-second-session": "connect.sid={valid}; connect.sid={other}",
}


@pytest.mark.parametrize("header", list(READABLE.values()), ids=list(READABLE))
def test_valid_cookie_is_read_from_any_well_formed_header(http, expsession, counting_view, header):
    # the npm cookie parser's rules: first duplicate wins, quotes and
    # spaces/tabs around values are removed, pairs without "=" are skipped
    expsession.configure()
    first, other = http.get(), http.get()
    expsession.calls.clear()

    res = http.get(cookie=header.format(line=first.cookie, valid=first.value, other=other.value))

    assert res.status == 200
    assert res.body == "session 2"
    assert res.sid == first.sid
    assert expsession.calls["get"] == 1


def test_unknown_sid_with_a_valid_signature_gets_a_fresh_session(http, expsession, counting_view):
    store = expsession.configure()

    res = http.get(cookie="connect.sid=" + sign_cookie("abcdefghijklmnopqrstuvwxyz012345"))

    assert res.status == 200
    assert res.body == "session 1"
    assert res.sid != "abcdefghijklmnopqrstuvwxyz012345"  # a client-chosen id is never adopted
    assert expsession.calls["get"] == 1
    assert store.get("abcdefghijklmnopqrstuvwxyz012345") is None


def test_expired_sid_gets_a_fresh_session(http, expsession, counting_view):
    expsession.configure(COOKIE={"MAX_AGE": 60})

    with freeze_time("2030-01-02 03:04:05") as frozen:
        first = http.get()
        frozen.tick(61)
        res = http.get(cookie=first.cookie)

    assert res.status == 200
    assert res.body == "session 1"
    assert res.sid != first.sid
