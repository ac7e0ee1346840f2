"""Read tokens for people: what kind a token is, its claims, its times, and the classic mix-ups.

Decoding here is for display only: nothing is verified and nothing is trusted. The API's
authorizer does the verifying.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

TIME_CLAIMS = ("iat", "nbf", "exp", "auth_time", "updated_at")
COMPARED_CLAIMS = (
    "typ",
    "kid",
    "iss",
    "sub",
    "aud",
    "azp",
    "scope",
    "permissions",
    "gty",
    "nonce",
    "exp",
    "token_use",
    "client_id",
)

CLAIM_HINTS = {
    "iss": "who issued the token; the API checks it exactly, trailing slash included",
    "sub": "who the token is about: the user, or `<client id>@clients` for a machine",
    "aud": "who the token is for: the API identifier for an access token, the client id "
    "for an ID token",
    "azp": "the application that asked for the token",
    "exp": "when the token stops being valid",
    "iat": "when the token was issued",
    "nbf": "not valid before this time",
    "scope": "what the application asked for and was granted",
    "permissions": "what the user's roles allow on this API (Auth0 RBAC)",
    "gty": "grant type: `client-credentials` for machine-to-machine tokens",
    "nonce": "ties an ID token to the login that asked for it",
    "at_hash": "a hash of the access token issued alongside this ID token",
    "sid": "the identity provider's session",
    "auth_time": "when the person logged in",
    "email": "the person's email",
    "name": "the person's name",
    # Cognito's own claims:
    "token_use": "Cognito: `id` or `access`; API Gateway's Cognito authorizer reads it to tell "
    "the two apart",
    "client_id": "Cognito: the app client the access token was issued to (access tokens have no "
    "`aud`)",
    "cognito:groups": "Cognito: the user's groups; no API Gateway authorizer checks them",
    "cognito:username": "Cognito: the user's username in the pool",
    "username": "Cognito: the user's username in the pool",
    "origin_jti": "Cognito: the login session the token comes from (revoking it revokes them all)",
    "jti": "the token's unique id",
    "version": "Cognito: the access token's format version",
}


# Cognito's `sub` (AWS, "Understanding the access token"): the user's id in the pool, or for the
# client-credentials grant the app client id itself (no `@clients` suffix: that is Auth0's).
COGNITO_SUB_HINT = (
    "who the token is about: the user's id in the pool, or the app client id for a machine "
    "(client credentials)"
)


def _b64_json(segment: str) -> Any:
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    try:
        return json.loads(raw)
    except RecursionError:  # brackets nested past the parser's depth: not a token's JSON
        raise ValueError("nesting too deep") from None


def relative(seconds: float) -> str:
    """Say a duration as people do, rounded to the nearest unit: "3 minutes", "10 hours".

    Rounded, not truncated: a token that lives 10 hours, looked at a second after it was
    issued, expires "in 10 hours", not "in 9 hours". Minutes up to two hours, hours up to two
    days, then days.
    """
    seconds = abs(round(seconds))
    if seconds < 60:
        count, unit = seconds, "second"
    elif seconds < 2 * 3600:
        count, unit = round(seconds / 60), "minute"
    elif seconds < 2 * 86400:
        count, unit = round(seconds / 3600), "hour"
    else:
        count, unit = round(seconds / 86400), "day"
    return f"{count} {unit}{'s' if count != 1 else ''}"


def when(timestamp: float, now: float | None = None) -> str:
    """Say how far a time is from now: "in 23 hours" or "3 minutes ago"."""
    delta = timestamp - (time.time() if now is None else now)
    return f"in {relative(delta)}" if delta >= 0 else f"{relative(delta)} ago"


def moment(timestamp: float) -> str:
    """An epoch time as ISO 8601 in UTC, for a `<time>` element the page shows in local time."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


@dataclass
class ClaimRow:
    """One claim as the inspector shows it."""

    name: str
    value: Any
    display: str
    hint: str = ""
    moment: str | None = None  # ISO time for a time claim, shown in local time by the page
    relative: str | None = None
    differs: bool = False


@dataclass
class TokenView:
    """What a token is and what it says."""

    label: str
    kind: str  # "JWT", "encrypted (JWE)", "opaque", "none"
    role: str  # "access token for the API", "ID token", ...
    purpose: str
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    rows: list[ClaimRow] = field(default_factory=list)
    header_rows: list[ClaimRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    expired: bool = False
    present: bool = True


def classify(token: str | None) -> str:
    """Tell what kind of string a token is, without verifying anything."""
    if not token:
        return "none"
    parts = token.split(".")
    if len(parts) == 5:
        return "encrypted (JWE)"
    if len(parts) == 3:
        try:
            header = _b64_json(parts[0])
            if isinstance(header, dict) and "alg" in header:
                return "JWT"
        except (ValueError, binascii.Error, UnicodeDecodeError):
            pass
    return "opaque"


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (header, claims) of a JWT, unverified; empty dicts if it does not decode."""
    parts = token.split(".")
    try:
        header, claims = _b64_json(parts[0]), _b64_json(parts[1])
    except (ValueError, IndexError, binascii.Error, UnicodeDecodeError):
        return {}, {}
    return (header if isinstance(header, dict) else {}), (
        claims if isinstance(claims, dict) else {}
    )


def audiences(claims: dict[str, Any]) -> list[str]:
    """Return `aud` as a list, whatever its JSON shape."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    return [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []


def display(value: Any) -> str:
    """Show a claim's value as its JSON says it: `true`, `null`, `3600`, `{"a": 1}`.

    A string is shown as itself (no quotes); a list of strings as a comma-separated list; any
    other value in JSON, so a boolean reads `true` as in the token, never Python's `True`.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(display(v) for v in value) if value else "(empty list)"
    return json.dumps(value, ensure_ascii=False)


def _rows(data: dict[str, Any], now: float) -> list[ClaimRow]:
    rows = []
    for name, value in data.items():
        row = ClaimRow(name, value, display(value), CLAIM_HINTS.get(name, ""))
        if name in TIME_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
            row.moment = moment(value)
            row.relative = when(value, now)
        rows.append(row)
    return rows


def inspect(
    token: str | None,
    label: str,
    expected_audience: str,
    issuer: str,
    client_id: str,
    now: float | None = None,
) -> TokenView:
    """Describe a token the way the inspector page shows it, with the mix-ups it reveals."""
    now = time.time() if now is None else now
    kind = classify(token)
    if kind == "none":
        return TokenView(label, "none", "no token", "You are not logged in.", present=False)
    assert token is not None
    if kind == "opaque":
        return TokenView(
            label,
            kind,
            "opaque access token",
            "An opaque token only the identity provider can read: good for its /userinfo "
            "endpoint, useless for your API.",
            warnings=[
                "This access token is opaque because no `audience` was sent at login: "
                "Auth0 then issues a token only /userinfo accepts. Send the API "
                "identifier as `audience` to get a JWT the API can verify."
            ],
        )
    if kind != "JWT":
        return TokenView(
            label,
            kind,
            "encrypted token",
            "An encrypted token (JWE): its claims are not readable here, and an "
            "API authorizer expecting a signed JWT refuses it.",
            warnings=[
                "Encrypted tokens come from an API set to encrypt its "
                "tokens, or from a login without `audience`."
            ],
        )
    header, claims = decode(token)
    auds = audiences(claims)
    view = TokenView(label, kind, "", "", header, claims, _rows(claims, now), _rows(header, now))
    if claims.get("token_use") in ("id", "access"):
        _cognito_role(view, claims)
        for row in view.rows:
            if row.name == "sub":
                row.hint = COGNITO_SUB_HINT
    elif "nonce" in claims or "at_hash" in claims or auds == [client_id]:
        view.role = "ID token"
        view.purpose = (
            "Proves to the web app who logged in. Its audience is the client id "
            f"({client_id}); never send it to an API."
        )
    elif claims.get("gty") == "client-credentials":
        view.role = "machine-to-machine access token"
        view.purpose = "Lets a service call the API as itself (`sub` ends in `@clients`)."
    else:
        view.role = "access token"
        view.purpose = (
            "Lets the web app call the API on your behalf. The API's authorizer "
            "verifies it and reads `scope` and `permissions`."
        )
    exp = claims.get("exp")
    if isinstance(exp, int | float) and exp <= now:
        view.expired = True
        view.warnings.append(
            f"This token expired {relative(now - exp)} ago: the authorizer refuses it (401)."
        )
    if claims.get("iss") not in (None, issuer):
        view.warnings.append(f"Issued by {claims.get('iss')}, not by {issuer}.")
    if claims.get("token_use") in ("id", "access"):
        return view  # Cognito's audiences are client ids; the notes above say so
    if view.role == "ID token":
        view.warnings.append(
            f"Its `aud` is the client id {auds[0] if auds else '?'}, not the "
            f"API {expected_audience}: an API authorizer refuses it, as it "
            "should."
        )
    elif expected_audience not in auds:
        view.warnings.append(
            f"Its `aud` ({', '.join(auds) or 'none'}) does not include "
            f"{expected_audience}: this token is for another API."
        )
    return view


def _cognito_role(view: TokenView, claims: dict[str, Any]) -> None:
    """Say what a Cognito token is: its shape differs from Auth0's (AWS: "Understanding user
    pool JSON web tokens"): `token_use`, no `aud` in access tokens, groups beside scopes."""
    if claims["token_use"] == "id":
        view.role = "ID token"
        view.purpose = (
            "Cognito ID token (`token_use: id`): proves to the web app who logged in; its `aud` "
            f"is the app client id ({claims.get('aud', '?')}). Unlike most authorizers, API "
            "Gateway's Cognito authorizer accepts it, on a method that lists no scopes."
        )
    elif claims.get("sub") == claims.get("client_id"):
        view.role = "machine-to-machine access token"
        view.purpose = (
            "Cognito client-credentials token: `sub` is the app client id, `scope` holds only "
            "the resource server's scopes, and there is no user, no group and no `aud`."
        )
    else:
        view.role = "access token"
        view.purpose = (
            "Cognito access token (`token_use: access`): it has no `aud`; the app client is in "
            "`client_id`. `scope` holds what the app client may ask of the resource server "
            "(`notes-api/read`), `cognito:groups` the user's groups: API Gateway checks only "
            "the scopes."
        )


def compare(first: TokenView, second: TokenView) -> None:
    """Mark the claims whose values differ between two tokens, for highlighting."""
    for view, other in ((first, second), (second, first)):
        for row in [*view.rows, *view.header_rows]:
            source = other.claims if row in view.rows else other.header
            if row.name in COMPARED_CLAIMS and source.get(row.name) != row.value:
                row.differs = True
    uses = {first.claims.get("token_use"), second.claims.get("token_use")}
    kids = (first.header.get("kid"), second.header.get("kid"))
    if uses == {"id", "access"} and kids[0] != kids[1]:
        for view in (first, second):
            view.warnings.append(
                f"Signed with the key `{view.header.get('kid')}`: Cognito signs ID tokens and "
                "access tokens with two different keys, both in the pool's JWKS, so a verifier "
                "that caches one key for the issuer fails on the other token."
            )


def tampered(token: str) -> str:
    """Return the token with one signature character changed (the token is then forged)."""
    head, _, signature = token.rpartition(".")
    if not signature:
        return token + "x"
    swap = "A" if signature[0] != "A" else "B"
    return f"{head}.{swap}{signature[1:]}"
