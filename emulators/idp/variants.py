"""`POST /lab/token-variants`: mint a variant of a token this IdP issued, for the lab's lessons.

A real tenant never signs anything for the lab; this endpoint exists only on the local IdP
(nothing like it is in Auth0's or Cognito's API), and it signs only variants of its own tokens:
the Auth0-compatible tenant's access tokens (signed with the tenant's key) and the local user
pool's ID and access tokens (each signed again with the pool's key of the same purpose, as
Cognito signs ID and access tokens with different keys). The proof is the token itself, still
valid, as the bearer credential (RFC 6750 §2.1); the variant is the same token with some of
`exp`, `nbf`, `iat`, `aud`, `iss` and the header's `kid` changed, and only ever *less* valid than
the original: `exp` no later, `iat` no later, `nbf` no earlier; `aud` only to audiences neither
provider serves (no API identifier, client id or /userinfo), `iss` only to an issuer neither
provider is, `kid` only removed or replaced by a key id neither publishes. So the endpoint
cannot extend a token's life, widen its audience, add a permission or make it valid anywhere
this IdP's tokens are: it can only show how an API treats an expired, not-yet-valid,
wrong-audience, wrong-issuer or kid-less copy of a token the person already holds (RFC 7519
§4.1.1, §4.1.3, §4.1.4, §4.1.5; RFC 7515 §4.1.4; RFC 8725 §3.8, §3.9).

Request: `Authorization: Bearer <token>` (an access token, or a user pool's ID token), a JSON
body such as `{"exp": 1700000000}`: `exp`, `nbf`, `iat` as integer seconds; `aud` a string or
a list of strings; `iss` a string; `kid` null (drop it) or a string (an unknown key id).
Answer: `{"access_token": ..., "token_type": "Bearer", "changed": {...}}`, or an RFC 6750
error (`invalid_token` 401, `invalid_request` 400).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from joserfc import jwt

from .keys import ALGORITHM
from .keys import KeyRing

bp = Blueprint("idp_variants", __name__)

CHANGEABLE = ("exp", "nbf", "iat", "aud", "iss", "kid")
TIMES = ("exp", "nbf", "iat")
MAX_BODY = 2048
MAX_TEXT = 200  # an `iss`, one `aud` or a `kid`: room for any URL a lesson needs
MAX_AUDIENCES = 5
# A variant's times stay within a week of the original: enough for any lesson, no odd numbers.
MAX_SHIFT = 7 * 86400


def _error(status: int, error: str, description: str) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = (
            f'Bearer error="{error}", error_description="{description}"'
        )
    return response


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@dataclass(frozen=True)
class Signer:
    """Who issued the bearer token, and the key ring its copies are signed with."""

    issuer: str
    keys: KeyRing


def _identify(token: str) -> Signer | Response:
    """Find which of this IdP's providers signed `token` (an expired one too), or refuse."""
    idp: Any = current_app.extensions["idp"]
    claims = idp.keys.verify(token)
    if claims is not None and claims.get("iss") == idp.issuer:
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else audiences or []
        if not any(aud in idp.tenant.apis for aud in audiences if isinstance(aud, str)):
            return _error(401, "invalid_token", "Only access tokens for an API of this tenant")
        return Signer(idp.issuer, idp.keys)
    pool: Any = current_app.extensions.get("cognito_pool")
    if pool is not None:
        # Cognito's two keys: an ID token verifies only with the ID ring, an access token only
        # with the access ring, and `token_use` must say the same.
        for use, ring in (("id", pool.id_keys), ("access", pool.access_keys)):
            claims = ring.verify(token)
            if claims is None or claims.get("iss") != pool.issuer:
                continue
            if claims.get("token_use") != use:
                return _error(401, "invalid_token", "The token's token_use does not match its key")
            origin = claims.get("origin_jti")
            if isinstance(origin, str) and pool.store.session_revoked(origin):
                return _error(401, "invalid_token", "The token was revoked: vary a live one")
            return Signer(pool.issuer, ring)
    return _error(
        401,
        "invalid_token",
        "Only a token this identity provider signed (its tenant's or its user pool's)",
    )


def _served() -> tuple[set[str], set[str], set[str]]:
    """Every audience, issuer and published key id of this IdP: the tenant's and the pool's.

    A copy may name none of them (beyond its own unchanged values): it must not become valid
    at any API that trusts either provider.
    """
    idp: Any = current_app.extensions["idp"]
    audiences = {*idp.tenant.apis, *idp.tenant.applications, idp.issuer + "userinfo"}
    issuers = {idp.issuer}
    kids = {key.kid for key in idp.keys.published()}
    pool: Any = current_app.extensions.get("cognito_pool")
    if pool is not None:
        audiences |= {*pool.pool.clients, *pool.pool.resource_servers}
        issuers.add(pool.issuer)
        kids |= {key.kid for ring in (pool.id_keys, pool.access_keys) for key in ring.published()}
    return audiences, issuers, kids


@bp.post("/lab/token-variants")
def token_variant() -> Response:
    """Return a less valid copy of the bearer token (the tenant's or the user pool's)."""
    token = _bearer()
    if token is None or token.count(".") != 2:
        return _error(401, "invalid_token", "Send the token to vary as a Bearer token")
    signer = _identify(token)
    if isinstance(signer, Response):
        return signer
    claims = signer.keys.verify(token) or {}
    now = time.time()
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return _error(401, "invalid_token", "The token has expired: vary a valid one")
    audiences, issuers, published = _served()

    if (request.content_length or 0) > MAX_BODY:
        return _error(400, "invalid_request", "The body is too large")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body:
        return _error(400, "invalid_request", 'Send a JSON object such as {"exp": 1700000000}')
    unknown = sorted(str(name) for name in set(body) - set(CHANGEABLE))
    if unknown:
        return _error(
            400,
            "invalid_request",
            f"Only {', '.join(CHANGEABLE)} can change, not {', '.join(unknown)[:100]}",
        )
    iat = claims.get("iat") if isinstance(claims.get("iat"), int) else claims["exp"]
    earliest = {"exp": claims["exp"], "iat": iat, "nbf": claims.get("nbf", iat)}
    changed: dict[str, Any] = {}
    header_kid: str | None = signer.keys.signing_key().kid
    for name, value in body.items():
        if name not in TIMES:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            return _error(400, "invalid_request", f"{name} must be an integer (seconds)")
        if abs(value - earliest[name]) > MAX_SHIFT:
            return _error(400, "invalid_request", f"{name} may move at most a week")
        if name in ("exp", "iat") and value > earliest[name]:
            return _error(400, "invalid_request", f"{name} can only move earlier")
        if name == "nbf" and value < earliest[name]:
            return _error(400, "invalid_request", "nbf can only move later")
        changed[name] = value
    if "aud" in body:
        problem = _foreign_audience(audiences, body["aud"])
        if problem:
            return _error(400, "invalid_request", problem)
        changed["aud"] = body["aud"]
    if "iss" in body:
        iss = body["iss"]
        if not isinstance(iss, str) or not iss or len(iss) > MAX_TEXT:
            return _error(400, "invalid_request", f"iss must be a string of 1 to {MAX_TEXT} chars")
        if iss in issuers:
            return _error(
                400,
                "invalid_request",
                "iss can only change to another issuer (neither the tenant's nor the pool's)",
            )
        changed["iss"] = iss
    if "kid" in body:
        kid = body["kid"]
        if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > MAX_TEXT):
            return _error(400, "invalid_request", "kid must be null (drop it) or a string")
        if kid in published:
            return _error(400, "invalid_request", "kid can only change to a key id not published")
        changed["kid"] = kid
        header_kid = kid
    variant = {**claims, **{k: v for k, v in changed.items() if k != "kid"}}
    return jsonify(
        access_token=_sign(signer.keys, variant, header_kid), token_type="Bearer", changed=changed
    )


def _foreign_audience(served: set[str], aud: Any) -> str | None:
    """Say why `aud` cannot be the copy's audience, or None when it names no one this IdP serves.

    A copy must not become valid anywhere this IdP's tokens are: none of the tenant's API
    identifiers, none of its applications' or the pool's app clients' ids (an ID token's
    audience, and what an HTTP API's JWT authorizer lists for a pool), not /userinfo.
    """
    values = [aud] if isinstance(aud, str) else aud
    if (
        not isinstance(values, list)
        or not 1 <= len(values) <= MAX_AUDIENCES
        or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in values)
    ):
        return f"aud must be a string or a list of 1 to {MAX_AUDIENCES} strings"
    if any(value in served for value in values):
        return "aud can only change to an audience this identity provider does not serve"
    return None


def _sign(keys: KeyRing, claims: dict[str, Any], kid: str | None) -> str:
    """Sign with the ring's active key, naming `kid` in the header (none when None)."""
    key = keys.signing_key()
    header: dict[str, Any] = {"alg": ALGORITHM, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(header, claims, key, algorithms=[ALGORITHM])
