"""Evaluate IAM policy statements for an action on a resource, as API Gateway and IAM do.

Owns the statement matching every policy-based decision of the gateway shares: a Lambda
authorizer's policy document (always the action `execute-api:Invoke` on the method or
route ARN) and the IAM identity policies of `AWS_IAM` routes (`iam_authorizer.py`).
`statements_match` is the public entry; `evaluate` is the Lambda authorizer's use of it;
`malformed` checks an authorizer's response.

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
- `Condition` and policy variables are evaluated only when the caller passes a request
  context (IAM identity policies): a Lambda authorizer's policy is checked without one, as
  API Gateway documents no conditions for it. With a context
  (`reference_policies_elements_condition_operators.html`,
  `..._condition-single-vs-multi-valued-context-keys.html`,
  `reference_policies_variables.html`):
  `String(Not)Equals(IgnoreCase)`, `String(Not)Like`, `(Not)IpAddress`, `Bool`, `Null`, each
  with `...IfExists` and the `ForAnyValue:`/`ForAllValues:` set prefixes; keys are
  case-insensitive; every operator of a block and every key of an operator must hold; a key
  missing from the context fails a positive operator and satisfies a negated one (and
  `IfExists` and `ForAllValues` satisfy both); an operator the emulator does not know makes
  the statement not apply. `${aws:username}`, `${aws:userid}`, `${aws:PrincipalArn}`,
  `${aws:SourceIp}` and `${cognito-identity.amazonaws.com:sub}` (any context key) are
  replaced in `Resource` and condition values; a statement naming a variable the request
  has none of does not apply.

What API Gateway does with a Lambda authorizer's `NotAction`/`NotResource` is not documented
separately; the emulator applies IAM's meaning (unverified for authorizer policies).
"""

from __future__ import annotations

import functools
import ipaddress
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


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


class _MissingVariable(Exception):
    pass


def _substitute(value: Any, context: dict[str, Any]) -> Any:
    """Replace `${key}` policy variables by the request's values (keys case-insensitive)."""
    if not isinstance(value, str) or "${" not in value:
        return value

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _ESCAPES:
            return _ESCAPES[name]
        found = context.get(name.lower())
        if found is None or isinstance(found, list):
            raise _MissingVariable(name)
        return str(found)

    return _VARIABLE.sub(one, value)


def _string_test(kind: str, ignore_case: bool) -> Callable[[str, str], bool]:
    if kind == "Like":
        return lambda actual, pattern: resource_matcher(pattern)(actual)
    if ignore_case:
        return lambda actual, wanted: actual.casefold() == wanted.casefold()
    return lambda actual, wanted: actual == wanted


def _ip_test(actual: str, wanted: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return False


def _bool_test(actual: str, wanted: str) -> bool:
    return actual.lower() == wanted.lower()


# Operator (without IfExists and set prefixes) -> (value test, negated).
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_string_test("Equals", False), False),
    "StringNotEquals": (_string_test("Equals", False), True),
    "StringEqualsIgnoreCase": (_string_test("Equals", True), False),
    "StringNotEqualsIgnoreCase": (_string_test("Equals", True), True),
    "StringLike": (_string_test("Like", False), False),
    "StringNotLike": (_string_test("Like", False), True),
    "IpAddress": (_ip_test, False),
    "NotIpAddress": (_ip_test, True),
    "Bool": (_bool_test, False),
    "ArnEquals": (_string_test("Like", False), False),
    "ArnLike": (_string_test("Like", False), False),
    "ArnNotEquals": (_string_test("Like", False), True),
    "ArnNotLike": (_string_test("Like", False), True),
}


def _operator_holds(operator: str, block: Any, context: dict[str, Any]) -> bool:
    """Whether one condition operator's block holds for the request context."""
    if not isinstance(block, dict):
        return False
    set_kind, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    for key, wanted in block.items():
        actual = context.get(str(key).lower())
        wanted_values = [_substitute(str(w), context) for w in _as_list(wanted)]
        if name == "Null":  # "true": the key must be absent; "false": present
            if (actual is None) != (str(wanted_values[0]).lower() == "true"):
                return False
            continue
        found = _OPERATORS.get(name)
        if found is None:
            return False
        test, negated = found
        if actual is None:
            # ForAllValues over no values holds (IAM's "vacuously true").
            if not (if_exists or negated or set_kind == "ForAllValues"):
                return False
            continue
        values = [str(v) for v in _as_list(actual)]
        if set_kind == "ForAllValues":
            matched = all(any(test(v, w) for w in wanted_values) for v in values)
        else:  # a single value, or ForAnyValue
            matched = any(test(v, w) for v in values for w in wanted_values)
        if matched == negated:
            return False
    return True


def conditions_hold(condition: Any, context: dict[str, Any]) -> bool:
    """Whether a statement's `Condition` holds (no Condition always holds)."""
    if condition is None:
        return True
    if not isinstance(condition, dict):
        return False
    try:
        return all(_operator_holds(op, block, context) for op, block in condition.items())
    except _MissingVariable:
        return False


def statement_matches(
    statement: Any, action: str, resource: str, context: dict[str, Any] | None = None
) -> str | None:
    """Tell whether one statement applies to `action` on `resource`, whatever its Effect.

    Returns what matched, for explanations: the `Resource` pattern that covered the
    resource, or `NotResource […]` when the statement applies because the resource is not
    among those listed. None when the statement does not apply (or is not a statement).
    With a request `context` (lower-case keys), its conditions and policy variables count.
    """
    if not isinstance(statement, dict):
        return None
    if "NotAction" in statement:
        if "Action" in statement or _any_match(statement["NotAction"], action, action_matcher):
            return None
    elif _any_match(statement.get("Action"), action, action_matcher) is None:
        return None
    if context is not None:
        try:
            statement = {
                **statement,
                **{
                    key: [_substitute(p, context) for p in _as_list(statement[key])]
                    for key in ("Resource", "NotResource")
                    if key in statement
                },
            }
        except _MissingVariable:
            return None
        if not conditions_hold(statement.get("Condition"), context):
            return None
    if "NotResource" in statement:
        if "Resource" in statement:
            return None
        excluded = statement["NotResource"]
        if _any_match(excluded, resource, resource_matcher) is not None:
            return None
        return "NotResource " + ", ".join(str(p) for p in _as_list(excluded))
    return _any_match(statement.get("Resource"), resource, resource_matcher)


def statements_match(
    statements: Any, action: str, resource: str, context: dict[str, Any] | None = None
) -> PolicyResult:
    """Evaluate a statement list (or a single statement) for `action` on `resource`.

    An explicit Deny wins over any Allow; without an Allow the result is an implicit deny.
    Not tied to the Lambda authorizer: IAM identity policies use it too, with a request
    `context` (lower-case condition keys) for their conditions and policy variables.
    """
    allowed_by = None
    for statement in _as_list(statements):
        matched = statement_matches(statement, action, resource, context)
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
