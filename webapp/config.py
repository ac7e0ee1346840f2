"""Settings of the web app, read from the environment: the local lab by default, Auth0 and AWS
when `AUTH0_DOMAIN` (and friends) and `API_BASE_URL` are set. Loading `.env` is `wsgi.py`'s job.

It also owns the web app's public origin (`APP_BASE_URL`): the one origin the identity
provider's redirect and logout URLs are built from, never the request's `Host` header
(RFC 9700 §4.1, exact redirect URIs; Flask's `TRUSTED_HOSTS`).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

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

# The local Cognito user pool (emulators/idp/cognito.json): its id, the path that stands for
# its domain on the IdP's port, the web app's client and the two machine clients.
LOCAL_COGNITO_POOL_ID = "us-east-1_AuthzLab1"
LOCAL_COGNITO_DOMAIN_PATH = "/cognito/authorizer-lab"
LOCAL_COGNITO_CLIENT = (
    "labcognitowebapp0000000001",
    "lab-cognito-webapp-secret-for-local-use-only",
)
LOCAL_COGNITO_M2M_CLIENTS = {
    "cognito-reader": (
        "labcognitoreader0000000001",
        "lab-cognito-reader-secret-for-local-use-only",
    ),
    "cognito-writer": (
        "labcognitowriter0000000001",
        "lab-cognito-writer-secret-for-local-use-only",
    ),
}
DEFAULT_COGNITO_SCOPE = "openid email profile notes-api/read notes-api/write"
COGNITO_SETTINGS = (
    "COGNITO_USER_POOL_ID",
    "COGNITO_REGION",
    "COGNITO_CLIENT_ID",
    "COGNITO_CLIENT_SECRET",
)
# A pool id is "<region>_<id>" (AWS::Cognito::UserPool's Ref), e.g. us-east-1_AbCdEf123.
_POOL_ID = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d)_([0-9A-Za-z]+)$")

# The local account's service-client key (template.yaml's ServiceClientAccessKey, derived from
# the template as emulators/aws derives it; `python -m emulators.aws list-credentials` prints
# it, and a test keeps the two in step). A local demo key that AWS never accepts.
LOCAL_SERVICE_KEY = ("AKIARKGHITN5RV5E2TG4", "w5oMKZQvx1w5T8stWsDBcoq69L7FFg+GVD1uns30")
IAM_POOL_SETTINGS = ("IAM_IDENTITY_POOL_ID", "IAM_LOGINS_AUTH0", "IAM_LOGINS_COGNITO")
# An identity pool id is "<region>:<uuid>" (AWS::Cognito::IdentityPool's Ref).
_IDENTITY_POOL_ID = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d):[0-9a-f-]{36}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")

# The origin the local tenant's callback and logout URLs name (emulators/idp/tenant.json).
DEFAULT_BASE_URL = "http://localhost:3000"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def _domain(value: str) -> str:
    value = value.strip()
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    return value.rstrip("/")


def is_loopback(host: str) -> bool:
    """Say whether a host name (no port, no brackets) names this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(value: str | None) -> tuple[str, str, int]:
    """Check `APP_BASE_URL`; return (origin without a trailing slash, host, port).

    :raise ConfigError: it is not an http(s) origin.
    """
    raw = (value or DEFAULT_BASE_URL).strip()
    parts = urlsplit(raw)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise ConfigError(
            f"APP_BASE_URL is {raw!r}: it must be the web app's public origin, a scheme, a host "
            "and a port only, e.g. http://localhost:3000 or https://lab.example.com."
        )
    return f"{parts.scheme}://{parts.netloc}", parts.hostname, port


def api_mode(api_base_url: str | None) -> str:
    """Say whether `API_BASE_URL` names the local gateway ("local") or a deployed API.

    Only the local emulator has a catalogue and traces: unset, or plain http to this machine,
    is the local gateway; anything else is a deployed API Gateway stage.
    """
    if not api_base_url:
        return "local"
    parts = urlsplit(api_base_url)
    return "local" if parts.scheme == "http" and is_loopback(parts.hostname or "") else "deployed"


def _proxy_hops(value: str | None) -> int:
    try:
        hops = int(value or 0)
    except ValueError:
        hops = -1
    if not 0 <= hops <= 5:
        raise ConfigError(
            f"APP_TRUSTED_PROXIES is {value!r}: it must be the number of reverse proxies in "
            "front of the web app whose X-Forwarded-* headers are trusted (0 to 5; 0 when the "
            "browser talks to the web app directly)."
        )
    return hops


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the Flask config derived from environment variables.

    Local mode needs nothing. Auth0 mode starts when `AUTH0_DOMAIN` is set and then needs
    the client id, secret and audience too; a partial configuration is refused.
    """
    env = os.environ if environ is None else environ
    domain = _domain(env.get("AUTH0_DOMAIN", ""))
    origin, host, _port = base_url(env.get("APP_BASE_URL"))
    api_base = (
        env.get("API_BASE_URL") or env.get("LOCAL_GATEWAY_URL") or LOCAL_GATEWAY_URL
    ).rstrip("/")
    settings: dict[str, Any] = {
        "SECRET_KEY": env.get("APP_SECRET_KEY") or secrets.token_hex(32),
        "API_BASE_URL": api_base,
        "API_MODE": api_mode(env.get("API_BASE_URL")),
        # Which of the four styles a deployed API_BASE_URL alone is (the Ping page's label).
        "API_BASE_STYLE": env.get("API_BASE_STYLE") or "rest-token",
        "AUTH0_SCOPE": env.get("AUTH0_SCOPE") or DEFAULT_SCOPE,
        "APP_BASE_URL": origin,
        "PREFERRED_URL_SCHEME": urlsplit(origin).scheme,
        # Werkzeug checks the Host header against this (400 otherwise); requests under other
        # loopback names for the same port are redirected to the origin first (origin.py).
        "TRUSTED_HOSTS": [host],
        "APP_TRUSTED_PROXIES": _proxy_hops(env.get("APP_TRUSTED_PROXIES")),
    }
    # The four API URLs of a deployed stack (`sam deploy` outputs); locally the gateway's
    # catalogue provides them.
    for name in (
        "API_URL_REST_TOKEN",
        "API_URL_REST_REQUEST",
        "API_URL_HTTP_LAMBDA",
        "API_URL_HTTP_JWT",
        "API_URL_REST_COGNITO",
        "API_URL_HTTP_COGNITO_JWT",
        "API_URL_REST_COGNITO_LAMBDA",
        "API_URL_REST_IAM",
        "API_URL_HTTP_IAM",
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
        settings["M2M_CLIENTS"] = m2m_clients(
            env, (("m2m-reader", "M2M_READER"), ("m2m-writer", "M2M_WRITER"))
        )
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
    local_idp = settings["AUTH0_ISSUER"].rstrip("/") if settings["LAB_MODE"] == "local" else None
    settings.update(cognito_settings(env, local_idp))
    settings.update(iam_settings(env, settings))
    return settings


def m2m_clients(
    env: Mapping[str, str], pairs: tuple[tuple[str, str], ...]
) -> dict[str, tuple[str, str]]:
    """The machine clients configured as `<PREFIX>_CLIENT_ID` and `<PREFIX>_CLIENT_SECRET`,
    by key; one of the two without the other is a ConfigError (a client credentials grant
    needs both, and a silently missing token choice is harder to notice)."""
    clients = {}
    for key, prefix in pairs:
        client_id, secret = env.get(f"{prefix}_CLIENT_ID"), env.get(f"{prefix}_CLIENT_SECRET")
        if client_id and secret:
            clients[key] = (client_id, secret)
        elif client_id or secret:
            given, missing = (
                (f"{prefix}_CLIENT_ID", f"{prefix}_CLIENT_SECRET")
                if client_id
                else (f"{prefix}_CLIENT_SECRET", f"{prefix}_CLIENT_ID")
            )
            raise ConfigError(
                f"{given} is set but {missing} is not: a machine client needs both for the "
                "client credentials grant. Set both in .env (see .env.example) or neither."
            )
    return clients


def cognito_settings(env: Mapping[str, str], local_idp_url: str | None) -> dict[str, Any]:
    """Return the Cognito user pool's settings: a real pool, the local one, or none.

    A real pool starts when `COGNITO_DOMAIN` is set (the hosted UI's domain, e.g.
    `lab.auth.us-east-1.amazoncognito.com`) and then needs the pool id, its region and the web
    app's client id and secret; the issuer is `https://cognito-idp.<region>.amazonaws.com/
    <poolId>` (AWS: "Verifying a JSON Web Token"). Without it, the local IdP's pool serves in
    local mode; against an Auth0 tenant without a pool, there is no Cognito login.
    """
    domain = _domain(env.get("COGNITO_DOMAIN", ""))
    scope = env.get("COGNITO_SCOPE") or DEFAULT_COGNITO_SCOPE
    if domain:
        missing = [name for name in COGNITO_SETTINGS if not env.get(name)]
        if missing:
            raise ConfigError(
                f"COGNITO_DOMAIN is set to {domain!r}, so the app logs in at that user pool, "
                f"but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. "
                "Set them in .env (see .env.example) or unset COGNITO_DOMAIN."
            )
        pool_id, region = env["COGNITO_USER_POOL_ID"].strip(), env["COGNITO_REGION"].strip()
        shape = _POOL_ID.match(pool_id)
        if not shape:
            raise ConfigError(
                f"COGNITO_USER_POOL_ID is {pool_id!r}: a user pool id is the region, an "
                "underscore and the id, e.g. us-east-1_AbCdEf123."
            )
        if shape.group(1) != region:
            raise ConfigError(
                f"COGNITO_REGION is {region!r} but the pool {pool_id!r} is in "
                f"{shape.group(1)!r}: the issuer would not match the pool's tokens."
            )
        return {
            "COGNITO_MODE": "aws",
            "COGNITO_ISSUER": f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
            "COGNITO_DOMAIN_URL": f"https://{domain}",
            "COGNITO_CLIENT_ID": env["COGNITO_CLIENT_ID"],
            "COGNITO_CLIENT_SECRET": env["COGNITO_CLIENT_SECRET"],
            "COGNITO_SCOPE": scope,
            "COGNITO_M2M_CLIENTS": m2m_clients(
                env,
                (
                    ("cognito-reader", "COGNITO_M2M_READER"),
                    ("cognito-writer", "COGNITO_M2M_WRITER"),
                ),
            ),
        }
    stray = [name for name in COGNITO_SETTINGS if env.get(name)]
    if stray:
        raise ConfigError(
            f"{', '.join(stray)} {'is' if len(stray) == 1 else 'are'} set but COGNITO_DOMAIN "
            "is not: set COGNITO_DOMAIN to the user pool's domain too, or unset them."
        )
    if local_idp_url is None:
        return {"COGNITO_MODE": None, "COGNITO_M2M_CLIENTS": {}}
    return {
        "COGNITO_MODE": "local",
        "COGNITO_ISSUER": f"{local_idp_url}/{LOCAL_COGNITO_POOL_ID}",
        "COGNITO_DOMAIN_URL": local_idp_url + LOCAL_COGNITO_DOMAIN_PATH,
        "COGNITO_CLIENT_ID": LOCAL_COGNITO_CLIENT[0],
        "COGNITO_CLIENT_SECRET": LOCAL_COGNITO_CLIENT[1],
        "COGNITO_SCOPE": scope,
        "COGNITO_M2M_CLIENTS": dict(LOCAL_COGNITO_M2M_CLIENTS),
    }


def iam_settings(env: Mapping[str, str], settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return the IAM side's settings: the identity pool and the service client's key.

    Locally the gateway's catalogue names the identity pool and the web app signs with the
    lab's demo key (`LOCAL_SERVICE_KEY`). Against a deployed stack, `IAM_IDENTITY_POOL_ID`
    names the pool (its region is the id's prefix; `IAM_REGION` may only repeat it), the
    `Logins` keys default to the logins this app is configured with (the Auth0 tenant's
    domain, `cognito-idp.<region>.amazonaws.com/<pool id>`), and the service key comes from
    `IAM_SERVICE_ACCESS_KEY_ID` and `IAM_SERVICE_SECRET_ACCESS_KEY` (never required: without
    it that choice is not offered). A half-given setting is refused by name.
    """
    key_id = env.get("IAM_SERVICE_ACCESS_KEY_ID", "").strip()
    secret = env.get("IAM_SERVICE_SECRET_ACCESS_KEY", "").strip()
    if bool(key_id) != bool(secret):
        given, missing = (
            ("IAM_SERVICE_ACCESS_KEY_ID", "IAM_SERVICE_SECRET_ACCESS_KEY")
            if key_id
            else ("IAM_SERVICE_SECRET_ACCESS_KEY", "IAM_SERVICE_ACCESS_KEY_ID")
        )
        raise ConfigError(
            f"{given} is set but {missing} is not: the service client signs with both. Set "
            "both in .env (see .env.example) or neither."
        )
    if key_id and not re.fullmatch(r"AKIA[A-Z0-9]{12,124}", key_id):
        raise ConfigError(
            f"IAM_SERVICE_ACCESS_KEY_ID is {key_id[:4]!r}…: an IAM user's access key id starts "
            "with AKIA (temporary ASIA keys expire and need a session token)."
        )
    local = settings.get("API_MODE") == "local"
    found: dict[str, Any] = {
        "IAM_SERVICE_KEY": (key_id, secret) if key_id else (LOCAL_SERVICE_KEY if local else None),
        "IAM_IDENTITY_POOL_ID": None,
        "IAM_REGION": "us-east-1",
    }
    pool_id = env.get("IAM_IDENTITY_POOL_ID", "").strip()
    region = env.get("IAM_REGION", "").strip()
    if region and not _REGION.match(region):
        raise ConfigError(f"IAM_REGION is {region!r}: a region looks like eu-west-1.")
    if not pool_id:
        stray = [name for name in IAM_POOL_SETTINGS[1:] if env.get(name)]
        if stray:
            raise ConfigError(
                f"{', '.join(stray)} {'is' if len(stray) == 1 else 'are'} set but "
                "IAM_IDENTITY_POOL_ID is not: set the identity pool's id too, or unset them."
            )
        if region:
            found["IAM_REGION"] = region
        return found
    if local:
        raise ConfigError(
            "IAM_IDENTITY_POOL_ID is set but API_BASE_URL is the local gateway, whose own "
            "identity pool (in its catalogue) issues the credentials its IAM APIs know: unset "
            "IAM_IDENTITY_POOL_ID, or set API_BASE_URL to the deployed stack."
        )
    shape = _IDENTITY_POOL_ID.match(pool_id)
    if not shape:
        raise ConfigError(
            f"IAM_IDENTITY_POOL_ID is {pool_id!r}: an identity pool id is the region, a colon "
            "and a UUID, e.g. eu-west-1:0f8e1c2d-1111-2222-3333-444455556666."
        )
    if region and region != shape.group(1):
        raise ConfigError(
            f"IAM_REGION is {region!r} but the identity pool {pool_id!r} is in {shape.group(1)!r}."
        )
    auth0 = env.get("IAM_LOGINS_AUTH0", "").strip()
    if not auth0 and settings.get("LAB_MODE") == "auth0":
        auth0 = _domain(settings["AUTH0_ISSUER"])
    cognito = env.get("IAM_LOGINS_COGNITO", "").strip()
    if not cognito and settings.get("COGNITO_MODE") == "aws":
        cognito = _domain(settings["COGNITO_ISSUER"])
    if not auth0 and not cognito:
        raise ConfigError(
            f"IAM_IDENTITY_POOL_ID is {pool_id!r} but no login can be exchanged there: set "
            "AUTH0_DOMAIN or COGNITO_DOMAIN (their Logins keys are derived), or "
            "IAM_LOGINS_AUTH0 / IAM_LOGINS_COGNITO."
        )
    found.update(
        IAM_IDENTITY_POOL_ID=pool_id,
        IAM_REGION=shape.group(1),
        IAM_LOGINS_AUTH0=_domain(auth0) if auth0 else None,
        IAM_LOGINS_COGNITO=_domain(cognito) if cognito else None,
    )
    return found
