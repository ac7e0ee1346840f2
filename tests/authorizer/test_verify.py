"""The verification layer: a corpus of attack and edge-case tokens, claims, and Wycheproof.

Every token here is real: signed with real RSA keys (or forged as an attacker would), checked
against a JWKS fetched over HTTP from a loopback server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.padding import MGF1
from cryptography.hazmat.primitives.asymmetric.padding import PSS
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hashes import SHA512

from authorizer.jwks import JwksCache
from authorizer.jwks import parse_jwks
from authorizer.settings import load_settings
from authorizer.verify import Rejected
from authorizer.verify import TokenVerifier
from authorizer.verify import verify_rs256
from tests.authorizer.conftest import AUDIENCE
from tests.authorizer.conftest import ISSUER
from tests.authorizer.conftest import ROUTES
from tests.authorizer.conftest import Minter
from tests.authorizer.conftest import b64url
from tests.authorizer.conftest import public_jwk

WYCHEPROOF = Path(__file__).resolve().parents[3] / "shared" / "wycheproof" / "testvectors_v1"


@pytest.fixture
def verifier(jwks_server: Any) -> TokenVerifier:
    settings = load_settings(
        {
            "TOKEN_ISSUER": ISSUER,
            "AUDIENCE": AUDIENCE,
            "JWKS_URI": jwks_server.url,
            "ROUTE_PERMISSIONS": json.dumps(ROUTES),
        }
    )
    return TokenVerifier(settings, JwksCache(jwks_server.url, cooldown=30))


def rejection(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Rejected) as caught:
        verifier.verify(token)
    return caught.value.code


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def test_a_valid_token_is_accepted(verifier: TokenVerifier, mint: Minter) -> None:
    verified = verifier.verify(mint.token())

    assert verified.sub == "auth0|customer-0001"
    assert verified.kid == "k1"
    assert {"read:notes", "write:notes", "read:messages", "openid"} <= verified.granted
    assert not verified.is_client


# Algorithm confusion (AZ-01, AZ-02) -------------------------------------------------------------


@pytest.mark.parametrize(
    "alg",
    [
        "none",
        "None",
        "NONE",
        "nOnE",
        "",
        "rs256",
        "RS256 ",
        "HS256",
        "RS512",
        "PS256",
        "ES256",
        None,
    ],
)
def test_only_rs256_exactly_is_accepted(
    verifier: TokenVerifier, mint: Minter, alg: str | None
) -> None:
    header = {"kid": "k1", "typ": "JWT"}
    if alg is not None:
        header["alg"] = alg
    token = mint.raw(header, mint.claims())

    assert rejection(verifier, token) == "alg_not_allowed"


def test_unsigned_token_with_empty_signature_is_refused(
    verifier: TokenVerifier, mint: Minter
) -> None:
    header = b64url(json.dumps({"alg": "none", "kid": "k1"}).encode())
    payload = b64url(json.dumps(mint.claims()).encode())

    assert rejection(verifier, f"{header}.{payload}.") == "malformed_token"


def _key_encodings(mint: Minter) -> dict[str, bytes]:
    public = mint.keys["k1"].public_key()
    spki = mint.public_pem()
    return {
        "spki-pem": spki,
        "pkcs1-pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "pem-crlf": spki.replace(b"\n", b"\r\n"),
        "pem-leading-space": b" " + spki,
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "openssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        "jwk-json": json.dumps(public_jwk(mint.keys["k1"], "k1")).encode(),
        "jwks-json": json.dumps({"keys": [public_jwk(mint.keys["k1"], "k1")]}).encode(),
        "modulus": public.public_numbers().n.to_bytes(256, "big"),
        "empty": b"",
    }


@pytest.mark.parametrize(
    "encoding",
    [
        "spki-pem",
        "pkcs1-pem",
        "pem-crlf",
        "pem-leading-space",
        "der",
        "openssh",
        "jwk-json",
        "jwks-json",
        "modulus",
        "empty",
    ],
)
def test_hs256_signed_with_the_public_key_is_refused(
    verifier: TokenVerifier, mint: Minter, encoding: str
) -> None:
    secret = _key_encodings(mint)[encoding]
    token = hs256({"alg": "HS256", "kid": "k1", "typ": "JWT"}, mint.claims(), secret)

    assert rejection(verifier, token) == "alg_not_allowed"


@pytest.mark.parametrize("scheme", ["RS512", "PS256"])
def test_a_real_signature_by_the_issuers_key_under_another_alg_is_refused(
    verifier: TokenVerifier, mint: Minter, scheme: str
) -> None:
    # One key, one algorithm: claiming RS256 with a PS256/RS512 signature must fail.
    header = b64url(json.dumps({"alg": "RS256", "kid": "k1"}).encode())
    payload = b64url(json.dumps(mint.claims()).encode())
    signing_input = f"{header}.{payload}".encode()
    key = mint.keys["k1"]
    if scheme == "RS512":
        signature = key.sign(signing_input, PKCS1v15(), SHA512())
    else:
        signature = key.sign(signing_input, PSS(MGF1(SHA256()), 32), SHA256())

    assert rejection(verifier, f"{header}.{payload}.{b64url(signature)}") == "bad_signature"


# Keys named by the token (AZ-03, AZ-04) --------------------------------------------------------


@pytest.mark.parametrize("member", ["jku", "x5u", "x5c", "jwk"])
def test_key_material_named_in_the_header_is_refused(
    verifier: TokenVerifier, mint: Minter, member: str
) -> None:
    value: Any = {
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIB..."],
        "jwk": public_jwk(mint.keys["attacker"], "k1"),
    }[member]
    token = mint.raw({"alg": "RS256", "kid": "k1", member: value}, mint.claims(), key="attacker")

    assert rejection(verifier, token) == "header_key_reference"


@pytest.mark.parametrize("kid", [None, "", 7, {"a": 1}, ["k1"], True, "x" * 300])
def test_a_missing_or_non_string_kid_is_refused(
    verifier: TokenVerifier, mint: Minter, kid: Any
) -> None:
    header: dict[str, Any] = {"alg": "RS256"}
    if kid is not None:
        header["kid"] = kid

    assert rejection(verifier, mint.raw(header, mint.claims())) == "kid_missing"


@pytest.mark.parametrize("kid", [None, ""], ids=["no-kid", "empty-kid"])
def test_a_kidless_token_is_refused_after_a_key_is_cached(
    verifier: TokenVerifier, mint: Minter, kid: str | None
) -> None:
    assert verifier.verify(mint.token(kid="k1")).kid == "k1"  # k1 is now cached
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid

    # Signed by k1 itself: only the missing kid stands between it and "the one key we have".
    assert rejection(verifier, mint.raw(header, mint.claims(), key="k1")) == "kid_missing"


@pytest.mark.parametrize(
    "kid", ["../../../../dev/null", "k1' OR '1'='1", "k3", "http://attacker.example/key"]
)
def test_an_unknown_or_hostile_kid_is_refused(
    verifier: TokenVerifier, mint: Minter, kid: str
) -> None:
    assert rejection(verifier, mint.raw({"alg": "RS256", "kid": kid}, mint.claims())) == (
        "unknown_kid"
    )


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(
    verifier: TokenVerifier, mint: Minter
) -> None:
    assert rejection(verifier, mint.token(kid="k1", key="attacker")) == "bad_signature"


# Header rules (AZ-10, AZ-11) -------------------------------------------------------------------


@pytest.mark.parametrize("crit", [["b64"], ["exp"], [], "b64"])
def test_any_crit_header_is_refused(verifier: TokenVerifier, mint: Minter, crit: Any) -> None:
    header = {"alg": "RS256", "kid": "k1", "crit": crit, "b64": False}

    assert rejection(verifier, mint.raw(header, mint.claims())) == "crit_unsupported"


@pytest.mark.parametrize(
    ("typ", "accepted"),
    [
        ("JWT", True),
        ("jwt", True),
        ("at+jwt", True),
        ("application/at+jwt", True),
        ("logout+jwt", False),
        ("dpop+jwt", False),
        ("id_token+jwt", False),
        ("JOSE", False),
        (7, False),
    ],
)
def test_typ_must_name_an_access_token(
    verifier: TokenVerifier, mint: Minter, typ: Any, accepted: bool
) -> None:
    token = mint.raw({"alg": "RS256", "kid": "k1", "typ": typ}, mint.claims())

    if accepted:
        assert verifier.verify(token).sub
    else:
        assert rejection(verifier, token) == "wrong_token_type"


# Encoding and parsing (AZ-13, AZ-14) -----------------------------------------------------------


def test_encoding_attacks(verifier: TokenVerifier, mint: Minter) -> None:
    good = mint.token()
    head, body, sig = good.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert (len(sig) * 6) % 8 >= 1  # the last character carries unused low bits
    # Flipping an unused low bit gives a different string that decodes to the same bytes.
    sibling = alphabet[alphabet.index(sig[-1]) ^ 1]
    cases = {
        "junk-after-signature": good + "!!!!",
        "padding": good + "==",
        "non-canonical-signature": f"{head}.{body}.{sig[:-1]}{sibling}",
        "standard-alphabet": good.replace("-", "+").replace("_", "/")
        if ("-" in good or "_" in good)
        else good + "+",
        "space-inside": f"{head}.{body} .{sig}",
        "percent-encoded": good.replace(".", "%2E", 1),
        "truncated-signature": f"{head}.{body}.{sig[:-4]}",
        "empty-signature": f"{head}.{body}.",
        "empty-header": f".{body}.{sig}",
        "two-segments": f"{head}.{body}",
        "many-dots": "a." * 5000,
        "json-serialization": json.dumps({"protected": head, "payload": body, "signature": sig}),
    }
    for name, token in cases.items():
        code = rejection(verifier, token)
        assert code in {"malformed_token", "bad_signature", "token_too_large", "encrypted_token"}, (
            name,
            code,
        )


def test_oversize_tokens_are_refused_before_any_decoding(
    verifier: TokenVerifier, mint: Minter
) -> None:
    token = mint.token(padding="x" * 9000)

    assert rejection(verifier, token) == "token_too_large"


@pytest.mark.parametrize(
    ("part", "text"),
    [
        ("header", '["RS256"]'),
        ("header", '{"alg":"RS256","kid":"k1","alg":"none"}'),
        ("header", '{"alg":"RS256","kid":"k1"'),
        ("payload", '{"sub":"a","sub":"b"}'),
        ("payload", '["not", "an", "object"]'),
        ("payload", '{"exp": NaN}'),
        ("payload", '{"exp": Infinity}'),
        ("payload", '{"exp": 1e400}'),
        ("payload", '{"a":' * 5000 + "1" + "}" * 5000),
        ("payload", '{"sub":}'),
        ("payload", '{"sub":[1,]}'),
        ("payload", '{"sub":"a"}{"sub":"b"}'),
    ],
    ids=[
        "header-array",
        "header-duplicate-alg",
        "header-truncated",
        "claims-duplicate-sub",
        "claims-array",
        "nan",
        "infinity",
        "huge-number",
        "deep-nesting",
        "missing-value",
        "trailing-comma",
        "two-objects",
    ],
)
def test_json_that_is_not_a_clean_object_is_refused(
    verifier: TokenVerifier, mint: Minter, part: str, text: str
) -> None:
    if part == "header":
        token = mint.raw(text, mint.claims())
    else:
        token = mint.raw({"alg": "RS256", "kid": "k1"}, text)

    assert rejection(verifier, token) in {"malformed_token", "token_too_large"}


def test_non_utf8_claims_are_refused(verifier: TokenVerifier, mint: Minter) -> None:
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15 as Pkcs

    head = b64url(json.dumps({"alg": "RS256", "kid": "k1"}).encode())
    body = b64url(b'{"sub":"\xff\xfe"}')
    signature = mint.keys["k1"].sign(f"{head}.{body}".encode(), Pkcs(), SHA256())

    assert rejection(verifier, f"{head}.{body}.{b64url(signature)}") == "malformed_token"


def test_opaque_and_encrypted_tokens_are_named(verifier: TokenVerifier) -> None:
    assert rejection(verifier, "Zk3_n6YpYvRjF0qz3J8u1Xo2") == "opaque_token"
    assert rejection(verifier, "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d") == "encrypted_token"


# Claims (AZ-07, AZ-08, AZ-09, AZ-10) -----------------------------------------------------------

NOW = int(time.time())


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iss": ISSUER.rstrip("/")}, "wrong_issuer"),
        ({"iss": ISSUER + "x"}, "wrong_issuer"),
        ({"iss": "https://LAB.test.auth0.com/"}, "wrong_issuer"),
        ({"iss": [ISSUER]}, "wrong_issuer"),
        ({"iss": None}, "wrong_issuer"),
        ({"aud": None}, "wrong_audience"),
        ({"aud": []}, "wrong_audience"),
        ({"aud": "https://other-api.example"}, "wrong_audience"),
        ({"aud": [ISSUER + "userinfo"]}, "wrong_audience"),
        ({"aud": AUDIENCE + "/"}, "wrong_audience"),
        ({"aud": {"a": AUDIENCE}}, "wrong_audience"),
        ({"aud": "lab-webapp", "nonce": "n"}, "id_token"),
        ({"exp": None}, "missing_claim"),
        ({"exp": "9999999999"}, "invalid_claim"),
        ({"exp": True}, "invalid_claim"),
        ({"exp": NOW - 3600}, "token_expired"),
        ({"exp": NOW - 31}, "token_expired"),
        ({"nbf": NOW + 3600}, "token_not_yet_valid"),
        ({"nbf": "0"}, "invalid_claim"),
        ({"iat": None}, "missing_claim"),
        ({"iat": NOW + 3600}, "issued_in_future"),
        ({"sub": None}, "missing_claim"),
        ({"sub": ""}, "missing_claim"),
        ({"sub": 42}, "missing_claim"),
    ],
    ids=lambda value: str(value),
)
def test_claims_are_checked_exactly(
    verifier: TokenVerifier, mint: Minter, claims: dict[str, Any], code: str
) -> None:
    assert rejection(verifier, mint.token(**claims)) == code


@pytest.mark.parametrize(
    ("claims", "from_now"),
    [
        ({"aud": AUDIENCE}, {}),
        ({}, {"exp": -20}),  # within the 30 s leeway
        ({}, {"nbf": 20}),
        ({}, {"iat": 20}),
        ({}, {"exp": 60.5}),
    ],
    ids=["aud-string", "exp-in-leeway", "nbf-in-leeway", "iat-in-leeway", "float-exp"],
)
def test_edge_cases_that_are_still_valid(
    verifier: TokenVerifier, mint: Minter, claims: dict[str, Any], from_now: dict[str, float]
) -> None:
    # Times relative to this test's start, not the module's import: a long run would
    # otherwise push "20 s ago" past the leeway.
    now = int(time.time())
    token = mint.token(**claims, **{name: now + offset for name, offset in from_now.items()})
    assert verifier.verify(token).sub


def test_rejections_explain_themselves(verifier: TokenVerifier, mint: Minter) -> None:
    with pytest.raises(Rejected) as expired:
        verifier.verify(mint.token(exp=NOW - 180))
    with pytest.raises(Rejected) as id_token:
        verifier.verify(mint.token(aud="lab-webapp", nonce="n"))

    assert expired.value.detail == "the token expired 3 minutes ago"
    assert "ID token" in id_token.value.detail and "'lab-webapp'" in id_token.value.detail


# Wycheproof ----------------------------------------------------------------------------------


def _load(name: str) -> dict[str, Any]:
    path = WYCHEPROOF / name
    if not path.exists():
        pytest.fail(
            f"Wycheproof vectors missing at {path}: the shared/ folder must sit beside the project"
        )
    return json.loads(path.read_text())


def test_wycheproof_rsa_pkcs1_sha256_vectors() -> None:
    data = _load("rsa_signature_2048_sha256_test.json")
    checked = 0
    for group in data["testGroups"]:
        key = serialization.load_pem_public_key(group["publicKeyPem"].encode())
        for case in group["tests"]:
            ok = verify_rs256(key, bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
            if case["result"] == "valid":
                assert ok, case["tcId"]
            elif case["result"] == "invalid":
                assert not ok, (case["tcId"], case["comment"])
            checked += 1
    assert checked == data["numberOfTests"]


def _jws_cases() -> list[tuple[int, str, dict[str, Any], str, str]]:
    cases = []
    for name in (
        "json_web_signature_test.json",
        "json_web_crypto_test.json",
        "json_web_key_test.json",
    ):
        for group in _load(name)["testGroups"]:
            keys = group.get("public") or group.get("private")
            for case in group["tests"]:
                if "jws" in case:
                    jws = case["jws"]
                    # JSON serializations arrive as objects; a header would carry them as text.
                    text = jws if isinstance(jws, str) else json.dumps(jws)
                    cases.append((case["tcId"], name, keys, text, case["result"]))
    return cases


def test_wycheproof_jose_vectors_no_invalid_one_is_accepted() -> None:
    """Run every JWS vector through the signature layer with the group's keys as the JWKS."""
    accepted_valid = 0
    for tc_id, name, keys, jws, result in _jws_cases():
        document = keys if isinstance(keys, dict) and "keys" in keys else {"keys": [keys]}
        # A vector's key often has no kid; the header names one. Publishing the key under that
        # kid keeps the test about signatures and key vetting, not about kid bookkeeping.
        try:
            header = json.loads(
                __import__("base64").urlsafe_b64decode(
                    jws.split(".")[0] + "=" * (-len(jws.split(".")[0]) % 4)
                )
            )
        except Exception:
            header = {}
        kid = header.get("kid") if isinstance(header, dict) else None
        jwks = {
            "keys": [
                dict(k, kid=k.get("kid") or kid) for k in document["keys"] if isinstance(k, dict)
            ]
        }
        public = {
            "keys": [
                {m: v for m, v in k.items() if m not in {"d", "p", "q", "dp", "dq", "qi", "k"}}
                for k in jwks["keys"]
            ]
        }
        settings = load_settings(
            {"TOKEN_ISSUER": ISSUER, "AUDIENCE": AUDIENCE, "ROUTE_PERMISSIONS": json.dumps(ROUTES)}
        )
        cache = JwksCache(
            "https://vectors.invalid/jwks.json",
            fetch=lambda uri, timeout, doc=public: json.dumps(doc).encode(),
        )
        verifier = TokenVerifier(settings, cache)
        try:
            verifier.verify_signature(jws)
        except Rejected:
            continue
        assert result == "valid", (name, tc_id)
        assert header.get("alg") == "RS256"
        accepted_valid += 1
    # The RS256 vectors with sound keys must still pass: the layer is strict, not broken.
    assert accepted_valid >= 3


def test_wycheproof_key_set_rules() -> None:
    data = _load("json_web_key_test.json")
    for group in data["testGroups"]:
        document = group.get("public") or group.get("private")
        if not isinstance(document, dict) or "keys" not in document:
            continue
        usable = parse_jwks(document)
        for key in usable.values():
            assert key.key_size >= 2048


# The RSA primitive itself ----------------------------------------------------------------------


def test_signature_length_must_match_the_modulus(mint: Minter) -> None:
    key = mint.keys["k1"]
    message = b"header.payload"
    signature = key.sign(message, PKCS1v15(), SHA256())

    assert verify_rs256(key.public_key(), message, signature)
    assert not verify_rs256(key.public_key(), message, b"\x00" + signature)
    assert not verify_rs256(key.public_key(), message, signature[1:])
