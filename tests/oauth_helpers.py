"""OAuth helpers for tests: drive the local IdP as the web app and a person would."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlparse

import requests

from tests.conftest import AUDIENCE
from tests.conftest import CUSTOMER
from tests.conftest import form_fields

WEBAPP_SECRET = "lab-webapp-secret-for-local-use-only"
READER = ("lab-m2m-reader", "lab-m2m-reader-secret-for-local-use-only")
WRITER = ("lab-m2m-writer", "lab-m2m-writer-secret-for-local-use-only")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Authorization:
    """Drives /authorize and /oauth/token as the web app and the person would."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        self.redirect_uri = f"{lab.web_url}/callback"
        self.verifier, self.challenge = pkce_pair()

    def params(self, **overrides: Any) -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": "lab-webapp",
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile email offline_access read:messages read:notes read:admin",
            "state": "state-123",
            "nonce": "nonce-456",
            "audience": AUDIENCE,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def login(
        self,
        credentials: tuple[str, str] = CUSTOMER,
        **overrides: Any,
    ) -> requests.Response:
        """Open the login page and submit it; return the IdP's answer (not followed)."""
        browser = requests.Session()
        url = f"{self.lab.idp_url}/authorize"
        page = browser.get(url, params=self.params(**overrides), timeout=5)
        assert page.status_code == 200, page.text
        return browser.post(
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

    def code(self, credentials: tuple[str, str] = CUSTOMER, **overrides: Any) -> str:
        response = self.login(credentials, **overrides)
        assert response.status_code == 302, response.text
        query = parse_qs(urlparse(response.headers["Location"]).query)
        assert query["state"] == ["state-123"]
        return query["code"][0]

    def exchange(self, code: str, **overrides: Any) -> requests.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
        }
        data.update(overrides)
        data = {k: v for k, v in data.items() if v is not None}
        return requests.post(
            f"{self.lab.idp_url}/oauth/token",
            data=data,
            auth=("lab-webapp", WEBAPP_SECRET),
            timeout=5,
        )

    def tokens(
        self,
        credentials: tuple[str, str] = CUSTOMER,
        **overrides: Any,
    ) -> dict[str, Any]:
        response = self.exchange(self.code(credentials, **overrides))
        assert response.status_code == 200, response.text
        return response.json()


def client_credentials(lab: Any, client: tuple[str, str], **data: Any) -> requests.Response:
    return requests.post(
        f"{lab.idp_url}/oauth/token",
        data={"grant_type": "client_credentials", **data},
        auth=client,
        timeout=5,
    )
