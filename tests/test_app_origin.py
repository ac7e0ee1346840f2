"""`make run` off port 3000: the local IdP allows the web app's callback and logout URLs at the
origin the launcher passes (APP_BASE_URL), for the Auth0 tenant and the Cognito pool alike; the
banner names the Cognito pool and the local AWS account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from emulators.idp import create_idp_app
from emulators.idp import with_app_origin
from emulators.idp.cognito_pool import load_pool_data
from emulators.idp.tenant import load_tenant_data
from tests.conftest import LiveServer
from webapp import launcher
from webapp.config import settings_from_env

ORIGIN = "http://localhost:8123"


def test_the_files_urls_are_added_at_the_new_origin_not_replaced() -> None:
    tenant = with_app_origin(load_tenant_data(), "applications", ORIGIN + "/")
    pool = with_app_origin(load_pool_data(), "clients", ORIGIN)
    webapp = next(a for a in tenant["applications"] if a["client_id"] == "lab-webapp")
    client = next(c for c in pool["clients"] if c.get("callback_urls"))

    assert webapp["callbacks"] == ["http://localhost:3000/callback", f"{ORIGIN}/callback"]
    assert f"{ORIGIN}/" in webapp["allowed_logout_urls"]
    assert {f"{ORIGIN}/callback", f"{ORIGIN}/callback/cognito"} <= set(client["callback_urls"])
    assert f"{ORIGIN}/" in client["logout_urls"]
    # The default origin, or none, changes nothing.
    assert with_app_origin(load_pool_data(), "clients", "http://localhost:3000") == load_pool_data()


def test_the_idp_redirects_to_the_web_app_at_its_new_origin(tmp_path: Path) -> None:
    server = LiveServer()
    idp_url = f"http://127.0.0.1:{server.port}"
    app = create_idp_app(
        {
            "IDP_ISSUER": idp_url + "/",
            "IDP_DATABASE": str(tmp_path / "idp.sqlite3"),
            "IDP_APP_ORIGIN": ORIGIN,
        }
    )
    server.start(app)
    try:
        tenant_login = requests.get(
            f"{idp_url}/authorize",
            params={
                "response_type": "code",
                "client_id": "lab-webapp",
                "redirect_uri": f"{ORIGIN}/callback",
                "scope": "openid",
                "state": "s",
            },
            timeout=5,
        )
        pool_login = requests.get(
            f"{idp_url}/cognito/authorizer-lab/oauth2/authorize",
            params={
                "response_type": "code",
                "client_id": "labcognitowebapp0000000001",
                "redirect_uri": f"{ORIGIN}/callback/cognito",
                "scope": "openid",
            },
            timeout=5,
        )
        elsewhere = requests.get(
            f"{idp_url}/cognito/authorizer-lab/oauth2/authorize",
            params={
                "response_type": "code",
                "client_id": "labcognitowebapp0000000001",
                "redirect_uri": "http://localhost:9999/callback/cognito",
                "scope": "openid",
            },
            timeout=5,
        )
    finally:
        server.stop()

    assert tenant_login.status_code == 200 and 'name="password"' in tenant_login.text
    assert pool_login.status_code == 200 and 'name="password"' in pool_login.text
    assert elsewhere.status_code == 400


def test_make_run_passes_the_web_apps_origin_to_the_idp() -> None:
    servers = launcher.planned_servers({"APP_BASE_URL": ORIGIN})
    idp = next(s for s in servers if s.name == "identity provider")
    web = next(s for s in servers if s.name == "web app")

    assert idp.argv[-2:] == ["--app-origin", ORIGIN]
    assert web.port == 8123


def test_the_banner_names_the_cognito_pool_and_the_local_account(lab: Any) -> None:
    settings = {"LOCAL_GATEWAY_URL": lab.gateway_url}
    servers = launcher.planned_servers(settings)
    config = settings_from_env(settings)

    banner = launcher._banner(servers, settings, config)

    assert "local Cognito pool     http://127.0.0.1:3001/us-east-1_AuthzLab1" in banner
    assert "http://127.0.0.1:3001/cognito/authorizer-lab/oauth2/token" in banner
    account = lab.gateway.aws.account.account_id
    assert f"local AWS account      {account}, identity pool us-east-1:" in banner
