"""Evaluate IAM policy statements for an action on a resource, as API Gateway and IAM do.

Owns the statement matching every policy-based decision of the gateway shares: a Lambda
authorizer's policy document today (always the action `execute-api:Invoke` on the method or
route ARN), IAM identity and resource policies later. `statements_match` is the public
entry; `evaluate` is the authorizer's use of it; `malformed` checks an authorizer's response.

Rules, from the IAM User Guide's policy element pages
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html,
`..._notaction.html`, `..._resource.html`, `..._notresource.html`) and the evaluation logic page
(`reference_policies_evaluation-logic.html`):

- An explicit Deny wins; otherwise an Allow must match; otherwise the request is implicitly
  denied.
- Actions: "The prefix and the action name are case insensitive", so `execute-api:invoke`
  and `EXECUTE-API:INVOKE` name `execute-api:Invoke`; `*` matches any run of characters and
  `?` one character (`execute-api:*`, `*`, `execute-api:Inv*`).
- Resources are case-sensitive; `*` matches any run of characters (`/` and `:` included, as
  in `arn:aws:execute-api:*:*:api/stage/*`) and `?` one character.
- `NotAction` matches every action except those listed, `NotResource` every resource except
  those listed; a statement carries exactly one of `Action`/`NotAction` and one of
  `Resource`/`NotResource` (the two of a pair are mutually exclusive).
- `Condition` is not evaluated (API Gateway documents none for authorizer policies).

What API Gateway does with a Lambda authorizer's `NotAction`/`NotResource` is not documented
separately; the emulator applies IAM's meaning (unverified for authorizer policies).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

INVOKE = "execute-api:Invoke"


@dataclass(frozen=True)
class PolicyResult:
    """The outcome of evaluating a policy for one ARN."""

    effect: str  # "Allow", "Deny" (explicit) or "ImplicitDeny"
    resource: str | None  # the statement resource that decided it


Matcher = Callable[[str], bool]


def _compile(pattern: str, flags: int) -> Matcher:
    if "*" not in pattern and "?" not in pattern:
        # Most patterns are a literal ARN or action: a string comparison, no regex.
        if flags & re.IGNORECASE:
            folded = pattern.casefold()
            return lambda value: value.casefold() == folded
        return pattern.__eq__
    if pattern == "*":
        return lambda value: True
    regex = re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z",
        re.DOTALL | flags,
    )
    return lambda value: regex.match(value) is not None


@functools.lru_cache(maxsize=4096)
def resource_matcher(pattern: str) -> Matcher:
    """Return a test for resources against one `Resource` pattern (case-sensitive)."""
    return _compile(pattern, 0)


@functools.lru_cache(maxsize=1024)
def action_matcher(pattern: str) -> Matcher:
    """Return a test for action names against one `Action` pattern (case-insensitive)."""
    return _compile(pattern, re.IGNORECASE)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _any_match(patterns: Any, value: str, matcher: Callable[[str], Matcher]) -> str | None:
    """Return the first string pattern in `patterns` that matches `value`, else None."""
    for pattern in _as_list(patterns):
        if isinstance(pattern, str) and matcher(pattern)(value):
            return pattern
    return None


def statement_matches(statement: Any, action: str, resource: str) -> str | None:
    """Tell whether one statement applies to `action` on `resource`, whatever its Effect.

    Returns what matched, for explanations: the `Resource` pattern that covered the
    resource, or `NotResource […]` when the statement applies because the resource is not
    among those listed. None when the statement does not apply (or is not a statement).
    """
    if not isinstance(statement, dict):
        return None
    if "NotAction" in statement:
        if "Action" in statement or _any_match(statement["NotAction"], action, action_matcher):
            return None
    elif _any_match(statement.get("Action"), action, action_matcher) is None:
        return None
    if "NotResource" in statement:
        if "Resource" in statement:
            return None
        excluded = statement["NotResource"]
        if _any_match(excluded, resource, resource_matcher) is not None:
            return None
        return "NotResource " + ", ".join(str(p) for p in _as_list(excluded))
    return _any_match(statement.get("Resource"), resource, resource_matcher)


def statements_match(statements: Any, action: str, resource: str) -> PolicyResult:
    """Evaluate a statement list (or a single statement) for `action` on `resource`.

    An explicit Deny wins over any Allow; without an Allow the result is an implicit deny.
    Not tied to the Lambda authorizer: IAM identity and resource policies use it too.
    """
    allowed_by = None
    for statement in _as_list(statements):
        matched = statement_matches(statement, action, resource)
        if matched is None:
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return PolicyResult("Deny", matched)
        if effect == "Allow" and allowed_by is None:
            allowed_by = matched
    if allowed_by is not None:
        return PolicyResult("Allow", allowed_by)
    return PolicyResult("ImplicitDeny", None)


def evaluate(policy: dict[str, Any], arn: str) -> PolicyResult:
    """Return whether an authorizer's policy document allows invoking `arn`."""
    return statements_match(policy.get("Statement"), INVOKE, arn)


def _context_value_problem(key: str, value: Any) -> str | None:
    # bool is an int subclass, so one isinstance covers the three allowed types.
    if isinstance(value, str | int | float):
        return None
    kind = {type(None): "null", list: "an array", dict: "an object"}.get(type(value), "not JSON")
    return (
        f"context.{key} is {kind}; REST APIs accept only strings, numbers and booleans "
        "as context values"
    )


def malformed(response: Any, rest: bool) -> str | None:
    """Say what is wrong with a policy-mode authorizer response, or None if it is usable.

    REST (`api-gateway-lambda-authorizer-output`): context values must be strings, numbers or
    booleans; "you cannot set a JSON object or array as a valid value". A null is none of the
    three and gets the same 500 AuthorizerConfigurationException (serverless-offline PR #1376
    tested this against API Gateway: any other type is a 500). HTTP APIs
    (`http-api-lambda-authorizer`) document no such limit: their policy-mode examples return
    arrays and maps, and a null passes through as JSON null.
    """
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
        if ("Action" in statement) == ("NotAction" in statement):
            return "a statement needs exactly one of Action and NotAction"
        if ("Resource" in statement) == ("NotResource" in statement):
            return "a statement needs exactly one of Resource and NotResource"
    context = response.get("context")
    if context is not None:
        if not isinstance(context, dict):
            return "context is not an object"
        if rest:
            for key, value in context.items():
                problem = _context_value_problem(key, value)
                if problem is not None:
                    return problem
    return None
