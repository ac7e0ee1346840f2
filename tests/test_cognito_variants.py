"""Less valid copies of the local user pool's tokens: the IdP's `POST /lab/token-variants` signs
them with the pool's key of the token's purpose (ID or access, as Cognito keeps two), the Compare
grid's rows for a Cognito user are all built, and the forgeries use the pool's public key.

Real servers on loopback; tokens from the pool's own token endpoint, verified with PyJWT (not
the IdP's JOSE library) against the pool's published JWKS."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests

from tests.cognito_helpers import READER
from tests.cognito_helpers import WEBAPP
from tests.cognito_helpers import domain
from tests.cognito_helpers import issuer
from tests.cognito_helpers import m2m_token
from tests.cognito_helpers import user_tokens
from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from webapp.tokens import decode
from webapp.variants import FOREIGN_AUDIENCE
from webapp.variants import SPECS
from webapp.variants import SourceTokens
from webapp.variants import VariantBuilder


def vary(lab: Any, token: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        lab.issuer + "lab/token-variants",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def pool_keys(lab: Any) -> dict[str, Any]:
    keys = requests.get(issuer(lab.idp_url) + "/.well-known/jwks.json", timeout=5).json()["keys"]
    return {k["kid"]: k for k in keys}


def verified(lab: Any, token: str, kid: str) -> dict[str, Any]:
    """The claims, after checking the RS256 signature with the pool's published key `kid`."""
    key = jwt.PyJWK(pool_keys(lab)[kid]).key
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        options={"verify_aud": False, "verify_exp": False, "verify_nbf": False},
    )


@pytest.fixture(scope="module")
def pool_tokens(lab: Any) -> dict[str, Any]:
    return user_tokens(lab.idp_url, CUSTOMER)


def test_an_expired_copy_of_a_pool_access_token_is_signed_with_the_access_key(
    lab: Any, pool_tokens: dict[str, Any]
) -> None:
    access = pool_tokens["access_token"]
    past = int(time.time()) - 3600
    answer = vary(lab, access, {"exp": past, "iat": past - 3600})

    assert answer.status_code == 200, answer.text
    copy = answer.json()["access_token"]
    kid = decode(copy)[0]["kid"]
    assert kid == decode(access)[0]["kid"]  # the access key, not the ID key
    claims = verified(lab, copy, kid)
    assert claims["exp"] == past and claims["token_use"] == "access"
    assert claims["iss"] == issuer(lab.idp_url) and "aud" not in claims
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(copy, jwt.PyJWK(pool_keys(lab)[kid]).key, algorithms=["RS256"])


def test_a_copy_of_a_pool_id_token_is_signed_with_the_id_key(
    lab: Any, pool_tokens: dict[str, Any]
) -> None:
    id_token = pool_tokens["id_token"]
    answer = vary(lab, id_token, {"nbf": int(time.time()) + 3600})

    assert answer.status_code == 200, answer.text
    copy = answer.json()["access_token"]
    kid = decode(copy)[0]["kid"]
    assert kid == decode(id_token)[0]["kid"] != decode(pool_tokens["access_token"])[0]["kid"]
    claims = verified(lab, copy, kid)
    assert claims["token_use"] == "id" and claims["aud"] == WEBAPP[0]


def test_a_pool_m2m_token_can_be_varied_too(lab: Any) -> None:
    token = m2m_token(lab.idp_url, READER)
    answer = vary(lab, token, {"kid": None})
    assert answer.status_code == 200, answer.text
    assert "kid" not in decode(answer.json()["access_token"])[0]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"iss": "POOL"}, "another issuer"),
        ({"iss": "TENANT"}, "another issuer"),
        ({"aud": WEBAPP[0]}, "does not serve"),
        ({"aud": READER[0]}, "does not serve"),
        ({"kid": "ID_KID"}, "not published"),
        ({"kid": "ACCESS_KID"}, "not published"),
        ({"exp": "EXP_LATER"}, "only move earlier"),
        ({"scope": "notes-api/write"}, "not scope"),
    ],
)
def test_the_idp_refuses_a_pool_copy_that_could_be_valid_somewhere(
    lab: Any, pool_tokens: dict[str, Any], body: dict[str, Any], words: str
) -> None:
    access = pool_tokens["access_token"]
    values = {
        "POOL": issuer(lab.idp_url),
        "TENANT": lab.issuer,
        "ID_KID": decode(pool_tokens["id_token"])[0]["kid"],
        "ACCESS_KID": decode(access)[0]["kid"],
        "EXP_LATER": decode(access)[1]["exp"] + 60,
    }
    body = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    answer = vary(lab, access, body)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["error_description"]


def test_a_revoked_pool_session_gets_no_copy(lab: Any) -> None:
    tokens = user_tokens(lab.idp_url, CUSTOMER)
    revoked = requests.post(
        f"{domain(lab.idp_url)}/oauth2/revoke",
        data={"token": tokens["refresh_token"]},
        auth=WEBAPP,
        timeout=5,
    )
    assert revoked.status_code == 200

    answer = vary(lab, tokens["access_token"], {"kid": None})
    assert answer.status_code == 401
    assert "revoked" in answer.json()["error_description"]


def test_a_cognito_users_grid_rows_are_all_built(lab: Any) -> None:
    tokens = user_tokens(lab.idp_url, ADMIN)
    sources = SourceTokens(
        access={"admin": tokens["access_token"]},
        id_token=tokens["id_token"],
        user="admin",
        issuer=issuer(lab.idp_url),
        provider="Cognito",
    )
    user_rows = {s.id for s in SPECS} - {"access-customer", "opaque", "no-token"}
    user_rows -= {s.id for s in SPECS if "m2m" in s.id}
    result = VariantBuilder(lab.issuer, local_idp=True).build(sources, only=user_rows)
    rows = {v.id: v for v in result.variants}

    assert result.skipped == []
    assert set(rows) == user_rows
    assert rows["access-admin"].label == "Admin's access token (Cognito)"
    # Cognito's issuer has no trailing slash: the lesson is a copy with one added.
    assert rows["iss-no-slash"].label == "iss with a trailing slash"
    assert decode(rows["iss-no-slash"].token or "")[1]["iss"] == issuer(lab.idp_url) + "/"
    assert decode(rows["expired"].token or "")[1]["exp"] < time.time()
    assert decode(rows["wrong-aud"].token or "")[1]["aud"] == FOREIGN_AUDIENCE
    # Algorithm confusion keyed with the pool's access key (the token's kid), not the tenant's.
    access_kid = decode(tokens["access_token"])[0]["kid"]
    assert decode(rows["alg-hs256"].token or "")[0]["kid"] == access_kid
    assert access_kid in pool_keys(lab)
