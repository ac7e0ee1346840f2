"""Helpers for Lambda proxy integrations: responses, request bodies, and who the caller is.

The caller comes only from what API Gateway put in `requestContext.authorizer` after the
authorizer ran, never from the request itself, in each of the shapes AWS uses:
REST (`authorizer.principalId` and context keys), HTTP API Lambda authorizers
(`authorizer.lambda`), HTTP API JWT authorizers (`authorizer.jwt.claims`), REST Cognito
user pool authorizers (`authorizer.claims`, every value a string, no `principalId`) and IAM
authorization (REST: `requestContext.identity`; HTTP: `authorizer.iam`), where the caller is
the Cognito identity id for identity-pool credentials, else the signer's IAM ARN
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from typing import NotRequired
from typing import TypedDict


class BadRequest(Exception):
    """The request is malformed; the message tells the caller what to fix."""


class Caller(TypedDict):
    """The authenticated caller, as the authorizer described it, ready to be sent as JSON."""

    sub: str
    kind: str  # "user" or "client"
    clientId: str | None
    permissions: list[str]
    authorizer: str  # which shape it came from: "rest", "lambda", "jwt", "cognito" or "iam"
    userArn: NotRequired[str]  # IAM callers: the ARN that signed (user or assumed role)
    identityId: NotRequired[str | None]  # IAM callers: the Cognito identity, if any


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


def _claim_words(value: Any) -> list[str]:
    """The words of a JWT claim as HTTP APIs pass it: a string, or an array rendered `[a b]`."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if not isinstance(value, str):
        return []
    text = value.strip()
    if text[:1] == "[" and text[-1:] == "]":
        text = text[1:-1]
    return text.split()


def _context_words(value: Any) -> list[str]:
    """The words of an authorizer context value: a space-separated string (or a list)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _iam_caller(event: dict[str, Any]) -> Caller | None:
    """The IAM caller API Gateway verified, or None when the route is not an IAM one."""
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer")
    iam = authorizer.get("iam") if isinstance(authorizer, dict) else None
    if isinstance(iam, dict):
        arn = iam.get("userArn")
        identity_id = (iam.get("cognitoIdentity") or {}).get("identityId")
    else:
        identity = context.get("identity") or {}
        arn = identity.get("userArn")
        identity_id = identity.get("cognitoIdentityId")
    if not arn:
        return None
    return {
        # Identity-pool users keep one identity id across sessions; a role session's ARN
        # does not name the user, so only plain IAM users are known by their ARN.
        "sub": str(identity_id or arn),
        "kind": "user" if identity_id else "client",
        "clientId": None,
        "permissions": [],
        "authorizer": "iam",
        "userArn": str(arn),
        "identityId": identity_id,
    }


def caller(event: dict[str, Any]) -> Caller | None:
    """Return the caller the authorizer established, or None for an unauthenticated route."""
    iam = _iam_caller(event)
    if iam is not None:
        return iam
    authorizer = (event.get("requestContext") or {}).get("authorizer")
    if not isinstance(authorizer, dict):
        return None
    jwt = authorizer.get("jwt")
    cognito = authorizer.get("claims")
    if isinstance(cognito, dict) and "principalId" not in authorizer:
        jwt = {"claims": cognito}
    if isinstance(jwt, dict):
        claims = jwt.get("claims") or {}
        sub = claims.get("sub")
        if not sub:
            return None
        # Cognito's client-credentials tokens have sub = client_id (Auth0's carry gty).
        machine = claims.get("gty") == "client-credentials" or (
            claims.get("token_use") == "access" and sub == claims.get("client_id")
        )
        return {
            "sub": str(sub),
            "kind": "client" if machine else "user",
            # A Cognito ID token names its app client in `aud`.
            "clientId": claims.get("azp")
            or claims.get("client_id")
            or (claims.get("aud") if claims.get("token_use") == "id" else None)
            or None,
            "permissions": (
                _claim_words(claims.get("permissions")) or _claim_words(claims.get("scope"))
            ),
            "authorizer": "cognito" if jwt.get("claims") is cognito else "jwt",
        }
    context = authorizer.get("lambda")
    source = "lambda"
    if not isinstance(context, dict):
        context, source = authorizer, "rest"
    sub = context.get("sub") or authorizer.get("principalId")
    if not sub:
        return None
    words = _context_words(context.get("permissions")) + _context_words(context.get("scope"))
    return {
        "sub": str(sub),
        "kind": str(context.get("tokenKind") or "user"),
        "clientId": context.get("clientId") or None,
        # Permissions first, then the scope's words not already among them.
        "permissions": list(dict.fromkeys(words)),
        "authorizer": source,
    }


def cognito_groups(event: dict[str, Any]) -> list[str] | None:
    """Return the caller's Cognito groups (`cognito:groups`, rendered `[a b]` by API Gateway),
    or None when no Cognito token's claims are in the event."""
    authorizer = (event.get("requestContext") or {}).get("authorizer")
    if not isinstance(authorizer, dict):
        return None
    claims = authorizer.get("claims")
    if not isinstance(claims, dict):
        jwt = authorizer.get("jwt")
        claims = jwt.get("claims") if isinstance(jwt, dict) else None
    if not isinstance(claims, dict) or "token_use" not in claims:
        return None
    return _claim_words(claims.get("cognito:groups"))


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
    except RecursionError:
        raise BadRequest("The body nests too deeply; a note is a flat JSON object.") from None
