"""`POST /lab/token-variants`: mint a variant of a token this IdP issued, for the lab's lessons.

A real tenant never signs anything for the lab; this endpoint exists only on the local IdP
(nothing like it is in Auth0's API), and it signs only variants of its own tokens. The proof is
the token itself, still valid, as the bearer credential (RFC 6750 §2.1); the variant is the same
token with some of `exp`, `nbf` and `iat` changed, and only ever *less* valid than the original:
`exp` no later, `iat` no later, `nbf` no earlier. So the endpoint cannot extend a token's life,
widen its audience or add a permission: it can only show how an API treats an expired or a
not-yet-valid copy of a token the person already holds (RFC 7519 §4.1.4, §4.1.5).

Request: `Authorization: Bearer <access token>`, JSON body `{"exp": 1700000000}` (any of
`exp`, `nbf`, `iat`, as integer seconds). Answer: `{"access_token": ..., "token_type": "Bearer",
"changed": {...}}`, or an RFC 6750 error (`invalid_token` 401, `invalid_request` 400).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request

bp = Blueprint("idp_variants", __name__)

CHANGEABLE = ("exp", "nbf", "iat")
MAX_BODY = 1024
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
    unknown = sorted(set(body) - set(CHANGEABLE))
    if unknown:
        return _error(
            400,
            "invalid_request",
            f"Only {', '.join(CHANGEABLE)} can change, not {', '.join(unknown)[:100]}",
        )
    iat = claims.get("iat") if isinstance(claims.get("iat"), int) else claims["exp"]
    earliest = {"exp": claims["exp"], "iat": iat, "nbf": claims.get("nbf", iat)}
    changed: dict[str, int] = {}
    for name, value in body.items():
        if not isinstance(value, int) or isinstance(value, bool):
            return _error(400, "invalid_request", f"{name} must be an integer (seconds)")
        if abs(value - earliest[name]) > MAX_SHIFT:
            return _error(400, "invalid_request", f"{name} may move at most a week")
        if name in ("exp", "iat") and value > earliest[name]:
            return _error(400, "invalid_request", f"{name} can only move earlier")
        if name == "nbf" and value < earliest[name]:
            return _error(400, "invalid_request", "nbf can only move later")
        changed[name] = value
    variant = {**claims, **changed}
    return jsonify(access_token=idp.keys.sign(variant), token_type="Bearer", changed=changed)
