"""The IAM settings of a deployed stack: what is derived, and partial settings refused by name."""

from __future__ import annotations

import pytest

from webapp.config import LOCAL_SERVICE_KEY
from webapp.config import ConfigError
from webapp.config import settings_from_env

POOL = "eu-west-1:0f8e1c2d-1111-2222-3333-444455556666"
DEPLOYED = {
    "API_BASE_URL": "https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
    "AUTH0_DOMAIN": "lab.eu.auth0.com",
    "AUTH0_CLIENT_ID": "id",
    "AUTH0_CLIENT_SECRET": "secret",
    "AUTH0_AUDIENCE": "https://api.example.com",
}


def test_local_mode_uses_the_labs_demo_key_and_the_gateways_pool() -> None:
    settings = settings_from_env({})

    assert settings["IAM_SERVICE_KEY"] == LOCAL_SERVICE_KEY
    assert settings["IAM_IDENTITY_POOL_ID"] is None


def test_a_deployed_stack_derives_region_and_the_auth0_logins_key() -> None:
    settings = settings_from_env(
        {
            **DEPLOYED,
            "IAM_IDENTITY_POOL_ID": POOL,
            "API_URL_REST_IAM": "https://def456.execute-api.eu-west-1.amazonaws.com/dev/",
        }
    )

    assert settings["IAM_REGION"] == "eu-west-1"
    assert settings["IAM_LOGINS_AUTH0"] == "lab.eu.auth0.com"
    assert settings["IAM_LOGINS_COGNITO"] is None
    assert settings["API_URL_REST_IAM"].endswith("/dev")
    assert settings["IAM_SERVICE_KEY"] is None  # never required against AWS


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"IAM_SERVICE_ACCESS_KEY_ID": "AKIAABCDEFGHIJKLMNOP"},
            "IAM_SERVICE_SECRET_ACCESS_KEY is not",
        ),
        ({"IAM_SERVICE_SECRET_ACCESS_KEY": "x" * 40}, "IAM_SERVICE_ACCESS_KEY_ID is not"),
        (
            {
                "IAM_SERVICE_ACCESS_KEY_ID": "ASIAABCDEFGHIJKLMNOP",
                "IAM_SERVICE_SECRET_ACCESS_KEY": "x",
            },
            "starts with AKIA",
        ),
        ({"IAM_IDENTITY_POOL_ID": "eu-west-1_AbCdEf123"}, "a colon and a UUID"),
        ({"IAM_IDENTITY_POOL_ID": POOL, "IAM_REGION": "us-east-1"}, "is in 'eu-west-1'"),
        ({"IAM_LOGINS_AUTH0": "lab.eu.auth0.com"}, "IAM_IDENTITY_POOL_ID is not"),
        ({"IAM_REGION": "Ireland"}, "a region looks like"),
    ],
    ids=[
        "key-id-only",
        "secret-only",
        "temporary-key",
        "user-pool-id",
        "region",
        "logins",
        "bad-region",
    ],
)
def test_partial_or_malformed_iam_settings_are_refused_by_name(
    extra: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_env({**DEPLOYED, **extra})


def test_a_pool_id_with_the_local_gateway_is_refused() -> None:
    with pytest.raises(ConfigError, match="local gateway"):
        settings_from_env({"IAM_IDENTITY_POOL_ID": POOL})


def test_a_pool_with_no_login_to_exchange_is_refused() -> None:
    env = {"API_BASE_URL": DEPLOYED["API_BASE_URL"], "IAM_IDENTITY_POOL_ID": POOL}

    with pytest.raises(ConfigError, match="no login can be exchanged"):
        settings_from_env(env)


def test_the_service_key_error_never_echoes_the_secret() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

    with pytest.raises(ConfigError) as raised:
        settings_from_env({**DEPLOYED, "IAM_SERVICE_SECRET_ACCESS_KEY": secret})

    assert secret not in str(raised.value)
