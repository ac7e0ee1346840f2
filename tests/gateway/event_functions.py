"""Lambda handlers for the event-shape scenarios: authorizers that allow with a context."""

from __future__ import annotations

from typing import Any


def simple_context_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Allow `Bearer good` with a simple response and a context."""
    allowed = event.get("headers", {}).get("authorization") == "Bearer good"
    return {"isAuthorized": allowed, "context": {"tenant": "acme", "level": 3}}


def policy_context_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Allow `Bearer good` with an IAM policy for this route and a context."""
    if event.get("authorizationToken") != "Bearer good":
        raise Exception("Unauthorized")
    return {
        "principalId": "user-7",
        "context": {"tenant": "acme"},
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
    }
