"""Explain a call's outcome in plain words: what API Gateway did, what the authorizer decided
and why, which policy statement matched.

The explanation comes from the local gateway's trace when there is one (a documented JSON
contract, the README's "The trace", read here only through the views below), led by the
stage that decided (`decided_by`): API Gateway before any authorizer, the authorizer or a
cached policy, or the function. Against AWS it comes from the status, the headers and what
the web app can read in the token it sent. The stages and their answers follow
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
and https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from .api_client import COGNITO_STYLES
from .api_client import CallResult
from .tokens import audiences
from .tokens import classify
from .tokens import decode
from .tokens import relative

# Every reason code the gateway's trace can carry, in words. The codes come from the
# authorizer (`authorizer/`: its decision line), API Gateway's own JWT authorizer and the
# gateway's stages; a test reads them from that source, so a new code without words fails.
REASONS = {
    "allowed": "the token is valid and carries what the route needs",
    # API Gateway, before any authorizer runs:
    "identity_source_missing": "no Authorization header was sent (or it was empty), so API "
    "Gateway answered 401 itself, without invoking the authorizer",
    "validation_expression": "the Authorization header does not match the TOKEN authorizer's "
    "validation expression, so API Gateway answered 401 itself, without invoking the authorizer",
    # The token, as the Lambda authorizer or the JWT authorizer reads it:
    "missing_token": "no token was sent (the Authorization header is missing or empty)",
    "not_bearer": "the Authorization header does not use the Bearer scheme",
    "malformed_token": "the token is not a well-formed JWT (or the header does not carry "
    "exactly one token after `Bearer`)",
    "token_too_large": "the token is larger than the authorizer accepts",
    "opaque_token": "this is an opaque access token: it was issued without an `audience`, so "
    "only the identity provider's /userinfo accepts it",
    "encrypted_token": "this is an encrypted token (JWE); the API takes signed JWTs",
    "alg_not_allowed": "the token's signing algorithm (`alg`) is not accepted (the Lambda "
    "authorizer takes RS256 only, API Gateway's JWT authorizer RSA algorithms only)",
    "crit_unsupported": "the token asks for extensions (`crit`) the API does not implement",
    "header_key_reference": "the token names its own key (jku/x5u/x5c/jwk); keys come only "
    "from the issuer's JWKS",
    "wrong_token_type": "the token's `typ` says it is not an access token",
    "kid_missing": "the token has no key id (`kid`)",
    "unknown_kid": "the token's key id (`kid`) is not among the issuer's signing keys (API "
    "Gateway's JWT authorizer says the same when it cannot fetch them)",
    "jwks_unavailable": "the authorizer could not fetch the issuer's signing keys",
    "bad_signature": "the signature does not match: the token was altered or forged",
    "wrong_issuer": "the token was issued by someone else than the configured issuer",
    "wrong_audience": "the token is for another API (its `aud` does not include this one)",
    "id_token": "this is an ID token: its audience is the client id, not the API",
    "wrong_token_use": (
        "a Cognito-configured authorizer takes only access tokens (`token_use` access)"
    ),
    "wrong_client": (
        "the Cognito access token was issued to an app client this API does not accept "
        "(its `client_id`, which stands in for `aud`)"
    ),
    "missing_claim": "the token lacks a required claim",
    "invalid_claim": "a claim has the wrong type",
    "invalid_claims": "the token's claims are invalid",
    "token_expired": "the token has expired",
    "token_not_yet_valid": "the token is not valid yet (`nbf`)",
    "issued_in_future": "the token claims to be issued in the future (`iat`)",
    # The route:
    "insufficient_permission": "the token is valid but lacks the permission this route needs",
    "insufficient_scope": "the token's `scope` has none of the scopes this route requires",
    # API Gateway's Cognito user pool authorizer (REST):
    "cognito_id_token_required": "this method lists no authorization scopes, so API Gateway's "
    "Cognito authorizer takes only ID tokens (`token_use: id`), and this is an access token",
    "cognito_access_token_required": "this method lists authorization scopes, so API Gateway's "
    "Cognito authorizer takes only access tokens carrying one of them, and this is an ID token",
    "cognito_validation_expression": "the token does not match the Cognito authorizer's "
    "validation expression, so API Gateway answered 401",
    "unknown_route": "the authorizer does not know this route, so it denies it",
    "explicit_deny": "the cached policy explicitly denies this route",
    "implicit_deny": "no Allow statement of the cached policy covers this route",
    # The authorizer itself:
    "misconfigured": "the authorizer is misconfigured (a setting is missing or invalid) and "
    "refuses everything",
    "bad_event": "the authorizer could not read a method or route ARN in the event API Gateway "
    "sent it, so it refused the call",
    "internal_error": "the authorizer hit an unexpected error and refused the call rather than "
    "risk allowing it (its log has the details)",
    "unauthorized": "the authorizer raised `Unauthorized` without logging a reason of its own",
    "authorizer_error": "the authorizer function failed (it raised an error other than "
    "`Unauthorized`, or timed out), which API Gateway answers with 500",
    "authorizer_malformed_response": "the authorizer returned a response API Gateway cannot "
    "use (no `principalId`, a bad policy or context, `isAuthorized` not a boolean), which it "
    "answers with 500",
    # IAM authorization (SigV4) on AWS_IAM routes:
    "sigv4_missing": "the request is not signed with AWS Signature Version 4 (no "
    "Authorization header and no presigned query string)",
    "sigv4_malformed": "the Authorization header is not a SigV4 signature (it needs "
    "Credential, SignedHeaders and Signature, and an X-Amz-Date or Date header)",
    "sigv4_unsupported_algorithm": "the signature uses an algorithm other than AWS4-HMAC-SHA256",
    "sigv4_bad_credential": "the signature's credential scope is not "
    "<key>/<date>/<region>/execute-api/aws4_request",
    "sigv4_wrong_service": "the signature is scoped to another AWS service than execute-api",
    "sigv4_wrong_region": "the signature is scoped to another region than the API's",
    "sigv4_scope_date": "the date in the signature's scope is not the date it was signed",
    "sigv4_host_not_signed": "the Host header is not among the signed headers",
    "sigv4_bad_date": "the signing time (X-Amz-Date) is not in SigV4's yyyymmddThhmmssZ form",
    "sigv4_expired": "the signature is too old: it must reach API Gateway within 5 minutes of "
    "its time (or before a presigned URL expires)",
    "sigv4_not_yet_current": "the signature is dated more than 5 minutes in the future",
    "unknown_access_key": "the access key id is not one of this AWS account's",
    "session_token_missing": "temporary credentials were used without their session token "
    "(X-Amz-Security-Token)",
    "session_token_invalid": "the session token (X-Amz-Security-Token) is not the one issued "
    "with these temporary credentials",
    "unexpected_session_token": "a session token was sent with a long-term access key",
    "credentials_expired": "the temporary credentials have expired; get new ones",
    "signature_mismatch": "the signature does not match what API Gateway computed: a wrong "
    "secret key, or the request (path, query, headers, body) changed after it was signed",
    "iam_allowed": "the request is signed by a known principal whose IAM policy allows "
    "execute-api:Invoke on this route",
    "iam_not_allowed": "no IAM policy of the signing principal allows execute-api:Invoke on "
    "this route",
    "iam_explicit_deny": "an IAM policy of the signing principal explicitly denies "
    "execute-api:Invoke on this route",
}

# Codes whose detail (from the authorizer's decision line or the JWT authorizer) names what
# exactly was wrong. Other details may quote the request (a `not_bearer` scheme can be the
# start of a token), so they stay in the trace.
_DETAILED = frozenset(
    (
        "token_expired",
        "token_not_yet_valid",
        "issued_in_future",
        "insufficient_permission",
        "wrong_issuer",
        "wrong_audience",
        "unknown_kid",
        "insufficient_scope",
        "alg_not_allowed",
        "missing_claim",
        "invalid_claim",
        "invalid_claims",
        "malformed_token",
    )
)

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


# The hops of the flow diagram (`templates/_flow.html`), each lit only when it happened on
# this call: read from the trace (a Lambda authorizer invoked, keys fetched, the function
# run) and from what the web app did (a token fetched from the identity provider).
HOPS = {
    "webapp": "the browser asked the web app",
    "idp": "the web app fetched the token it sent from the identity provider",
    "gateway": "the web app called API Gateway",
    "cache": "API Gateway answered from its authorizer result cache",
    "builtin": "API Gateway's built-in authorizer checked the token",
    "builtin-jwks": "API Gateway fetched the issuer's signing keys (JWKS)",
    "identity-pool": "the web app exchanged your ID token at the identity pool for AWS credentials",
    "iam": "API Gateway checked the SigV4 signature and the caller's IAM policies (no token, "
    "no Lambda)",
    "authorizer": "API Gateway invoked the Lambda authorizer",
    "authorizer-jwks": "the Lambda authorizer fetched the issuer's signing keys (JWKS)",
    "function": "API Gateway ran the function",
}


def _sentence(text: str) -> str:
    """End a step with one full stop: a reason's words may end with their own (an AWS
    message such as "...should have been '...'." ends in one already)."""
    return text if text.rstrip("'\"`)\n ").endswith((".", "!", "?")) else text + "."


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
    # What happened on this call, for the flow diagram: the hops (see HOPS) that were taken.
    hops: list[str] = field(default_factory=list)
    # IAM routes: who signed (`principal`, `identity_id`, `role`), the deciding `statement`,
    # and on a signature mismatch the `canonical_request` API Gateway computed.
    iam: dict[str, Any] | None = None


def reason_words(code: str | None, detail: str | None = None) -> str:
    """Put a reason code in plain words, with the authorizer's detail when it adds to it."""
    if not code:
        return "no reason recorded"
    words = REASONS.get(code, code)
    if detail and code in _DETAILED:
        detail = detail.strip().rstrip(".")
        if detail.lower() not in words.lower():  # the JWT authorizer's details repeat ours
            return f"{words} ({detail})"
    return words


def explain(
    result: CallResult, sent_token: str | None, expected_audience: str, now: float | None = None
) -> Explanation:
    """Explain one call."""
    if result.error:
        return Explanation(result.error, hops=["webapp"])
    status = result.status or 0
    meaning = STATUS_MEANINGS.get(status, "")
    trace = TraceView(result.trace) if result.trace else None
    if trace is not None:
        explanation = _from_trace(trace, status, meaning)
    else:
        explanation = _without_trace(result, status, meaning, sent_token, expected_audience, now)
    explanation.steps.extend(cognito_surprises(result, sent_token, explanation))
    permissions = permissions_step(trace, result.json_body, sent_token) if trace else None
    if permissions:
        explanation.steps.append(permissions)
    return explanation


def permissions_step(trace: TraceView, body: Any, sent_token: str | None) -> str | None:
    """Say where the function's `caller.permissions` came from, for this authorizer.

    The same token lists different permissions behind different authorizers, because each
    hands the function something else (`api/proxy.py` reads each shape): our Lambda
    authorizer grants on `permissions` and `scope` alike and passes both in its context; API
    Gateway's JWT and Cognito authorizers pass the token's claims, and decide on `scope` only.
    """
    caller = body.get("caller") if isinstance(body, dict) else None
    authorizer = trace.authorizer
    if not isinstance(caller, dict) or "permissions" not in caller or authorizer is None:
        return None
    if authorizer.type == "AWS_IAM":
        return (
            "With IAM there is no token and no claims: what this caller may call is decided by "
            "the IAM policies of its principal (above), and the function knows the caller by "
            "`requestContext.identity` (REST) or `requestContext.authorizer.iam` (HTTP)."
        )
    if authorizer.type in ("TOKEN", "REQUEST"):
        return (
            "`caller.permissions` is what the Lambda authorizer put in its context: the "
            "token's `permissions` claim followed by the words of its `scope` (which is why "
            "`openid`, `profile`… can appear): this authorizer grants a route when either "
            "holds the permission the route needs."
        )
    claims = _claims_of(sent_token)
    scopes = (
        "this route lists " + ", ".join(f"`{s}`" for s in authorizer.route_scopes)
        if authorizer.route_scopes
        else "this route lists none, so any valid token passes"
    )
    source = (
        "the token's `permissions` claim"
        if claims.get("permissions") or not claims
        else "the words of the token's `scope` (it has no `permissions` claim)"
    )
    checks = (
        f"it checks only `scope` (or `scp`) against the route's authorization scopes ({scopes})"
        if authorizer.type == "JWT"
        else "it checks the token type and, on a method with authorization scopes, `scope`"
    )
    return (
        f"`caller.permissions` is {source}, from the claims API Gateway's {authorizer.style} "
        f"passed to the function. That authorizer never reads `permissions`: {checks}. The "
        "Lambda styles list more (the `scope` words too, like `openid`), because our Lambda "
        "authorizer grants on `permissions` and `scope` alike."
    )


# Cognito's surprises ---------------------------------------------------------------------------
# What people trip over when they move from Auth0 to a Cognito user pool, in words, following
# https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-integrate-with-cognito.html
# (a method without OAuth scopes takes ID tokens, one with scopes access tokens) and
# https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-with-identity-providers.html
# (`token_use`, `scope`, `cognito:groups`; an access token has `client_id`, no `aud`).

SURPRISE_ID_TOKEN_ACCEPTED = (
    "Surprise: API Gateway's Cognito authorizer accepted an ID token here. A method that lists "
    "no authorization scopes (`AuthorizationScopes`) takes only ID tokens of the pool, from any "
    "of its app clients: list a scope on the method to make it take access tokens instead."
)
SURPRISE_ACCESS_TOKEN_REFUSED = (
    "Surprise: the access token is refused although it is valid. The Cognito authorizer picks "
    "the token type by the method: without authorization scopes it wants the ID token, with "
    "scopes an access token carrying one of them. Send the ID token here, or give the method a "
    "scope (`Auth.AuthorizationScopes`, e.g. `notes-api/read`)."
)
SURPRISE_SCOPE_NOT_GROUPS = (
    "In Cognito, `scope` and `cognito:groups` are different things: `scope` (access tokens "
    "only) is what the app client may ask of the resource server (`notes-api/read`, "
    "`notes-api/write`), the same for every user of that client; `cognito:groups` is what the "
    "user belongs to (`customers`, `admins`). API Gateway's authorizers check only scopes, "
    "never groups: a group check is your code's job (here the function's)."
)
SURPRISE_FOREIGN_TOKEN = (
    "This is an Auth0 token (issuer `{iss}`) sent to an API whose authorizer trusts only the "
    "Cognito user pool: an authorizer trusts one issuer and its keys. Log in with Cognito, or "
    "choose a Cognito M2M token."
)
SURPRISE_COGNITO_TO_AUTH0 = (
    "This is a Cognito token (`token_use: {use}`, issuer `{iss}`) sent to an API whose "
    "authorizer trusts only the Auth0 tenant: log in with Auth0, or choose an Auth0 M2M token."
)


def _claims_of(token: str | None) -> dict[str, Any]:
    if not token or classify(token) != "JWT":
        return {}
    return decode(token)[1]


def cognito_surprises(
    result: CallResult, sent_token: str | None, explanation: Explanation
) -> list[str]:
    """Return the Cognito surprises this call shows, as extra steps (none for most calls)."""
    status = result.status or 0
    claims = _claims_of(sent_token)
    use = claims.get("token_use")
    cognito_api = result.style.key in COGNITO_STYLES
    notes: list[str] = []
    if cognito_api and claims and use not in ("id", "access") and status in (401, 403):
        notes.append(SURPRISE_FOREIGN_TOKEN.format(iss=claims.get("iss", "?")))
    if not cognito_api and use in ("id", "access") and status in (401, 403):
        notes.append(SURPRISE_COGNITO_TO_AUTH0.format(use=use, iss=claims.get("iss", "?")))
    if not cognito_api:
        return notes
    code = explanation.reason_code
    if code == "allowed" and use == "id" and result.style.key == "rest-cognito":
        notes.append(SURPRISE_ID_TOKEN_ACCEPTED)
    if code == "cognito_id_token_required":
        notes.append(SURPRISE_ACCESS_TOKEN_REFUSED)
    groups = claims.get("cognito:groups")
    if use in ("id", "access") and (
        code == "insufficient_scope" or (status == 403 and result.action == "GET /admin")
    ):
        held = f" This token's groups: {', '.join(groups)}." if isinstance(groups, list) else ""
        scopes = claims.get("scope")
        held += f" Its scope: `{scopes}`." if scopes else " It has no `scope` at all."
        notes.append(SURPRISE_SCOPE_NOT_GROUPS + held)
    return notes


# The gateway's trace -------------------------------------------------------------------------
# The trace is a documented JSON contract (the README's "The trace"; typed by the gateway's
# `traces.py`). This page reads it only through the views below: each declares the keys it
# reads and the gateway type that documents them, and a test checks one against the other,
# so a renamed key fails a test instead of silently emptying the explanation.


class _Key:
    """One key of a trace block, read as `view.key`: the value, `default` when absent, or the
    nested block wrapped in `view` (None when absent and `optional`)."""

    def __init__(
        self, default: Any = None, view: type[_Block] | None = None, optional: bool = False
    ) -> None:
        self.default = default
        self.view = view
        self.optional = optional
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, block: _Block | None, owner: type | None = None) -> Any:
        if block is None:
            return self
        value = block._data.get(self.name, self.default)
        if self.view is None:
            return value
        if isinstance(value, dict):
            return self.view(value)
        return None if self.optional else self.view({})


class _Block:
    """A read-only view of one JSON object of the trace."""

    contract = ""  # the TypedDict of the gateway's traces.py that documents this block

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @classmethod
    def keys(cls) -> dict[str, _Key]:
        """The keys this page reads from the block."""
        return {k: v for k, v in vars(cls).items() if isinstance(v, _Key)}


class _Error(_Block):
    contract = "TraceError"
    type = _Key("")
    message = _Key()


class _Decision(_Block):
    contract = "TraceDecision"
    reason = _Key()
    detail = _Key()


class _Request(_Block):
    contract = "TraceRequest"
    method = _Key("")
    path = _Key("")
    route = _Key()


class _Signature(_Block):
    contract = "TraceSignature"
    placement = _Key("header")
    scope = _Key("")
    signed_headers = _Key(())
    timestamp = _Key("")
    session_token = _Key(False)


class _Principal(_Block):
    contract = "TracePrincipal"
    arn = _Key("")
    type = _Key("")
    policies = _Key(())
    role_arn = _Key()
    cognito_identity_id = _Key()


class _Statement(_Block):
    contract = "TraceStatement"
    policy = _Key("")
    effect = _Key("")
    resource = _Key()


class _Iam(_Block):
    contract = "TraceIam"
    signature = _Key(view=_Signature, optional=True)
    principal = _Key(view=_Principal, optional=True)
    statement = _Key(view=_Statement, optional=True)
    canonical_request = _Key()
    string_to_sign = _Key()


class _Authorizer(_Block):
    contract = "TraceAuthorizer"
    type = _Key("")
    style = _Key("authorizer")
    identity_sources = _Key(())
    ttl = _Key(0)
    identity_source_present = _Key(False)
    invoked = _Key(False)
    cache = _Key()
    outcome = _Key()
    reason = _Key()
    detail = _Key()
    decision = _Key(view=_Decision)
    context = _Key()
    cached_decision_reason = _Key()
    error = _Key(view=_Error, optional=True)
    cold_start = _Key(False)
    duration_ms = _Key(0.0)
    route_scopes = _Key(())
    claims = _Key()
    cache_key = _Key()
    jwks = _Key()
    iam = _Key(view=_Iam, optional=True)


class _Policy(_Block):
    contract = "TracePolicy"
    arn = _Key("")
    effect = _Key("")
    resource = _Key()


class _Integration(_Block):
    contract = "TraceIntegration"
    function = _Key("the function")
    cold_start = _Key(False)
    status = _Key()
    error = _Key(view=_Error, optional=True)


class TraceView(_Block):
    """The whole trace of one request."""

    contract = "Trace"
    request = _Key(view=_Request)
    authorizer = _Key(view=_Authorizer, optional=True)
    policy = _Key(view=_Policy, optional=True)
    integration = _Key(view=_Integration, optional=True)
    status = _Key(0)
    decided_by = _Key()
    summary = _Key("")


TRACE_VIEWS = (
    TraceView,
    _Request,
    _Authorizer,
    _Decision,
    _Error,
    _Policy,
    _Integration,
    _Iam,
    _Signature,
    _Principal,
    _Statement,
)

_VERDICTS = {
    "allow": "allowed the call",
    "deny": "denied the call",
    "unauthorized": "refused the token",
    "error": "failed",
}
_POLICY_VERDICTS = {"Allow": "allows the call", "Deny": "denies the call"}
_POLICY_EFFECTS = {"Allow": "allows", "Deny": "explicitly denies", "ImplicitDeny": "does not cover"}
_CODE_OF_EFFECT = {"Allow": "allowed", "Deny": "explicit_deny", "ImplicitDeny": "implicit_deny"}
_CODE_OF_OUTCOME = {
    "allow": "allowed",
    "unauthorized": "unauthorized",
    "error": "authorizer_error",
}


def _source_names(sources: Any) -> str:
    """The request parts an authorizer reads, in words: `Authorization header`."""
    names = []
    for source in sources or ():
        for prefix, kind in (
            ("$request.header.", "header"),
            ("method.request.header.", "header"),
            ("$request.querystring.", "query parameter"),
            ("method.request.querystring.", "query parameter"),
        ):
            if source.startswith(prefix):
                names.append(f"{source.removeprefix(prefix)} {kind}")
    return " or ".join(names)


def _reason(authorizer: _Authorizer, policy: _Policy | None) -> str | None:
    """The reason code of the authorizer stage, never None when it refused or allowed.

    A Lambda authorizer of one's own logs no decision line: then the policy's effect or the
    outcome says what happened.
    """
    code = authorizer.reason or authorizer.decision.reason
    if not code and policy is not None:
        code = _CODE_OF_EFFECT.get(policy.effect)
    return code or _CODE_OF_OUTCOME.get(authorizer.outcome or "")


def _from_trace(trace: TraceView, status: int, meaning: str) -> Explanation:
    request = trace.request
    stage = trace.decided_by
    hops = ["webapp", "gateway"]
    explanation = Explanation("", [], hops=hops)
    steps = explanation.steps
    if stage == "request":
        explanation.headline = f"{status}: API Gateway refused the request itself: {meaning}."
        steps.append(trace.summary)
        return explanation
    if stage == "routing" or request.route is None:
        explanation.headline = (
            f"{status}: API Gateway has no {request.method} {request.path} route, so no "
            "authorizer or function ran."
        )
        steps.append(trace.summary)
        return explanation
    steps.append(f"API Gateway matched the route {request.route}.")
    authorizer = trace.authorizer
    policy = trace.policy
    verdict = ""  # who decided and how, for the headline
    if authorizer is None:
        steps.append("The route has no authorizer: anyone may call it.")
    else:
        explanation.authorizer_invoked = bool(authorizer.invoked)
        explanation.cache = authorizer.cache
        style = authorizer.style
        code = _reason(authorizer, policy)
        detail = authorizer.decision.detail or authorizer.detail
        needed = _needed_permission(authorizer.context, request.route)
        simple = authorizer.type in ("TOKEN", "REQUEST") and policy is None
        if needed and code in ("explicit_deny", "insufficient_permission") and not detail:
            # A cached answer has no decision line: its context still names what the route
            # needs (a cached policy's Deny, or a cached simple verdict).
            code = "insufficient_permission"
            detail = f"{request.route} needs `{needed}`"
        explanation.reason_code = code
        explanation.detail = detail
        words = reason_words(code, detail)
        outcome = _VERDICTS.get(authorizer.outcome or "", "decided")
        if stage == "identity_source":
            # API Gateway's own check: the authorizer never ran, so it decided nothing (the
            # words of these codes say so).
            names = _source_names(authorizer.identity_sources)
            if code == "identity_source_missing" and names and names != "Authorization header":
                words = words.replace("Authorization header", names)
            steps.append(trace.summary)
        elif authorizer.type == "JWT":
            verdict = f"API Gateway's {style} {outcome}"
            if not authorizer.identity_source_present:
                steps.append(
                    f"API Gateway's {style} found no token in "
                    f"{', '.join(authorizer.identity_sources)}."
                )
            else:
                steps.append(f"API Gateway's own {style} checked the token (no Lambda involved).")
                hops.append("builtin")
            steps.append(_sentence(f"It {outcome}: {words}"))
            if authorizer.cache_key:
                steps.append(f"Caching: {authorizer.cache_key}.")
        elif authorizer.cache == "hit" and authorizer.type == "COGNITO_USER_POOLS":
            # No policy here: API Gateway caches the verified claims, not an Allow/Deny.
            verdict = f"API Gateway's {style} {outcome}"
            hops.append("cache")
            steps.append(
                f"API Gateway reused the claims in its result cache (TTL {authorizer.ttl} s), "
                f"keyed by {authorizer.cache_key or 'the token'}: it skipped the signature check."
            )
            steps.append(_sentence(f"It {outcome}: {words}"))
        elif authorizer.cache == "hit":
            hops.append("cache")
            effect = policy.effect if policy is not None else ""
            answer = "verdict" if simple else "policy"
            verdict = f"the {answer} in API Gateway's result cache " + (
                ("allows the call" if authorizer.outcome == "allow" else "denies the call")
                if simple
                else _POLICY_VERDICTS.get(effect, "does not allow the call")
            )
            steps.append(
                f"API Gateway did not invoke the {style}: it reused the {answer} in its result "
                f"cache (TTL {authorizer.ttl} s), keyed by "
                f"{authorizer.cache_key or 'the identity sources'}."
            )
            steps.append(_sentence(f"The cached {answer} decided: {words}"))
            if code != "allowed" and not simple:
                steps.append(
                    "The cached policy was written for the request that first brought this "
                    "token; API Gateway checks it again against each request's ARN"
                    + (
                        ", and this authorizer's policy lists every route with Allow or Deny."
                        if authorizer.cached_decision_reason
                        else ", so a policy written for another route can refuse this one."
                    )
                )
        elif authorizer.type == "AWS_IAM":
            # No token here: a refusal is of the signature or the credentials.
            if authorizer.outcome not in ("allow", "deny"):
                outcome = "refused the request"
            verdict = f"API Gateway's IAM check {outcome}"
            hops.append("iam")
            steps.extend(_iam_steps(authorizer.iam, words, outcome, explanation))
        elif authorizer.type == "COGNITO_USER_POOLS":
            verdict = f"API Gateway's {style} {outcome}"
            hops.append("builtin")
            steps.append(f"API Gateway's own {style} checked the token (no Lambda involved).")
            steps.append(_sentence(f"It {outcome}: {words}"))
        else:
            verdict = f"the authorizer {outcome}"
            if authorizer.invoked:
                start = "cold start" if authorizer.cold_start else "warm"
                steps.append(
                    f"API Gateway invoked the {style} ({start}, {authorizer.duration_ms:.1f} ms)."
                )
                hops.append("authorizer")
            steps.append(_sentence(f"The authorizer {outcome}: {words}"))
        keys = _jwks_step(authorizer)
        if keys:
            steps.append(keys)
            if authorizer.jwks == "fetched":
                hops.append("authorizer-jwks" if authorizer.invoked else "builtin-jwks")
        if policy is not None:
            explanation.policy = {
                "arn": policy.arn,
                "effect": policy.effect,
                "resource": policy.resource,
            }
            statement = f" (statement resource {policy.resource})" if policy.resource else ""
            steps.append(
                f"The policy {_POLICY_EFFECTS.get(policy.effect, 'does not decide')} "
                f"{policy.arn}{statement}."
            )
        error = authorizer.error
        if error is not None and error.message != "Unauthorized":
            steps.append(f"The authorizer's error: {error.type}: {error.message}.")
        if stage == "authorizer" and authorizer.type != "JWT" and policy is None:
            steps.append(trace.summary)  # how API Gateway turned the answer into this status
        if stage == "identity_source":
            explanation.headline = _sentence(f"{status}: {words}")
        elif stage == "authorizer":
            explanation.headline = _sentence(f"{status}: {verdict}: {words}")
    integration = trace.integration
    if integration is not None:
        hops.append("function")
        start = "cold start" if integration.cold_start else "warm"
        if integration.error is not None:
            steps.append(
                f"The function {integration.function} failed ({start}): "
                f"{integration.error.type}: {integration.error.message}."
            )
            steps.append(trace.summary)
        else:
            steps.append(
                f"The function {integration.function} answered "
                f"{integration.status or status} ({start})."
            )
        if status >= 400:
            allowed = "the authorizer allowed the call, but " if authorizer is not None else ""
            outcome = "failed" if integration.error is not None else f"answered {status}"
            explanation.headline = (
                f"{status}: {allowed}the function {integration.function} {outcome}"
                + (f" ({meaning})" if meaning else "")
                + "."
            )
    if not explanation.headline:
        explanation.headline = f"{status}: {meaning or trace.summary}."
    return explanation


def _iam_steps(iam: _Iam | None, words: str, outcome: str, explanation: Explanation) -> list[str]:
    """What API Gateway's IAM check saw: the signature, the principal, the deciding statement.

    Follows https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html
    (identity policies for `execute-api:Invoke` on the route's ARN).
    """
    steps = ["API Gateway checked the SigV4 signature itself (no Lambda involved)."]
    if iam is None:
        steps.append(_sentence(f"It {outcome}: {words}"))
        return steps
    facts: dict[str, Any] = {}
    signature = iam.signature
    if signature is not None:
        token = ", with a session token" if signature.session_token else ""
        steps.append(
            f"The signature ({signature.placement}) is scoped to `{signature.scope}`, dated "
            f"{signature.timestamp}, and signs `{';'.join(signature.signed_headers)}`{token}."
        )
    principal = iam.principal
    if principal is not None:
        facts["principal"] = principal.arn
        if principal.type == "assumed-role":
            facts["role"] = principal.role_arn
            who = f"a session of the role `{principal.role_arn}` (`{principal.arn}`)"
        else:
            who = f"the IAM user `{principal.arn}`"
        if principal.cognito_identity_id:
            facts["identity_id"] = principal.cognito_identity_id
            who += f", Cognito identity `{principal.cognito_identity_id}`"
        policies = ", ".join(f"`{name}`" for name in principal.policies) or "none"
        steps.append(f"The signer is {who}; its identity policies: {policies}.")
    statement = iam.statement
    if statement is not None:
        facts["statement"] = {
            "policy": statement.policy,
            "effect": statement.effect,
            "resource": statement.resource,
        }
        verb = "allows" if statement.effect == "Allow" else "explicitly denies"
        steps.append(
            f"A statement of the policy `{statement.policy}` {verb} `execute-api:Invoke` on "
            f"`{statement.resource}`."
        )
    elif principal is not None and explanation.reason_code == "iam_not_allowed":
        steps.append(
            "No statement of its policies allows `execute-api:Invoke` on this route, and IAM "
            "denies what nothing allows."
        )
    if iam.canonical_request:
        facts["canonical_request"] = iam.canonical_request
        steps.append(
            "API Gateway computed the canonical request below and got another signature: "
            "compare it with what was signed."
        )
    steps.append(_sentence(f"It {outcome}: {words}"))
    explanation.iam = facts
    return steps


def _jwks_step(authorizer: _Authorizer) -> str | None:
    """How the issuer's signing keys were had for this request (the trace's `jwks`)."""
    who = "The Lambda authorizer" if authorizer.invoked else "API Gateway"
    if authorizer.jwks == "fetched":
        return (
            f"{who} fetched the issuer's signing keys (JWKS) on this call: its first token, "
            "a key set past its cache time, or a key id it had not seen."
        )
    if authorizer.jwks == "cached":
        return f"{who} took the issuer's signing keys from its own cache: no JWKS request."
    return None


def _needed_permission(context: Any, route: str) -> str | None:
    """Find what a route needs in the authorizer context's `denied` (string or mapping)."""
    denied = context.get("denied") if isinstance(context, dict) else None
    if isinstance(denied, dict):
        return denied.get(route) or None
    if isinstance(denied, str):
        for part in denied.split("; "):
            name, _, permission = part.partition(" needs ")
            if name == route and permission:
                return permission
    return None


def _granted(claims: dict[str, Any]) -> list[str]:
    """What a token grants: its `permissions` (Auth0 RBAC) and the words of its `scope`."""
    granted = [p for p in claims.get("permissions") or () if isinstance(p, str)]
    scope = claims.get("scope")
    if isinstance(scope, str):
        granted += [word for word in scope.split() if word not in granted]
    return granted


def _missing_permission(
    claims: dict[str, Any], required: tuple[str, ...]
) -> tuple[str | None, str]:
    """Explain a 403 from the token the web app sent, when no trace says why."""
    granted = _granted(claims)
    needed = " or ".join(f"`{name}`" for name in required)
    holds = ", ".join(f"`{name}`" for name in granted) or "none"
    if not any(name in granted for name in required):
        return (
            "insufficient_permission",
            f"This route needs {needed}; the token you sent grants {holds} (its `scope` and "
            "`permissions`).",
        )
    return (
        None,
        f"The token grants {needed}, which this route needs, yet the API refused it: the "
        "deployed authorizer's route permissions may differ from this template's.",
    )


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
        elif (
            claims
            and result.style.key not in COGNITO_STYLES  # Cognito access tokens have no `aud`
            and expected_audience not in audiences(claims)
        ):
            code = "wrong_audience"
        elif status == 403 and claims and result.required:
            code, step = _missing_permission(claims, result.required)
            steps.append(step)
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
