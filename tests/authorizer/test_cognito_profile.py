"""The Lambda authorizer's Cognito profile: user pool access tokens, `token_use`, `client_id`
in place of `aud`, scopes and `cognito:groups` as permissions; and the two profiles refusing
each other's tokens."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

import authorizer.handler as handler_module
from authorizer.handler import Authorizer
from authorizer.handler import read_event
from authorizer.settings import SettingsError
from authorizer.settings import load_settings
from tests.authorizer.conftest import AUDIENCE
from tests.authorizer.conftest import ISSUER
from tests.authorizer.conftest import ROUTES
from tests.authorizer.conftest import JwksServer
from tests.authorizer.conftest import Minter
from tests.authorizer.conftest import token_event

POOL_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1"
READER_ID = "readerclient0000000000001"
WEBAPP_ID = "webappclient0000000000001"
COGNITO_ROUTES = {
    "GET /private": "",
    "GET /admin": "group:admins",
    "GET /notes": "notes-api/read",
    "POST /notes": "notes-api/write",
}


def cognito_env(jwks_url: str, **overrides: str) -> dict[str, str]:
    env = {
        "TOKEN_PROFILE": "cognito",
        "TOKEN_ISSUER": POOL_ISSUER,
        "JWKS_URI": jwks_url,
        "CLIENT_IDS": f"{WEBAPP_ID}, {READER_ID}",
        "ROUTE_PERMISSIONS": json.dumps(COGNITO_ROUTES),
        **overrides,
    }
    return {k: v for k, v in env.items() if v}


def access_claims(**overrides: Any) -> dict[str, Any]:
    """A user's access token as Cognito issues it: no `aud`, `client_id` and `token_use`."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "5f1c0d2e-0000-4000-8000-000000000001",
        "cognito:groups": ["customers"],
        "iss": POOL_ISSUER,
        "client_id": WEBAPP_ID,
        "origin_jti": "o-1",
        "token_use": "access",
        "scope": "openid email notes-api/read",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": "j-1",
        "username": "customer",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def cognito(jwks_server: JwksServer) -> Authorizer:
    return Authorizer(load_settings(cognito_env(jwks_server.url)))


def sign(mint: Minter, claims: dict[str, Any]) -> str:
    return mint.raw({"alg": "RS256", "kid": "k1"}, claims)


def decide(authorizer: Authorizer, token: str, method: str = "GET", path: str = "notes") -> Any:
    return authorizer.decide(read_event(token_event(token, method, path)))


def test_an_access_token_with_the_read_scope_may_read_but_not_write(
    cognito: Authorizer, mint: Minter
) -> None:
    token = sign(mint, access_claims())

    assert decide(cognito, token).outcome == "allow"
    write = decide(cognito, token, "POST")
    assert (write.outcome, write.reason) == ("deny", "insufficient_permission")
    assert "notes-api/write" in write.detail and "cognito:groups" in write.detail
    # and the policy API Gateway caches says the same for both routes
    policy = cognito.policy_response(token_event(token, "GET", "notes"))["policyDocument"]
    allow, deny = policy["Statement"]
    assert any(r.endswith("/GET/notes") for r in allow["Resource"])
    assert any(r.endswith("/POST/notes") for r in deny["Resource"])


def test_an_id_token_is_refused_with_its_own_reason(cognito: Authorizer, mint: Minter) -> None:
    id_token = access_claims(token_use="id", aud=WEBAPP_ID, client_id=None, at_hash="h")

    decision = decide(cognito, sign(mint, id_token), path="private")

    assert (decision.outcome, decision.reason) == ("unauthorized", "id_token")
    assert "Send the access token" in decision.detail
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        cognito.policy_response(token_event(sign(mint, id_token)))


@pytest.mark.parametrize("token_use", [None, "refresh", ["access"]])
def test_a_token_without_token_use_access_is_refused(
    cognito: Authorizer, mint: Minter, token_use: Any
) -> None:
    decision = decide(cognito, sign(mint, access_claims(token_use=token_use)), path="private")

    assert (decision.outcome, decision.reason) == ("unauthorized", "wrong_token_use")


def test_client_id_takes_the_place_of_aud(cognito: Authorizer, mint: Minter) -> None:
    other = decide(cognito, sign(mint, access_claims(client_id="someoneelse000001")))
    missing = decide(cognito, sign(mint, access_claims(client_id=None)))
    # an `aud` naming an accepted client does not stand in for `client_id`
    aud_only = decide(cognito, sign(mint, access_claims(client_id=None, aud=WEBAPP_ID)))
    reader = decide(cognito, sign(mint, access_claims(client_id=READER_ID)))

    assert (other.outcome, other.reason) == ("unauthorized", "wrong_client")
    assert "someoneelse000001" in other.detail
    assert (missing.reason, aud_only.reason) == ("missing_claim", "missing_claim")
    assert reader.outcome == "allow"


def test_the_admin_route_needs_the_admins_group_not_a_scope(
    cognito: Authorizer, mint: Minter
) -> None:
    admin = sign(mint, access_claims(**{"cognito:groups": ["admins", "customers"]}))
    customer = sign(mint, access_claims())
    # a scope spelled like the requirement grants nothing: only the group does
    spoof = sign(mint, access_claims(scope="group:admins notes-api/read"))
    no_groups = sign(mint, access_claims(**{"cognito:groups": None}))

    assert decide(cognito, admin, path="admin").outcome == "allow"
    for token in (customer, spoof, no_groups):
        decision = decide(cognito, token, path="admin")
        assert (decision.outcome, decision.reason) == ("deny", "insufficient_permission")
        assert "group:admins" in decision.detail


def test_the_permissions_claim_grants_nothing_in_the_cognito_profile(
    cognito: Authorizer, mint: Minter
) -> None:
    token = sign(mint, access_claims(scope="openid", permissions=["notes-api/read"]))

    assert decide(cognito, token).reason == "insufficient_permission"


def test_the_backend_context_carries_the_groups_and_the_client(
    cognito: Authorizer, mint: Minter
) -> None:
    user = sign(mint, access_claims(**{"cognito:groups": ["admins", "customers"]}))
    m2m = sign(
        mint,
        access_claims(
            sub=READER_ID,
            client_id=READER_ID,
            username=None,
            scope="notes-api/read",
            **{"cognito:groups": None},
        ),
    )

    user_context = cognito.policy_response(token_event(user, "GET", "admin"))["context"]
    m2m_context = cognito.policy_response(token_event(m2m, "GET", "notes"))["context"]

    assert user_context["groups"] == "admins customers"
    assert (user_context["tokenKind"], user_context["clientId"]) == ("user", WEBAPP_ID)
    assert (m2m_context["tokenKind"], m2m_context["clientId"]) == ("client", READER_ID)
    assert m2m_context["scope"] == "notes-api/read" and m2m_context["groups"] == ""


def test_an_auth0_token_is_refused_in_the_cognito_profile(
    cognito: Authorizer, mint: Minter
) -> None:
    auth0 = mint.token()  # the Auth0 tenant's access token, `aud` and `permissions`
    # even one claiming the pool as its issuer: it has no `token_use`
    posing = mint.token(iss=POOL_ISSUER, client_id=WEBAPP_ID)

    assert decide(cognito, auth0).reason == "wrong_issuer"
    assert decide(cognito, posing).reason == "wrong_token_use"


def test_a_cognito_token_is_refused_in_the_auth0_profile(
    authorizer: Authorizer, mint: Minter
) -> None:
    cognito_token = sign(mint, access_claims())
    # the same shape under the Auth0 issuer: no `aud`, so not for this API
    same_issuer = sign(mint, access_claims(iss=ISSUER, permissions=["read:notes"]))

    assert decide(authorizer, cognito_token).reason == "wrong_issuer"
    assert decide(authorizer, same_issuer).reason == "wrong_audience"


def test_the_auth0_profile_is_the_default_and_unchanged(
    make_authorizer: Callable[..., Authorizer], mint: Minter
) -> None:
    explicit = make_authorizer(TOKEN_PROFILE="auth0")

    assert explicit.settings.profile == make_authorizer().settings.profile == "auth0"
    decision = decide(explicit, mint.token())
    assert decision.outcome == "allow"
    context = explicit.policy_response(token_event(mint.token()))["context"]
    assert "groups" not in context and context["permissions"].startswith("read:messages")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"TOKEN_PROFILE": "okta"}, "TOKEN_PROFILE must be auth0 or cognito"),
        ({"CLIENT_IDS": ""}, "CLIENT_IDS is not set"),
        ({"CLIENT_IDS": "good0001, bad/id"}, "'bad/id', which is not an app client id"),
        ({"AUDIENCE": AUDIENCE}, "Cognito access tokens have no `aud`"),
        ({"TOKEN_ISSUER": POOL_ISSUER + "/"}, "no trailing slash"),
        ({"TOKEN_ISSUER": "https://example.com/us-east-1_TestPool1"}, "a user pool's issuer"),
        ({"TOKEN_ISSUER": ""}, "https://cognito-idp.us-east-1.amazonaws.com/"),
    ],
)
def test_bad_cognito_settings_name_the_problem(
    jwks_server: JwksServer, overrides: dict[str, str], message: str
) -> None:
    env = cognito_env(jwks_server.url)
    env.update(overrides)

    with pytest.raises(SettingsError) as raised:
        load_settings({k: v for k, v in env.items() if v})

    assert message in str(raised.value)


def test_the_cognito_handler_runs_beside_the_auth0_handler_in_one_process(
    jwks_server: JwksServer, mint: Minter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN one environment holding both configurations, as the local gateway's process does
    for name, value in {
        "TOKEN_ISSUER": ISSUER,
        "AUDIENCE": AUDIENCE,
        "JWKS_URI": jwks_server.url,
        "ROUTE_PERMISSIONS": json.dumps(ROUTES),
    }.items():
        monkeypatch.setenv(name, value)
    for name, value in cognito_env(jwks_server.url).items():
        if name != "TOKEN_PROFILE":
            monkeypatch.setenv("COGNITO_" + name, value)
    monkeypatch.setattr(handler_module, "_authorizer", None)
    monkeypatch.setattr(handler_module, "_cognito_authorizer", None)
    auth0_token, cognito_token = mint.token(), sign(mint, access_claims())

    # THEN each entry point takes its own family's token and refuses the other's
    assert handler_module.lambda_handler(token_event(auth0_token, "GET", "notes"), None)
    assert handler_module.cognito_handler(token_event(cognito_token, "GET", "notes"), None)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        handler_module.lambda_handler(token_event(cognito_token, "GET", "notes"), None)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        handler_module.cognito_handler(token_event(auth0_token, "GET", "notes"), None)


def test_a_missing_cognito_setting_is_named_with_its_prefix() -> None:
    with pytest.raises(SettingsError, match=r"^COGNITO_TOKEN_ISSUER is not set"):
        load_settings({}, prefix="COGNITO_", profile="cognito")
