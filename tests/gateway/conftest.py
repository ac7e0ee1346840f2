"""Fixtures for the gateway: real tokens from the local IdP, by kind of caller."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import requests

from emulators.gateway import create_gateway
from tests.conftest import ADMIN
from tests.conftest import AUDIENCE
from tests.conftest import LiveServer
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


class ServedTemplate:
    """A gateway serving one template on a loopback port, for the scenario tests."""

    def __init__(self, url: str, gateway: Any) -> None:
        self.url = url
        self.gateway = gateway

    def base(self, name: str) -> str:
        api = next(a for a in self.gateway.model.apis if a.logical_id == name)
        return f"{self.url}/{api.api_id}{api.stage_path}"

    def call(self, api: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.base(api) + path, timeout=10, **kwargs)

    def trace(self, response: requests.Response) -> dict[str, Any]:
        rid = response.headers.get("x-amzn-RequestId") or response.headers["apigw-requestid"]
        return requests.get(f"{self.url}/_lab/traces/{rid}", timeout=5).json()


@contextmanager
def serve_template(issuer: str, template: Path, notes_db: Path) -> Iterator[ServedTemplate]:
    """Serve `template` trusting `issuer` until the block ends."""
    server = LiveServer()
    url = f"http://127.0.0.1:{server.port}"
    gateway = create_gateway(issuer, url, template=template, notes_db=notes_db)
    server.start(gateway)
    try:
        yield ServedTemplate(url, gateway)
    finally:
        server.stop()
        gateway.close()
