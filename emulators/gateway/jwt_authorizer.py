"""The HTTP API's built-in JWT authorizer, step by step as AWS documents it.

From `http-api-jwt-authorizer`: take the identity source (bare token or `Bearer <token>`),
find the signing key by `kid` in the JWKS named by the issuer's OIDC discovery document
(RSA algorithms only), check `iss` exactly, `aud` or `client_id` against the configured
audiences, `exp`, `nbf` and `iat`; then the route's scopes: `scope` or `scp` must hold at
least one of them. Failures are 401 with a `www-authenticate` header, a missing scope 403.

Clock rule (one rule for the three time claims): AWS documents only "exp must be after the
current time" and "nbf and iat must be before the current time", and no clock skew. The
emulator's choice is a tolerance of `CLOCK_SKEW_SECONDS` (30 s, the Lambda authorizer's
default `LEEWAY_SECONDS`, within RFC 7519 §4.1.4's "small leeway ... to account for clock
skew"), so every authorizer style of the lab accepts and refuses the same tokens:

- expired (`token_expired`) when now >= exp + 30 s;
- not yet valid (`token_not_yet_valid`) when nbf > now + 30 s;
- issued in the future (`issued_in_future`) when iat > now + 30 s.

Each of the three is a number of seconds (a bool or a string is `invalid_claims`).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import jwt

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
# Names from the JOSE algorithm registry (RFC 7518 §3.1, RFC 8037): only these are echoed in
# the www-authenticate header, never a raw header value.
KNOWN_ALGORITHMS = frozenset(
    {"none", "HS256", "HS384", "HS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
    | {"EdDSA", "ES256K", *RSA_ALGORITHMS}
)
CLOCK_SKEW_SECONDS = 30


@dataclass
class JwtOutcome:
    """The verdict: status 200 (allowed), 401 or 403, with what the backend or client sees."""

    status: int
    reason: str
    detail: str
    claims: dict[str, Any] = field(default_factory=dict)
    scopes: list[str] | None = None

    @property
    def www_authenticate(self) -> str:
        error = "insufficient_scope" if self.status == 403 else "invalid_token"
        return f'Bearer scope="" error="{error}" error_description="{self.detail}"'


def render_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Render claims as the JWT authorizer hands them to integrations: all strings,
    arrays as `[a b]`."""
    rendered = {}
    for name, value in claims.items():
        if isinstance(value, list):
            rendered[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, dict):
            rendered[name] = json.dumps(value)
        elif isinstance(value, bool):
            rendered[name] = "true" if value else "false"
        else:
            rendered[name] = str(value)
    return rendered


def check_times(claims: dict[str, Any], now: float) -> JwtOutcome | None:
    """Apply the clock rule to `exp`, `nbf` and `iat`; None when all three pass."""
    times: dict[str, float] = {}
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return JwtOutcome(401, "invalid_claims", f"the token's {name} is not a number")
        times[name] = value
    if "exp" in times and now >= times["exp"] + CLOCK_SKEW_SECONDS:
        return JwtOutcome(401, "token_expired", "the token has expired")
    if "nbf" in times and times["nbf"] > now + CLOCK_SKEW_SECONDS:
        return JwtOutcome(401, "token_not_yet_valid", "the token is not valid yet")
    if "iat" in times and times["iat"] > now + CLOCK_SKEW_SECONDS:
        return JwtOutcome(401, "issued_in_future", "the token was issued in the future")
    return None


class KeyClient(jwt.PyJWKClient):
    """A JWKS client that tells whether a key lookup fetched the issuer's key set or found it
    in its cache: the trace's `authorizer.jwks`, so the flow diagram lights the JWKS arrow
    only when the keys really travelled (per thread, as requests are served in threads)."""

    def __init__(self, uri: str, **kwargs: Any) -> None:
        super().__init__(uri, **kwargs)
        self._local = threading.local()

    def fetch_data(self) -> Any:
        self._local.fetched = True
        return super().fetch_data()

    def signing_key(self, kid: Any) -> jwt.PyJWK:
        """`get_signing_key`, noting for `last_lookup` whether it fetched the key set."""
        self._local.fetched = False
        try:
            return self.get_signing_key(kid)
        finally:
            self._local.last = "fetched" if self._local.fetched else "cached"

    @property
    def last_lookup(self) -> str | None:
        """How this thread's last lookup got the keys: "fetched" or "cached"."""
        return getattr(self._local, "last", None)


def signature_only(
    token: str, key: Any, alg: str = "RS256", require: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Verify a JWT's signature with `key` and return its claims, checking no claim but the
    presence of those in `require`: each caller applies its own issuer, audience and clock
    rules (API Gateway's JWT and Cognito authorizers, the identity pool's 5-minute grace).

    :raise jwt.PyJWTError: a bad signature (`InvalidSignatureError`) or a missing claim.
    """
    return jwt.decode(
        token,
        key,
        algorithms=[alg],
        options={
            "verify_aud": False,
            "verify_iss": False,
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
            "require": list(require),
        },
    )


class JwtAuthorizer:
    """One JWT authorizer configuration (issuer and audiences), with its key cache."""

    def __init__(self, issuer: str, audiences: tuple[str, ...]) -> None:
        self.issuer = issuer
        self.audiences = audiences
        self._client: KeyClient | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def jwks(self) -> str | None:
        """How this thread's last check got the issuer's keys: "fetched", "cached", or None
        when it refused the token before looking a key up."""
        return getattr(self._local, "jwks", None)

    def _keys(self) -> KeyClient:
        with self._lock:
            if self._client is None:
                discovery = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                with urllib.request.urlopen(discovery, timeout=3) as response:  # noqa: S310
                    jwks_uri = json.load(response)["jwks_uri"]
                # API Gateway caches keys up to an hour and refetches for a kid it has not seen.
                self._client = KeyClient(jwks_uri, lifespan=3600, cooldown_duration=0, timeout=3)
            return self._client

    def check(self, identity: str | None, route_scopes: tuple[str, ...]) -> JwtOutcome:
        """Run the documented checks on one request's identity source."""
        self._local.jwks = None
        if not identity or not identity.strip():
            return JwtOutcome(401, "missing_token", "the identity source is missing")
        token = identity.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return JwtOutcome(401, "malformed_token", "the token is not a valid JWT")
        alg = header.get("alg")
        if alg not in RSA_ALGORITHMS:
            detail = (
                f"signing method {alg} is invalid"
                if isinstance(alg, str) and alg in KNOWN_ALGORITHMS
                else "the token's signing method is invalid"
            )
            return JwtOutcome(401, "alg_not_allowed", detail)
        client: KeyClient | None = None
        try:
            client = self._keys()
            key = client.signing_key(header.get("kid"))
        except (jwt.PyJWKClientError, OSError, ValueError, KeyError):
            # The discovery document counts as fetching: it is the way to the keys.
            self._local.jwks = client.last_lookup if client is not None else "fetched"
            return JwtOutcome(
                401, "unknown_kid", "the signing key (kid) was not found in the issuer's JWKS"
            )
        self._local.jwks = client.last_lookup
        try:
            # Signature only here; the time claims follow the module's one clock rule below.
            claims = signature_only(token, key, alg, require=("exp",))
        except jwt.InvalidSignatureError:
            return JwtOutcome(401, "bad_signature", "the token signature is invalid")
        except jwt.PyJWTError as exc:
            return JwtOutcome(401, "invalid_claims", f"the token is invalid: {exc}")
        if claims.get("iss") != self.issuer:
            return JwtOutcome(401, "wrong_issuer", "the token does not have a valid issuer")
        aud = claims.get("aud")
        # Only strings can match: an odd `aud` (a number, objects in a list) is refused, not a 500.
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        audiences = [a for a in audiences if isinstance(a, str)]
        if isinstance(claims.get("client_id"), str):
            audiences.append(claims["client_id"])
        if not set(audiences) & set(self.audiences):
            reason = "id_token" if "nonce" in claims else "wrong_audience"
            return JwtOutcome(401, reason, "the token does not have a valid audience")
        refused = check_times(claims, time.time())
        if refused is not None:
            return refused
        raw_scopes = claims.get("scope") or claims.get("scp") or ""
        token_scopes = (
            [str(s) for s in raw_scopes]
            if isinstance(raw_scopes, list)
            else str(raw_scopes).split()
        )
        if route_scopes and not set(token_scopes) & set(route_scopes):
            return JwtOutcome(
                403,
                "insufficient_scope",
                f"the token does not have any of the route's scopes: {' '.join(route_scopes)}",
                claims,
            )
        return JwtOutcome(
            200,
            "allowed",
            "the token passed every check",
            claims,
            token_scopes if route_scopes else None,
        )
