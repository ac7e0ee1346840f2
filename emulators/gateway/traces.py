"""The trace: what the gateway did with one request, as a documented JSON contract.

Every API request leaves one trace, readable at `GET /_lab/traces/{request id}` (the last
`TRACE_LIMIT` requests are kept). The web app's explanations read only this shape, so it is
typed here and described in the README ("The trace"); a renamed key fails the contract test
that feeds real traces to the web app.

Credentials never appear: a header or identity value that carries one is shown as its
scheme and the authorizer's own token fingerprint (`authorizer.audit.fingerprint`), so a
token has one id in the decision log and in the trace.
"""

from __future__ import annotations

import collections
import re
import threading
import time
from typing import Any
from typing import Literal
from typing import NotRequired
from typing import Required
from typing import TypedDict
from urllib.parse import unquote_plus

from authorizer import audit

TRACE_LIMIT = 500
REDACTED = "<redacted>"

# Which stage gave the answer: the request's limits, route selection, the identity source
# check (401 before any authorizer), the authorizer, or the integration (the function).
DecidedBy = Literal["request", "routing", "identity_source", "authorizer", "integration"]


class TraceApi(TypedDict):
    id: str
    name: str  # the template's logical id, e.g. "RestTokenApi"
    type: Literal["REST", "HTTP"]
    stage: str


class TraceRequest(TypedDict):
    method: str
    path: str  # within the stage, e.g. "/items/123"
    route: str | None  # the matched route key, e.g. "GET /items/{id}"; None when none matched
    path_parameters: NotRequired[dict[str, str]]


class TraceError(TypedDict):
    type: str
    message: str | None


class TraceDecision(TypedDict, total=False):
    """The authorizer's decision line (`authorizer.audit`), as the gateway heard it: the same
    fields the line on stdout (CloudWatch Logs on AWS) carries. Only our authorizer writes one."""

    event: Required[str]  # "authorizer_decision"
    decision: Required[str]  # "allow", "deny" or "unauthorized"
    reason: Required[str]  # a reason code
    detail: Required[str]  # the reason in words, with specifics
    kind: Required[str]  # the event shape: "rest-token", "rest-request", "http-1.0", "http-2.0"
    route: Required[str | None]  # "GET /admin"; None when the ARN was unusable
    cache: Required[str]  # the authorizer's own decision cache: "miss" or "hit"
    duration_us: Required[int]
    fingerprint: Required[str | None]  # the token's id (`audit.fingerprint`); None: no token
    jwks: str  # "fetched" or "cached": how the keys were had; absent when none was looked up
    # Only when the token verified:
    kid: str
    iss: str
    sub: str
    client: str | None
    token_kind: str  # "user" or "client"
    expires_in: int  # seconds


class TraceSignature(TypedDict):
    """What a SigV4 signature claims (`sigv4.describe`): never the signature or a token."""

    placement: Literal["header", "query"]  # the Authorization header or a presigned URL
    access_key_id: str
    scope: str  # "<yyyymmdd>/<region>/execute-api/aws4_request"
    signed_headers: list[str]
    timestamp: str  # X-Amz-Date (or the Date header), yyyymmddThhmmssZ
    session_token: bool  # whether X-Amz-Security-Token was sent


class TracePrincipal(TypedDict, total=False):
    """The IAM principal behind the access key."""

    arn: Required[str]  # the ARN IAM evaluated (user, or assumed-role session)
    type: Required[Literal["user", "assumed-role"]]
    caller_id: Required[str]  # AIDA… or AROA…:<session>
    account_id: Required[str]
    policies: Required[list[str]]  # the names of its identity policies
    role_arn: str  # the role of an assumed-role session
    cognito_identity_id: str  # identity-pool credentials: the Cognito identity


class TraceStatement(TypedDict):
    """The policy statement that decided an IAM request."""

    policy: str  # the policy's name
    effect: Literal["Allow", "Deny"]
    resource: str | None  # the statement's Resource pattern that covered the ARN


class TraceIam(TypedDict, total=False):
    """The IAM (SigV4) check of an `AWS_IAM` route: present once a signature was read."""

    signature: TraceSignature
    principal: TracePrincipal  # once the access key was known
    statement: TraceStatement | None  # after policy evaluation; None: nothing allowed it
    # On a signature mismatch, what the gateway computed (a session token redacted):
    canonical_request: str
    string_to_sign: str


class TraceAuthorizer(TypedDict, total=False):
    """The authorization stage; the Required keys are always there."""

    name: Required[str]
    type: Required[str]  # "TOKEN", "REQUEST" (Lambda), "JWT", "COGNITO_USER_POOLS", "AWS_IAM"
    style: Required[str]  # in words, e.g. "Lambda TOKEN authorizer (IAM policy, payload 1.0)"
    identity_sources: Required[list[str]]  # in the API's own syntax
    ttl: Required[int]  # the effective result cache TTL in seconds (0: not cached)
    identity_source_present: Required[bool]
    invoked: Required[bool]  # whether a Lambda authorizer ran for this request
    cache: Required[Literal["off", "miss", "hit"]]
    outcome: Required[Literal["allow", "deny", "unauthorized", "error"]]
    reason: Required[str | None]  # a reason code (see the README); None: the authorizer gave none
    cache_key: str  # what AWS keys the cached result by, in words (Lambda authorizers)
    # How the issuer's signing keys (JWKS) were had for this request: "fetched" (a cold
    # start, an expired key set or an unknown kid sent the authorizer to the JWKS URI) or
    # "cached". Absent when no key was looked up (a result-cache hit, a token refused before
    # its signature, an authorizer of one's own that logs no decision line). Lambda
    # authorizers: from the decision line's `jwks`; JWT and Cognito: API Gateway's own.
    jwks: Literal["fetched", "cached"]
    detail: str  # the reason in words (JWT authorizer)
    arn: str  # the method ARN (REST) or route ARN (HTTP) the decision was for
    event: dict[str, Any]  # the authorizer's event, credentials redacted
    result: dict[str, Any]  # what the authorizer returned
    decision: TraceDecision  # our authorizer's decision line (not on a result-cache hit)
    context: dict[str, Any]  # the context of the authorizer's answer (also on a cache hit)
    cached_decision_reason: str | None  # on a hit: the reason of the cached decision
    error: TraceError  # the authorizer raised, timed out or answered malformed
    cold_start: bool
    duration_ms: float
    function: str  # the authorizer function's logical id
    route_scopes: list[str]  # the route's scopes (JWT authorizer)
    claims: dict[str, Any]  # a few claims of the verified token (JWT authorizer)
    iam: TraceIam  # the IAM (SigV4) check (AWS_IAM routes)


class TracePolicy(TypedDict):
    arn: str
    effect: Literal["Allow", "Deny", "ImplicitDeny"]
    resource: str | None  # the statement resource that decided


class TraceIntegration(TypedDict, total=False):
    function: str
    cold_start: bool
    duration_ms: float
    status: int
    error: TraceError


class Trace(TypedDict):
    id: str  # API Gateway's request id, also in x-amzn-RequestId / apigw-requestid
    time: str  # ISO 8601, UTC
    api: TraceApi
    request: TraceRequest
    authorizer: TraceAuthorizer | None  # None when the route has no authorizer
    policy: TracePolicy | None  # set when a policy was evaluated
    integration: TraceIntegration | None  # None when the function was not called
    status: int
    decided_by: DecidedBy
    summary: str  # one sentence on why this status
    duration_ms: float


def new_trace(request_id: str, api: TraceApi, method: str, path: str) -> Trace:
    """Start the trace of one request; the stages fill in the rest."""
    return {
        "id": request_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "api": api,
        "request": {"method": method, "path": path, "route": None},
        "authorizer": None,
        "policy": None,
        "integration": None,
        "status": 0,
        "decided_by": "request",
        "summary": "",
        "duration_ms": 0.0,
    }


def redact_credential(value: str | None) -> str | None:
    """Replace a credential with its scheme and the authorizer's fingerprint of it.

    The fingerprint is taken of the value as sent, exactly as the authorizer's decision line
    takes it: for a JWT both hash its signature, and an opaque token or another scheme gets
    the same id in the trace and in the decision line.
    """
    if value is None:
        return None
    scheme, space, _ = value.partition(" ")
    if not space:
        scheme = ""
    return f"{scheme} {REDACTED} fingerprint:{audit.fingerprint(value)}".strip()


# Headers that carry credentials whatever the authorizer reads.
CREDENTIAL_HEADERS = frozenset(
    ("authorization", "proxy-authorization", "cookie", "x-api-key", "x-amz-security-token")
)
# A JWT (compact JWS or JWE) anywhere in a value, with or without a scheme before it.
_JWT_LIKE = re.compile(r"(?:^|\s)[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_.-]*")


def _secret(value: Any) -> bool:
    return isinstance(value, str) and bool(_JWT_LIKE.search(value))


class Redaction:
    """Where one authorizer's events may hold credentials, so a trace never shows them.

    Credentials are: the credential headers above, every header and query parameter the
    authorizer names as an identity source (`X-Api-Token`, `?token=`), and any value that
    looks like a JWT, wherever it is. Context and stage variable identity sources hold none.
    """

    def __init__(self, identity_sources: tuple[str, ...] = ()) -> None:
        self.headers = CREDENTIAL_HEADERS | {
            s.removeprefix("$request.header.").lower()
            for s in identity_sources
            if s.startswith("$request.header.")
        }
        self.query = frozenset(
            s.removeprefix("$request.querystring.")
            for s in identity_sources
            if s.startswith("$request.querystring.")
        )
        self.plain_sources = tuple(
            s.startswith(("$context.", "$stageVariables.")) for s in identity_sources
        )

    def _value(self, value: Any, secret: bool) -> Any:
        if isinstance(value, list):
            return [self._value(v, secret) for v in value]
        if isinstance(value, str) and value and (secret or _secret(value)):
            return redact_credential(value)
        return value

    def _mapping(self, mapping: Any, secret_names: frozenset[str], fold: bool) -> Any:
        if not isinstance(mapping, dict):
            return mapping
        return {
            name: self._value(value, (name.lower() if fold else name) in secret_names)
            for name, value in mapping.items()
        }

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Return a copy of an authorizer event fit for a trace: credentials replaced."""
        redacted = dict(event)
        if "authorizationToken" in redacted:
            redacted["authorizationToken"] = redact_credential(redacted["authorizationToken"])
        source = redacted.get("identitySource")
        if isinstance(source, list):
            plain = self.plain_sources
            redacted["identitySource"] = [
                v if i < len(plain) and plain[i] else self._value(v, True)
                for i, v in enumerate(source)
            ]
        elif source is not None:
            redacted["identitySource"] = self._value(source, True)
        for key in ("headers", "multiValueHeaders"):
            if key in redacted:
                redacted[key] = self._mapping(redacted[key], self.headers, fold=True)
        for key in ("queryStringParameters", "multiValueQueryStringParameters"):
            if key in redacted:
                redacted[key] = self._mapping(redacted[key], self.query, fold=False)
        raw_query = redacted.get("rawQueryString")
        if isinstance(raw_query, str) and raw_query:
            redacted["rawQueryString"] = "&".join(
                self._raw_pair(pair) for pair in raw_query.split("&")
            )
        if redacted.get("cookies"):
            redacted["cookies"] = [REDACTED for _ in redacted["cookies"]]
        return redacted

    def _raw_pair(self, pair: str) -> str:
        name, equals, value = pair.partition("=")
        if equals and (unquote_plus(name) in self.query or _secret(unquote_plus(value))):
            return f"{name}={REDACTED}"
        return pair


class TraceStore:
    """The last `limit` traces, by request id (thread-safe)."""

    def __init__(self, limit: int = TRACE_LIMIT) -> None:
        self.limit = limit
        self._traces: collections.OrderedDict[str, Trace] = collections.OrderedDict()
        self._lock = threading.Lock()

    def keep(self, trace: Trace) -> None:
        with self._lock:
            self._traces[trace["id"]] = trace
            while len(self._traces) > self.limit:
                self._traces.popitem(last=False)

    def get(self, request_id: str) -> Trace | None:
        with self._lock:
            return self._traces.get(request_id)

    def __getitem__(self, request_id: str) -> Trace:
        trace = self.get(request_id)
        if trace is None:
            raise KeyError(request_id)
        return trace

    def recent(self, count: int = 50) -> list[Trace]:
        """The newest traces first."""
        with self._lock:
            return list(reversed(list(self._traces.values())[-count:]))
