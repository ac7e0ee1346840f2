"""Token shapes exactly as Auth0 issues them: JWT access tokens for an API, opaque ones without.

See `auth0.md` in the shared reference: with `audience` a JWT whose `aud` is
`[audience, issuer + "userinfo"]` when `openid` was asked, plus `azp`, `scope` and the user's
`permissions`; client-credentials tokens carry `sub = <client_id>@clients` and `gty`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from .keys import KeyRing
from .store import Store
from .tenant import Tenant

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
# The user's roles in the ID token, under a namespaced claim, as a post-login Auth0 Action
# (`api.idToken.setCustomClaim`) adds them: the identity pool's role-mapping rules read it.
ROLES_CLAIM = "https://authorizer-lab/roles"
OPAQUE_TOKEN_LIFETIME = 86400


@dataclass
class Issuance:
    """What a token is being minted for; the grant fills it in before the token is generated."""

    audience: str | None = None
    code_hash: str | None = None


def split_scope(scope: str | None) -> list[str]:
    """Split a space-delimited scope string, keeping order and dropping repeats."""
    words: list[str] = []
    for word in (scope or "").split():
        if word not in words:
            words.append(word)
    return words


def granted_user_scope(
    tenant: Tenant, requested: str | None, audience: str | None, roles: tuple[str, ...]
) -> str:
    """Return the scope a user is granted: OIDC scopes plus requested permissions they hold.

    This is Auth0 with RBAC on: API scopes are the intersection of what was asked and what
    the user's roles allow; `offline_access` only where the API allows refresh tokens.
    """
    allowed = tenant.permissions_for(roles, audience) if audience else []
    api = tenant.apis.get(audience) if audience else None
    granted = []
    for word in split_scope(requested):
        if word == "offline_access" and api is not None and not api.allow_offline_access:
            continue
        if word in OIDC_SCOPES or word in allowed:
            granted.append(word)
    return " ".join(granted)


class TokenMinter:
    """Mint access and refresh tokens in Auth0's shapes; Authlib calls it as its token generator."""

    def __init__(self, issuer: str, tenant: Tenant, store: Store, keys: KeyRing) -> None:
        self.issuer = issuer
        self.tenant = tenant
        self.store = store
        self.keys = keys

    def access_token_claims(
        self,
        *,
        sub: str,
        client_id: str,
        audience: str,
        scope: str,
        permissions: list[str] | None,
        grant_type: str,
    ) -> dict[str, Any]:
        """Return the claims of a JWT access token for `audience`, in Auth0's default profile."""
        now = int(time.time())
        api = self.tenant.apis[audience]
        aud: str | list[str] = audience
        if "openid" in split_scope(scope):
            aud = [audience, self.issuer + "userinfo"]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": aud,
            "iat": now,
            "exp": now + api.token_lifetime,
            "scope": scope,
            "azp": client_id,
        }
        if grant_type == "client_credentials":
            claims["gty"] = "client-credentials"
        if permissions is not None:
            claims["permissions"] = permissions
        return claims

    def __call__(
        self,
        grant_type: str,
        client: Any,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
        issuance: Issuance | None = None,
    ) -> dict[str, Any]:
        """Return the token response body for one grant."""
        issuance = issuance or Issuance()
        scope = scope or ""
        audience = issuance.audience
        client_id = client.get_client_id()
        token: dict[str, Any] = {"token_type": "Bearer"}
        if audience:
            if user is not None:
                sub = user.get_user_id()
                permissions = self.tenant.permissions_for(user.roles, audience)
            else:
                sub = f"{client_id}@clients"
                permissions = None
            claims = self.access_token_claims(
                sub=sub,
                client_id=client_id,
                audience=audience,
                scope=scope,
                permissions=permissions,
                grant_type=grant_type,
            )
            token["access_token"] = self.keys.sign(claims)
            token["expires_in"] = claims["exp"] - claims["iat"]
        else:
            # No audience: Auth0 hands out an opaque token that only /userinfo accepts.
            opaque = secrets.token_urlsafe(24)
            self.store.save_token(
                "opaque_tokens",
                opaque,
                {
                    "client_id": client_id,
                    "user_id": user.get_user_id() if user else None,
                    "scope": scope,
                },
                OPAQUE_TOKEN_LIFETIME,
                issuance.code_hash,
            )
            token["access_token"] = opaque
            token["expires_in"] = OPAQUE_TOKEN_LIFETIME
        if scope:
            token["scope"] = scope
        if include_refresh_token and user is not None and "offline_access" in split_scope(scope):
            refresh = secrets.token_urlsafe(32)
            self.store.save_token(
                "refresh_tokens",
                refresh,
                {
                    "client_id": client_id,
                    "user_id": user.get_user_id(),
                    "scope": scope,
                    "audience": audience,
                },
                self.tenant.refresh_token_lifetime,
                issuance.code_hash,
            )
            token["refresh_token"] = refresh
        return token

    def id_token_claims(self, user: Any, scope: str) -> dict[str, Any]:
        """Return the ID token's user claims: the profile claims plus the roles claim."""
        return {**self.user_info(user, scope), ROLES_CLAIM: list(user.roles)}

    def user_info(self, user: Any, scope: str) -> dict[str, Any]:
        """Return the profile claims of a user for the given scope (ID token and /userinfo)."""
        words = split_scope(scope)
        info: dict[str, Any] = {"sub": user.user_id}
        if "profile" in words:
            updated = datetime.fromtimestamp(user.updated_at, UTC)
            # Auth0 sends updated_at as an ISO 8601 string, not the number OIDC suggests.
            info.update(
                name=user.name,
                nickname=user.nickname,
                updated_at=updated.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            )
        if "email" in words:
            info.update(email=user.email, email_verified=True)
        return info
