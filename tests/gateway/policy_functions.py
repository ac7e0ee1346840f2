"""Lambda authorizers whose policy and context are chosen by the token, for the policy tests.

`Authorization: Bearer <case>` picks one of `POLICIES` (the statement list returned) and
`CONTEXTS` (the context returned).
"""

from __future__ import annotations

from typing import Any

POLICIES: dict[str, list[dict[str, Any]]] = {
    "exact": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}],
    "lower": [{"Effect": "Allow", "Action": "execute-api:invoke", "Resource": "*"}],
    "upper": [{"Effect": "Allow", "Action": "EXECUTE-API:INVOKE", "Resource": "*"}],
    "service": [{"Effect": "Allow", "Action": "execute-api:*", "Resource": "*"}],
    "star": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    "prefix": [{"Effect": "Allow", "Action": "execute-api:Inv*", "Resource": "*"}],
    "one-char": [{"Effect": "Allow", "Action": "execute-api:Invok?", "Resource": "*"}],
    "other-action": [{"Effect": "Allow", "Action": "execute-api:InvalidateCache", "Resource": "*"}],
    "other-service": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}],
    "not-action": [
        {"Effect": "Allow", "NotAction": "execute-api:InvalidateCache", "Resource": "*"}
    ],
    "not-action-invoke": [{"Effect": "Allow", "NotAction": "execute-api:invoke", "Resource": "*"}],
    "deny-lower": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
        {"Effect": "Deny", "Action": "execute-api:INVOKE", "Resource": "*"},
    ],
    "lower-case-resource": [
        {
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": "arn:aws:execute-api:*/get/*",
        }
    ],
    "not-resource": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "NotResource": "*/GET/open"},
    ],
    "both-action": [
        {
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "NotAction": "execute-api:InvalidateCache",
            "Resource": "*",
        }
    ],
}

CONTEXTS: dict[str, dict[str, Any]] = {
    "null": {"sub": "someone", "nothing": None},
    "array": {"sub": "someone", "roles": ["a", "b"]},
    "object": {"sub": "someone", "claims": {"a": 1}},
    "scalars": {"sub": "someone", "n": 1, "f": 1.5, "yes": True, "no": False},
}


def policy_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return the policy or context named by the bearer token (REST or HTTP policy mode)."""
    token = event.get("authorizationToken") or (event.get("headers") or {}).get("authorization")
    case = str(token).removeprefix("Bearer ")
    if case not in POLICIES and case not in CONTEXTS:
        raise Exception("Unauthorized")
    response: dict[str, Any] = {
        "principalId": "someone",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": POLICIES.get(case, POLICIES["exact"]),
        },
    }
    if case in CONTEXTS:
        response["context"] = CONTEXTS[case]
    return response
