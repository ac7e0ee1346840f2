"""Which IAM role an identity pool login gets, and whether the role's trust policy lets it in.

Role choice follows https://docs.aws.amazon.com/cognito/latest/developerguide/role-based-access-control.html:
a provider without a role mapping gets the pool's authenticated role; a `Token` mapping
takes `CustomRoleArn` when it is one of the token's `cognito:roles` (else the request is
denied), else `cognito:preferred_role`; a `Rules` mapping takes the first rule that matches
(`Equals`, `NotEqual`, `StartsWith`, `Contains`; `NotEqual` on a missing claim is skipped);
when nothing decides, `AmbiguousRoleResolution` gives the authenticated role or denies.

A claim holding a list (Auth0's namespaced roles claim is an array) matches `Equals`,
`StartsWith` and `Contains` when one of its values does, and `NotEqual` when none equals:
the lab's reading, as AWS documents only string claims.

The trust check reads the role's `AssumeRolePolicyDocument` the way STS does for
`sts:AssumeRoleWithWebIdentity`
(https://docs.aws.amazon.com/cognito/latest/developerguide/role-trust-and-permissions.html):
a `Federated` principal, the action, and the `StringEquals`/`StringLike` conditions (with
`ForAnyValue:`) on `cognito-identity.amazonaws.com:aud` and `:amr`. Other condition
operators are not understood and make the statement not match (deny rather than guess).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from .account import IdentityPool
from .account import Role
from .account import RoleMapping
from .account import TrustedProvider
from .errors import AwsError
from .errors import not_authorized

NO_ROLE = "Invalid identity pool configuration. Check assigned IAM roles for this pool."


def _values(claim: Any) -> list[str] | None:
    if claim is None:
        return None
    if isinstance(claim, list):
        return [str(v) for v in claim]
    if isinstance(claim, bool):
        return ["true" if claim else "false"]
    return [str(claim)]


def rule_matches(match_type: str, claim: Any, value: str) -> bool | None:
    """Whether a rule matches a claim; None when it is skipped (NotEqual, missing claim)."""
    values = _values(claim)
    if values is None:
        return None if match_type == "NotEqual" else False
    if match_type == "Equals":
        return value in values
    if match_type == "NotEqual":
        return value not in values
    if match_type == "StartsWith":
        return any(v.startswith(value) for v in values)
    if match_type == "Contains":
        return any(value in v for v in values)
    return False


def choose_role(
    pool: IdentityPool,
    provider: TrustedProvider,
    claims: dict[str, Any],
    custom_role_arn: str | None,
) -> tuple[str, str]:
    """The role ARN for a login, with a sentence saying why (for traces and tests)."""
    client = claims.get("aud") if isinstance(claims.get("aud"), str) else None
    mapping: RoleMapping | None = pool.mapping_for(provider, client)
    if mapping is not None and mapping.kind == "Token":
        roles = _values(claims.get("cognito:roles")) or []
        if custom_role_arn:
            if custom_role_arn not in roles:
                raise not_authorized(
                    "The CustomRoleArn is not one of the roles in the token's cognito:roles."
                )
            return custom_role_arn, "CustomRoleArn, one of the token's cognito:roles"
        preferred = claims.get("cognito:preferred_role")
        if isinstance(preferred, str) and preferred:
            return preferred, "the token's cognito:preferred_role"
    elif mapping is not None:
        for index, rule in enumerate(mapping.rules, 1):
            if rule_matches(rule.match_type, claims.get(rule.claim), rule.value):
                return rule.role_arn, (
                    f"rule {index}: {rule.claim} {rule.match_type} {rule.value!r}"
                )
    if mapping is not None and mapping.ambiguous == "Deny":
        raise not_authorized(
            f"The ambiguous role mapping rules for: {provider.key} denied this request."
        )
    authenticated = pool.roles.get("authenticated")
    if not authenticated:
        raise AwsError("InvalidIdentityPoolConfigurationException", NO_ROLE)
    why = "no role mapping for the provider" if mapping is None else "no rule decided"
    return authenticated, f"the pool's authenticated role ({why})"


def _condition_holds(operator: str, block: Any, context: dict[str, list[str]]) -> bool:
    if not isinstance(block, dict):
        return False
    qualifier, _, base = operator.rpartition(":")
    if base not in ("StringEquals", "StringLike") or qualifier not in ("", "ForAnyValue"):
        return False  # not understood: the statement does not apply
    for key, expected in block.items():
        wanted = [str(e) for e in (expected if isinstance(expected, list) else [expected])]
        have = context.get(str(key).lower(), [])
        if base == "StringEquals":
            hits = [h for h in have if h in wanted]
        else:
            hits = [h for h in have if any(fnmatch.fnmatchcase(h, w) for w in wanted)]
        if not hits or (qualifier == "" and len(have) != 1):
            return False
    return True


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def trusts(role: Role, federated: str, context: dict[str, list[str]]) -> bool:
    """Whether the role's trust policy lets `federated` call sts:AssumeRoleWithWebIdentity
    with these condition keys (lower-case names, e.g. `cognito-identity.amazonaws.com:aud`)."""
    statements = role.trust_policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        principal = statement.get("Principal") or {}
        if not isinstance(principal, dict) or federated not in _listed(principal.get("Federated")):
            continue
        actions = [a.lower() for a in _listed(statement.get("Action"))]
        if not any(fnmatch.fnmatchcase("sts:assumerolewithwebidentity", a) for a in actions):
            continue
        conditions = statement.get("Condition") or {}
        if not all(_condition_holds(op, block, context) for op, block in conditions.items()):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed
