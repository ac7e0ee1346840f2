"""Fixtures for the gateway: real tokens from the local IdP, by kind of caller."""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any

import pytest
import requests

from tests.conftest import ADMIN
from tests.conftest import AUDIENCE
from tests.oauth_helpers import READER
from tests.oauth_helpers import WRITER
from tests.oauth_helpers import Authorization
from webapp.config import DEFAULT_SCOPE


class Tokens:
    """Tokens of every kind the lab compares, minted once per session by the local IdP."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        self.idp = lab.idp_app.extensions["idp"]

    @cached_property
    def customer_tokens(self) -> dict[str, Any]:
        # The scopes the web app asks for at login: the JWT authorizer reads only `scope`.
        return Authorization(self.lab).tokens(scope=DEFAULT_SCOPE)

    @property
    def customer(self) -> str:
        return self.customer_tokens["access_token"]

    @property
    def id_token(self) -> str:
        return self.customer_tokens["id_token"]

    @cached_property
    def admin(self) -> str:
        return Authorization(self.lab).tokens(ADMIN, scope=DEFAULT_SCOPE)["access_token"]

    @cached_property
    def opaque(self) -> str:
        return Authorization(self.lab).tokens(audience=None)["access_token"]

    def m2m(self, client: tuple[str, str]) -> str:
        return requests.post(
            f"{self.lab.idp_url}/oauth/token",
            auth=client,
            timeout=5,
            data={"grant_type": "client_credentials", "audience": AUDIENCE},
        ).json()["access_token"]

    @cached_property
    def reader(self) -> str:
        return self.m2m(READER)

    @cached_property
    def writer(self) -> str:
        return self.m2m(WRITER)

    @cached_property
    def expired(self) -> str:
        """A customer token the IdP's own key signed, expired an hour ago."""
        now = int(time.time())
        claims = self.idp.minter.access_token_claims(
            sub="auth0|customer-0001",
            client_id="lab-webapp",
            audience=AUDIENCE,
            scope="openid read:notes",
            permissions=["read:notes"],
            grant_type="authorization_code",
        )
        claims.update(iat=now - 7200, exp=now - 3600)
        return self.idp.keys.sign(claims)


@pytest.fixture(scope="session")
def tokens(lab: Any) -> Tokens:
    return Tokens(lab)
