"""Validate the ID tokens a `Logins` map carries, as a Cognito identity pool does.

From https://docs.aws.amazon.com/cognito/latest/developerguide/open-id.html: the token's
`iss` must match the provider (the `Logins` key is the issuer without its scheme), its RSA
signature must verify against the issuer's published keys, `azp` (when present) or else
`aud` must be a client id registered for the provider, and a 5-minute clock skew is
allowed. For a user pool (`…integrating-user-pools-with-identity-pools`) `aud` must be the
app client id the pool lists; an access token, which has no `aud`, fails as such.

Keys come from the issuer's JWKS over HTTP: a user pool's `<issuer>/.well-known/jwks.json`,
an OIDC provider's `jwks_uri` from its discovery document; `authorizer/jwks.py`'s cache
keeps them (refetching, rate-limited, for an unknown `kid`). The error texts are the ones
developers quote from AWS (shared reference §2.2, unverified captures).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import jwt

from authorizer.jwks import JwksCache
from emulators.gateway.jwt_authorizer import signature_only

from .account import TrustedProvider
from .errors import AwsError
from .errors import not_authorized

CLOCK_SKEW_SECONDS = 300  # "a 5-minute clock skew grace period" (open-id.html)
MAX_TOKEN_BYTES = 16384
NOT_A_TOKEN = "Invalid login token. Not a valid OpenId Connect identity token."
NOT_SUPPORTED = "Token is not from a supported provider of this identity pool."


class LoginVerifier:
    """Verifies login tokens for every trusted provider, with one key cache per issuer."""

    def __init__(self, timeout: float = 3.0) -> None:
        self.timeout = timeout
        self._keys: dict[str, JwksCache] = {}
        self._lock = threading.Lock()

    def verify(
        self, provider: TrustedProvider, token: Any, now: float | None = None
    ) -> dict[str, Any]:
        """The token's claims once every check passed, else `NotAuthorizedException`."""
        now = time.time() if now is None else now
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
            raise not_authorized(NOT_A_TOKEN)
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise not_authorized(NOT_A_TOKEN) from None
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or issuer.rstrip("/") != provider.issuer.rstrip("/"):
            raise not_authorized("Invalid login token. Issuer doesn't match providerName")
        if "aud" not in claims:
            raise not_authorized("Invalid login token. Missing a required claim: aud")
        self._check_signature(provider, token, header)
        self._check_audience(provider, claims)
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise not_authorized("Invalid login token. Missing a required claim: exp")
        if now >= exp + CLOCK_SKEW_SECONDS:
            raise not_authorized(
                f"Invalid login token. Token expired: {int(now * 1000)} >= {int(exp * 1000)}"
            )
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise not_authorized("Invalid login token. Missing a required claim: sub")
        return claims

    def _check_signature(
        self, provider: TrustedProvider, token: str, header: dict[str, Any]
    ) -> None:
        unverified = not_authorized("Invalid login token. Couldn't verify signed token.")
        kid = header.get("kid")
        if header.get("alg") != "RS256" or not isinstance(kid, str):
            raise unverified
        try:
            key = self._cache(provider).get(kid)
        except AwsError:
            raise unverified from None
        if key is None:
            raise unverified
        try:
            signature_only(token, key)
        except jwt.PyJWTError:
            raise unverified from None

    @staticmethod
    def _check_audience(provider: TrustedProvider, claims: dict[str, Any]) -> None:
        aud = claims.get("aud")
        audiences = (
            {aud}
            if isinstance(aud, str)
            else {a for a in aud if isinstance(a, str)}
            if isinstance(aud, list)
            else set()
        )
        if provider.kind == "userpool":
            # The user pool's app client must be one the identity pool lists.
            if not audiences & set(provider.client_ids):
                raise not_authorized(NOT_SUPPORTED)
            return
        azp = claims.get("azp")
        if isinstance(azp, str):
            audiences = {azp}
        if not audiences & set(provider.client_ids):
            raise not_authorized("Invalid login token. Incorrect token audience.")

    def _cache(self, provider: TrustedProvider) -> JwksCache:
        with self._lock:
            cache = self._keys.get(provider.key)
            if cache is None:
                cache = JwksCache(
                    provider.jwks_uri or self._discover(provider.issuer), timeout=self.timeout
                )
                self._keys[provider.key] = cache
            return cache

    def _discover(self, issuer: str) -> str:
        """The `jwks_uri` of an OIDC issuer's discovery document."""
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310
                uri = json.load(response).get("jwks_uri")
        except (OSError, ValueError, AttributeError):
            raise AwsError("NotAuthorizedException", "discovery failed") from None
        if not isinstance(uri, str):
            raise AwsError("NotAuthorizedException", "discovery failed")
        return uri
