"""Signing and cookie parsing against cookie-signature 1.0.7 and cookie 0.7.2.

The vectors were produced by the real npm packages (EXPRESS-SESSION.md 6.4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import string

import pytest
from django.http import HttpResponse

from django_expsession import signing

from . import vectors

SIGN = vectors.entries("sign_vectors")
SIGN_IDS = vectors.ids("sign_vectors")
EXTRACT = vectors.entries("sid_extraction_vectors")
EXTRACT_IDS = vectors.ids("sid_extraction_vectors", "description")


def _tamper_last(text: str) -> str:
    return text[:-1] + ("B" if text[-1] != "B" else "C")


# -- sign_vectors --------------------------------------------------------------


@pytest.mark.parametrize("vector", SIGN, ids=SIGN_IDS)
def test_sign_matches_cookie_signature(vector):
    secret = vectors.secret(vector["secret_id"])
    assert signing.sign(vector["value"], secret) == vector["signed"]


@pytest.mark.parametrize("vector", SIGN, ids=SIGN_IDS)
def test_signature_is_the_unpadded_standard_base64_hmac(vector):
    secret = vectors.secret(vector["secret_id"])
    signature = signing.signature(vector["value"], secret)
    assert signature == vector["hmac_sha256_base64_padded"].rstrip("=")
    assert len(signature) == 43
    assert base64.b64decode(signature + "=") == base64.b64decode(vector["hmac_sha256_base64_padded"])


@pytest.mark.parametrize("vector", SIGN, ids=SIGN_IDS)
def test_string_secret_is_used_as_its_utf8_bytes(vector):
    key = bytes.fromhex(vector["secret_hex"])
    assert signing.sign(vector["value"], key) == vector["signed"]
    if vector.get("secret") is not None:
        assert vector["secret"].encode("utf-8") == key
        assert signing.sign(vector["value"], vector["secret"]) == vector["signed"]


@pytest.mark.parametrize("vector", SIGN, ids=SIGN_IDS)
def test_cookie_value_is_prefixed_and_uri_component_encoded(vector):
    secret = vectors.secret(vector["secret_id"])
    assert signing.SIGNED_PREFIX + signing.sign(vector["value"], secret) == vector["cookie_value"]
    assert signing.cookie_value(vector["value"], secret) == vector["encoded_cookie_value"]
    assert signing.encode_uri_component(vector["cookie_value"]) == vector["encoded_cookie_value"]


@pytest.mark.parametrize("vector", SIGN, ids=SIGN_IDS)
def test_unsign_with_the_same_secret_gives_the_value(vector):
    secret = vectors.secret(vector["secret_id"])
    assert signing.unsign(vector["signed"], [secret]) == vector["unsign_same_secret"]


@pytest.mark.parametrize("vector", SIGN, ids=SIGN_IDS)
def test_unsign_with_another_secret_fails(vector):
    assert vector["unsign_other_secret"] is False
    other = vectors.secret(vector["unsign_other_secret_id"])
    assert signing.unsign(vector["signed"], [other]) is None


@pytest.mark.parametrize("vector", SIGN, ids=SIGN_IDS)
def test_unsign_of_a_tampered_last_character_fails(vector):
    assert vector["unsign_tampered_last_char"] is False
    secret = vectors.secret(vector["secret_id"])
    assert signing.unsign(_tamper_last(vector["signed"]), [secret]) is None


@pytest.mark.parametrize("vector", SIGN, ids=SIGN_IDS)
def test_decoding_the_encoded_cookie_value_gives_the_signed_value_back(vector):
    decoded = signing.decode_uri_component(vector["encoded_cookie_value"])
    assert decoded == vector["cookie_value"]


# -- sid_extraction_vectors ----------------------------------------------------


def sid_from_header(header: str | None, name: str, secrets: list[str]) -> str | None:
    """What the middleware does with a Cookie header: the first ``name`` cookie, verified."""
    raw = None if not header else signing.raw_cookie(header, name)
    keys = tuple(secret.encode("utf-8") for secret in secrets)
    return None if raw is None else signing.Verifier(keys).sid(raw)


def decoded(header: str, name: str) -> str | None:
    raw = signing.raw_cookie(header, name)
    return None if raw is None else signing.decode_cookie_value(raw)


@pytest.mark.parametrize("vector", EXTRACT, ids=EXTRACT_IDS)
def test_the_sid_from_a_header_matches_express(vector):
    sid = sid_from_header(vector["cookie_header"], vector["name"], vector["secrets"])
    assert sid == vector["extracted_sid"]


def test_sid_from_a_missing_or_empty_header_is_none():
    assert sid_from_header(None, "connect.sid", ["keyboard cat"]) is None
    assert sid_from_header("", "connect.sid", ["keyboard cat"]) is None


def test_a_validly_signed_value_without_the_s_prefix_is_ignored():
    signed = signing.sign("sid123", "keyboard cat")
    assert sid_from_header(f"connect.sid={signed}", "connect.sid", ["keyboard cat"]) is None
    prefixed = signing.cookie_value("sid123", "keyboard cat")
    assert sid_from_header(f"connect.sid={prefixed}", "connect.sid", ["keyboard cat"]) == "sid123"


# -- Cookie header parsing (cookie 0.7.2's parse) -----------------------------


def test_the_first_of_duplicate_names_wins():
    assert decoded("a=1; b=2; a=3", "a") == "1"
    assert decoded("a=1; b=2; a=3", "b") == "2"
    assert decoded("a=1", "c") is None


def test_surrounding_double_quotes_only_are_removed():
    header = 'a="x y"; b="half; c=no"quote"; d=""'
    assert [decoded(header, name) for name in "abcd"] == ["x y", '"half', 'no"quote"', ""]


def test_a_lone_double_quote_value_becomes_empty_as_in_cookie_parse():
    # cookie 0.7.2 sees the same character as opening and closing quote.
    assert decoded('a="; b=1', "a") == ""
    assert decoded('a="; b=1', "b") == "1"


def test_parse_percent_decodes_values_that_contain_a_percent():
    header = "a=%C3%BC%2B; b=plus+stays; c=%7e"
    assert [decoded(header, name) for name in "abc"] == ["ü+", "plus+stays", "~"]


@pytest.mark.parametrize(
    "raw",
    [
        "%",  # truncated escape
        "abc%2",  # truncated escape at the end
        "%ZZ",  # not hex
        "%C3",  # a lone UTF-8 lead byte
        "%C3%28",  # invalid continuation byte
        "%ED%A0%80",  # an encoded UTF-16 surrogate
        "%C0%AF",  # overlong encoding
        "ok%20then%",  # a good escape before a bad one
    ],
)
def test_parse_keeps_the_raw_value_when_strict_decoding_fails(raw):
    assert signing.decode_uri_component(raw) is None
    assert decoded(f"a={raw}", "a") == raw


def test_parse_decodes_a_plus_and_space_escapes_like_decode_uri_component():
    assert signing.decode_uri_component("a%20b+c%2B") == "a b+c+"
    assert signing.decode_uri_component("%F0%9F%94%91") == "🔑"


def test_parse_skips_pairs_without_an_equals_sign():
    header = "flag; a=1; other ;b=2"
    assert [decoded(header, name) for name in ("a", "b", "flag", "other")] == ["1", "2", None, None]


def test_parse_keeps_equals_signs_inside_the_value():
    assert decoded("a=b=c==", "a") == "b=c=="


def test_parse_trims_spaces_and_tabs_but_not_other_whitespace():
    header = " \ta \t= \t1 \t;\tb=\n2"
    assert (decoded(header, "a"), decoded(header, "b")) == ("1", "\n2")


@pytest.mark.parametrize("header", ["", "a", "=", ";"])
def test_a_header_shorter_than_two_characters_gives_no_cookies(header):
    assert [decoded(header, name) for name in ("", "a")] == [None, None]


def test_a_two_character_header_is_parsed():
    assert decoded("a=", "a") == ""


def test_an_empty_name_is_a_name():
    assert (decoded("=v; a=1", ""), decoded("=v; a=1", "a")) == ("v", "1")


def test_quotes_are_removed_before_percent_decoding():
    assert decoded('a="%3A"', "a") == ":"


# -- rotation --------------------------------------------------------------------


def test_the_first_secret_signs_and_every_secret_verifies():
    secrets = ["new secret", "old secret", b"\x00older"]
    for secret in secrets:
        signed = signing.sign("sid", secret)
        assert signing.unsign(signed, secrets) == "sid"
    assert signing.unsign(signing.sign("sid", "retired"), secrets) is None


def test_secrets_are_tried_in_order_until_one_matches():
    signed = signing.sign("sid", "second")
    assert signing.unsign(signed, iter(["first", "second", "third"])) == "sid"


def test_rotation_through_the_middleware_reads_old_cookies_and_signs_with_the_first(app, expsession, client):
    store = expsession.configure(SECRET=["new secret", "old secret"])
    store.set("oldsid", {"cookie": {"originalMaxAge": 60000, "expires": None, "httpOnly": True, "path": "/"}})
    seen = []

    @app
    def view(request):
        seen.append(request.session.id)
        request.session.regenerate()
        return HttpResponse("ok")

    old_cookie = signing.cookie_value("oldsid", "old secret")
    client.cookies["connect.sid"] = old_cookie
    response = client.get("/")
    assert seen == ["oldsid"]
    new_sid = signing.unsign_cookie(
        signing.decode_uri_component(response.cookies["connect.sid"].value), ["new secret"]
    )
    assert new_sid is not None and new_sid != "oldsid"
    assert signing.unsign_cookie("s:" + signing.sign(new_sid, "new secret"), ["old secret"]) is None


# -- comparison ------------------------------------------------------------------


def test_the_whole_signed_string_must_match():
    signed = signing.sign("sid", "k")
    assert signing.unsign(signed, ["k"]) == "sid"
    assert signing.unsign(signed + "x", ["k"]) is None  # trailing garbage
    assert signing.unsign(signed[:-1], ["k"]) is None  # a truncated signature
    assert signing.unsign(signed + "=", ["k"]) is None  # padding is not accepted
    assert signing.unsign("sid.", ["k"]) is None
    assert signing.unsign("sid", ["k"]) is None  # no dot at all
    assert signing.unsign("", ["k"]) is None


def test_the_value_is_cut_at_the_last_dot():
    signed = signing.sign("a.b.c", "k")
    assert signing.unsign(signed, ["k"]) == "a.b.c"
    sig = signed.rpartition(".")[2]
    assert signing.unsign(f"a.b.{sig}", ["k"]) is None


@pytest.mark.parametrize("forged", ["sid.é", "sid.🔑🔑🔑", "ü.ü", "sid.\x00"])
def test_non_ascii_or_odd_signatures_are_rejected_without_an_error(forged):
    # A comparison on str would raise for non-ASCII input; the result must
    # simply be "not signed by us".
    assert signing.unsign(forged, ["k"]) is None
    header = "connect.sid=" + signing.encode_uri_component("s:" + forged)
    assert sid_from_header(header, "connect.sid", ["k"]) is None


def test_verification_gives_the_same_answer_as_a_constant_time_comparison():
    secret = "keyboard cat"
    signed = signing.sign("sid", secret)
    # Every single-character change anywhere in the signature is caught,
    # exactly as hmac.compare_digest on the whole strings would decide.
    value, _, sig = signed.rpartition(".")
    for i in range(len(sig)):
        for char in (string.ascii_letters + string.digits + "+/")[:8]:
            candidate = f"{value}.{sig[:i]}{char}{sig[i + 1 :]}"
            expected = hmac.compare_digest(candidate.encode(), signed.encode())
            assert (signing.unsign(candidate, [secret]) == "sid") is expected


def test_signing_uses_hmac_sha256_of_the_utf8_value():
    expected = base64.b64encode(hmac.new(b"k", "ü".encode(), hashlib.sha256).digest()).decode().rstrip("=")
    assert signing.signature("ü", "k") == expected


# -- encodeURIComponent ----------------------------------------------------------

UNESCAPED = string.ascii_letters + string.digits + "-_.!~*'()"


def test_encode_uri_component_leaves_letters_digits_and_the_mark_characters():
    assert signing.encode_uri_component(UNESCAPED) == UNESCAPED


@pytest.mark.parametrize("char", [chr(c) for c in range(128) if chr(c) not in UNESCAPED])
def test_encode_uri_component_escapes_every_other_ascii_character_in_upper_case_hex(char):
    assert signing.encode_uri_component(char) == f"%{ord(char):02X}"


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        (":", "%3A"),
        ("+", "%2B"),
        ("/", "%2F"),
        ("=", "%3D"),
        ("%", "%25"),
        (" ", "%20"),
        (";", "%3B"),
        ("é", "%C3%A9"),
        ("✓", "%E2%9C%93"),
        ("🔑", "%F0%9F%94%91"),
    ],
)
def test_encode_uri_component_examples(text, encoded):
    assert signing.encode_uri_component(text) == encoded
    assert signing.decode_uri_component(encoded) == text


def test_default_session_ids_look_like_uid_safe(app, expsession, client):
    expsession.configure()
    sample = vectors.load()["default_session_id"]
    pattern = re.compile(sample["alphabet_regex"])
    assert all(pattern.match(example) for example in sample["random_examples"])
    ids = set()
    for _ in range(5):
        client.cookies.clear()
        response = client.get("/")
        raw = signing.decode_uri_component(response.cookies["connect.sid"].value)
        sid = signing.unsign_cookie(raw, ["keyboard cat"])
        assert sid is not None and len(sid) == sample["length"] and pattern.match(sid)
        ids.add(sid)
    assert len(ids) == 5
