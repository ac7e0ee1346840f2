"""`POST /lab/token-variants`: mint a variant of a token this IdP issued, for the lab's lessons.

A real tenant never signs anything for the lab; this endpoint exists only on the local IdP
(nothing like it is in Auth0's API), and it signs only variants of its own tokens. The proof is
the token itself, still valid, as the bearer credential (RFC 6750 §2.1); the variant is the same
token with some of `exp`, `nbf`, `iat`, `aud`, `iss` and the header's `kid` changed, and only
ever *less* valid than the original: `exp` no later, `iat` no later, `nbf` no earlier; `aud` only
to audiences this tenant does not serve (no API identifier, client id or /userinfo), `iss` only
to another issuer than this one, `kid` only removed or replaced by a key id this IdP does not
publish. So the endpoint cannot extend a token's life, widen its audience, add a permission or
make it valid anywhere this IdP's tokens are: it can only show how an API treats an expired,
not-yet-valid, wrong-audience, wrong-issuer or kid-less copy of a token the person already holds
(RFC 7519 §4.1.1, §4.1.3, §4.1.4, §4.1.5; RFC 7515 §4.1.4; RFC 8725 §3.8, §3.9).

Request: `Authorization: Bearer <access token>`, JSON body such as `{"exp": 1700000000}`:
`exp`, `nbf`, `iat` as integer seconds; `aud` a string or a list of strings; `iss` a string;
`kid` null (drop it) or a string (an unknown key id). Answer: `{"access_token": ...,
"token_type": "Bearer", "changed": {...}}`, or an RFC 6750 error (`invalid_token` 401,
`invalid_request` 400).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from joserfc import jwt

from .keys import ALGORITHM

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


@bp.post("/lab/token-variants")
def token_variant() -> Response:
    """Return a copy of the bearer access token with narrower `exp`/`nbf`/`iat`."""
    idp: Any = current_app.extensions["idp"]
    token = _bearer()
    if token is None or token.count(".") != 2:
        return _error(401, "invalid_token", "Send the access token to vary as a Bearer token")
    claims = idp.keys.verify(token)
    if claims is None or claims.get("iss") != idp.issuer:
        return _error(401, "invalid_token", "Only a token this identity provider signed")
    now = time.time()
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return _error(401, "invalid_token", "The token has expired: vary a valid one")
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else audiences or []
    if not any(aud in idp.tenant.apis for aud in audiences if isinstance(aud, str)):
        return _error(401, "invalid_token", "Only access tokens for an API of this tenant")

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
    header_kid: str | None = idp.keys.signing_key().kid
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
        problem = _foreign_audience(idp, body["aud"])
        if problem:
            return _error(400, "invalid_request", problem)
        changed["aud"] = body["aud"]
    if "iss" in body:
        iss = body["iss"]
        if not isinstance(iss, str) or not iss or len(iss) > MAX_TEXT:
            return _error(400, "invalid_request", f"iss must be a string of 1 to {MAX_TEXT} chars")
        if iss == idp.issuer:
            return _error(400, "invalid_request", "iss can only change to another issuer")
        changed["iss"] = iss
    if "kid" in body:
        kid = body["kid"]
        published = {key.kid for key in idp.keys.published()}
        if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > MAX_TEXT):
            return _error(400, "invalid_request", "kid must be null (drop it) or a string")
        if kid in published:
            return _error(400, "invalid_request", "kid can only change to a key id not published")
        changed["kid"] = kid
        header_kid = kid
    variant = {**claims, **{k: v for k, v in changed.items() if k != "kid"}}
    return jsonify(
        access_token=_sign(idp, variant, header_kid), token_type="Bearer", changed=changed
    )


def _foreign_audience(idp: Any, aud: Any) -> str | None:
    """Say why `aud` cannot be the copy's audience, or None when it names no one this IdP serves.

    A copy must not become valid anywhere this tenant's tokens are: none of its API
    identifiers, none of its applications' client ids (an ID token's audience), not /userinfo.
    """
    values = [aud] if isinstance(aud, str) else aud
    if (
        not isinstance(values, list)
        or not 1 <= len(values) <= MAX_AUDIENCES
        or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in values)
    ):
        return f"aud must be a string or a list of 1 to {MAX_AUDIENCES} strings"
    served = {*idp.tenant.apis, *idp.tenant.applications, idp.issuer + "userinfo"}
    if any(value in served for value in values):
        return "aud can only change to an audience this identity provider does not serve"
    return None


def _sign(idp: Any, claims: dict[str, Any], kid: str | None) -> str:
    """Sign with the active key, naming `kid` in the header (none when None)."""
    key = idp.keys.signing_key()
    header: dict[str, Any] = {"alg": ALGORITHM, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(header, claims, key, algorithms=[ALGORITHM])
