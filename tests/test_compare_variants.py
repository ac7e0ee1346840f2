"""The Compare grid's token variants: each is what its label says (decoded and verified against
the local IdP's real keys), and the IdP signs only copies that are less valid."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import jwt
import pytest
import requests

from tests.conftest import AUDIENCE
from webapp.compare_cli import local_sources
from webapp.config import settings_from_env
from webapp.tokens import classify
from webapp.tokens import decode
from webapp.variants import FOREIGN_AUDIENCE
from webapp.variants import FOREIGN_ISSUER
from webapp.variants import SPECS
from webapp.variants import SourceTokens
from webapp.variants import Variant
from webapp.variants import VariantBuilder
from webapp.variants import public_key_pem


def lab_settings(lab: Any) -> dict[str, Any]:
    settings = settings_from_env(
        {"LOCAL_IDP_URL": lab.idp_url, "API_BASE_URL": lab.gateway_url, "APP_BASE_URL": lab.web_url}
    )
    settings["HTTP_TIMEOUT"] = 5
    return settings


@pytest.fixture(scope="module")
def sources(lab: Any) -> SourceTokens:
    return local_sources(lab_settings(lab), "customer")


@pytest.fixture(scope="module")
def built(lab: Any, sources: SourceTokens) -> dict[str, Variant]:
    result = VariantBuilder(lab.issuer, local_idp=True).build(sources)
    assert result.skipped == []
    return {v.id: v for v in result.variants}


def jwks(lab: Any) -> list[dict[str, Any]]:
    return requests.get(lab.issuer + ".well-known/jwks.json", timeout=5).json()["keys"]


def verify_with_idp_key(lab: Any, token: str) -> dict[str, Any]:
    """Check the RS256 signature with the IdP's active key, whatever the header's kid says."""
    key = jwt.PyJWK(jwks(lab)[0]).key
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        options={
            "verify_aud": False,
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iss": False,
        },
    )


def test_every_row_of_the_grid_is_built_in_order(built: dict[str, Variant]) -> None:
    assert list(built) == [spec.id for spec in SPECS]
    assert len(built) >= 18


def test_the_real_tokens_are_what_they_claim(
    built: dict[str, Variant], sources: SourceTokens
) -> None:
    _, customer = decode(built["access-customer"].token or "")
    _, admin = decode(built["access-admin"].token or "")
    assert AUDIENCE in customer["aud"] and "read:admin" not in customer["permissions"]
    assert "read:admin" in admin["permissions"]
    _, id_claims = decode(built["id-token"].token or "")
    assert id_claims["aud"] == "lab-webapp" and "nonce" in id_claims
    assert classify(built["opaque"].token) == "opaque"
    for key, scope in (("m2m-reader", "read:notes"), ("m2m-writer", "write:notes")):
        _, claims = decode(built[key].token or "")
        assert claims["gty"] == "client-credentials" and claims["sub"].endswith("@clients")
        assert scope in claims["scope"].split()


def test_the_idp_copies_are_signed_and_changed_only_where_they_say(
    lab: Any, built: dict[str, Variant], sources: SourceTokens
) -> None:
    base_header, base = decode(sources.base or "")
    now = time.time()
    expected = {
        "expired": lambda c, h: c["exp"] < now - 3000,
        "not-yet-valid": lambda c, h: c["nbf"] > now + 3000,
        "wrong-aud": lambda c, h: c["aud"] == FOREIGN_AUDIENCE,
        "wrong-iss": lambda c, h: c["iss"] == FOREIGN_ISSUER,
        "iss-no-slash": lambda c, h: c["iss"] == lab.issuer.rstrip("/") != lab.issuer,
        "no-kid": lambda c, h: "kid" not in h,
        "unknown-kid": lambda c, h: h["kid"] not in {k["kid"] for k in jwks(lab)},
    }
    for key, check in expected.items():
        variant = built[key]
        assert variant.needs_local_idp, key
        header, claims = decode(variant.token or "")
        assert check(claims, header), key
        assert claims["sub"] == base["sub"] and claims["permissions"] == base["permissions"]
        assert verify_with_idp_key(lab, variant.token or "")["sub"] == base["sub"]
        if key not in ("no-kid", "unknown-kid"):
            assert header["kid"] == base_header["kid"], key


def test_the_forgeries_are_forged(
    lab: Any, built: dict[str, Variant], sources: SourceTokens
) -> None:
    base_header, base = decode(sources.base or "")
    tampered = built["tampered"].token or ""
    assert decode(tampered) == (base_header, base) and tampered != sources.base
    with pytest.raises(jwt.InvalidSignatureError):
        verify_with_idp_key(lab, tampered)

    header, claims = decode(built["alg-none"].token or "")
    assert header["alg"] == "none" and claims == base
    assert (built["alg-none"].token or "").endswith(".")

    confused = built["alg-hs256"].token or ""
    header, claims = decode(confused)
    assert header["alg"] == "HS256" and claims == base
    signing_input, _, signature = confused.rpartition(".")
    pem = public_key_pem(next(k for k in jwks(lab) if k["kid"] == base_header["kid"]))
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == signature

    attacker = built["attacker-key"].token or ""
    header, claims = decode(attacker)
    assert header == {**base_header, "alg": "RS256"} and claims == base
    with pytest.raises(jwt.InvalidSignatureError):
        verify_with_idp_key(lab, attacker)
    assert not any(v.needs_local_idp for k, v in built.items() if k in ("alg-none", "tampered"))


def test_the_ways_of_sending_are_what_they_say(built: dict[str, Variant]) -> None:
    token = built["access-customer"].token
    assert built["query-string"].request_parts() == ({}, {"access_token": token})
    assert built["lowercase-bearer"].request_parts() == ({"Authorization": f"bearer {token}"}, {})
    assert built["access-customer"].request_parts() == ({"Authorization": f"Bearer {token}"}, {})
    assert built["no-token"].request_parts() == ({}, {})


def test_a_variant_never_shows_its_token(built: dict[str, Variant]) -> None:
    for variant in built.values():
        if variant.token:
            assert variant.token not in repr(variant)
            assert variant.token not in str(variant.public())


def test_against_a_real_tenant_the_idp_copies_are_skipped_with_the_reason(
    lab: Any, sources: SourceTokens
) -> None:
    result = VariantBuilder(lab.issuer, local_idp=False).build(sources)
    skipped = {s.id: s for s in result.skipped}
    assert set(skipped) == {s.id for s in SPECS if s.needs_local_idp}
    assert all("local IdP" in s.reason for s in skipped.values())
    assert {"alg-hs256", "attacker-key", "tampered", "alg-none"} <= {v.id for v in result.variants}


def test_without_the_admin_and_m2m_tokens_their_rows_say_why(
    lab: Any, sources: SourceTokens
) -> None:
    partial = SourceTokens(access={"customer": sources.access["customer"]}, user="customer")
    result = VariantBuilder(lab.issuer, local_idp=True).build(partial)
    reasons = {s.id: s.reason for s in result.skipped}
    assert "log in as the admin" in reasons["access-admin"]
    assert "no machine-to-machine client" in reasons["m2m-reader"]
    assert "id-token" in reasons and "opaque" in reasons


# The IdP's endpoint: only less valid copies --------------------------------------------------


def vary(lab: Any, token: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        lab.issuer + "lab/token-variants",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"aud": AUDIENCE}, "does not serve"),
        ({"aud": ["https://elsewhere.example", "lab-webapp"]}, "does not serve"),
        ({"aud": "IDP/userinfo"}, "does not serve"),
        ({"aud": []}, "aud must be"),
        ({"iss": "IDP/"}, "another issuer"),
        ({"iss": 7}, "iss must be"),
        ({"kid": "ACTIVE"}, "not published"),
        ({"kid": 5}, "kid must be"),
        ({"scope": "read:admin"}, "not scope"),
    ],
)
def test_the_idp_refuses_a_copy_that_could_be_valid_somewhere(
    lab: Any, sources: SourceTokens, body: dict[str, Any], words: str
) -> None:
    active = decode(sources.base or "")[0]["kid"]
    body = {
        k: (
            v.replace("IDP/", lab.issuer).replace("ACTIVE", active)
            if isinstance(v, str)
            else [x.replace("IDP/", lab.issuer) for x in v]
            if isinstance(v, list)
            else v
        )
        for k, v in body.items()
    }
    response = vary(lab, sources.base or "", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert words in response.json()["error_description"]


def test_the_idp_signs_only_its_own_tokens(lab: Any, built: dict[str, Variant]) -> None:
    response = vary(lab, built["attacker-key"].token or "", {"aud": FOREIGN_AUDIENCE})
    assert response.status_code == 401
    assert "Only a token this identity provider signed" in response.json()["error_description"]


def test_the_idp_names_what_changed(lab: Any, sources: SourceTokens) -> None:
    response = vary(lab, sources.base or "", {"kid": None, "iss": "https://x.example/"})
    assert response.status_code == 200
    assert response.json()["changed"] == {"kid": None, "iss": "https://x.example/"}
    header, claims = decode(response.json()["access_token"])
    assert "kid" not in header and claims["iss"] == "https://x.example/"
