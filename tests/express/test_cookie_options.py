"""express's proxy and cookie option tests (catalogue #30-#59).

express's test setup sets ``req.secure`` from a header; the Django
analogue is ``request.is_secure()`` through ``SECURE_PROXY_SSL_HEADER``,
and a direct TLS request is the test client's ``secure=True``.
"""

from __future__ import annotations

import pytest

XFP_HTTPS = {"x-forwarded-proto": "https"}
TRUSTED_XFP = ("HTTP_X_FORWARDED_PROTO", "https")  # makes request.is_secure() true


@pytest.fixture
def view(http):
    @http.view
    async def view(request):
        request.session["user"] = "bob"
        return str(request.is_secure()).lower()


# -- proxy option (cookie.secure: true) --------------------------------------


@pytest.mark.parametrize(
    "xfp",
    [
        "https",  # express #30
        "https,http",  # express #31
        " HTTPS , http",  # trimmed and lower-cased (SPEC §2)
    ],
)
def test_proxy_true_trusts_the_first_x_forwarded_proto(http, expsession, view, xfp):
    # express #30, #31
    expsession.configure(PROXY=True, COOKIE={"SECURE": True, "MAX_AGE": 60})

    res = http.get(headers={"x-forwarded-proto": xfp})

    assert res.cookie is not None
    assert "Secure" in res.attrs


@pytest.mark.parametrize("xfp", [None, "http", "http,https", "httpsx"])
def test_proxy_true_without_https_forwarded_sends_no_secure_cookie(http, expsession, view, xfp):
    # express #32
    store = expsession.configure(PROXY=True, COOKIE={"SECURE": True, "MAX_AGE": 60})

    res = http.get(headers={"x-forwarded-proto": xfp} if xfp else {})

    assert res.status == 200
    assert res.cookie is None
    assert store.length() == 1  # the session is still saved (express)


def test_proxy_false_does_not_trust_x_forwarded_proto(http, expsession, view):
    # express #33
    expsession.configure(PROXY=False, COOKIE={"SECURE": True, "MAX_AGE": 60})

    res = http.get(headers=XFP_HTTPS)

    assert res.cookie is None


def test_proxy_false_ignores_request_is_secure(http, expsession, view, settings):
    # express #34
    settings.SECURE_PROXY_SSL_HEADER = TRUSTED_XFP
    expsession.configure(PROXY=False, COOKIE={"SECURE": True, "MAX_AGE": 60})

    res = http.get(headers=XFP_HTTPS)

    assert res.body == "true"
    assert res.cookie is None


def test_proxy_false_trusts_a_direct_tls_request(http, expsession, view):
    expsession.configure(PROXY=False, COOKIE={"SECURE": True, "MAX_AGE": 60})

    res = http.get(secure=True)

    assert "Secure" in res.attrs


def test_proxy_unset_does_not_trust_x_forwarded_proto(http, expsession, view):
    # express #35
    expsession.configure(COOKIE={"SECURE": True, "MAX_AGE": 60})

    res = http.get(headers=XFP_HTTPS)

    assert res.body == "false"
    assert res.cookie is None


def test_proxy_unset_uses_request_is_secure(http, expsession, view, settings):
    # express #36
    settings.SECURE_PROXY_SSL_HEADER = TRUSTED_XFP
    expsession.configure(COOKIE={"SECURE": True, "MAX_AGE": 60})

    res = http.get(headers=XFP_HTTPS)

    assert res.body == "true"
    assert "Secure" in res.attrs


# -- cookie path ----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",  # express #37
        "/foo",
        "/Foo/bar",  # case-sensitive
        "/%66oo/bar",  # compared undecoded
        "/foo/ba",
    ],
)
def test_no_cookie_outside_the_cookie_path(http, expsession, view, path):
    # express #37
    store = expsession.configure(COOKIE={"PATH": "/foo/bar"})

    res = http.get(path)

    assert res.status == 200
    assert res.set_cookie == []
    assert store.length() == 0


def test_host_header_plays_no_part_in_the_cookie_path(http, expsession, view):
    # express #38: Host "http://foo/bar" with path "/" (Django rejects
    # such a host; either way no session cookie is sent)
    expsession.configure(COOKIE={"PATH": "/foo/bar"})

    res = http.get("/", headers={"host": "http://foo/bar"})

    assert res.set_cookie == []
    assert expsession.calls["set"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "/foo/bar",  # express #39 (by its title)
        "/foo/bar/baz",  # express #39, #40
        "/foo/barbaz",  # a plain string prefix, as in express
        "/foo/bar?x=1",
    ],
)
def test_cookie_under_the_cookie_path(http, expsession, view, path):
    # express #39, #40
    expsession.configure(COOKIE={"PATH": "/foo/bar"})

    res = http.get(path)

    assert res.attrs["Path"] == "/foo/bar"


def test_cookie_path_includes_the_mount_prefix(http, expsession, view):
    # express #41: mounted at /foo, the full path is compared
    expsession.configure(COOKIE={"PATH": "/foo/bar"})

    res = http.get("/foo/bar", script_name="/foo")

    assert res.attrs["Path"] == "/foo/bar"


def test_mounted_path_without_the_cookie_path_gets_no_cookie(http, expsession, view):
    # express #42
    expsession.configure(COOKIE={"PATH": "/foo/bar"})

    res = http.get("/foo/foo/bar", script_name="/foo")

    assert res.set_cookie == []


# -- secure "auto" ----------------------------------------------------------


def test_secure_auto_with_proxy_true_sets_secure_for_forwarded_https(http, expsession, view):
    # express #43
    expsession.configure(PROXY=True, COOKIE={"SECURE": "auto", "MAX_AGE": 60})

    res = http.get(headers=XFP_HTTPS)

    assert "Secure" in res.attrs


def test_secure_auto_with_proxy_false_ignores_forwarded_https(http, expsession, view):
    # express #44
    expsession.configure(PROXY=False, COOKIE={"SECURE": "auto", "MAX_AGE": 60})

    res = http.get(headers=XFP_HTTPS)

    assert res.cookie is not None
    assert "Secure" not in res.attrs


def test_secure_auto_follows_request_is_secure(http, expsession, view, settings):
    # express #45
    settings.SECURE_PROXY_SSL_HEADER = TRUSTED_XFP
    expsession.configure(COOKIE={"SECURE": "auto", "MAX_AGE": 60})

    res = http.get(headers=XFP_HTTPS)

    assert res.body == "true"
    assert "Secure" in res.attrs


def test_secure_auto_on_an_insecure_request_is_not_secure(http, expsession, view):
    # express #46
    expsession.configure(COOKIE={"SECURE": "auto", "MAX_AGE": 60})

    res = http.get()

    assert res.body == "false"
    assert res.cookie is not None
    assert "Secure" not in res.attrs


def test_secure_auto_is_resolved_once_and_stored(http, expsession, view):
    # EXPRESS-SESSION.md §2.4: the resolved boolean lives with the session,
    # so a later plain-http request does not get the Secure cookie
    store = expsession.configure(ROLLING=True, COOKIE={"SECURE": "auto", "MAX_AGE": 60})

    first = http.get(secure=True)
    later = http.get(cookie=first.cookie)
    again = http.get(cookie=first.cookie, secure=True)

    assert store.get(first.sid)["cookie"]["secure"] is True
    assert later.cookie is None
    assert again.sid == first.sid
    assert "Secure" in again.attrs


# -- "cookie" is a function --------------------------------------------------


def cookie_for_test(request):
    cookie_for_test.calls += 1
    return {"PATH": "/test", "HTTPONLY": True, "SECURE": False}


def cookie_from_request(request):
    return {"PATH": request.path}


def test_cookie_callable_options_are_applied(http, expsession, view):
    # express #47
    cookie_for_test.calls = 0
    expsession.configure(COOKIE=cookie_for_test)

    res = http.get("/test")

    assert res.attrs["Path"] == "/test"
    assert "HttpOnly" in res.attrs
    assert "Secure" not in res.attrs
    assert cookie_for_test.calls == 1  # express calls it twice for a new session


def test_cookie_callable_receives_the_request(http, expsession, view):
    # express #48 (as a dotted path)
    expsession.configure(COOKIE=f"{__name__}.cookie_from_request")

    res = http.get("/test")

    assert res.attrs["Path"] == "/test"


@pytest.mark.parametrize(("secure", "expected"), [(True, True), (False, False)])
def test_secure_auto_also_works_from_a_cookie_callable(http, expsession, view, secure, expected):
    # express ignores "auto" from a function (EXPRESS-SESSION.md §1); here it is resolved
    expsession.configure(COOKIE=lambda request: {"SECURE": "auto", "SAMESITE": "auto"})

    res = http.get(secure=secure)

    assert ("Secure" in res.attrs) is expected
    assert res.attrs["SameSite"] == ("None" if secure else "Lax")


# -- sameSite "auto" ---------------------------------------------------------


@pytest.mark.parametrize(
    ("proxy", "request_kwargs", "samesite", "express"),
    [
        (None, {"secure": True}, "None", 49),
        (None, {"headers": XFP_HTTPS, "trusted": True}, "None", 49),
        (None, {}, "Lax", 50),
        (True, {"headers": XFP_HTTPS}, "None", 51),
        (True, {"headers": {"x-forwarded-proto": "http"}}, "Lax", 52),
        (False, {"headers": XFP_HTTPS}, "Lax", 53),
    ],
    ids=["tls", "is_secure", "insecure", "proxy-https", "proxy-http", "no-proxy-https"],
)
def test_samesite_auto_is_none_when_secure_else_lax(
    http, expsession, view, settings, proxy, request_kwargs, samesite, express
):
    # express #49-#53
    kwargs = dict(request_kwargs)
    if kwargs.pop("trusted", False):
        settings.SECURE_PROXY_SSL_HEADER = TRUSTED_XFP
    expsession.configure(PROXY=proxy, COOKIE={"SAMESITE": "auto", "MAX_AGE": 60})

    res = http.get(**kwargs)

    assert res.attrs["SameSite"] == samesite


@pytest.mark.parametrize(
    ("secure_option", "secure_request", "has_secure", "samesite", "express"),
    [
        ("auto", True, True, "None", 54),
        ("auto", False, False, "Lax", 55),
        (False, True, False, "None", 56),
        (False, False, False, "Lax", 57),
        (True, True, True, "None", 58),
    ],
    ids=["auto-secure", "auto-insecure", "false-secure", "false-insecure", "true-secure"],
)
def test_samesite_auto_combined_with_secure(
    http, expsession, view, secure_option, secure_request, has_secure, samesite, express
):
    # express #54-#58
    expsession.configure(COOKIE={"SECURE": secure_option, "SAMESITE": "auto", "MAX_AGE": 60})

    res = http.get(secure=secure_request)

    assert ("Secure" in res.attrs) is has_secure
    assert res.attrs["SameSite"] == samesite


def test_secure_cookie_is_not_sent_over_plain_http(http, expsession, view):
    # express #59
    expsession.configure(COOKIE={"SECURE": True, "SAMESITE": "auto", "MAX_AGE": 60})

    res = http.get()

    assert res.body == "false"
    assert res.set_cookie == []
