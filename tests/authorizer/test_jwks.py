"""Signing keys: vetting, rotation right after a cold start, unknown-kid storms, outages."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from authorizer.handler import Authorizer
from authorizer.handler import read_event
from authorizer.jwks import JwksError
from authorizer.jwks import has_roca_fingerprint
from authorizer.jwks import parse_jwks
from tests.authorizer.conftest import FakeClock
from tests.authorizer.conftest import JwksServer
from tests.authorizer.conftest import Minter
from tests.authorizer.conftest import public_jwk
from tests.authorizer.conftest import token_event

WYCHEPROOF = Path(__file__).resolve().parents[3] / "shared" / "wycheproof" / "testvectors_v1"


def outcome(authorizer: Authorizer, token: str) -> str:
    return authorizer.decide(read_event(token_event(token))).reason


def test_a_key_rotated_in_right_after_a_cold_start_is_accepted_with_one_refetch(
    authorizer: Authorizer, jwks_server: JwksServer, mint: Minter, signing_keys: dict[str, Any]
) -> None:
    # GIVEN a cold authorizer that has just fetched the JWKS with k1 only
    assert outcome(authorizer, mint.token("k1")) == "allowed"
    assert jwks_server.fetches == 1
    # WHEN the issuer publishes k2 and signs with it
    jwks_server.document["keys"].append(public_jwk(signing_keys["k2"], "k2"))
    # THEN the first k2 token is accepted after exactly one refetch
    assert outcome(authorizer, mint.token("k2")) == "allowed"
    assert jwks_server.fetches == 2
    assert outcome(authorizer, mint.token("k2")) == "allowed"
    assert jwks_server.fetches == 2


def test_an_unknown_kid_storm_causes_at_most_one_refetch_per_30_seconds(
    make_authorizer: Callable[..., Authorizer], jwks_server: JwksServer, mint: Minter
) -> None:
    clock = FakeClock()
    authorizer = make_authorizer()
    authorizer.jwks._clock = clock  # the key cache's own clock, moved by hand
    assert outcome(authorizer, mint.token("k1")) == "allowed"
    assert jwks_server.fetches == 1

    reasons = [outcome(authorizer, mint.token(f"forged-{i}", key="attacker")) for i in range(30)]

    assert set(reasons) == {"unknown_kid"}
    assert jwks_server.fetches == 2  # one forced refetch for the whole storm
    clock.now += 29
    outcome(authorizer, mint.token("forged-late", key="attacker"))
    assert jwks_server.fetches == 2
    clock.now += 2
    outcome(authorizer, mint.token("forged-later", key="attacker"))
    assert jwks_server.fetches == 3


def test_cached_keys_keep_serving_through_a_jwks_outage(
    make_authorizer: Callable[..., Authorizer], jwks_server: JwksServer, mint: Minter
) -> None:
    clock = FakeClock()
    authorizer = make_authorizer(JWKS_TTL_SECONDS="60")
    authorizer.jwks._clock = clock
    assert outcome(authorizer, mint.token("k1")) == "allowed"

    jwks_server.status = 503
    clock.now += 120  # the cache is stale: a refresh is tried and fails

    assert outcome(authorizer, mint.token("k1")) == "allowed"
    assert jwks_server.fetches == 2
    assert "503" in (authorizer.jwks.last_error or "")


def test_with_no_keys_at_all_the_request_is_refused_not_crashed(
    make_authorizer: Callable[..., Authorizer], jwks_server: JwksServer, mint: Minter
) -> None:
    jwks_server.status = 500
    authorizer = make_authorizer()

    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.policy_response(token_event(mint.token("k1")))
    assert outcome(authorizer, mint.token("k1")) == "jwks_unavailable"


def test_an_unreachable_jwks_uri_is_refused_quickly(
    make_authorizer: Callable[..., Authorizer], mint: Minter
) -> None:
    authorizer = make_authorizer(
        JWKS_URI="http://127.0.0.1:9/jwks.json", JWKS_TIMEOUT_SECONDS="0.5"
    )

    assert outcome(authorizer, mint.token("k1")) == "jwks_unavailable"


@pytest.mark.parametrize(
    ("change", "usable"),
    [
        ({}, True),
        ({"use": "enc"}, False),
        ({"alg": "RS512"}, False),
        ({"alg": "HS256"}, False),
        ({"kty": "oct"}, False),
        ({"key_ops": ["encrypt"]}, False),
        ({"key_ops": ["verify"]}, True),
        ({"d": "AQAB"}, False),
        ({"e": "AQ"}, False),  # e = 1
        ({"e": "Ag"}, False),  # e = 2, even
        ({"n": "AQAB"}, False),  # far below 2048 bits
        ({"kid": 5}, False),
    ],
    ids=lambda value: json.dumps(value),
)
def test_only_sound_rsa_signing_keys_are_used(
    signing_keys: dict[str, Any], change: dict[str, Any], usable: bool
) -> None:
    jwk = {**public_jwk(signing_keys["k1"], "k1"), **change}

    assert ("k1" in parse_jwks({"keys": [jwk]})) is usable


def test_a_kid_published_twice_is_ambiguous_and_unused(signing_keys: dict[str, Any]) -> None:
    keys = parse_jwks(
        {
            "keys": [
                public_jwk(signing_keys["k1"], "same"),
                public_jwk(signing_keys["k2"], "same"),
                public_jwk(signing_keys["k2"], "k2"),
            ]
        }
    )

    assert set(keys) == {"k2"}


def test_a_1024_bit_key_is_not_used() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)

    assert parse_jwks({"keys": [public_jwk(small, "small")]}) == {}


def test_roca_fingerprinted_keys_are_detected(signing_keys: dict[str, Any]) -> None:
    import base64

    vectors = json.loads((WYCHEPROOF / "json_web_crypto_test.json").read_text())
    roca = next(g for g in vectors["testGroups"] if g["comment"] == "jws_rsa_roca_key")
    n = int.from_bytes(base64.urlsafe_b64decode(roca["private"]["n"] + "=="), "big")

    assert has_roca_fingerprint(n)
    for key in signing_keys.values():
        assert not has_roca_fingerprint(key.public_key().public_numbers().n)


@pytest.mark.parametrize("document", [[], {"keys": "nope"}, {}])
def test_a_jwks_document_without_a_keys_array_is_an_error(document: Any) -> None:
    with pytest.raises(JwksError, match='no "keys" array'):
        parse_jwks(document)


def test_junk_entries_in_a_jwks_are_skipped(signing_keys: dict[str, Any]) -> None:
    keys = parse_jwks({"keys": [1, "x", None, [], public_jwk(signing_keys["k1"], "k1")]})

    assert set(keys) == {"k1"}
