"""The local Cognito user pool: discovery, the token endpoint and token shapes, checked with PyJWT.

Facts: the shared reference's Cognito user pool sections (endpoints, token claims, errors).
"""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from emulators.idp import create_idp_app
from emulators.idp.__main__ import main as idp_cli
from emulators.idp.cognito_pool import PoolError
from emulators.idp.cognito_pool import load_pool_data
from emulators.idp.cognito_pool import parse_pool
from tests.cognito_helpers import POOL_ID
from tests.cognito_helpers import READER
from tests.cognito_helpers import WEBAPP
from tests.cognito_helpers import WRITER
from tests.cognito_helpers import domain
from tests.cognito_helpers import issuer
from tests.cognito_helpers import login_code
from tests.cognito_helpers import m2m_token
from tests.cognito_helpers import token_request
from tests.cognito_helpers import user_tokens
from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from tests.oauth_helpers import pkce_pair


def verified(lab: Any, token: str, audience: str | None = None) -> dict[str, Any]:
    """Verify a pool token with PyJWT against the pool's published JWKS."""
    client = jwt.PyJWKClient(f"{issuer(lab.idp_url)}/.well-known/jwks.json")
    key = client.get_signing_key_from_jwt(token)
    options = {} if audience else {"verify_aud": False}
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        issuer=issuer(lab.idp_url),
        audience=audience,
        options=options,
    )


def test_discovery_names_the_issuer_and_the_domain_endpoints(lab: Any) -> None:
    meta = requests.get(f"{issuer(lab.idp_url)}/.well-known/openid-configuration", timeout=5)
    assert meta.status_code == 200
    body = meta.json()
    assert body["issuer"] == f"{lab.idp_url}/{POOL_ID}"
    assert body["token_endpoint"] == f"{domain(lab.idp_url)}/oauth2/token"
    assert body["authorization_endpoint"] == f"{domain(lab.idp_url)}/oauth2/authorize"
    assert body["userinfo_endpoint"] == f"{domain(lab.idp_url)}/oauth2/userInfo"
    assert body["jwks_uri"] == f"{issuer(lab.idp_url)}/.well-known/jwks.json"
    other_pool = requests.get(f"{lab.idp_url}/us-east-1_Nope12345/.well-known/jwks.json", timeout=5)
    assert other_pool.status_code == 404


def test_id_and_access_tokens_are_signed_with_different_keys(lab: Any) -> None:
    tokens = user_tokens(lab.idp_url, CUSTOMER)
    id_kid = jwt.get_unverified_header(tokens["id_token"])["kid"]
    access_kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    assert id_kid != access_kid
    published = requests.get(f"{issuer(lab.idp_url)}/.well-known/jwks.json", timeout=5).json()
    kids = {k["kid"] for k in published["keys"]}
    assert {id_kid, access_kid} <= kids
    assert all("d" not in k for k in published["keys"])
    # The pool's keys are not the Auth0 tenant's.
    tenant_keys = requests.get(f"{lab.idp_url}/.well-known/jwks.json", timeout=5).json()
    assert not kids & {k["kid"] for k in tenant_keys["keys"]}


def test_reader_without_scope_gets_all_its_custom_scopes_and_no_aud(lab: Any) -> None:
    response = token_request(lab.idp_url, {"grant_type": "client_credentials"}, auth=READER)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"
    claims = verified(lab, body["access_token"])
    assert "aud" not in claims
    assert claims["sub"] == claims["client_id"] == READER[0]
    assert claims["token_use"] == "access"
    assert claims["scope"] == "notes-api/read"
    assert claims["exp"] - claims["iat"] == 3600
    for absent in ("username", "cognito:groups", "origin_jti"):
        assert absent not in claims


def test_scopes_the_client_is_not_allowed_are_dropped(lab: Any) -> None:
    token = m2m_token(lab.idp_url, WRITER, "openid notes-api/write other-api/read notes-api/write")
    assert verified(lab, token)["scope"] == "notes-api/write"
    # Nothing left of what the reader asked for: an error, not a token without scopes.
    response = token_request(
        lab.idp_url, {"grant_type": "client_credentials", "scope": "notes-api/write"}, auth=READER
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_scope"}


@pytest.mark.parametrize(
    ("data", "auth", "error"),
    [
        ({"grant_type": "client_credentials"}, (READER[0], "wrong-secret"), "invalid_client"),
        ({"grant_type": "client_credentials"}, ("nosuchclient", "x"), "invalid_client"),
        ({"grant_type": "client_credentials"}, None, "invalid_client"),
        ({}, READER, "invalid_request"),
        ({"grant_type": "password"}, READER, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, WEBAPP, "unauthorized_client"),
        (
            {"grant_type": "authorization_code", "code": "x", "redirect_uri": "y"},
            READER,
            "unauthorized_client",
        ),
        (
            {"grant_type": "authorization_code", "code": "nope", "redirect_uri": "y"},
            WEBAPP,
            "invalid_grant",
        ),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, WEBAPP, "invalid_grant"),
    ],
)
def test_token_endpoint_errors_are_cognitos(
    lab: Any, data: dict[str, str], auth: Any, error: str
) -> None:
    response = token_request(lab.idp_url, data, auth=auth)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert response.json() == {"error": error}


def test_a_json_body_is_refused(lab: Any) -> None:
    response = requests.post(
        f"{domain(lab.idp_url)}/oauth2/token",
        json={"grant_type": "client_credentials"},
        auth=READER,
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}


def test_user_tokens_have_cognitos_shapes(lab: Any) -> None:
    tokens = user_tokens(lab.idp_url, ADMIN)
    assert tokens["expires_in"] == 3600 and tokens["refresh_token"]
    id_claims = verified(lab, tokens["id_token"], audience=WEBAPP[0])
    access = verified(lab, tokens["access_token"])
    assert "aud" not in access
    assert access["token_use"] == "access" and access["client_id"] == WEBAPP[0]
    assert access["username"] == "alex" and access["cognito:groups"] == ["admins", "customers"]
    assert access["scope"].split() == [
        "openid",
        "email",
        "profile",
        "notes-api/read",
        "notes-api/write",
    ]
    assert id_claims["token_use"] == "id" and id_claims["aud"] == WEBAPP[0]
    assert id_claims["cognito:username"] == "alex"
    assert id_claims["email"] == "admin@example.com" and id_claims["email_verified"] is True
    assert id_claims["nonce"] == "n-1"
    assert id_claims["sub"] == access["sub"]
    assert id_claims["origin_jti"] == access["origin_jti"]
    assert id_claims["jti"] != access["jti"]
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert id_claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_without_openid_there_is_no_id_token(lab: Any) -> None:
    tokens = user_tokens(lab.idp_url, CUSTOMER, scope="notes-api/read")
    assert "id_token" not in tokens
    assert verified(lab, tokens["access_token"])["scope"] == "notes-api/read"


def test_pkce_verifier_must_match_and_codes_work_once(lab: Any) -> None:
    verifier, challenge = pkce_pair()
    code = login_code(lab.idp_url, CUSTOMER, challenge=challenge)
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://localhost:3000/callback",
        "code_verifier": "not-the-verifier-" + verifier,
    }
    assert token_request(lab.idp_url, exchange, auth=WEBAPP).json() == {"error": "invalid_grant"}
    # The failed attempt spent the code: the right verifier is too late now.
    exchange["code_verifier"] = verifier
    assert token_request(lab.idp_url, exchange, auth=WEBAPP).json() == {"error": "invalid_grant"}


def test_refresh_userinfo_and_revoke(lab: Any) -> None:
    tokens = user_tokens(lab.idp_url, CUSTOMER)
    refreshed = token_request(
        lab.idp_url,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=WEBAPP,
    ).json()
    assert "refresh_token" not in refreshed and refreshed["id_token"]
    info_url = f"{domain(lab.idp_url)}/oauth2/userInfo"
    bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
    info = requests.get(info_url, headers=bearer, timeout=5)
    assert info.status_code == 200
    assert info.json()["email"] == "customer@example.com"
    assert info.json()["username"] == "casey"

    machine = {"Authorization": f"Bearer {m2m_token(lab.idp_url, READER)}"}
    assert requests.get(info_url, headers=machine, timeout=5).status_code == 401
    missing = requests.get(info_url, timeout=5)
    assert missing.status_code == 400
    assert 'error="invalid_request"' in missing.headers["WWW-Authenticate"]

    revoked = requests.post(
        f"{domain(lab.idp_url)}/oauth2/revoke",
        data={"token": tokens["refresh_token"]},
        auth=WEBAPP,
        timeout=5,
    )
    assert revoked.status_code == 200
    after = requests.get(info_url, headers=bearer, timeout=5)
    assert after.status_code == 401
    assert "globally signed out" in after.headers["WWW-Authenticate"]
    again = token_request(
        lab.idp_url,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=WEBAPP,
    )
    assert again.json() == {"error": "invalid_grant"}


def test_authorize_refuses_unknown_redirects_on_its_own_page(lab: Any) -> None:
    url = f"{domain(lab.idp_url)}/oauth2/authorize"
    params = {"response_type": "code", "client_id": WEBAPP[0], "redirect_uri": "https://evil/"}
    page = requests.get(url, params=params, allow_redirects=False, timeout=5)
    assert page.status_code == 400 and "redirect_mismatch" in page.text
    params["redirect_uri"] = "http://localhost:3000/callback"
    params["response_type"] = "token"
    answer = requests.get(url, params=params, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    assert "error=unsupported_response_type" in answer.headers["Location"]


def test_logout_goes_only_to_a_sign_out_url(lab: Any) -> None:
    url = f"{domain(lab.idp_url)}/logout"
    ok = requests.get(
        url,
        params={"client_id": WEBAPP[0], "logout_uri": "http://localhost:3000/"},
        allow_redirects=False,
        timeout=5,
    )
    assert ok.status_code == 302 and ok.headers["Location"] == "http://localhost:3000/"
    bad = requests.get(
        url,
        params={"client_id": WEBAPP[0], "logout_uri": "https://evil.example/"},
        allow_redirects=False,
        timeout=5,
    )
    assert bad.status_code == 400


def test_root_page_lists_the_pool(lab: Any) -> None:
    body = requests.get(lab.idp_url + "/", timeout=5).json()
    pool = body["cognito_user_pool"]
    assert pool["user_pool_id"] == POOL_ID
    assert pool["issuer"] == issuer(lab.idp_url)
    assert pool["token"] == f"{domain(lab.idp_url)}/oauth2/token"
    assert {c["client_id"] for c in pool["clients"]} == {WEBAPP[0], READER[0], WRITER[0]}
    assert body["auth0_tenant"]["issuer"] == lab.idp_url + "/"


def test_per_client_validity_comes_from_the_pool_file(tmp_path: Path) -> None:
    pool = load_pool_data()
    for client in pool["clients"]:
        client["access_token_validity"] = 300
    app = create_idp_app(
        {
            "IDP_ISSUER": "http://127.0.0.1:9/",
            "IDP_DATABASE": str(tmp_path / "idp.sqlite3"),
            "IDP_COGNITO_POOL": pool,
        }
    )
    client = app.test_client()
    response = client.post(
        "/cognito/authorizer-lab/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(":".join(WRITER).encode()).decode()},
    )
    body = response.get_json()
    assert body["expires_in"] == 300
    keys = jwt.PyJWKSet.from_dict(client.get(f"/{POOL_ID}/.well-known/jwks.json").get_json())
    kid = jwt.get_unverified_header(body["access_token"])["kid"]
    claims = jwt.decode(
        body["access_token"], keys[kid].key, algorithms=["RS256"], options={"verify_aud": False}
    )
    assert claims["exp"] - claims["iat"] == 300
    assert claims["exp"] <= time.time() + 301


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"user_pool_id": "eu-west-1_short"}, "AWS's shape"),
        ({"region": "eu-west-1"}, "differs"),
        ({"domain_prefix": "Has Spaces"}, "domain_prefix"),
    ],
)
def test_a_wrong_pool_file_is_refused_clearly(change: dict[str, str], says: str) -> None:
    with pytest.raises(PoolError, match=says):
        parse_pool({**load_pool_data(), **change})


def test_cli_lists_the_pool_and_adds_users_to_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDP_DATABASE", str(tmp_path / "cli.db"))
    assert idp_cli(["list-clients"]) == 0
    out = capsys.readouterr().out
    assert POOL_ID in out and "/cognito/authorizer-lab/oauth2/token" in out
    assert READER[0] in out and "notes-api/read" in out
    assert idp_cli(["cognito-add-to-group", "--email", CUSTOMER[0], "--group", "admins"]) == 0
    assert "admins" in capsys.readouterr().out
    assert idp_cli(["cognito-list-users"]) == 0
    assert "customer@example.com" in capsys.readouterr().out
    assert idp_cli(["cognito-add-to-group", "--email", CUSTOMER[0], "--group", "nope"]) == 2
    assert "Unknown group" in capsys.readouterr().err
    assert idp_cli(["cognito-add-to-group", "--email", "x@example.com", "--group", "admins"]) == 2


def test_every_scope_the_cognito_routes_need_is_in_the_pool_and_granted() -> None:
    from emulators.gateway import local_parameters
    from emulators.gateway.template import load_model

    pool = parse_pool(load_pool_data())
    granted = {s for c in pool.clients.values() for s in c.scopes}
    needed = {
        scope
        for api in load_model(local_parameters()).apis
        for route in api.routes
        if route.authorizer is not None
        and (route.authorizer.kind == "COGNITO_USER_POOLS" or api.logical_id == "HttpCognitoJwtApi")
        for scope in route.scopes
    }
    assert needed == {"notes-api/read", "notes-api/write"}
    assert needed <= set(pool.all_scopes) and needed <= granted
