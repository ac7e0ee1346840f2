"""Helpers for Lambda proxy integrations: responses, request bodies, and who the caller is.

The caller comes only from what API Gateway put in `requestContext.authorizer` after the
authorizer ran, never from the request itself, in each of the shapes AWS uses:
REST (`authorizer.principalId` and context keys), HTTP API Lambda authorizers
(`authorizer.lambda`) and HTTP API JWT authorizers (`authorizer.jwt.claims`).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from typing import NamedTuple


class BadRequest(Exception):
    """The request is malformed; the message tells the caller what to fix."""


class Caller(NamedTuple):
    """The authenticated caller, as the authorizer described it."""

    sub: str
    kind: str
    client_id: str | None
    permissions: tuple[str, ...]
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "kind": self.kind,
            "clientId": self.client_id,
            "permissions": list(self.permissions),
            "authorizer": self.source,
        }


def json_response(
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return a Lambda proxy response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        if text[:1] == "[" and text[-1:] == "]":  # HTTP API JWT claims render arrays so
            text = text[1:-1]
        return text.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def caller(event: dict[str, Any]) -> Caller | None:
    """Return the caller the authorizer established, or None for an unauthenticated route."""
    authorizer = (event.get("requestContext") or {}).get("authorizer")
    if not isinstance(authorizer, dict):
        return None
    if isinstance(authorizer.get("jwt"), dict):
        claims = authorizer["jwt"].get("claims") or {}
        sub = claims.get("sub")
        if not sub:
            return None
        kind = "client" if claims.get("gty") == "client-credentials" else "user"
        permissions = tuple(_words(claims.get("permissions")) or _words(claims.get("scope")))
        return Caller(sub, kind, claims.get("azp") or claims.get("client_id"), permissions, "jwt")
    context = authorizer.get("lambda")
    if not isinstance(context, dict):
        context = authorizer
    sub = context.get("sub") or authorizer.get("principalId")
    if not sub:
        return None
    # Permissions first, then the scope's words not already among them.
    permissions = tuple(
        dict.fromkeys(_words(context.get("permissions")) + _words(context.get("scope")))
    )
    return Caller(
        str(sub),
        str(context.get("tokenKind") or "user"),
        context.get("clientId") or None,
        permissions,
        "rest" if context is authorizer else "lambda",
    )


def json_body(event: dict[str, Any], max_bytes: int) -> Any:
    """Return the request body parsed as JSON, or raise BadRequest saying what is wrong."""
    raw = event.get("body")
    if raw is None or raw == "":
        raise BadRequest("The request has no body; send a JSON object.")
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except ValueError:
            raise BadRequest("The body is marked base64 but does not decode.") from None
    else:
        data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if len(data) > max_bytes:
        raise BadRequest(f"The body is {len(data)} bytes; at most {max_bytes} are accepted.")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from None
