"""The application factory and its configuration: local by default, Auth0 by settings."""

from __future__ import annotations

import pytest

from emulators.idp.tenant import load_tenant_data
from webapp import config
from webapp import create_app
from webapp.config import ConfigError


def test_config_defaults_to_the_local_lab() -> None:
    app = create_app(environ={})

    assert not app.testing
    assert app.config["LAB_MODE"] == "local"
    assert app.config["AUTH0_ISSUER"] == "http://127.0.0.1:3001/"
    assert app.config["API_BASE_URL"] == "http://127.0.0.1:3002"


def test_testing_flag() -> None:
    assert create_app({"TESTING": True}, environ={}).testing


def test_auth0_settings_switch_the_issuer() -> None:
    app = create_app(
        environ={
            "AUTH0_DOMAIN": "https://my-tenant.eu.auth0.com/",
            "AUTH0_CLIENT_ID": "abc",
            "AUTH0_CLIENT_SECRET": "s3cret",
            "AUTH0_AUDIENCE": "https://api.example.com",
            "API_BASE_URL": "https://x.execute-api.eu-west-1.amazonaws.com/dev/",
        }
    )

    assert app.config["LAB_MODE"] == "auth0"
    assert app.config["AUTH0_ISSUER"] == "https://my-tenant.eu.auth0.com/"
    assert app.config["API_BASE_URL"] == "https://x.execute-api.eu-west-1.amazonaws.com/dev"


def test_a_partial_auth0_configuration_is_refused_with_the_missing_names() -> None:
    with pytest.raises(ConfigError, match="AUTH0_CLIENT_SECRET, AUTH0_AUDIENCE are not set"):
        create_app(environ={"AUTH0_DOMAIN": "t.auth0.com", "AUTH0_CLIENT_ID": "abc"})


def test_local_defaults_match_the_idp_tenant_file() -> None:
    tenant = load_tenant_data()
    webapp_client = next(a for a in tenant["applications"] if a["client_id"] == "lab-webapp")

    assert webapp_client["client_secret"] == config.LOCAL_CLIENT_SECRET
    assert "http://localhost:3000/callback" in webapp_client["callbacks"]
    assert "http://localhost:3000/" in webapp_client["allowed_logout_urls"]
    assert config.DEFAULT_AUDIENCE in [api["identifier"] for api in tenant["apis"]]


def test_local_m2m_clients_match_the_idp_tenant_file() -> None:
    tenant = {a["client_id"]: a for a in load_tenant_data()["applications"]}

    for client_id, secret in config.LOCAL_M2M_CLIENTS.values():
        assert tenant[client_id]["client_secret"] == secret
        assert tenant[client_id]["grant_types"] == ["client_credentials"]


def test_auth0_m2m_clients_come_from_settings() -> None:
    app = create_app(
        environ={
            "AUTH0_DOMAIN": "t.auth0.com",
            "AUTH0_CLIENT_ID": "a",
            "AUTH0_CLIENT_SECRET": "b",
            "AUTH0_AUDIENCE": "https://api",
            "M2M_READER_CLIENT_ID": "r",
            "M2M_READER_CLIENT_SECRET": "s",
        }
    )

    assert app.config["M2M_CLIENTS"] == {"m2m-reader": ("r", "s")}
