"""Helpers for tests of the local Cognito user pool: its clients and a hosted-UI login."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlparse

import requests

from tests.conftest import form_fields
from tests.oauth_helpers import pkce_pair

POOL_ID = "us-east-1_AuthzLab1"
WEBAPP = ("labcognitowebapp0000000001", "lab-cognito-webapp-secret-for-local-use-only")
READER = ("labcognitoreader0000000001", "lab-cognito-reader-secret-for-local-use-only")
WRITER = ("labcognitowriter0000000001", "lab-cognito-writer-secret-for-local-use-only")
CALLBACK = "http://localhost:3000/callback"


def domain(idp_url: str) -> str:
    return f"{idp_url}/cognito/authorizer-lab"


def issuer(idp_url: str) -> str:
    return f"{idp_url}/{POOL_ID}"


def token_request(idp_url: str, data: dict[str, str], auth: Any = None) -> requests.Response:
    return requests.post(f"{domain(idp_url)}/oauth2/token", data=data, auth=auth, timeout=5)


def m2m_token(idp_url: str, client: tuple[str, str], scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = token_request(idp_url, data, auth=client)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def login_code(
    idp_url: str,
    credentials: tuple[str, str],
    scope: str = "openid email profile notes-api/read notes-api/write",
    challenge: str | None = None,
) -> str:
    """Log in at the pool's hosted UI and return the code its redirect carries."""
    browser = requests.Session()
    params = {
        "response_type": "code",
        "client_id": WEBAPP[0],
        "redirect_uri": CALLBACK,
        "scope": scope,
        "state": "st-1",
        "nonce": "n-1",
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    url = f"{domain(idp_url)}/oauth2/authorize"
    page = browser.get(url, params=params, timeout=5)
    assert page.status_code == 200, page.text[:300]
    answer = browser.post(
        page.url,
        data={
            **form_fields(page.text),
            "email": credentials[0],
            "password": credentials[1],
            "action": "login",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text[:300]
    location = urlparse(answer.headers["Location"])
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def user_tokens(
    idp_url: str,
    credentials: tuple[str, str],
    scope: str = "openid email profile notes-api/read notes-api/write",
) -> dict[str, Any]:
    """Log in with PKCE and exchange the code: the token response of the web app client."""
    verifier, challenge = pkce_pair()
    code = login_code(idp_url, credentials, scope, challenge)
    response = token_request(
        idp_url,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=WEBAPP,
    )
    assert response.status_code == 200, response.text
    return response.json()


def lab_tokens(lab: Any) -> dict[str, str]:
    """Every kind of token the Cognito API tests send, by name: the pool users' ID and access
    tokens, the pool's M2M reader and writer, and an Auth0-style access token."""
    from tests.conftest import ADMIN
    from tests.conftest import CUSTOMER
    from tests.oauth_helpers import Authorization

    customer, admin = user_tokens(lab.idp_url, CUSTOMER), user_tokens(lab.idp_url, ADMIN)
    return {
        "customer_id": customer["id_token"],
        "customer_access": customer["access_token"],
        "admin_id": admin["id_token"],
        "admin_access": admin["access_token"],
        "reader": m2m_token(lab.idp_url, READER),
        "writer": m2m_token(lab.idp_url, WRITER),
        "auth0": Authorization(lab).tokens()["access_token"],
    }


def bearer_call(lab: Any, api: str, method: str, path: str, token: str) -> requests.Response:
    """Call one route of an API with `Authorization: Bearer <token>` (a note for a POST)."""
    body = {"json": {"text": "a note"}} if method == "POST" else {}
    return requests.request(
        method,
        lab.api_url(api) + path,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        **body,
    )
