"""Our Lambda TOKEN authorizer in its Cognito profile (`RestCognitoLambdaApi`), with the local
user pool's real tokens through the gateway.

Unlike the REST Cognito authorizer it takes only access tokens (an ID token is 401 on every
route), a missing scope is an explicit Deny (403, not 401), and `GET /admin` needs the
`admins` group in the authorizer itself (`group:admins` in CognitoRoutePermissions).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.cognito_helpers import WRITER
from tests.cognito_helpers import bearer_call
from tests.cognito_helpers import lab_tokens


@pytest.fixture(scope="module")
def tokens(lab: Any) -> dict[str, str]:
    return lab_tokens(lab)


def call(lab: Any, method: str, path: str, token: str) -> requests.Response:
    return bearer_call(lab, "RestCognitoLambdaApi", method, path, token)


@pytest.mark.parametrize(
    ("method", "path", "token", "status"),
    [
        ("GET", "/notes", "reader", 200),
        ("POST", "/notes", "reader", 403),  # a Deny in the policy: the scope is missing
        ("POST", "/notes", "writer", 201),
        ("GET", "/notes", "customer_access", 200),
        ("GET", "/private", "customer_access", 200),  # the REST Cognito authorizer says 401
        ("GET", "/private", "customer_id", 401),  # token_use id: refused on every route
        ("GET", "/admin", "admin_access", 200),
        ("GET", "/admin", "customer_access", 403),  # not in admins: the authorizer denies
        ("GET", "/admin", "writer", 403),  # a client has no groups
        ("GET", "/private", "auth0", 401),  # another issuer
    ],
)
def test_one_token_family_against_our_lambda_authorizer(
    lab: Any, tokens: dict[str, Any], method: str, path: str, token: str, status: int
) -> None:
    response = call(lab, method, path, tokens[token])
    assert response.status_code == status, response.text


def test_the_m2m_caller_reaches_the_function_as_the_client(
    lab: Any, tokens: dict[str, Any]
) -> None:
    caller = call(lab, "GET", "/private", tokens["writer"]).json()["caller"]

    assert caller["sub"] == caller["clientId"] == WRITER[0]
    assert caller["kind"] == "client"
    assert caller["permissions"] == ["notes-api/read", "notes-api/write"]


def test_the_auth0_apis_still_refuse_the_pools_tokens(lab: Any, tokens: dict[str, Any]) -> None:
    # the Auth0-configured Lambda authorizer shares the process with the Cognito one
    response = requests.get(
        lab.api_url("RestTokenApi") + "/private",
        headers={"Authorization": f"Bearer {tokens['reader']}"},
        timeout=10,
    )
    assert response.status_code == 401
    allowed = requests.get(
        lab.api_url("RestTokenApi") + "/private",
        headers={"Authorization": f"Bearer {tokens['auth0']}"},
        timeout=10,
    )
    assert allowed.status_code == 200
