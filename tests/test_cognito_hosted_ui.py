"""The local user pool's hosted UI pages are the pool's: headed as a Cognito user pool, its demo
users listed with their groups; the Auth0 tenant's pages keep their own heading and roles."""

from __future__ import annotations

import html
import re
from typing import Any

import requests

from tests.cognito_helpers import CALLBACK
from tests.cognito_helpers import WEBAPP
from tests.cognito_helpers import domain


def words(page: requests.Response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page.text)))


def test_the_pools_login_page_is_the_pools(lab: Any) -> None:
    page = requests.get(
        f"{domain(lab.idp_url)}/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": WEBAPP[0],
            "redirect_uri": CALLBACK,
            "scope": "openid",
        },
        timeout=5,
    )
    said = words(page)

    assert page.status_code == 200
    assert "Cognito user pool (hosted UI)" in said and "Auth0-compatible" not in said
    assert "Demo accounts of this local user pool" in said
    assert "Groups" in said and "Roles" not in said
    assert "admin@example.com Admin-Passw0rd admins" in said


def test_the_pools_error_page_is_the_pools(lab: Any) -> None:
    page = requests.get(f"{domain(lab.idp_url)}/logout", params={"client_id": "nobody"}, timeout=5)
    said = words(page)

    assert page.status_code == 400
    assert "Cognito user pool (hosted UI)" in said and "Auth0-compatible" not in said


def test_the_tenants_login_page_keeps_auth0s_words(lab: Any) -> None:
    page = requests.get(f"{lab.web_url}/login", timeout=5)
    said = words(page)

    assert page.url.startswith(lab.idp_url + "/authorize")
    assert "Auth0-compatible" in said and "Roles" in said and "Cognito" not in said
