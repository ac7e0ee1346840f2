"""The REST API's built-in `COGNITO_USER_POOLS` authorizer, as AWS documents and users report it.

From `apigateway-enable-cognito-user-pool` and `apigateway-integrate-with-cognito`: the token
comes from one header (default `Authorization`); it must be a JWT signed by one of the
authorizer's user pools (`iss` = `https://cognito-idp.<region>.amazonaws.com/<poolId>`, key
from that issuer's `/.well-known/jwks.json`) and not expired. A method **without**
authorization scopes takes only ID tokens (`token_use: id`); a method **with** scopes takes
only access tokens whose `scope` holds at least one of them. Every failure is 401; an expired
token's body says "The incoming token has expired" (amplify-js#6060, unverified). There is no
audience or app client check: any app client of the pool will do.

The claims reach the backend at `requestContext.authorizer.claims`, every value a string:
lists as `[a b]`, booleans `true`/`false`, `exp` and `iat` as dates such as
`Fri Jul 29 18:52:53 UTC 2016` (captures of AWS events; unverified).

Clock rule: the JWT authorizer's (`jwt_authorizer.check_times`, 30 s of skew), so every
authorizer style of the lab accepts and refuses the same tokens.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

import jwt

from .jwt_authorizer import KeyClient
from .jwt_authorizer import check_times
from .jwt_authorizer import signature_only

EXPIRED_MESSAGE = "The incoming token has expired"
# Claims AWS renders as dates rather than numbers (the others stay numbers, as strings).
DATE_CLAIMS = ("exp", "iat")


@dataclass
class CognitoOutcome:
    """The verdict: allowed (with the rendered claims) or refused, always with a reason."""

    allowed: bool
    reason: str
    detail: str
    claims: dict[str, Any] = field(default_factory=dict)
    expired: bool = False


def render_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Render claims as the Cognito authorizer hands them to the backend: strings only."""
    rendered: dict[str, str] = {}
    for name, value in claims.items():
        if name in DATE_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, UTC)
            rendered[name] = moment.strftime("%a %b %d %H:%M:%S UTC %Y")
        elif isinstance(value, list):
            rendered[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            rendered[name] = "true" if value else "false"
        else:
            rendered[name] = str(value)
    return rendered


def pool_id_of(arn: str) -> str | None:
    """Return the pool id of a user pool ARN (`arn:aws:cognito-idp:<r>:<a>:userpool/<id>`)."""
    head, _, pool_id = arn.rpartition(":userpool/")
    return pool_id if head.startswith("arn:") and pool_id else None


class CognitoChecker:
    """One authorizer's user pools (by issuer), with a JWKS client per pool."""

    def __init__(self, issuers: tuple[str, ...]) -> None:
        self.issuers = issuers
        self._clients: dict[str, KeyClient] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def jwks(self) -> str | None:
        """How this thread's last `verify` got the pool's keys: "fetched", "cached", or None
        when it refused the token before looking a key up."""
        return getattr(self._local, "jwks", None)

    def _keys(self, issuer: str) -> KeyClient:
        with self._lock:
            client = self._clients.get(issuer)
            if client is None:
                # Cognito publishes its keys at a fixed path under the issuer.
                client = KeyClient(
                    issuer + "/.well-known/jwks.json", lifespan=3600, cooldown_duration=0, timeout=3
                )
                self._clients[issuer] = client
            return client

    def verify(self, token: str) -> CognitoOutcome:
        """Check the token itself (not what the method needs): pool, key, signature, time."""
        self._local.jwks = None
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return CognitoOutcome(False, reason="malformed_token", detail="not a JWT")
        if header.get("alg") != "RS256":
            return CognitoOutcome(
                False, reason="alg_not_allowed", detail="user pool tokens are signed with RS256"
            )
        issuer = unverified.get("iss")
        if issuer not in self.issuers:
            return CognitoOutcome(
                False,
                reason="wrong_issuer",
                detail="the token was not issued by this authorizer's user pool",
            )
        client = self._keys(issuer)
        try:
            key = client.signing_key(header.get("kid"))
        except (jwt.PyJWKClientError, OSError, ValueError, KeyError):
            self._local.jwks = client.last_lookup
            return CognitoOutcome(
                False, reason="unknown_kid", detail="the kid is not in the user pool's JWKS"
            )
        self._local.jwks = client.last_lookup
        try:
            claims = signature_only(token, key, require=("exp", "token_use"))
        except jwt.InvalidSignatureError:
            return CognitoOutcome(False, reason="bad_signature", detail="the signature is invalid")
        except jwt.PyJWTError:
            return CognitoOutcome(
                False, reason="invalid_claims", detail="exp or token_use is missing or invalid"
            )
        return self.still_valid(claims)

    def still_valid(self, claims: dict[str, Any]) -> CognitoOutcome:
        """Apply the clock rule to claims verified before (on a result cache hit too)."""
        refused = check_times(claims, time.time())
        if refused is not None:
            return CognitoOutcome(
                False,
                reason=refused.reason,
                detail=refused.detail,
                expired=refused.reason == "token_expired",
            )
        return CognitoOutcome(True, reason="allowed", detail="a valid token", claims=claims)


def method_check(claims: dict[str, Any], method_scopes: tuple[str, ...]) -> CognitoOutcome:
    """What the method needs: an ID token without scopes, else an access token with one."""
    token_use = claims.get("token_use")
    if not method_scopes:
        if token_use != "id":
            return CognitoOutcome(
                False,
                reason="cognito_id_token_required",
                detail="the method has no authorization scopes, so only ID tokens are accepted",
                claims=claims,
            )
        return CognitoOutcome(True, reason="allowed", detail="an ID token", claims=claims)
    if token_use != "access":
        return CognitoOutcome(
            False,
            reason="cognito_access_token_required",
            detail="the method has authorization scopes, so only access tokens are accepted",
            claims=claims,
        )
    granted = str(claims.get("scope", "")).split()
    if not set(granted) & set(method_scopes):
        return CognitoOutcome(
            False,
            reason="insufficient_scope",
            detail=f"the token has none of the method's scopes: {' '.join(method_scopes)}",
            claims=claims,
        )
    return CognitoOutcome(True, reason="allowed", detail="an access token", claims=claims)
