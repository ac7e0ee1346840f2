"""The local IdP over real HTTP: Auth0's endpoints, token shapes, errors and security rules.

Tokens are verified with PyJWT (the IdP signs with joserfc), keys fetched from the live JWKS.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlparse

import jwt
import pytest
import requests

from emulators.idp import create_idp_app
from emulators.idp.__main__ import main as idp_cli
from tests.conftest import ADMIN
from tests.conftest import AUDIENCE
from tests.conftest import CUSTOMER
from tests.conftest import form_fields
from tests.conftest import tenant_for
from tests.oauth_helpers import READER
from tests.oauth_helpers import WEBAPP_SECRET
from tests.oauth_helpers import WRITER
from tests.oauth_helpers import Authorization
from tests.oauth_helpers import client_credentials
from tests.oauth_helpers import pkce_pair


@pytest.fixture
def authz(lab: Any) -> Authorization:
    return Authorization(lab)


@pytest.fixture
def jwks_client(lab: Any) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(f"{lab.idp_url}/.well-known/jwks.json", cooldown_duration=0)


def verify(
    token: str,
    jwks_client: jwt.PyJWKClient,
    audience: str,
    issuer: str,
) -> dict[str, Any]:
    key = jwks_client.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


# Discovery and keys --------------------------------------------------------------------------


def test_discovery_document_has_every_required_field(lab: Any) -> None:
    metadata = requests.get(f"{lab.idp_url}/.well-known/openid-configuration", timeout=5).json()

    # OIDC Discovery 1.0 §3: REQUIRED provider metadata.
    for field in (
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ):
        assert metadata[field], field
    assert metadata["issuer"] == lab.issuer
    assert metadata["issuer"].endswith("/")
    assert metadata["userinfo_endpoint"] == lab.issuer + "userinfo"
    assert metadata["end_session_endpoint"] == lab.issuer + "oidc/logout"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]


def test_jwks_publishes_only_public_rs256_keys_with_kid(lab: Any) -> None:
    keys = requests.get(f"{lab.idp_url}/.well-known/jwks.json", timeout=5).json()["keys"]

    assert keys
    for key in keys:
        assert key["kid"] and key["kty"] == "RSA" and key["use"] == "sig"
        assert key["alg"] == "RS256"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()
        modulus = base64.urlsafe_b64decode(key["n"] + "==")
        assert len(modulus) * 8 >= 2048


# Authorization code flow ---------------------------------------------------------------------


def test_code_flow_issues_auth0_shaped_access_and_id_tokens(
    lab: Any, authz: Authorization, jwks_client: jwt.PyJWKClient
) -> None:
    tokens = authz.tokens()

    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 86400
    assert tokens["refresh_token"]
    access = verify(tokens["access_token"], jwks_client, AUDIENCE, lab.issuer)
    assert access["aud"] == [AUDIENCE, lab.issuer + "userinfo"]
    assert access["azp"] == "lab-webapp"
    assert access["sub"] == "auth0|customer-0001"
    assert access["exp"] - access["iat"] == 86400
    assert access["permissions"] == ["read:messages", "read:notes", "write:notes"]
    # RBAC: the customer asked for read:admin but does not hold it.
    assert access["scope"].split() == [
        "openid",
        "profile",
        "email",
        "offline_access",
        "read:messages",
        "read:notes",
    ]
    assert jwt.get_unverified_header(tokens["access_token"])["typ"] == "JWT"

    id_claims = verify(tokens["id_token"], jwks_client, "lab-webapp", lab.issuer)
    assert id_claims["nonce"] == "nonce-456"
    assert id_claims["email"] == "customer@example.com"
    assert id_claims["name"] == "Casey Customer"
    assert "permissions" not in id_claims


def test_admin_is_granted_read_admin(
    lab: Any, authz: Authorization, jwks_client: jwt.PyJWKClient
) -> None:
    access = verify(authz.tokens(ADMIN)["access_token"], jwks_client, AUDIENCE, lab.issuer)

    assert "read:admin" in access["scope"].split()
    assert "read:admin" in access["permissions"]


def test_id_token_claims_follow_the_scopes_asked(
    lab: Any, authz: Authorization, jwks_client: jwt.PyJWKClient
) -> None:
    tokens = authz.tokens(scope="openid")

    claims = verify(tokens["id_token"], jwks_client, "lab-webapp", lab.issuer)
    assert "email" not in claims and "name" not in claims
    assert "refresh_token" not in tokens  # no offline_access asked


def test_without_audience_the_access_token_is_opaque_and_only_userinfo_takes_it(
    lab: Any, authz: Authorization
) -> None:
    tokens = authz.tokens(audience=None)

    assert tokens["access_token"].count(".") != 2
    userinfo = requests.get(
        f"{lab.idp_url}/userinfo",
        timeout=5,
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == "auth0|customer-0001"
    assert userinfo.json()["email"] == "customer@example.com"


def test_userinfo_accepts_a_jwt_whose_audience_includes_it(lab: Any, authz: Authorization) -> None:
    tokens = authz.tokens()

    response = requests.get(
        f"{lab.idp_url}/userinfo",
        timeout=5,
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 200
    assert response.json()["email"] == "customer@example.com"


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer not-a-token", "Basic abc"])
def test_userinfo_refuses_missing_or_unknown_tokens(lab: Any, header: str) -> None:
    response = requests.get(f"{lab.idp_url}/userinfo", headers={"Authorization": header}, timeout=5)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_userinfo_refuses_an_m2m_token(lab: Any) -> None:
    token = client_credentials(lab, READER, audience=AUDIENCE).json()["access_token"]

    response = requests.get(
        f"{lab.idp_url}/userinfo", timeout=5, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


def test_a_code_works_once_and_its_replay_revokes_the_refresh_token(
    lab: Any, authz: Authorization
) -> None:
    code = authz.code()
    first = authz.exchange(code)
    assert first.status_code == 200

    replay = authz.exchange(code)

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    refresh = requests.post(
        f"{lab.idp_url}/oauth/token",
        timeout=5,
        auth=("lab-webapp", WEBAPP_SECRET),
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
    )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"


def test_an_expired_code_is_refused(lab: Any, tmp_path: Any) -> None:
    app = create_idp_app(
        {
            "IDP_ISSUER": lab.issuer,
            "IDP_DATABASE": str(tmp_path / "i.db"),
            "IDP_TENANT": tenant_for(lab.web_url, authorization_code_lifetime=0),
        }
    )
    client = app.test_client()
    verifier, challenge = pkce_pair()
    query = Authorization(lab).params(code_challenge=challenge)
    page = client.get("/authorize", query_string=query)
    login = client.post(
        "/authorize",
        query_string=query,
        data={**form_fields(page.text), "email": CUSTOMER[0], "password": CUSTOMER[1]},
    )
    code = parse_qs(urlparse(login.headers["Location"]).query)["code"][0]

    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": query["redirect_uri"],
            "client_id": "lab-webapp",
            "client_secret": WEBAPP_SECRET,
        },
    )

    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_verifier": None}, "invalid_request"),
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"redirect_uri": "http://localhost:1/callback"}, "invalid_grant"),
    ],
    ids=["missing-verifier", "wrong-verifier", "other-redirect-uri"],
)
def test_token_exchange_checks_pkce_and_redirect_uri(
    authz: Authorization, overrides: dict[str, Any], error: str
) -> None:
    response = authz.exchange(authz.code(), **overrides)

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_a_code_issued_without_pkce_refuses_a_verifier(authz: Authorization) -> None:
    code = authz.code(code_challenge=None, code_challenge_method=None)

    response = authz.exchange(code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "code_verifier" in response.json()["error_description"]


def test_a_code_issued_without_pkce_works_for_a_confidential_client(authz: Authorization) -> None:
    code = authz.code(code_challenge=None, code_challenge_method=None)

    assert authz.exchange(code, code_verifier=None).status_code == 200


def test_refresh_tokens_rotate(
    lab: Any, authz: Authorization, jwks_client: jwt.PyJWKClient
) -> None:
    first = authz.tokens()["refresh_token"]

    def refresh(token: str) -> requests.Response:
        return requests.post(
            f"{lab.idp_url}/oauth/token",
            timeout=5,
            auth=("lab-webapp", WEBAPP_SECRET),
            data={"grant_type": "refresh_token", "refresh_token": token},
        )

    renewed = refresh(first)
    assert renewed.status_code == 200
    body = renewed.json()
    assert body["refresh_token"] != first
    claims = verify(body["access_token"], jwks_client, AUDIENCE, lab.issuer)
    assert claims["sub"] == "auth0|customer-0001"
    assert refresh(first).status_code == 400  # single use
    assert refresh(body["refresh_token"]).status_code == 200


# Errors at /authorize ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "http://evil.example/callback"},
        {"client_id": "no-such-client"},
        {"client_id": None},
    ],
    ids=["foreign-redirect", "unknown-client", "no-client"],
)
def test_authorize_shows_an_error_page_instead_of_redirecting_to_an_unverified_uri(
    lab: Any, authz: Authorization, overrides: dict[str, Any]
) -> None:
    response = requests.get(
        f"{lab.idp_url}/authorize",
        params=authz.params(**overrides),
        allow_redirects=False,
        timeout=5,
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "This login request cannot be processed" in response.text


# Built from the URI the test registered (its port is random), so each one is a near miss.
NEAR_MISSES = ["/", ".evil.example/", "/../x", "?x=1", "#x", "%2F"]


@pytest.mark.parametrize("suffix", NEAR_MISSES)
def test_authorize_refuses_a_near_miss_of_the_registered_redirect_uri(
    lab: Any, authz: Authorization, suffix: str
) -> None:
    near_miss = authz.redirect_uri + suffix
    response = requests.get(
        f"{lab.idp_url}/authorize",
        params=authz.params(redirect_uri=near_miss),
        allow_redirects=False,
        timeout=5,
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "This login request cannot be processed" in response.text


@pytest.mark.parametrize("suffix", NEAR_MISSES)
def test_token_exchange_refuses_a_near_miss_of_the_redirect_uri(
    authz: Authorization, suffix: str
) -> None:
    response = authz.exchange(authz.code(), redirect_uri=authz.redirect_uri + suffix)

    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_grant", "invalid_request")
    assert "access_token" not in response.json()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"audience": "https://unknown.example"}, "access_denied"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),
    ],
    ids=["unknown-audience", "implicit-flow", "pkce-plain", "prompt-none"],
)
def test_authorize_redirects_errors_to_a_verified_client(
    lab: Any, authz: Authorization, overrides: dict[str, Any], error: str
) -> None:
    response = requests.get(
        f"{lab.idp_url}/authorize",
        params=authz.params(**overrides),
        allow_redirects=False,
        timeout=5,
    )

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(authz.redirect_uri + "?")
    query = parse_qs(urlparse(location).query)
    assert query["error"] == [error]
    assert query["state"] == ["state-123"]


def test_cancel_on_the_login_page_returns_access_denied(lab: Any, authz: Authorization) -> None:
    browser = requests.Session()
    page = browser.get(f"{lab.idp_url}/authorize", params=authz.params(), timeout=5)

    response = browser.post(
        page.url,
        data={**form_fields(page.text), "action": "cancel"},
        allow_redirects=False,
        timeout=5,
    )

    assert response.status_code == 302
    query = parse_qs(urlparse(response.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["error_description"] == ["The user cancelled the login"]


@pytest.mark.parametrize(
    "credentials",
    [
        ("customer@example.com", "wrong-password"),
        ("nobody@example.com", "Customer-Passw0rd"),
    ],
    ids=["wrong-password", "unknown-email"],
)
def test_wrong_credentials_show_the_form_again_revealing_nothing(
    authz: Authorization, credentials: tuple[str, str]
) -> None:
    response = authz.login(credentials)

    # A 200 page, as Universal Login re-renders its form: a 4xx would be a console error.
    assert response.status_code == 200
    assert "Wrong email or password." in response.text
    assert 'id="password"' in response.text
    assert "Location" not in response.headers


def test_login_form_needs_its_csrf_token(lab: Any, authz: Authorization) -> None:
    browser = requests.Session()
    page = browser.get(f"{lab.idp_url}/authorize", params=authz.params(), timeout=5)

    response = browser.post(
        page.url,
        data={"email": CUSTOMER[0], "password": CUSTOMER[1]},
        allow_redirects=False,
        timeout=5,
    )

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_login_page_cannot_be_framed(lab: Any, authz: Authorization) -> None:
    response = requests.get(f"{lab.idp_url}/authorize", params=authz.params(), timeout=5)

    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_second_authorize_in_the_same_browser_skips_the_login_form(
    lab: Any, authz: Authorization
) -> None:
    browser = requests.Session()
    page = browser.get(f"{lab.idp_url}/authorize", params=authz.params(), timeout=5)
    browser.post(
        page.url,
        data={**form_fields(page.text), "email": CUSTOMER[0], "password": CUSTOMER[1]},
        allow_redirects=False,
        timeout=5,
    )

    again = browser.get(
        f"{lab.idp_url}/authorize", params=authz.params(), timeout=5, allow_redirects=False
    )
    forced = browser.get(
        f"{lab.idp_url}/authorize",
        params=authz.params(prompt="login"),
        timeout=5,
        allow_redirects=False,
    )

    assert again.status_code == 302 and "code=" in again.headers["Location"]
    assert forced.status_code == 200 and 'id="password"' in forced.text


# Client credentials --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "scope"),
    [
        (READER, "read:notes"),
        (WRITER, "read:notes write:notes"),
    ],
    ids=["reader", "writer"],
)
def test_client_credentials_tokens_have_the_m2m_shape(
    lab: Any, jwks_client: jwt.PyJWKClient, client: tuple[str, str], scope: str
) -> None:
    response = client_credentials(lab, client, audience=AUDIENCE)

    assert response.status_code == 200
    body = response.json()
    assert "refresh_token" not in body and "id_token" not in body
    claims = verify(body["access_token"], jwks_client, AUDIENCE, lab.issuer)
    assert claims["sub"] == f"{client[0]}@clients"
    assert claims["aud"] == AUDIENCE
    assert claims["gty"] == "client-credentials"
    assert claims["azp"] == client[0]
    assert claims["scope"] == scope
    assert "permissions" not in claims


def test_client_credentials_may_narrow_the_scope(lab: Any, jwks_client: jwt.PyJWKClient) -> None:
    body = client_credentials(lab, WRITER, audience=AUDIENCE, scope="read:notes").json()

    assert verify(body["access_token"], jwks_client, AUDIENCE, lab.issuer)["scope"] == (
        "read:notes"
    )


@pytest.mark.parametrize(
    ("client", "data", "status", "error"),
    [
        (READER, {"audience": AUDIENCE, "scope": "write:notes"}, 400, "invalid_scope"),
        (READER, {}, 400, "invalid_request"),
        (READER, {"audience": "https://unknown.example"}, 403, "access_denied"),
        ((READER[0], "wrong-secret"), {"audience": AUDIENCE}, 401, "access_denied"),
        (("no-such-client", "x"), {"audience": AUDIENCE}, 401, "access_denied"),
        (("lab-webapp", WEBAPP_SECRET), {"audience": AUDIENCE}, 400, "unauthorized_client"),
    ],
    ids=[
        "scope-not-granted",
        "no-audience",
        "unknown-audience",
        "wrong-secret",
        "unknown-client",
        "grant-not-allowed",
    ],
)
def test_client_credentials_errors_follow_rfc_6749(
    lab: Any, client: tuple[str, str], data: dict[str, str], status: int, error: str
) -> None:
    response = client_credentials(lab, client, **data)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json().get("error_description") or error == "invalid_client"


@pytest.mark.parametrize("client", [(READER[0], "wrong-secret"), ("no-such-client", "x")])
def test_a_client_that_fails_to_authenticate_gets_auth0s_answer(
    lab: Any, client: tuple[str, str]
) -> None:
    response = client_credentials(lab, client, audience=AUDIENCE)

    # Auth0's exact body: one word for the reason, a string, and no hint which half was wrong.
    assert response.status_code == 401
    assert response.json() == {"error": "access_denied", "error_description": "Unauthorized"}


def test_an_unknown_grant_type_is_refused(lab: Any) -> None:
    response = requests.post(
        f"{lab.idp_url}/oauth/token",
        auth=READER,
        timeout=5,
        data={"grant_type": "password", "username": "a", "password": "b"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_no_token_or_secret_reaches_the_log(
    lab: Any, authz: Authorization, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    tokens = authz.tokens()
    m2m = client_credentials(lab, WRITER, audience=AUDIENCE).json()

    secrets_seen = [
        tokens["access_token"],
        tokens["id_token"],
        tokens["refresh_token"],
        m2m["access_token"],
        WEBAPP_SECRET,
        WRITER[1],
        CUSTOMER[1],
    ]
    for value in secrets_seen:
        assert value not in caplog.text


# Logout --------------------------------------------------------------------------------------


def test_v2_logout_returns_only_to_an_allowed_url(lab: Any) -> None:
    allowed = requests.get(
        f"{lab.idp_url}/v2/logout",
        allow_redirects=False,
        timeout=5,
        params={"client_id": "lab-webapp", "returnTo": f"{lab.web_url}/"},
    )
    refused = requests.get(
        f"{lab.idp_url}/v2/logout",
        allow_redirects=False,
        timeout=5,
        params={"client_id": "lab-webapp", "returnTo": "http://evil.example/"},
    )

    assert allowed.status_code == 302 and allowed.headers["Location"] == f"{lab.web_url}/"
    assert refused.status_code == 400 and "not in the Allowed Logout URLs" in refused.text


def test_oidc_logout_checks_the_post_logout_redirect_uri(lab: Any, authz: Authorization) -> None:
    id_token = authz.tokens()["id_token"]

    allowed = requests.get(
        f"{lab.idp_url}/oidc/logout",
        allow_redirects=False,
        timeout=5,
        params={
            "id_token_hint": id_token,
            "state": "s1",
            "post_logout_redirect_uri": f"{lab.web_url}/",
        },
    )
    refused = requests.get(
        f"{lab.idp_url}/oidc/logout",
        allow_redirects=False,
        timeout=5,
        params={"client_id": "lab-webapp", "post_logout_redirect_uri": "http://evil.example/"},
    )
    forged = requests.get(
        f"{lab.idp_url}/oidc/logout",
        allow_redirects=False,
        timeout=5,
        params={
            "id_token_hint": id_token[:-4] + "AAAA",
            "post_logout_redirect_uri": f"{lab.web_url}/",
        },
    )

    assert allowed.status_code == 302
    assert allowed.headers["Location"] == f"{lab.web_url}/?state=s1"
    assert refused.status_code == 400
    assert forged.status_code == 400


def test_logout_ends_the_idp_session(lab: Any, authz: Authorization) -> None:
    browser = requests.Session()
    page = browser.get(f"{lab.idp_url}/authorize", params=authz.params(), timeout=5)
    browser.post(
        page.url,
        data={**form_fields(page.text), "email": CUSTOMER[0], "password": CUSTOMER[1]},
        allow_redirects=False,
        timeout=5,
    )

    browser.get(f"{lab.idp_url}/v2/logout", timeout=5)
    after = browser.get(
        f"{lab.idp_url}/authorize", params=authz.params(), timeout=5, allow_redirects=False
    )

    assert after.status_code == 200 and 'id="password"' in after.text


# Keys and operator commands ------------------------------------------------------------------


def test_serve_refuses_a_port_in_use(tmp_path: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # In a process of its own: waitress leaves its socket unclosed when the bind fails.
        finished = subprocess.run(
            [sys.executable, "-m", "emulators.idp", "serve", "--port", str(port)],
            cwd=Path(__file__).resolve().parents[1],
            env={**os.environ, "IDP_DATABASE": str(tmp_path / "serve.db")},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert finished.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port}" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_key_rotation_keeps_the_old_key_published(
    lab: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "rotate.db"
    monkeypatch.setenv("IDP_DATABASE", str(database))
    monkeypatch.setenv("IDP_ISSUER", lab.issuer)
    app = create_idp_app({"IDP_TENANT": tenant_for(lab.web_url)})
    client = app.test_client()

    def reader_token() -> str:
        return client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "audience": AUDIENCE,
                "client_id": READER[0],
                "client_secret": READER[1],
            },
        ).json["access_token"]

    old_kid = client.get("/.well-known/jwks.json").json["keys"][0]["kid"]
    old_token = reader_token()

    assert idp_cli(["rotate-key"]) == 0  # the operator's command, as from a shell

    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]]
    new_token = reader_token()
    new_kid = jwt.get_unverified_header(new_token)["kid"]
    assert new_kid != old_kid
    assert set(kids) == {old_kid, new_kid}
    assert jwt.get_unverified_header(old_token)["kid"] == old_kid
    assert new_kid in capsys.readouterr().out


def test_keys_survive_a_restart(lab: Any, tmp_path: Any) -> None:
    config = {
        "IDP_ISSUER": lab.issuer,
        "IDP_DATABASE": str(tmp_path / "keys.db"),
        "IDP_TENANT": tenant_for(lab.web_url),
    }

    first = create_idp_app(config).test_client().get("/.well-known/jwks.json").json
    second = create_idp_app(config).test_client().get("/.well-known/jwks.json").json

    assert first == second


def test_operator_commands_add_a_user_and_list_clients(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDP_DATABASE", str(tmp_path / "cli.db"))

    assert (
        idp_cli(
            [
                "add-user",
                "--email",
                "new@example.com",
                "--password",
                "N3w-Passw0rd",
                "--role",
                "customer",
            ]
        )
        == 0
    )
    again = ["add-user", "--email", "new@example.com", "--password", "N3w-Passw0rd"]
    assert idp_cli([*again, "--role", "customer"]) == 1
    assert (
        idp_cli(
            [
                "add-user",
                "--email",
                "x@example.com",
                "--password",
                "N3w-Passw0rd",
                "--role",
                "superuser",
            ]
        )
        == 2
    )
    assert idp_cli(["list-users"]) == 0
    assert idp_cli(["list-clients"]) == 0

    out = capsys.readouterr()
    assert "new@example.com" in out.out
    assert "lab-m2m-writer" in out.out and "read:notes write:notes" in out.out
    assert "Unknown role(s): superuser" in out.err
    assert "N3w-Passw0rd" not in out.out


def test_the_database_holding_the_signing_keys_is_private(tmp_path: Path) -> None:
    import stat

    from emulators.idp.store import Store

    path = tmp_path / "idp.sqlite3"
    Store(path)

    for file in tmp_path.iterdir():  # the database and SQLite's -wal/-shm beside it
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
