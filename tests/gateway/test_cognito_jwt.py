"""The HTTP API JWT authorizer configured for the user pool (`HttpCognitoJwtApi`).

AWS's `http-api-jwt-authorizer`: the audience list holds the app client ids, because a
Cognito access token has no `aud` and the authorizer compares `client_id` instead; scopes
come from the token's `scope`; a missing scope is 403 here (the REST Cognito authorizer
answers 401), and an ID token passes an unscoped route on both.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.cognito_helpers import READER
from tests.cognito_helpers import WRITER
from tests.cognito_helpers import bearer_call
from tests.cognito_helpers import lab_tokens


@pytest.fixture(scope="module")
def tokens(lab: Any) -> dict[str, str]:
    return lab_tokens(lab)


def call(lab: Any, method: str, path: str, token: str) -> requests.Response:
    return bearer_call(lab, "HttpCognitoJwtApi", method, path, token)


@pytest.mark.parametrize(
    ("method", "path", "token", "status"),
    [
        ("GET", "/notes", "reader", 200),
        ("POST", "/notes", "reader", 403),  # the REST Cognito authorizer says 401
        ("POST", "/notes", "writer", 201),
        ("GET", "/notes", "customer_access", 200),
        ("GET", "/notes", "customer_id", 403),  # an ID token has no scope
        ("GET", "/private", "customer_id", 200),
        ("GET", "/private", "customer_access", 200),  # unlike the REST Cognito authorizer
        ("GET", "/admin", "admin_id", 200),
        ("GET", "/admin", "customer_id", 403),  # refused by the function: not in admins
        ("GET", "/private", "auth0", 401),
    ],
)
def test_one_token_family_against_the_jwt_authorizer(
    lab: Any, tokens: dict[str, Any], method: str, path: str, token: str, status: int
) -> None:
    response = call(lab, method, path, tokens[token])
    assert response.status_code == status, response.text


def test_the_m2m_caller_is_the_client(lab: Any, tokens: dict[str, Any]) -> None:
    listed = call(lab, "GET", "/notes", tokens["reader"]).json()
    assert listed["owner"] == READER[0]
    caller = call(lab, "GET", "/private", tokens["writer"]).json()["caller"]
    assert caller == {
        "sub": WRITER[0],
        "kind": "client",
        "clientId": WRITER[0],
        "permissions": ["notes-api/read", "notes-api/write"],
        "authorizer": "jwt",
    }
