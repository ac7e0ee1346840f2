"""Evaluate an authorizer's IAM policy against a method or route ARN, as API Gateway does.

An explicit Deny wins; otherwise an Allow must cover the ARN; otherwise the request is
implicitly denied. `*` matches any run of characters (`/` included) and `?` one character.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PolicyResult:
    """The outcome of evaluating a policy for one ARN."""

    effect: str  # "Allow", "Deny" (explicit) or "ImplicitDeny"
    resource: str | None  # the statement resource that decided it


@functools.lru_cache(maxsize=4096)
def _pattern(resource: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in resource) + r"\Z",
        re.DOTALL,
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _action_matches(action: Any) -> bool:
    return any(
        isinstance(a, str) and _pattern(a).match("execute-api:Invoke") for a in _as_list(action)
    )


def evaluate(policy: dict[str, Any], arn: str) -> PolicyResult:
    """Return whether the policy allows invoking `arn`."""
    allowed_by = None
    for statement in _as_list(policy.get("Statement")):
        if not isinstance(statement, dict) or not _action_matches(statement.get("Action")):
            continue
        effect = statement.get("Effect")
        for resource in _as_list(statement.get("Resource")):
            if not isinstance(resource, str) or not _pattern(resource).match(arn):
                continue
            if effect == "Deny":
                return PolicyResult("Deny", resource)
            if effect == "Allow" and allowed_by is None:
                allowed_by = resource
    if allowed_by is not None:
        return PolicyResult("Allow", allowed_by)
    return PolicyResult("ImplicitDeny", None)


def malformed(response: Any, rest: bool) -> str | None:
    """Say what is wrong with a policy-mode authorizer response, or None if it is usable."""
    if not isinstance(response, dict):
        return "the authorizer did not return an object"
    if not isinstance(response.get("principalId"), str) or not response["principalId"]:
        return "principalId is missing or not a string"
    document = response.get("policyDocument")
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list):
        return "policyDocument.Statement is missing or not a list"
    for statement in document["Statement"]:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            return "a statement has no Effect of Allow or Deny"
        if "Resource" not in statement or "Action" not in statement:
            return "a statement lacks Action or Resource"
    context = response.get("context")
    if context is not None:
        if not isinstance(context, dict):
            return "context is not an object"
        if rest:
            for key, value in context.items():
                if isinstance(value, list | dict):
                    return (
                        f"context.{key} is an {type(value).__name__}; REST APIs accept "
                        "only strings, numbers and booleans"
                    )
    return None
