"""One clock rule for the time claims, across the lab's authorizer styles.

AWS's `http-api-jwt-authorizer` page says only that `exp` must be after and `nbf`/`iat` before
the current time, and documents no clock skew. The emulator applies the Lambda authorizer's
default tolerance (30 s; RFC 7519 §4.1.4 allows "some small leeway") to all three, so a token
the built-in JWT authorizer accepts is one the Lambda authorizers accept too, and each refusal
names its own reason: expired, not yet valid (`nbf`), issued in the future (`iat`).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from emulators.gateway.jwt_authorizer import CLOCK_SKEW_SECONDS
from tests.conftest import AUDIENCE
from tests.gateway.conftest import Tokens
from tests.gateway.test_scenarios import call
from tests.gateway.test_scenarios import trace_of


def mint(tokens: Tokens, **times: int) -> str:
    """A customer token signed by the IdP's key, its time claims offset from now by `times`."""
    now = int(time.time())
    claims = tokens.idp.minter.access_token_claims(
        sub="auth0|customer-0001",
        client_id="lab-webapp",
        audience=AUDIENCE,
        scope="openid read:notes",
        permissions=["read:notes"],
        grant_type="authorization_code",
    )
    claims.update({name: now + offset for name, offset in times.items()})
    return tokens.idp.keys.sign(claims)


ACCEPTED = [
    pytest.param({"iat": 1}, id="iat+1s"),
    pytest.param({"iat": 10, "nbf": 10}, id="nbf+10s"),
    pytest.param({"iat": -3600, "exp": -10}, id="exp-10s"),
]
REFUSED = [
    pytest.param(
        {"iat": 600}, "issued_in_future", "the token was issued in the future", id="iat+10min"
    ),
    pytest.param({"nbf": 600}, "token_not_yet_valid", "the token is not valid yet", id="nbf+10min"),
    pytest.param(
        {"iat": -3600, "exp": -CLOCK_SKEW_SECONDS - 90},
        "token_expired",
        "the token has expired",
        id="exp-2min",
    ),
]


@pytest.mark.parametrize("times", ACCEPTED)
def test_small_clock_differences_pass_every_authorizer_style(
    lab: Any, tokens: Tokens, times: dict[str, int]
) -> None:
    token = mint(tokens, **times)

    for api in ("HttpJwtApi", "RestTokenApi", "HttpLambdaApi"):
        response = call(lab, api, "GET", "/private", f"Bearer {token}")
        assert response.status_code == 200, (api, response.text)


@pytest.mark.parametrize(("times", "reason", "description"), REFUSED)
def test_the_jwt_authorizer_names_each_clock_refusal(
    lab: Any, tokens: Tokens, times: dict[str, int], reason: str, description: str
) -> None:
    response = call(lab, "HttpJwtApi", "GET", "/private", f"Bearer {mint(tokens, **times)}")

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["www-authenticate"] == (
        f'Bearer scope="" error="invalid_token" error_description="{description}"'
    )
    assert trace_of(lab, response)["authorizer"]["reason"] == reason


@pytest.mark.parametrize(("times", "reason", "description"), REFUSED)
def test_the_lambda_authorizer_refuses_the_same_tokens_for_the_same_reasons(
    lab: Any, tokens: Tokens, times: dict[str, int], reason: str, description: str
) -> None:
    response = call(lab, "RestTokenApi", "GET", "/private", f"Bearer {mint(tokens, **times)}")

    assert response.status_code == 401
    assert trace_of(lab, response)["authorizer"]["reason"] == reason
