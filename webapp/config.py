"""Settings of the web app, read from the environment: the local lab by default, Auth0 and AWS
when `AUTH0_DOMAIN` (and friends) and `API_BASE_URL` are set. Loading `.env` is `wsgi.py`'s job.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

# The local IdP's web-app client, as declared in its tenant file (a test keeps them in step).
LOCAL_IDP_URL = "http://127.0.0.1:3001"
LOCAL_CLIENT_ID = "lab-webapp"
LOCAL_CLIENT_SECRET = "lab-webapp-secret-for-local-use-only"
LOCAL_GATEWAY_URL = "http://127.0.0.1:3002"
# The tenant's two demo machine-to-machine clients.
LOCAL_M2M_CLIENTS = {
    "m2m-reader": ("lab-m2m-reader", "lab-m2m-reader-secret-for-local-use-only"),
    "m2m-writer": ("lab-m2m-writer", "lab-m2m-writer-secret-for-local-use-only"),
}
DEFAULT_AUDIENCE = "https://api.authorizer-lab.local"

# Ask for every API permission: with RBAC the IdP grants only those the user's roles hold.
DEFAULT_SCOPE = (
    "openid profile email offline_access read:messages read:notes write:notes read:admin"
)

AUTH0_SETTINGS = ("AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET", "AUTH0_AUDIENCE")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def _domain(value: str) -> str:
    value = value.strip()
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    return value.rstrip("/")


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the Flask config derived from environment variables.

    Local mode needs nothing. Auth0 mode starts when `AUTH0_DOMAIN` is set and then needs
    the client id, secret and audience too; a partial configuration is refused.
    """
    env = os.environ if environ is None else environ
    domain = _domain(env.get("AUTH0_DOMAIN", ""))
    settings: dict[str, Any] = {
        "SECRET_KEY": env.get("APP_SECRET_KEY") or secrets.token_hex(32),
        "API_BASE_URL": (env.get("API_BASE_URL") or LOCAL_GATEWAY_URL).rstrip("/"),
        "AUTH0_SCOPE": env.get("AUTH0_SCOPE") or DEFAULT_SCOPE,
    }
    # The four API URLs of a deployed stack (`sam deploy` outputs); locally the gateway's
    # catalogue provides them.
    for name in (
        "API_URL_REST_TOKEN",
        "API_URL_REST_REQUEST",
        "API_URL_HTTP_LAMBDA",
        "API_URL_HTTP_JWT",
    ):
        if env.get(name):
            settings[name] = env[name].rstrip("/")
    if domain:
        missing = [name for name in AUTH0_SETTINGS if not env.get(name)]
        if missing:
            raise ConfigError(
                f"AUTH0_DOMAIN is set to {domain!r}, so the app talks to that Auth0 tenant, "
                f"but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. "
                "Set them in .env (see .env.example) or unset AUTH0_DOMAIN for local mode."
            )
        settings["M2M_CLIENTS"] = {
            key: (env[f"{prefix}_CLIENT_ID"], env[f"{prefix}_CLIENT_SECRET"])
            for key, prefix in (("m2m-reader", "M2M_READER"), ("m2m-writer", "M2M_WRITER"))
            if env.get(f"{prefix}_CLIENT_ID") and env.get(f"{prefix}_CLIENT_SECRET")
        }
        settings.update(
            LAB_MODE="auth0",
            AUTH0_ISSUER=f"https://{domain}/",
            AUTH0_CLIENT_ID=env["AUTH0_CLIENT_ID"],
            AUTH0_CLIENT_SECRET=env["AUTH0_CLIENT_SECRET"],
            AUTH0_AUDIENCE=env["AUTH0_AUDIENCE"],
        )
    else:
        idp_url = (env.get("LOCAL_IDP_URL") or LOCAL_IDP_URL).rstrip("/")
        settings["M2M_CLIENTS"] = dict(LOCAL_M2M_CLIENTS)
        settings.update(
            LAB_MODE="local",
            AUTH0_ISSUER=idp_url + "/",
            AUTH0_CLIENT_ID=env.get("AUTH0_CLIENT_ID") or LOCAL_CLIENT_ID,
            AUTH0_CLIENT_SECRET=env.get("AUTH0_CLIENT_SECRET") or LOCAL_CLIENT_SECRET,
            AUTH0_AUDIENCE=env.get("AUTH0_AUDIENCE") or DEFAULT_AUDIENCE,
        )
    return settings
