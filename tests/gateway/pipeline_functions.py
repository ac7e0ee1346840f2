"""Authorizers for the pipeline scenarios: their verdict follows a request header, so a test
can tell whether a second request ran the authorizer or was answered from the cache."""

from __future__ import annotations

from typing import Any


def _header(event: dict[str, Any], name: str) -> str | None:
    headers = event.get("headers") or {}
    return next((v for k, v in headers.items() if k.lower() == name), None)


def header_policy_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Allow every route unless the request says `X-Deny: yes`."""
    effect = "Deny" if _header(event, "x-deny") == "yes" else "Allow"
    arn = event.get("methodArn") or event["routeArn"]
    return {
        "principalId": "caller",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": effect,
                    "Resource": arn.split("/", 1)[0] + "/*",
                }
            ],
        },
        "context": {"arn": arn},
    }


def header_simple_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Authorize unless the request says `X-Deny: yes` (HTTP API simple response)."""
    return {
        "isAuthorized": _header(event, "x-deny") != "yes",
        "context": {"arn": event["routeArn"]},
    }


def list_context_simple_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A simple response whose context is a list: malformed."""
    return {"isAuthorized": True, "context": ["a"]}


def infinite_context_simple_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A simple response whose context holds Infinity, which JSON cannot carry."""
    return {"isAuthorized": True, "context": {"limit": float("inf")}}


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def png_function(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer a few PNG bytes, base64-encoded, as a Lambda proxy integration must."""
    import base64

    return {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "body": base64.b64encode(PNG).decode(),
        "isBase64Encoded": True,
    }
