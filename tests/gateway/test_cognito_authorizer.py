"""The REST Cognito user pool authorizer with real pool tokens from the local IdP.

Outcome table (the shared reference's REST `COGNITO_USER_POOLS` section): a method without
scopes takes only ID tokens; a method with scopes takes only access tokens carrying one of
them; every failure is 401, an expired token's body says so; claims reach the backend as
strings at `requestContext.authorizer.claims`.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from emulators.gateway import create_gateway
from tests.cognito_helpers import POOL_ID
from tests.cognito_helpers import READER
from tests.cognito_helpers import WEBAPP
from tests.cognito_helpers import WRITER
from tests.cognito_helpers import issuer
from tests.cognito_helpers import lab_tokens
from tests.cognito_helpers import user_tokens
from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from tests.conftest import LiveServer
from tests.oauth_helpers import Authorization

UNAUTHORIZED = {"message": "Unauthorized"}
EXPIRED = {"message": "The incoming token has expired"}


@pytest.fixture(scope="module")
def tokens(lab: Any) -> dict[str, str]:
    return lab_tokens(lab)


def pool(lab: Any) -> Any:
    return lab.idp_app.extensions["cognito_pool"]


def expired_id_token(lab: Any) -> str:
    """An ID token of the pool, signed with its real ID key, that expired an hour ago."""
    now = int(time.time())
    return pool(lab).id_keys.sign(
        {
            "sub": "99c7e16d-5d72-4470-9e76-3d6349e12620",
            "aud": WEBAPP[0],
            "token_use": "id",
            "iss": issuer(lab.idp_url),
            "iat": now - 7200,
            "exp": now - 3600,
            "jti": str(uuid.uuid4()),
        }
    )


def call(lab: Any, method: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": token} if token is not None else {}
    url = lab.api_url("RestCognitoApi") + path
    return requests.request(method, url, headers=headers, timeout=10, **kwargs)


def trace_of(lab: Any, response: requests.Response) -> dict[str, Any]:
    request_id = response.headers["x-amzn-RequestId"]
    return requests.get(f"{lab.gateway_url}/_lab/traces/{request_id}", timeout=5).json()


def test_m2m_reader_lists_but_cannot_create_and_the_writer_creates(
    lab: Any, tokens: dict[str, Any]
) -> None:
    listed = call(lab, "GET", "/notes", tokens["reader"])
    assert listed.status_code == 200, listed.text
    assert listed.json()["owner"] == READER[0]
    refused = call(lab, "POST", "/notes", tokens["reader"], json={"text": "from the reader"})
    assert refused.status_code == 401
    assert refused.json() == UNAUTHORIZED
    assert refused.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert trace_of(lab, refused)["authorizer"]["reason"] == "insufficient_scope"
    created = call(lab, "POST", "/notes", tokens["writer"], json={"text": "from the writer"})
    assert created.status_code == 201, created.text
    assert created.json()["owner"] == WRITER[0]


@pytest.mark.parametrize(
    ("method", "path", "token", "status", "reason"),
    [
        # Unscoped methods take ID tokens only.
        ("GET", "/private", "customer_id", 200, "allowed"),
        ("GET", "/private", "customer_access", 401, "cognito_id_token_required"),
        ("GET", "/private", "reader", 401, "cognito_id_token_required"),
        # Scoped methods take access tokens with one of the scopes only.
        ("GET", "/notes", "customer_access", 200, "allowed"),
        ("GET", "/notes", "customer_id", 401, "cognito_access_token_required"),
        ("POST", "/notes", "reader", 401, "insufficient_scope"),
        # The authorizer has no group check: the function refuses non-admins itself.
        ("GET", "/admin", "admin_id", 200, "allowed"),
        ("GET", "/admin", "customer_id", 403, "allowed"),
    ],
)
def test_outcome_table(
    lab: Any,
    tokens: dict[str, Any],
    method: str,
    path: str,
    token: str,
    status: int,
    reason: str,
) -> None:
    body = {"json": {"text": "a note"}} if method == "POST" else {}
    response = call(lab, method, path, tokens[token], **body)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json() == UNAUTHORIZED
    block = trace_of(lab, response)["authorizer"]
    assert block["type"] == "COGNITO_USER_POOLS"
    assert block["reason"] == reason
    assert block["invoked"] is False


def test_private_names_the_user_and_admin_explains_the_group(
    lab: Any, tokens: dict[str, Any]
) -> None:
    caller = call(lab, "GET", "/private", tokens["customer_id"]).json()["caller"]
    assert caller["sub"] == "99c7e16d-5d72-4470-9e76-3d6349e12620"
    assert caller["authorizer"] == "cognito" and caller["kind"] == "user"
    assert caller["clientId"] == WEBAPP[0]
    refused = call(lab, "GET", "/admin", tokens["customer_id"]).json()
    assert "admins" in refused["message"] and refused["groups"] == ["customers"]


def test_bearer_prefix_is_accepted(lab: Any, tokens: dict[str, Any]) -> None:
    response = call(lab, "GET", "/private", "Bearer " + tokens["customer_id"])
    assert response.status_code == 200


def test_missing_malformed_forged_expired_and_foreign_tokens_are_401(
    lab: Any, tokens: dict[str, Any]
) -> None:
    head, payload, signature = tokens["customer_id"].split(".")
    forged = f"{head}.{payload}.{signature[:-6]}AAAAAA"
    auth0 = Authorization(lab).tokens()["id_token"]
    cases = {
        None: "identity_source_missing",
        "": "identity_source_missing",
        "not-a-jwt": "malformed_token",
        forged: "bad_signature",
        auth0: "wrong_issuer",
    }
    for token, reason in cases.items():
        response = call(lab, "GET", "/private", token)
        assert response.status_code == 401, (reason, response.text)
        assert response.json() == UNAUTHORIZED
        assert trace_of(lab, response)["authorizer"]["reason"] == reason
    expired = call(lab, "GET", "/private", expired_id_token(lab))
    assert expired.status_code == 401
    assert expired.json() == EXPIRED
    assert trace_of(lab, expired)["authorizer"]["reason"] == "token_expired"


# The test template: claims as the backend sees them, caching, validation, other pools.


@pytest.fixture(scope="module")
def echo_api(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = LiveServer()
    url = f"http://127.0.0.1:{server.port}"
    gateway = create_gateway(
        lab.idp_url + "/",
        url,
        notes_db=tmp_path_factory.mktemp("cognito") / "notes.sqlite3",
        template=Path(__file__).with_name("cognito.yaml"),
        parameters={"CognitoIdpOrigin": lab.idp_url, "Pool": POOL_ID},
    )
    server.start(gateway)
    api = gateway.model.apis[0]
    yield f"{url}/{api.api_id}/{api.stage}", url
    server.stop()
    gateway.close()


def echo(echo_api: Any, path: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(echo_api[0] + path, headers=headers, timeout=10)


def echo_trace(echo_api: Any, response: requests.Response) -> dict[str, Any]:
    request_id = response.headers["x-amzn-RequestId"]
    return requests.get(f"{echo_api[1]}/_lab/traces/{request_id}", timeout=5).json()


def test_claims_reach_the_backend_as_strings(lab: Any, echo_api: Any) -> None:
    token = user_tokens(lab.idp_url, ADMIN)["id_token"]
    response = echo(echo_api, "/id", {"Authorization": token})
    assert response.status_code == 200, response.text
    authorizer = response.json()["event"]["requestContext"]["authorizer"]
    assert set(authorizer) == {"claims"}  # no principalId
    claims = authorizer["claims"]
    assert all(isinstance(v, str) for v in claims.values())
    assert claims["cognito:groups"] == "[admins customers]"
    assert claims["email_verified"] == "true"
    assert claims["token_use"] == "id" and claims["cognito:username"] == "alex"
    assert claims["exp"].endswith(time.strftime("%Y", time.gmtime())) and " UTC " in claims["exp"]
    assert claims["auth_time"].isdigit()


def test_results_are_cached_by_token_but_each_method_is_still_checked(
    lab: Any, echo_api: Any
) -> None:
    tokens = user_tokens(lab.idp_url, CUSTOMER)
    first = echo(echo_api, "/read", {"Authorization": tokens["access_token"]})
    second = echo(echo_api, "/read", {"Authorization": tokens["access_token"]})
    assert first.status_code == second.status_code == 200
    assert echo_trace(echo_api, first)["authorizer"]["cache"] == "miss"
    assert echo_trace(echo_api, second)["authorizer"]["cache"] == "hit"
    # Same token, same cache entry, a method without scopes: still not an ID token.
    unscoped = echo(echo_api, "/id", {"Authorization": tokens["access_token"]})
    assert unscoped.status_code == 401
    block = echo_trace(echo_api, unscoped)["authorizer"]
    assert block["cache"] == "hit" and block["reason"] == "cognito_id_token_required"


def test_validation_expression_and_custom_header(lab: Any, echo_api: Any) -> None:
    token = user_tokens(lab.idp_url, CUSTOMER)["id_token"]
    refused = echo(echo_api, "/strict", {"X-Id-Token": "Bearer " + token})
    assert refused.status_code == 401
    block = echo_trace(echo_api, refused)["authorizer"]
    assert block["reason"] == "cognito_validation_expression" and block["cache"] == "off"
    assert echo(echo_api, "/strict", {"X-Id-Token": token}).status_code == 200
    assert echo(echo_api, "/strict", {"Authorization": token}).status_code == 401


def test_a_token_of_another_pool_is_refused(lab: Any, echo_api: Any) -> None:
    token = user_tokens(lab.idp_url, CUSTOMER)["id_token"]
    response = echo(echo_api, "/other", {"Authorization": token})
    assert response.status_code == 401
    assert echo_trace(echo_api, response)["authorizer"]["reason"] == "wrong_issuer"


def test_the_catalogue_names_the_pool_the_api_trusts(lab: Any) -> None:
    apis = requests.get(lab.gateway_url + "/", timeout=5).json()["apis"]
    api = next(a for a in apis if a["name"] == "RestCognitoApi")
    (authorizer,) = api["authorizers"]
    assert authorizer["type"] == "COGNITO_USER_POOLS"
    assert authorizer["user_pool_issuers"] == [issuer(lab.idp_url)]
    scopes = {(r["method"], r["path"]): r["scopes"] for r in api["routes"]}
    assert scopes[("GET", "/notes")] == ["notes-api/read"]
    assert scopes[("POST", "/notes")] == ["notes-api/write"]
    assert scopes[("GET", "/private")] == []
