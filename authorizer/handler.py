"""The Lambda custom authorizer: decides for API Gateway whether a caller may call a route.

Two entry points, for the authorizer styles API Gateway offers
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html):

- `lambda_handler(event, context)`: REST API TOKEN and REQUEST authorizers and HTTP API
  Lambda authorizers in policy mode (payload 1.0 or 2.0). Returns an IAM policy covering every
  route of the API. A token that fails authentication raises `Exception("Unauthorized")`,
  which API Gateway turns into a 401; a valid token without the route's permission gets an
  explicit Deny, a 403.
- `simple_handler(event, context)`: HTTP API payload 2.0 with simple responses. Returns
  `{"isAuthorized": bool, "context": {...}}`; API Gateway answers 403 to `false`, whatever the
  reason, because a simple response cannot ask for a 401.

- `cognito_handler(event, context)`: `lambda_handler` for Cognito user pool access tokens,
  configured by `COGNITO_`-prefixed settings (`COGNITO_TOKEN_ISSUER`, `COGNITO_CLIENT_IDS`,
  `COGNITO_ROUTE_PERMISSIONS`...). Its own names and its own module-level instance let it
  run beside the Auth0-configured handlers in one process (the local gateway runs every
  function in one); on Lambda, `lambda_handler` with `TOKEN_PROFILE=cognito` does the same.

Nothing raised from our code reaches API Gateway as anything but "Unauthorized": an
unexpected error is logged and refused, never a 500 and never an allow.
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from .audit import configure_logging
from .audit import enabled
from .audit import has_listeners
from .audit import logger
from .audit import record_decision
from .cache import DecisionCache
from .jwks import JwksCache
from .jwks import http_fetch
from .policy import MethodArn
from .policy import Route
from .policy import build_policy
from .policy import granted_routes
from .settings import Settings
from .settings import SettingsError
from .settings import load_settings
from .verify import Rejected
from .verify import TokenVerifier
from .verify import VerifiedToken

UNAUTHORIZED = "Unauthorized"
_BEARER_PREFIXES = frozenset({"Bearer ", "bearer ", "BEARER "})
# HTTP authentication schemes (the IANA registry and AWS's SigV4): a refusal may name one of
# these, spelled as here, because then it quotes our constant and not the caller's header.
_KNOWN_SCHEMES = {
    name.lower(): name
    for name in (
        "Basic",
        "Digest",
        "DPoP",
        "GNAP",
        "HOBA",
        "Mutual",
        "Negotiate",
        "NTLM",
        "OAuth",
        "PrivateToken",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
        "vapid",
        "AWS4-HMAC-SHA256",
        "Token",
    )
}
_MEMO_SIZE = 256


class Request(tuple):  # type: ignore[type-arg]
    """What the authorizer reads from any event shape: (kind, credential, arn).

    A plain tuple, not a dataclass: it is also the decision cache key, built on every
    invocation, and a cache hit has a budget of about 2 µs.
    """

    __slots__ = ()

    @property
    def kind(self) -> str:
        return self[0]

    @property
    def credential(self) -> str | None:
        return self[1]

    @property
    def arn(self) -> str | None:
        return self[2]


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, Mapping):
        return None
    value = headers.get(name) or headers.get(name.title())
    if value is not None:
        return value if isinstance(value, str) else None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return value if isinstance(value, str) else None
    return None


def read_event(event: Any) -> Request:
    """Recognise the event shape and pull out the credential and the method/route ARN."""
    if type(event) is not dict and not isinstance(event, Mapping):
        return Request(("unknown", None, None))
    event_type = event.get("type")
    version = event.get("version")
    if event_type == "TOKEN":
        token = event.get("authorizationToken")
        # API Gateway always sends a string; anything else is treated as no credential.
        credential = token if type(token) is str else None
        return Request(("rest-token", credential, event.get("methodArn")))
    if version == "2.0":
        return Request(
            ("http-2.0", _header(event.get("headers"), "authorization"), event.get("routeArn"))
        )
    if event_type == "REQUEST":
        kind = "http-1.0" if version == "1.0" else "rest-request"
        return Request(
            (kind, _header(event.get("headers"), "authorization"), event.get("methodArn"))
        )
    return Request(("unknown", None, None))


def bearer_token(credential: str | None) -> str:
    """Return the token of an `Authorization: Bearer <token>` value or raise Rejected.

    A refusal never quotes the credential, not even its first characters: without a space
    after the scheme (`Bearer<TAB>eyJ…`, `eyJ…` alone) the "scheme" would be the token itself.
    """
    if credential and credential[:7] in _BEARER_PREFIXES:
        # The usual form, checked without copying a token-sized string twice.
        token = credential[7:]
        if token and not token[0].isspace() and not token[-1].isspace() and " " not in token:
            return token
    if not credential or not credential.strip():
        raise Rejected("missing_token", "no Authorization header was sent")
    scheme, _, token = credential.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Rejected("not_bearer", _not_bearer_detail(scheme))
    token = token.strip()
    if not token or " " in token:
        raise Rejected("malformed_token", "expected exactly one token after `Bearer `")
    return token


def _not_bearer_detail(scheme: str) -> str:
    """Describe a non-Bearer Authorization value by its kind, quoting none of it."""
    known = _KNOWN_SCHEMES.get(scheme.lower())
    if known is not None:
        return f"the Authorization scheme is {known}; send `Bearer <token>`"
    if scheme[:6].lower() == "bearer":
        separator = scheme[6:7]
        if separator.isspace():
            return (
                "`Bearer` is followed by a tab or other whitespace, not a space; "
                "send `Bearer <token>`"
            )
        return "`Bearer` is not followed by a space; send `Bearer <token>`"
    if scheme.count(".") == 2:
        return "the Authorization header has a token but no scheme; send `Bearer <token>`"
    return "the Authorization scheme is not Bearer; send `Bearer <token>`"


# (outcome, reason, detail, route, kid, iss, sub, client, token kind, exp)
Summary = tuple[
    str, str, str, str | None, str | None, str | None, str | None, str | None, str | None, Any
]


class Decision:
    """The outcome for one request, before it is shaped for API Gateway."""

    __slots__ = ("arn", "detail", "outcome", "reason", "token")

    def __init__(
        self,
        outcome: str,
        reason: str,
        detail: str,
        token: VerifiedToken | None = None,
        arn: MethodArn | None = None,
    ) -> None:
        self.outcome = outcome  # "allow", "deny" or "unauthorized"
        self.reason = reason
        self.detail = detail
        self.token = token
        self.arn = arn

    def summary(self) -> Summary:
        """Return what the log says of this decision, as a flat tuple of plain values.

        A cache entry keeps this instead of the decision: no claims dict, token object or
        lists stay alive per cached token, so a full cache costs the garbage collector little.
        """
        route = self.arn.route if self.arn is not None else None
        token = self.token
        if token is None:
            return (
                self.outcome,
                self.reason,
                self.detail,
                route,
                None,
                None,
                None,
                None,
                None,
                None,
            )
        return (
            self.outcome,
            self.reason,
            self.detail,
            route,
            token.kid,
            token.claims.get("iss"),
            token.sub,
            token.client_id,
            "client" if token.is_client else "user",
            token.exp,
        )


class Authorizer:
    """Decide requests for one configuration; a module-level instance serves the handlers."""

    def __init__(
        self,
        settings: Settings | SettingsError,
        *,
        fetch: Callable[[str, float], bytes] = http_fetch,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.error: SettingsError | None = None
        self.verifier: TokenVerifier | None = None
        if isinstance(settings, SettingsError):
            self.error = settings
            self.cache: DecisionCache[Any] = DecisionCache(0)
            return
        self.settings = settings
        self.jwks = JwksCache(
            settings.jwks_uri,
            ttl=settings.jwks_ttl,
            cooldown=settings.unknown_kid_cooldown,
            timeout=settings.jwks_timeout,
            fetch=fetch,
        )
        self.verifier = TokenVerifier(settings, self.jwks)
        self.cache = DecisionCache(settings.decision_cache_size)
        self._arns: dict[str, tuple[MethodArn, Route | None]] = {}
        self._policies: dict[tuple[str, frozenset[str]], dict[str, Any]] = {}
        self._denials: dict[frozenset[str], tuple[dict[str, str], str]] = {}

    def _parse_arn(self, arn: Any) -> tuple[MethodArn, Route | None]:
        """Return the parsed ARN and the route it falls on (None: unknown); memoized."""
        if not isinstance(arn, str):
            raise ValueError("the event has no method or route ARN")
        parsed = self._arns.get(arn)
        if parsed is None:
            method_arn = MethodArn.parse(arn)
            parsed = (method_arn, self.settings.routes.match(method_arn.method, method_arn.path))
            if len(self._arns) >= _MEMO_SIZE:
                self._arns.clear()
            self._arns[arn] = parsed
        return parsed

    def _policy_document(self, arn: MethodArn, granted: frozenset[str]) -> dict[str, Any]:
        """Return the policy document for an API stage and a permission set (memoized).

        Responses share it: API Gateway and the emulator only read it.
        """
        key = (arn.prefix, granted)
        document = self._policies.get(key)
        if document is None:
            allowed, denied = granted_routes(self.settings.routes, granted)
            document = build_policy("", arn, allowed, denied)["policyDocument"]
            if len(self._policies) >= _MEMO_SIZE:
                self._policies.clear()
            self._policies[key] = document
        return document

    def decide(self, request: Request) -> Decision:
        """Authenticate the token and authorize the route; never raises."""
        try:
            if self.error is not None or self.verifier is None:
                return Decision(
                    "unauthorized",
                    "misconfigured",
                    f"the authorizer is misconfigured: {self.error}",
                )
            try:
                arn, route = self._parse_arn(request.arn)
            except ValueError as exc:
                return Decision("unauthorized", "bad_event", f"unusable event: {exc}")
            try:
                token = self.verifier.verify(bearer_token(request.credential), self.clock())
            except Rejected as rejected:
                return Decision("unauthorized", rejected.code, rejected.detail, arn=arn)
            if route is None:
                return Decision(
                    "deny",
                    "unknown_route",
                    f"{arn.method} {arn.path} is not a route this authorizer knows",
                    token,
                    arn,
                )
            if route.permission is not None and route.permission not in token.granted:
                return Decision(
                    "deny",
                    "insufficient_permission",
                    f"{arn.method} {arn.path} needs `{route.permission}`, which "
                    + (
                        "the token's scope and cognito:groups do not include"
                        if self.settings.profile == "cognito"
                        else "the token's scope and permissions do not include"
                    ),
                    token,
                    arn,
                )
            return Decision(
                "allow", "allowed", "the token carries what the route needs", token, arn
            )
        except Exception as exc:  # fail closed: a bug here must not become a 500 or an allow
            # The type and the frames, never the message: a message may quote the input.
            logger.error(
                "authorizer error: %s\n%s",
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            )
            return Decision("unauthorized", "internal_error", f"{type(exc).__name__}")

    def _log(
        self,
        request: Request,
        summary: Summary,
        started: int,
        cache: str,
        level: int = logging.INFO,
        jwks: str | None = None,
    ) -> None:
        if not has_listeners() and not enabled(level):
            return
        exp = summary[9]
        record_decision(
            request.kind,
            request.credential,
            summary,
            cache,
            (time.perf_counter_ns() - started) // 1000,
            None if exp is None else int(exp - self.clock()),
            level,
            jwks=jwks,
        )

    def _denied(self, granted: frozenset[str]) -> tuple[dict[str, str], str]:
        """Map each route this permission set may not call to the permission it needs,
        as a mapping (HTTP 2.0 context) and as text (REST context); memoized."""
        denied = self._denials.get(granted)
        if denied is None:
            _, routes = granted_routes(self.settings.routes, granted)
            mapping = {f"{r.method} {r.path}": r.permission or "" for r in routes}
            text = "; ".join(f"{route} needs {needs}" for route, needs in mapping.items())
            denied = (mapping, text)
            if len(self._denials) >= _MEMO_SIZE:
                self._denials.clear()
            self._denials[granted] = denied
        return denied

    def context(self, decision: Decision, native: bool) -> dict[str, Any]:
        """Return the context handed to the backend (REST allows strings, numbers, booleans).

        `denied` names the routes the policy denies and what each needs: a cached policy's
        Deny on another route can then be explained.
        """
        token = decision.token
        assert token is not None
        denied = self._denied(token.granted)
        context = {
            "sub": token.sub,
            "tokenKind": "client" if token.is_client else "user",
            "clientId": token.client_id or "",
            "scope": token.scope.split() if native else token.scope,
            "permissions": token.permissions if native else " ".join(token.permissions),
            "expiresAt": int(token.exp),
            "reason": decision.reason,
            "denied": denied[0] if native else denied[1],
        }
        if self.settings.profile == "cognito":
            context["groups"] = token.groups if native else " ".join(token.groups)
        return context

    def _cache_until(self, token: VerifiedToken) -> float:
        return min(token.exp, self.clock() + self.settings.decision_cache_ttl)

    def _cached(self, key: Any, request: Request) -> Any:
        """Return a cached (response, summary) for `key`, telling the log of the hit."""
        cached = self.cache.get(key, self.clock())
        if cached is not None and (has_listeners() or enabled(logging.DEBUG)):
            self._log(request, cached[1], time.perf_counter_ns(), "hit", logging.DEBUG)
        return cached

    def _decide_and_log(self, request: Request) -> tuple[Decision, Summary]:
        started = time.perf_counter_ns()
        keys: JwksCache | None = self.jwks if self.verifier is not None else None
        before = (keys.lookups, keys.fetches) if keys is not None else None
        decision = self.decide(request)
        summary = decision.summary()
        # Whether this decision fetched the issuer's keys or found them cached (None: it looked
        # no key up). A Lambda container takes one event at a time, so the counters are this
        # decision's own.
        jwks = None
        if keys is not None and before is not None and keys.lookups != before[0]:
            jwks = "fetched" if keys.fetches != before[1] else "cached"
        self._log(request, summary, started, "miss", jwks=jwks)
        return decision, summary

    def policy_response(self, event: Any) -> dict[str, Any]:
        """Answer a REST TOKEN/REQUEST or HTTP policy-mode event, or raise Unauthorized."""
        request = read_event(event)
        cached = self._cached(request, request)
        if cached is not None:
            return cached[0]
        decision, summary = self._decide_and_log(request)
        token, arn = decision.token, decision.arn
        if token is None or arn is None:
            raise Exception(UNAUTHORIZED)
        if decision.reason == "unknown_route":
            allowed, denied = granted_routes(self.settings.routes, token.granted)
            document = build_policy(
                "", arn, allowed, denied, f"{arn.prefix}/{arn.method}{arn.path}"
            )["policyDocument"]
        else:
            document = self._policy_document(arn, token.granted)
        response = {
            "principalId": token.sub,
            "policyDocument": document,
            "context": self.context(decision, native=request.kind == "http-2.0"),
        }
        self.cache.put(request, (response, summary), self._cache_until(token))
        return response

    def simple_response(self, event: Any) -> dict[str, Any]:
        """Answer an HTTP API payload 2.0 event with a simple response."""
        request = read_event(event)
        key = (request.credential, request.arn, "simple")
        cached = self._cached(key, request)
        if cached is not None:
            return cached[0]
        decision, summary = self._decide_and_log(request)
        token = decision.token
        if token is None:
            return {"isAuthorized": False, "context": {"reason": decision.reason}}
        response = {
            "isAuthorized": decision.outcome == "allow",
            "context": self.context(decision, native=True),
        }
        self.cache.put(key, (response, summary), self._cache_until(token))
        return response


_authorizer: Authorizer | None = None
_cognito_authorizer: Authorizer | None = None


def _build(prefix: str = "", profile: str | None = None) -> Authorizer:
    configure_logging()
    try:
        settings: Settings | SettingsError = load_settings(
            os.environ, prefix=prefix, profile=profile
        )
    except SettingsError as exc:
        logger.error(json.dumps({"event": "authorizer_misconfigured", "error": str(exc)}))
        settings = exc
    return Authorizer(settings)


def get_authorizer() -> Authorizer:
    """Return the module's authorizer, built from the environment on first use (cold start)."""
    global _authorizer
    if _authorizer is None:
        _authorizer = _build()
    return _authorizer


def get_cognito_authorizer() -> Authorizer:
    """Return the Cognito authorizer, built from the `COGNITO_` settings on first use."""
    global _cognito_authorizer
    if _cognito_authorizer is None:
        _cognito_authorizer = _build("COGNITO_", "cognito")
    return _cognito_authorizer


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """REST TOKEN/REQUEST and HTTP policy-mode authorizer: an IAM policy, or 401."""
    return (_authorizer or get_authorizer()).policy_response(event)


def simple_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """HTTP API payload 2.0 authorizer with simple responses (`isAuthorized`)."""
    return (_authorizer or get_authorizer()).simple_response(event)


def cognito_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`lambda_handler` for Cognito access tokens, from the `COGNITO_` settings."""
    return (_cognito_authorizer or get_cognito_authorizer()).policy_response(event)
