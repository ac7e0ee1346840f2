"""The authorizer's configuration, read once from the Lambda environment and validated.

Names follow the Auth0 authorizer sample: `TOKEN_ISSUER`, `JWKS_URI`, `AUDIENCE`; plus
`ROUTE_PERMISSIONS`, the permission each route needs. A bad setting never allows a request:
`load_settings` returns the error, and the handler refuses every request while it stands.

`TOKEN_PROFILE` picks the token family: `auth0` (the default) checks `aud` against
`AUDIENCE`; `cognito` accepts Cognito user pool access tokens, which have no `aud`
(https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html):
`token_use` must be `access`, `client_id` one of `CLIENT_IDS`, and a route may need a group
(`group:admins`, read from `cognito:groups`). With a `prefix` every name is read prefixed
(`COGNITO_TOKEN_ISSUER`...): two configurations can then share one process environment.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .policy import RouteTable

MAX_LEEWAY_SECONDS = 60
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
PROFILES = ("auth0", "cognito")
# A user pool id is `<region>_<id>` (CreateUserPool's `Id` pattern `[\w-]+_[0-9a-zA-Z]+`); the
# issuer is https://cognito-idp.<region>.amazonaws.com/<pool id>, with no trailing slash.
_POOL_ID = re.compile(r"[\w-]+_[0-9a-zA-Z]+")
_COGNITO_HOST = re.compile(r"cognito-idp\.[a-z0-9-]+\.amazonaws\.com")
# An app client id (UserPoolClientType `ClientId`, pattern `[\w+]+`, at most 128 characters).
_CLIENT_ID = re.compile(r"[\w+]{1,128}")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    """Validated authorizer settings."""

    issuer: str
    jwks_uri: str
    audience: str
    routes: RouteTable
    leeway: int = 30
    max_token_bytes: int = 8192
    jwks_timeout: float = 3.0
    jwks_ttl: float = 600.0
    unknown_kid_cooldown: float = 30.0
    decision_cache_size: int = 4096
    decision_cache_ttl: float = 300.0
    profile: str = "auth0"
    client_ids: frozenset[str] = frozenset()  # the Cognito profile's accepted `client_id`s


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return value
    if parts.scheme == "http" and (host in LOOPBACK_HOSTS or host.startswith("127.")):
        return value
    raise SettingsError(f"{name} must be an https:// URL (http:// only on loopback), not {value!r}")


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, not {raw}")
    return value


def _cognito_issuer(name: str, issuer: str) -> None:
    parts = urlsplit(issuer)
    pool_id = parts.path[1:]
    if (
        parts.query
        or parts.fragment
        or not _POOL_ID.fullmatch(pool_id)
        or (parts.scheme == "https" and not _COGNITO_HOST.fullmatch(parts.hostname or ""))
    ):
        raise SettingsError(
            f"{name} must be a user pool's issuer, "
            "https://cognito-idp.<region>.amazonaws.com/<user pool id> (no trailing slash), "
            f"not {issuer!r}"
        )


def _client_ids(name: str, raw: str) -> frozenset[str]:
    ids = frozenset(raw.replace(",", " ").split())
    if not ids:
        raise SettingsError(
            f"{name} is not set: the app client ids whose access tokens this API accepts "
            "(comma-separated); a Cognito access token names its client in `client_id`"
        )
    for client_id in ids:
        if not _CLIENT_ID.fullmatch(client_id):
            raise SettingsError(
                f"{name} has {client_id!r}, which is not an app client id "
                "(letters, digits, _ and +, at most 128)"
            )
    return ids


def load_settings(
    environ: Mapping[str, str] | None = None, *, prefix: str = "", profile: str | None = None
) -> Settings:
    """Read and validate the settings; raise SettingsError naming the first bad one.

    Every name is read as `prefix + NAME`; `profile`, when given, is fixed by the caller
    (an entry point for one token family) instead of read from `TOKEN_PROFILE`.
    """
    env = os.environ if environ is None else environ
    n = {
        name: prefix + name
        for name in (
            "TOKEN_PROFILE",
            "TOKEN_ISSUER",
            "AUDIENCE",
            "CLIENT_IDS",
            "JWKS_URI",
            "ROUTE_PERMISSIONS",
            "LEEWAY_SECONDS",
            "JWKS_TIMEOUT_SECONDS",
            "JWKS_TTL_SECONDS",
            "DECISION_CACHE_TTL_SECONDS",
        )
    }
    if profile is None:
        profile = env.get(n["TOKEN_PROFILE"], "").strip().lower() or "auth0"
    if profile not in PROFILES:
        raise SettingsError(
            f"{n['TOKEN_PROFILE']} must be auth0 or cognito, not {env.get(n['TOKEN_PROFILE'])!r}"
        )
    cognito = profile == "cognito"
    issuer = env.get(n["TOKEN_ISSUER"], "").strip()
    audience = env.get(n["AUDIENCE"], "").strip()
    if not issuer:
        example = (
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI"
            if cognito
            else "https://your-tenant.auth0.com/ (with the trailing slash)"
        )
        raise SettingsError(
            f"{n['TOKEN_ISSUER']} is not set: the exact `iss` of the tokens, e.g. {example}"
        )
    _url(n["TOKEN_ISSUER"], issuer)
    client_ids: frozenset[str] = frozenset()
    if cognito:
        _cognito_issuer(n["TOKEN_ISSUER"], issuer)
        # Refused rather than ignored: someone who sets it expects `aud` to be checked.
        if audience:
            raise SettingsError(
                f"{n['AUDIENCE']} is set, but Cognito access tokens have no `aud`: "
                f"list the app client ids in {n['CLIENT_IDS']} instead"
            )
        client_ids = _client_ids(n["CLIENT_IDS"], env.get(n["CLIENT_IDS"], ""))
    elif not audience:
        raise SettingsError(f"{n['AUDIENCE']} is not set: the API identifier the tokens are for")
    jwks_uri = env.get(n["JWKS_URI"], "").strip() or issuer.rstrip("/") + "/.well-known/jwks.json"
    _url(n["JWKS_URI"], jwks_uri)

    raw_routes = env.get(n["ROUTE_PERMISSIONS"], "").strip()
    if not raw_routes:
        raise SettingsError(
            f"{n['ROUTE_PERMISSIONS']} is not set: a JSON object such as "
            '{"GET /private": "", "GET /admin": "read:admin"}'
        )
    try:
        routes = RouteTable.from_mapping(json.loads(raw_routes))
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{n['ROUTE_PERMISSIONS']} is not valid: {exc}") from None

    return Settings(
        issuer=issuer,
        jwks_uri=jwks_uri,
        audience=audience,
        routes=routes,
        leeway=int(_number(env, n["LEEWAY_SECONDS"], 30, 0, MAX_LEEWAY_SECONDS)),
        jwks_timeout=_number(env, n["JWKS_TIMEOUT_SECONDS"], 3.0, 0.1, 10),
        jwks_ttl=_number(env, n["JWKS_TTL_SECONDS"], 600, 1, 86400),
        decision_cache_ttl=_number(env, n["DECISION_CACHE_TTL_SECONDS"], 300, 0, 3600),
        profile=profile,
        client_ids=client_ids,
    )
