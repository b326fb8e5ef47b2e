"""Properties of cookie signing and Cookie-header parsing, against a reference model.

The model below is written from the npm packages' behaviour
(EXPRESS-SESSION.md 2.3 and 6): cookie-signature signs ``value`` as
``value + "." + base64(HMAC-SHA256)`` without padding and verifies by
recomputing; express-session reads the first cookie of its name from the
header (split on ``;``, trimmed of spaces and tabs, unquoted, then
percent-decoded only when it holds a ``%``, the raw text kept when that
fails) and takes the sid only from an ``s:`` value that some secret signed.
It shares no code with ``django_expsession.signing``.

Header text is what a server hands Django: the header's bytes decoded as
Latin-1 (WSGI and ASGI alike), so it never holds a lone surrogate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import string
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from django.test import RequestFactory
from hypothesis import assume, event, example, given
from hypothesis import strategies as st

from django_expsession import signing
from django_expsession.middleware import SessionMiddleware
from django_expsession.requestinfo import cookie_header
from django_expsession.stores import get_store

from .conftest import PROFILE

# -- the reference model ----------------------------------------------------------


def ref_key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def ref_sign(value: str, secret: str | bytes) -> str:
    mac = hmac.new(ref_key(secret), value.encode("utf-8"), hashlib.sha256).digest()
    return value + "." + base64.b64encode(mac).decode("ascii").rstrip("=")


def ref_unsign(signed: str, secret: str | bytes) -> str | None:
    """cookie-signature's unsign: cut at the last dot, re-sign, compare the whole string."""
    cut = signed.rfind(".")
    # No dot: JavaScript's slice(0, -1) drops the last character.
    value = signed[:cut] if cut >= 0 else signed[:-1]
    return value if ref_sign(value, secret) == signed else None


def ref_sid(cookie_value: str | None, secrets: list[str | bytes]) -> str | None:
    """express's getcookie after parsing: an ``s:`` value some secret signed, a non-empty sid."""
    if not cookie_value or not cookie_value.startswith("s:"):
        return None
    for secret in secrets:
        value = ref_unsign(cookie_value[2:], secret)
        if value is not None:
            return value or None  # an empty sid is falsy: absent
    return None


_URI_SAFE = set(string.ascii_letters + string.digits + "-_.!~*'()")


def ref_encode_uri_component(text: str) -> str:
    out = []
    for char in text:
        if char in _URI_SAFE:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


_HEX = set(string.hexdigits)


def ref_decode_uri_component(text: str) -> str | None:
    """JavaScript's decodeURIComponent; None where it throws a URIError."""
    out: list[str] = []
    pending = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                return None
            pending.append(int(pair, 16))
            i += 3
            continue
        if pending:
            try:
                out.append(pending.decode("utf-8"))
            except UnicodeDecodeError:
                return None
            pending.clear()
        out.append(text[i])
        i += 1
    if pending:
        try:
            out.append(pending.decode("utf-8"))
        except UnicodeDecodeError:
            return None
    return "".join(out)


def ref_parse_value(raw: str) -> str:
    """One cookie value as the npm ``cookie`` package 0.7.2 returns it."""
    value = raw.strip(" \t")
    if len(value) >= 1 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]  # a lone '"' becomes "" (both indexes hit it)
    if "%" not in value:
        return value
    decoded = ref_decode_uri_component(value)
    return value if decoded is None else decoded


def ref_cookie(header: str | None, name: str) -> str | None:
    """The first ``name`` cookie of a header, parsed; None when there is none."""
    if header is None or len(header) < 2:
        return None
    for pair in header.split(";"):
        if "=" not in pair:
            continue
        key, _, raw = pair.partition("=")
        if key.strip(" \t") == name:
            return ref_parse_value(raw)
    return None


def ref_getcookie(header: str | None, name: str, secrets: list[str | bytes]) -> str | None:
    return ref_sid(ref_cookie(header, name), secrets)


def test_reference_model_reproduces_the_npm_vectors():
    """The model is only worth comparing with if it matches the real packages."""
    from tests import vectors

    for vector in vectors.entries("sign_vectors"):
        secret = vectors.secret(vector["secret_id"])
        assert ref_sign(vector["value"], secret) == vector["signed"]
        assert ref_encode_uri_component(vector["cookie_value"]) == vector["encoded_cookie_value"]
    for vector in vectors.entries("sid_extraction_vectors"):
        secrets = vector["secrets"]  # the secrets themselves here
        assert ref_getcookie(vector["cookie_header"], vector["name"], secrets) == vector["extracted_sid"]


# -- strategies -----------------------------------------------------------------------

# Text a JavaScript string can hold that UTF-8 can encode (no lone surrogates).
unicode_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
# What a server can hand over as a header: bytes 0-255, one character each.
latin1_text = st.text(st.characters(max_codepoint=0xFF), max_size=60)
secret_strategy = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20),
    st.binary(min_size=1, max_size=80),
)
secrets_strategy = st.lists(secret_strategy, min_size=1, max_size=4, unique=True)
# Characters that matter to the parser, weighted in: separators, quotes, escapes.
_TRICKY = st.sampled_from(
    [";", "=", " ", "\t", '"', "%", "%3A", "%2B", "%zz", "%C3", "s:", "s%3A", ".", "\xe9"]
)
tricky_text = st.lists(
    st.one_of(_TRICKY, st.text(st.characters(max_codepoint=0xFF), max_size=4)), max_size=12
).map("".join)


@st.composite
def signed_values(draw: Any, secrets: list[str | bytes]) -> str:
    """A decoded cookie value: often validly signed by one of ``secrets`` or by another."""
    sid = draw(unicode_text)
    choice = draw(st.sampled_from(["ours", "other", "raw"]))
    if choice == "ours":
        return "s:" + ref_sign(sid, draw(st.sampled_from(secrets)))
    if choice == "other":
        return "s:" + ref_sign(sid, draw(secret_strategy))
    return draw(st.one_of(unicode_text, unicode_text.map(lambda t: "s:" + t)))


@st.composite
def cookie_headers(draw: Any, name: str, valid: list[str]) -> str:
    """A Cookie header: pairs (some named ``name``, some carrying ``valid`` values), odd separators."""
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        key = draw(st.one_of(st.just(name), st.just(" " + name + "\t"), tricky_text))
        value = draw(
            st.one_of(
                st.sampled_from(valid) if valid else tricky_text,
                st.sampled_from(valid).map(lambda v: '"' + v + '"') if valid else tricky_text,
                tricky_text,
                latin1_text,
            )
        )
        eq = draw(st.sampled_from(["=", "=", " = ", ""]))
        parts.append(key + eq + value)
    separator = draw(st.sampled_from([";", "; ", " ;\t", ";;"]))
    return draw(st.one_of(st.just(separator.join(parts)), latin1_text, tricky_text))


# -- signing ----------------------------------------------------------------------------


@PROFILE
@given(sid=unicode_text, secrets=secrets_strategy, data=st.data())
def test_sign_then_unsign_round_trips_for_every_secret_of_a_rotation(sid, secrets, data):
    index = data.draw(st.integers(0, len(secrets) - 1))
    signer = secrets[index]

    signed = signing.sign(sid, signer)
    assert signed == ref_sign(sid, signer)
    assert signing.unsign(signed, secrets) == sid

    # The whole cookie value, as Set-Cookie carries it, back through the reader.
    value = signing.cookie_value(sid, signer)
    assert value == ref_encode_uri_component("s:" + signed)
    assert signing.decode_cookie_value(value) == "s:" + signed
    assert signing.unsign_cookie(signing.decode_cookie_value(value), secrets) == (sid or None)
    assert signing.Verifier(tuple(ref_key(s) for s in secrets)).sid(value) == (sid or None)


@PROFILE
@given(sid=unicode_text, secrets=secrets_strategy, other=secret_strategy)
def test_a_secret_outside_the_rotation_never_verifies(sid, secrets, other):
    assume(ref_key(other) not in {ref_key(s) for s in secrets})
    assert signing.unsign(signing.sign(sid, other), secrets) is None


def _edits(text: str, data: Any, alphabet: Any) -> str:
    """One substitution, insertion or deletion somewhere in ``text``."""
    kind = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    if kind == "insert":
        at = data.draw(st.integers(0, len(text)))
        return text[:at] + data.draw(alphabet) + text[at:]
    at = data.draw(st.integers(0, len(text) - 1))
    if kind == "delete":
        return text[:at] + text[at + 1 :]
    char = data.draw(alphabet.filter(lambda c: c != text[at]))
    return text[:at] + char + text[at + 1 :]


@PROFILE
@given(sid=unicode_text, secrets=secrets_strategy, data=st.data())
def test_any_one_character_change_of_a_signed_value_is_refused(sid, secrets, data):
    signed = "s:" + signing.sign(sid, data.draw(st.sampled_from(secrets)))
    changed = _edits(signed, data, st.characters(exclude_categories=("Cs",)))
    assert signing.unsign_cookie(changed, secrets) is None


@PROFILE
@given(sid=unicode_text, secrets=secrets_strategy, data=st.data())
@example(sid="apple", secrets=["keyboard cat"], data=None).via("a lower-case escape decodes the same")
def test_a_changed_cookie_value_is_refused_unless_it_decodes_to_the_same_value(sid, secrets, data):
    value = signing.cookie_value(sid, secrets[0])
    if data is None:  # the explicit example: "%3A" -> "%3a" is no change at all
        changed = value.replace("%3A", "%3a")
    else:
        changed = _edits(value, data, st.characters(max_codepoint=0xFF))
    got = signing.Verifier(tuple(ref_key(s) for s in secrets)).sid(changed)
    if ref_parse_value(changed) == "s:" + ref_sign(sid, secrets[0]):
        assert got == (sid or None)  # e.g. "%3A" -> "%3a", or a trailing space trimmed
    else:
        assert got is None


@PROFILE
@given(secrets=secrets_strategy, data=st.data())
def test_unsign_cookie_agrees_with_the_reference_on_any_value(secrets, data):
    value = data.draw(st.one_of(signed_values(secrets), unicode_text))
    event("verified" if ref_sid(value, secrets) else "refused")
    assert signing.unsign_cookie(value, secrets) == ref_sid(value, secrets)


@PROFILE
@given(value=st.text(max_size=60), secrets=secrets_strategy)
@example(value="s:\ud800.x", secrets=["k"])
def test_unsign_returns_none_or_the_value_for_any_python_string(value, secrets):
    # Lone surrogates included: no header can carry one, but the API takes any str.
    got = signing.unsign(value, secrets)
    assert got is None or value.startswith(got + ".")


# -- header parsing ----------------------------------------------------------------------


@PROFILE
@given(raw=st.one_of(latin1_text, tricky_text, unicode_text))
@example(raw='"').via("a lone quote is both quotes")
@example(raw='"%41"')
@example(raw=" %E2%82%AC\t")
@example(raw="%C3%28")
@example(raw="%ED%A0%80").via("an encoded surrogate is not UTF-8")
def test_decode_cookie_value_agrees_with_the_npm_cookie_package(raw):
    assert signing.decode_cookie_value(raw) == ref_parse_value(raw)


@PROFILE
@given(text=st.one_of(latin1_text, tricky_text, unicode_text))
def test_uri_component_decoding_agrees_with_decode_uri_component(text):
    assert signing.decode_uri_component(text) == ref_decode_uri_component(text)


@PROFILE
@given(text=unicode_text)
def test_uri_component_encoding_agrees_and_round_trips(text):
    encoded = signing.encode_uri_component(text)
    assert encoded == ref_encode_uri_component(text)
    assert signing.decode_uri_component(encoded) == text


_NAMES = st.sampled_from(["connect.sid", "sid", "__Host-s", "a"])


@PROFILE
@given(name=_NAMES, secrets=secrets_strategy, data=st.data())
def test_the_sid_read_from_any_header_agrees_with_express(name, secrets, data):
    valid = [signing.cookie_value(data.draw(unicode_text), s) for s in secrets]
    header = data.draw(cookie_headers(name, valid))
    raw = signing.raw_cookie(header, name)
    verifier = signing.Verifier(tuple(ref_key(s) for s in secrets))
    got = None if raw is None else verifier.sid(raw)
    event("a sid" if got is not None else "no sid")
    assert got == ref_getcookie(header, name, secrets)
    # A second look (now from the verifier's memory) gives the same answer.
    assert (None if raw is None else verifier.sid(raw)) == got


@PROFILE
@given(header=st.binary(max_size=80), name=_NAMES, secrets=secrets_strategy)
def test_any_header_bytes_give_a_sid_or_none(header, name, secrets):
    text = header.decode("latin-1")
    raw = signing.raw_cookie(text, name)
    got = None if raw is None else signing.Verifier(tuple(ref_key(s) for s in secrets)).sid(raw)
    assert got == ref_getcookie(text, name, secrets)


@PROFILE
@given(
    lines=st.lists(
        st.one_of(st.binary(max_size=30), tricky_text.map(lambda t: t.encode("latin-1"))), max_size=4
    ),
    valid_at=st.integers(0, 4),
)
def test_cookie_lines_of_an_asgi_request_are_read_as_one_header(lines, valid_at):
    """HTTP/2 sends one cookie per header line; the lines are one header joined by "; "."""
    valid = b"connect.sid=" + signing.cookie_value("abc", "k").encode("ascii")
    lines = [*lines[:valid_at], valid, *lines[valid_at:]] if valid_at < 4 else lines
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"cookie", line) for line in lines] + [(b"host", b"testserver")],
    }
    header = cookie_header(ASGIRequest(scope, io.BytesIO()))
    joined = "; ".join(line.decode("latin-1") for line in lines if line)
    assert header == (joined or None)
    raw = None if header is None else signing.raw_cookie(header, "connect.sid")
    got = None if raw is None else signing.Verifier((b"k",)).sid(raw)
    assert got == ref_getcookie(joined or None, "connect.sid", ["k"])


# -- through the middleware ------------------------------------------------------------

SECRETS = ["new secret", "keyboard cat"]
KNOWN = ["knownsessionidA", "known.session.B"]


def _headers_for_middleware() -> Any:
    cookies = [signing.cookie_value(sid, secret) for sid in KNOWN for secret in SECRETS]
    cookies.append(signing.cookie_value("unknownsession", SECRETS[0]))
    cookies.append(signing.cookie_value(KNOWN[0], "an old secret no longer listed"))
    return st.one_of(
        cookie_headers("connect.sid", cookies),
        st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
        st.none(),
    )


def test_the_middleware_loads_exactly_the_session_express_would(settings):
    settings.EXPSESSION = {
        "SECRET": SECRETS,
        "RESAVE": False,
        "SAVE_UNINITIALIZED": False,
        "COOKIE": {"MAX_AGE": 3600},
        "STORE": {"BACKEND": "tests.spy.SpyMemoryStore"},
    }
    from tests import spy

    factory = RequestFactory()
    seen: dict[str, Any] = {}

    def view(request):
        seen["sid"] = request.session.session_key if request.session.get("mark") else None
        return HttpResponse("")

    middleware = SessionMiddleware(view)
    store = get_store()
    for sid in KNOWN:
        store.set(sid, {"cookie": {"originalMaxAge": 3600000, "expires": None, "path": "/"}, "mark": sid})

    ran = [0]  # examples, printed for the long run's record

    @PROFILE
    @given(header=_headers_for_middleware())
    def check(header):
        ran[0] += 1
        extra = {} if header is None else {"HTTP_COOKIE": header}
        spy.calls.clear()
        response = middleware(factory.get("/", **extra))
        assert response.status_code == 200
        expected = ref_getcookie(header, "connect.sid", SECRETS)
        event("a known session" if expected in KNOWN else "a signed unknown id" if expected else "no sid")
        assert seen["sid"] == (expected if expected in KNOWN else None)
        # A value no secret signed never costs a store read.
        assert spy.calls["get"] == (0 if expected is None else 1)
        assert spy.calls["set"] == 0  # nothing was changed, nothing new is kept

    check()
    print(f"\nexamples run: {ran[0]}")


def test_reference_decoder_rejects_what_javascript_rejects():
    # A few fixed points of decodeURIComponent, so the model itself is pinned.
    assert ref_decode_uri_component("%") is None
    assert ref_decode_uri_component("%4") is None
    assert ref_decode_uri_component("%41%") is None
    assert ref_decode_uri_component("%E2%82%AC") == "\u20ac"
    assert ref_decode_uri_component("%E2%82") is None
    assert ref_decode_uri_component("%F0%9F%94%91") == "\U0001f511"
    assert ref_decode_uri_component("%C0%AF") is None  # overlong
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}", ref_sign("x", "k").split(".", 1)[1])
