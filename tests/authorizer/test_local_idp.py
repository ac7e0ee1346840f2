"""The authorizer against the local IdP's real tokens and live JWKS over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from authorizer.handler import Authorizer
from authorizer.handler import read_event
from authorizer.settings import load_settings
from tests.authorizer.conftest import ROUTES
from tests.authorizer.conftest import token_event
from tests.conftest import ADMIN
from tests.conftest import AUDIENCE
from tests.oauth_helpers import READER
from tests.oauth_helpers import WRITER
from tests.oauth_helpers import Authorization


@pytest.fixture
def lab_authorizer(lab: Any) -> Authorizer:
    return Authorizer(
        load_settings(
            {
                "TOKEN_ISSUER": lab.issuer,
                "AUDIENCE": AUDIENCE,
                "JWKS_URI": f"{lab.idp_url}/.well-known/jwks.json",
                "ROUTE_PERMISSIONS": json.dumps(ROUTES),
            }
        )
    )


def decide(
    authorizer: Authorizer,
    token: str,
    method: str = "GET",
    path: str = "private",
) -> Any:
    return authorizer.decide(read_event(token_event(token, method, path)))


def test_user_access_tokens_are_accepted_and_authorized_by_role(
    lab: Any,
    lab_authorizer: Authorizer,
) -> None:
    customer = Authorization(lab).tokens()["access_token"]
    admin = Authorization(lab).tokens(ADMIN)["access_token"]

    assert decide(lab_authorizer, customer).outcome == "allow"
    assert decide(lab_authorizer, customer, path="admin").reason == "insufficient_permission"
    assert decide(lab_authorizer, admin, path="admin").outcome == "allow"


@pytest.mark.parametrize(
    ("client", "method", "outcome"),
    [
        (READER, "GET", "allow"),
        (READER, "POST", "deny"),
        (WRITER, "GET", "allow"),
        (WRITER, "POST", "allow"),
    ],
    ids=["reader-list", "reader-create", "writer-list", "writer-create"],
)
def test_m2m_tokens_get_what_their_scopes_allow(
    lab: Any, lab_authorizer: Authorizer, client: tuple[str, str], method: str, outcome: str
) -> None:
    token = requests.post(
        f"{lab.idp_url}/oauth/token",
        auth=client,
        timeout=5,
        data={"grant_type": "client_credentials", "audience": AUDIENCE},
    ).json()["access_token"]

    decision = decide(lab_authorizer, token, method, "notes")

    assert decision.outcome == outcome
    assert decision.token is not None and decision.token.is_client


def test_id_tokens_are_refused_with_their_reason(lab: Any, lab_authorizer: Authorizer) -> None:
    id_token = Authorization(lab).tokens()["id_token"]

    decision = decide(lab_authorizer, id_token)

    assert decision.outcome == "unauthorized"
    assert decision.reason == "id_token"
    assert "client id 'lab-webapp'" in decision.detail


def test_opaque_tokens_are_refused_with_their_reason(lab: Any, lab_authorizer: Authorizer) -> None:
    opaque = Authorization(lab).tokens(audience=None)["access_token"]

    decision = decide(lab_authorizer, opaque)

    assert decision.reason == "opaque_token"
    assert "/userinfo" in decision.detail
