"""The authorizer's configuration, read once from the Lambda environment and validated.

Names follow the Auth0 authorizer sample: `TOKEN_ISSUER`, `JWKS_URI`, `AUDIENCE`; plus
`ROUTE_PERMISSIONS`, the permission each route needs. A bad setting never allows a request:
`load_settings` returns the error, and the handler refuses every request while it stands.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .policy import RouteTable

MAX_LEEWAY_SECONDS = 60
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


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


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise SettingsError naming the first bad one."""
    env = os.environ if environ is None else environ
    issuer = env.get("TOKEN_ISSUER", "").strip()
    audience = env.get("AUDIENCE", "").strip()
    if not issuer:
        raise SettingsError(
            "TOKEN_ISSUER is not set: the exact `iss` of the tokens, e.g. "
            "https://your-tenant.auth0.com/ (with the trailing slash)"
        )
    _url("TOKEN_ISSUER", issuer)
    if not audience:
        raise SettingsError("AUDIENCE is not set: the API identifier the tokens are for")
    jwks_uri = env.get("JWKS_URI", "").strip() or issuer.rstrip("/") + "/.well-known/jwks.json"
    _url("JWKS_URI", jwks_uri)

    raw_routes = env.get("ROUTE_PERMISSIONS", "").strip()
    if not raw_routes:
        raise SettingsError(
            "ROUTE_PERMISSIONS is not set: a JSON object such as "
            '{"GET /private": "", "GET /admin": "read:admin"}'
        )
    try:
        routes = RouteTable.from_mapping(json.loads(raw_routes))
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"ROUTE_PERMISSIONS is not valid: {exc}") from None

    return Settings(
        issuer=issuer,
        jwks_uri=jwks_uri,
        audience=audience,
        routes=routes,
        leeway=int(_number(env, "LEEWAY_SECONDS", 30, 0, MAX_LEEWAY_SECONDS)),
        jwks_timeout=_number(env, "JWKS_TIMEOUT_SECONDS", 3.0, 0.1, 10),
        jwks_ttl=_number(env, "JWKS_TTL_SECONDS", 600, 1, 86400),
        decision_cache_ttl=_number(env, "DECISION_CACHE_TTL_SECONDS", 300, 0, 3600),
    )
