"""Lambda handlers that misbehave on purpose, for the gateway's error and caching scenarios."""

from __future__ import annotations

import json
from typing import Any


def per_method_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Allow only the method ARN of this request: the policy that breaks result caching."""
    if event.get("authorizationToken") != "Bearer good":
        raise Exception("Unauthorized")
    return {
        "principalId": "someone",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
    }


def crashing_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fail with an error other than Unauthorized."""
    raise RuntimeError("database unavailable")


def malformed_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return a policy without principalId."""
    return {"policyDocument": {"Version": "2012-10-17", "Statement": []}}


def array_context_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return a context with an array, which REST APIs refuse."""
    return {
        "principalId": "someone",
        "context": {"roles": ["a", "b"]},
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}],
        },
    }


def string_verdict_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Say isAuthorized as a string, which must not allow anything."""
    return {"isAuthorized": "true"}


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return the event the integration received."""
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "event": event,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "request_id": context.aws_request_id,
            }
        ),
    }


def malformed_response(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return something that is not a proxy response."""
    return {"statusCode": "teapot", "body": 42}


def crashing_function(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fail inside the integration."""
    raise ValueError("boom")


def unserializable_response(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return a proxy response holding a set, which Lambda cannot serialize."""
    return {"statusCode": 200, "headers": {"X-Set": {1, 2}}, "body": "never sent"}
