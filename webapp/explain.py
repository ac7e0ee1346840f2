"""Explain a call's outcome in plain words: what API Gateway did, what the authorizer decided
and why, which policy statement matched.

The explanation comes from the local gateway's trace when there is one; against AWS, from
the status, the headers and what the web app can read in the token it sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from .api_client import CallResult
from .tokens import audiences
from .tokens import classify
from .tokens import decode
from .tokens import relative

REASONS = {
    "allowed": "the token is valid and carries what the route needs",
    "identity_source_missing": "no Authorization header was sent, so API Gateway refused the "
    "call without invoking the authorizer",
    "validation_expression": "the Authorization header does not match the authorizer's "
    "validation expression (it must read `Bearer <token>`, capital B),"
    " so API Gateway refused it without invoking the authorizer",
    "missing_token": "no token was sent",
    "not_bearer": "the Authorization header does not use the Bearer scheme",
    "malformed_token": "the token is not a well-formed JWT",
    "token_too_large": "the token is larger than the authorizer accepts",
    "opaque_token": "this is an opaque access token: it was issued without an `audience`, so "
    "only the identity provider's /userinfo accepts it",
    "encrypted_token": "this is an encrypted token (JWE); the API takes signed JWTs",
    "alg_not_allowed": "the token is not signed with RS256, the only algorithm accepted",
    "crit_unsupported": "the token asks for extensions (`crit`) the API does not implement",
    "header_key_reference": "the token names its own key (jku/x5u/x5c/jwk); keys come only "
    "from the issuer's JWKS",
    "wrong_token_type": "the token's `typ` says it is not an access token",
    "kid_missing": "the token has no key id (`kid`)",
    "unknown_kid": "the token's key id is not in the issuer's JWKS",
    "jwks_unavailable": "the authorizer could not fetch the issuer's signing keys",
    "bad_signature": "the signature does not match: the token was altered or forged",
    "wrong_issuer": "the token was issued by someone else than the configured issuer",
    "wrong_audience": "the token is for another API (its `aud` does not include this one)",
    "id_token": "this is an ID token: its audience is the client id, not the API",
    "missing_claim": "the token lacks a required claim",
    "invalid_claim": "a claim has the wrong type",
    "token_expired": "the token has expired",
    "token_not_yet_valid": "the token is not valid yet (`nbf`)",
    "issued_in_future": "the token claims to be issued in the future",
    "insufficient_permission": "the token is valid but lacks the permission this route needs",
    "insufficient_scope": "the token's `scope` has none of the scopes this route requires",
    "unknown_route": "the authorizer does not know this route, so it denies it",
    "explicit_deny": "the cached policy explicitly denies this route",
    "implicit_deny": "no Allow statement of the cached policy covers this route",
    "misconfigured": "the authorizer is misconfigured and refuses everything",
    "authorizer_error": "the authorizer failed",
    "authorizer_malformed_response": "the authorizer returned a malformed response",
    "invalid_claims": "the token's claims are invalid",
}

STATUS_MEANINGS = {
    200: "the call went through",
    201: "the note was created",
    400: "the function refused the request body",
    401: "API Gateway refused to authenticate the call",
    403: "API Gateway refused the call",
    404: "there is no such route",
    500: "the authorizer or the integration failed",
    502: "the function failed or answered something API Gateway could not map",
}


@dataclass
class Explanation:
    """A headline and the steps behind it."""

    headline: str
    steps: list[str] = field(default_factory=list)
    reason_code: str | None = None
    detail: str | None = None
    authorizer_invoked: bool | None = None
    cache: str | None = None
    policy: dict[str, Any] | None = None
    hops: list[str] = field(default_factory=list)  # for the flow diagram


def reason_words(code: str | None, detail: str | None = None) -> str:
    """Put a reason code in plain words, with the authorizer's detail when it adds to it."""
    words = REASONS.get(code or "", code or "no reason recorded")
    if detail and code in (
        "token_expired",
        "token_not_yet_valid",
        "insufficient_permission",
        "wrong_issuer",
        "wrong_audience",
        "unknown_kid",
        "id_token",
        "insufficient_scope",
    ):
        return f"{words} ({detail.rstrip('.')})"
    return words


def explain(
    result: CallResult, sent_token: str | None, expected_audience: str, now: float | None = None
) -> Explanation:
    """Explain one call."""
    if result.error:
        return Explanation(result.error, hops=["webapp"])
    status = result.status or 0
    meaning = STATUS_MEANINGS.get(status, "")
    if result.trace:
        return _from_trace(result, status, meaning)
    return _without_trace(result, status, meaning, sent_token, expected_audience, now)


def _from_trace(result: CallResult, status: int, meaning: str) -> Explanation:
    trace = result.trace or {}
    authorizer = trace.get("authorizer")
    steps = []
    route = (trace.get("request") or {}).get("route")
    hops = ["webapp", "gateway"]
    if route is None:
        steps.append(f"API Gateway has no {result.method} route here: {trace.get('summary')}")
        return Explanation(f"{status}: {meaning}.", steps, hops=hops)
    steps.append(f"API Gateway matched the route {route}.")
    explanation = Explanation("", steps, hops=hops)
    if authorizer is None:
        steps.append("The route has no authorizer: anyone may call it.")
    else:
        explanation.authorizer_invoked = bool(authorizer.get("invoked"))
        explanation.cache = authorizer.get("cache")
        style = authorizer.get("style", "authorizer")
        if not authorizer.get("identity_source_present"):
            steps.append(
                f"The {style} needs {', '.join(authorizer.get('identity_sources', []))}"
                ", which the request did not carry."
            )
        elif authorizer.get("type") == "JWT":
            steps.append(f"API Gateway's own {style} checked the token (no Lambda involved).")
        elif authorizer.get("cache") == "hit":
            steps.append(
                f"The {style} was not invoked: API Gateway reused the policy it cached "
                f"for this token (TTL {authorizer.get('ttl')} s)."
            )
        elif authorizer.get("invoked"):
            start = "cold start" if authorizer.get("cold_start") else "warm"
            steps.append(
                f"API Gateway invoked the {style} ({start}, "
                f"{authorizer.get('duration_ms', 0):.1f} ms)."
            )
            hops.append("authorizer")
        decision = authorizer.get("decision") or {}
        code = authorizer.get("reason") or decision.get("reason")
        detail = decision.get("detail") or authorizer.get("detail")
        needed = _needed_permission(authorizer.get("context"), route)
        if code == "explicit_deny" and needed:
            # A cached policy written for another route: it denied this one up front.
            code = "insufficient_permission"
            detail = f"{route} needs `{needed}`; the policy cached for this token denies it"
        explanation.reason_code = code
        explanation.detail = detail
        outcome = authorizer.get("outcome")
        verdict = {
            "allow": "allowed the call",
            "deny": "denied the call",
            "unauthorized": "refused the token",
            "error": "failed",
        }.get(outcome or "", outcome or "decided")
        steps.append(f"The authorizer {verdict}: {reason_words(code, detail)}.")
        if authorizer.get("cached_decision_reason") and code != "allowed":
            steps.append(
                "The cached policy was written when the token first came; it lists "
                "every route with Allow or Deny."
            )
        policy = trace.get("policy")
        if policy:
            explanation.policy = policy
            effect = {
                "Allow": "allows",
                "Deny": "explicitly denies",
                "ImplicitDeny": "does not cover",
            }.get(policy.get("effect"), "?")
            statement = (
                f" (statement resource {policy['resource']})" if policy.get("resource") else ""
            )
            steps.append(f"The policy {effect} {policy.get('arn')}{statement}.")
        if authorizer.get("error"):
            steps.append(f"Error: {authorizer['error'].get('message')}.")
    integration = trace.get("integration")
    if integration:
        hops.append("function")
        start = "cold start" if integration.get("cold_start") else "warm"
        steps.append(
            f"The function {integration.get('function')} answered "
            f"{integration.get('status', status)} ({start})."
        )
    if explanation.reason_code and status >= 400:
        detail = explanation.detail
        explanation.headline = f"{status}: {reason_words(explanation.reason_code, detail)}."
    else:
        explanation.headline = f"{status}: {meaning}."
    if not policy_seen(trace) and status >= 400:
        steps.append(trace.get("summary", ""))
    return explanation


def _needed_permission(context: Any, route: str) -> str | None:
    """Find what a route needs in the authorizer context's `denied` (string or mapping)."""
    denied = (context or {}).get("denied") if isinstance(context, dict) else None
    if isinstance(denied, dict):
        return denied.get(route) or None
    if isinstance(denied, str):
        for part in denied.split("; "):
            name, _, permission = part.partition(" needs ")
            if name == route and permission:
                return permission
    return None


def policy_seen(trace: dict[str, Any]) -> bool:
    """Tell whether the trace's summary would only repeat the policy step."""
    return bool(trace.get("policy"))


def _without_trace(
    result: CallResult,
    status: int,
    meaning: str,
    sent_token: str | None,
    expected_audience: str,
    now: float | None,
) -> Explanation:
    now = time.time() if now is None else now
    steps = [
        "No trace is available: this API is not the local gateway (on AWS, the "
        "authorizer's decision line is in CloudWatch Logs"
        + (f", request id {result.request_id}" if result.request_id else "")
        + ")."
    ]
    code = None
    if status in (401, 403) and sent_token:
        kind = classify(sent_token)
        _, claims = decode(sent_token) if kind == "JWT" else ({}, {})
        exp = claims.get("exp")
        if kind == "opaque":
            code = "opaque_token"
        elif "nonce" in claims:
            code = "id_token"
        elif isinstance(exp, int | float) and exp < now:
            code = "token_expired"
            steps.append(f"The token you sent expired {relative(now - exp)} ago.")
        elif claims and expected_audience not in audiences(claims):
            code = "wrong_audience"
        if code:
            steps.append(f"What the web app sees in the token: {reason_words(code)}.")
    elif status in (401, 403):
        code = "missing_token"
        steps.append("No token was sent.")
    www = next((v for k, v in result.headers if k.lower() == "www-authenticate"), None)
    if www:
        steps.append(f"API Gateway said: {www}")
    headline = f"{status}: {reason_words(code) if code else meaning}."
    return Explanation(headline, steps, reason_code=code, hops=["webapp", "gateway"])
