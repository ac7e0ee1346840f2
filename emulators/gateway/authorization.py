"""The authorization stage: identity sources, the result cache, the authorizer, the verdict.

In API Gateway's order, for a route with an authorizer:
1. Identity sources: read each one; with caching on (or always, for TOKEN and HTTP
   authorizers) a missing or empty one is 401 without invoking anything
   (`configure-api-gateway-lambda-authorization-with-console`, `http-api-lambda-authorizer`).
   A TOKEN authorizer's validation expression is checked here too.
2. Result cache: keyed by the identity source values; a hit replays the cached answer
   against this request's method or route ARN. Nothing is cached without an identity
   source, on any API type ("≥1 identity source is required to cache").
3. The authorizer: one class per authorizer type, registered in `AUTHORIZER_TYPES`
   (a new type is one new class there). Lambda authorizers run the real function in the
   emulated Lambda runtime; the JWT authorizer is API Gateway's own.
4. The verdict: a policy evaluated against the ARN (`policy.py`), or a simple response;
   Allow hands the integration its `requestContext.authorizer`, anything else refuses
   with the gateway response AWS sends.

Pages: https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from dataclasses import field
from time import monotonic as _monotonic
from typing import Any
from typing import ClassVar
from typing import NamedTuple

from authorizer import audit
from emulators.aws.credentials import CredentialStore

from . import events
from .cognito_authorizer import EXPIRED_MESSAGE
from .cognito_authorizer import CognitoChecker
from .cognito_authorizer import method_check
from .cognito_authorizer import render_claims as render_cognito_claims
from .exchange import Exchange
from .exchange import Grant
from .exchange import Refusal
from .iam_authorizer import IamChecker
from .iam_authorizer import grant_fields
from .jwt_authorizer import JwtAuthorizer as JwtChecker
from .jwt_authorizer import render_claims
from .lambdas import Invocation
from .lambdas import LambdaRuntime
from .lambdas import json_native_copy
from .policy import evaluate
from .policy import malformed
from .template import Api
from .template import Authorizer
from .template import Route
from .traces import Redaction
from .traces import TraceAuthorizer
from .traces import TracePolicy

MAX_TTL = 3600  # API Gateway's maximum result TTL
MAX_VERDICTS_PER_ENTRY = 64  # memoized ARN verdicts per cached result (paths with variables)


class CachedResult:
    """An authorizer's answer kept for the TTL: a policy (with context) or a simple verdict.

    What it means for each method or route ARN is remembered: it cannot change while cached.
    """

    __slots__ = ("expires", "response", "verdicts")

    def __init__(self, response: dict[str, Any], expires: float) -> None:
        self.response = response
        self.expires = expires
        self.verdicts: dict[str, Replay] = {}


class ResultCache:
    """The authorizer result cache of all APIs, keyed per API, authorizer and identity."""

    def __init__(self, max_entries: int = 10000) -> None:
        self._entries: dict[tuple[Any, ...], CachedResult] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: tuple[Any, ...]) -> CachedResult | None:
        """The unexpired entry for `key`, or None (an expired one is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if _monotonic() >= entry.expires:
            self._entries.pop(key, None)
            return None
        return entry

    def put(self, key: tuple[Any, ...], response: dict[str, Any], ttl: int) -> None:
        entry = CachedResult(response, time.monotonic() + ttl)
        with self._lock:
            if self._entries and len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = entry

    def flush(self, api_id: str) -> int:
        """Drop every entry of one API; return how many there were."""
        with self._lock:
            keys = [k for k in self._entries if k[0] == api_id]
            for key in keys:
                del self._entries[key]
            return len(keys)


class Verdict(NamedTuple):
    """What an authorizer's answer means for one ARN: allowed with a context, or refused."""

    block: dict[str, Any]  # outcome and reason fields for the trace's authorizer block
    policy: TracePolicy | None  # the trace's policy evaluation (policy mode)
    context: dict[str, Any] | None  # for the integration when allowed; None when refused
    refusal: Refusal | None = None


class Replay(NamedTuple):
    """A cached result's answer for one ARN, ready to hand out on every hit: the trace's
    authorizer block and policy, and the integration's context or the refusal."""

    block: TraceAuthorizer
    policy: TracePolicy | None
    context: dict[str, Any] | None
    refusal: Refusal | None


_REASON_OF_EFFECT = {"Allow": "allowed", "Deny": "explicit_deny"}


def rest_source_name(source: str) -> str:
    """An identity source in REST's own syntax (`method.request.header.Authorization`)."""
    for http_prefix, rest_prefix in (
        ("$request.header.", "method.request.header."),
        ("$request.querystring.", "method.request.querystring."),
        ("$context.", "context."),
        ("$stageVariables.", "stageVariables."),
    ):
        if source.startswith(http_prefix):
            return rest_prefix + source.removeprefix(http_prefix)
    return source


def _context_variable(exchange: Exchange, name: str) -> str | None:
    """A `$context.x` identity source: the request context variables AWS lets one use."""
    api, request = exchange.api, exchange.request
    route = exchange.route
    values: dict[str, Any] = {
        "routeKey": route.key if route else None,
        "stage": api.stage,
        "apiId": api.api_id,
        "httpMethod": request.method,
        "path": f"/{api.stage}{request.path}",
        "resourcePath": route.path if route else None,
        "domainName": api.domain_name,
        "domainPrefix": api.api_id,
        "identity.sourceIp": request.source_ip,
        "identity.userAgent": request.header("User-Agent"),
    }
    value = values.get(name)
    return None if value is None else str(value)


class AuthorizerType:
    """One kind of authorizer as API Gateway runs it. Subclasses set `kinds` (the template's
    types they serve) and implement `authorize`."""

    kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(self, api: Api, config: Authorizer, services: Authorization) -> None:
        self.api = api
        self.config = config
        self.services = services
        # Nothing is cached without an identity source, whatever the TTL says.
        self.ttl = config.ttl if config.identity_sources else 0
        sources = (
            [rest_source_name(s) for s in config.identity_sources]
            if api.kind == "REST"
            else list(config.identity_sources)
        )
        self.trace_fields: dict[str, Any] = {
            "name": config.name,
            "type": config.kind,
            "style": config.style,
            "identity_sources": sources,
            "ttl": self.ttl,
        }

    def identity(self, exchange: Exchange) -> tuple[str | None, ...]:
        """The identity source values of this request, in the declared order."""
        request = exchange.request
        if self.config.single_header is not None:  # the usual case: one header
            return (request.header(self.config.single_header),)
        values: list[str | None] = []
        for source in self.config.identity_sources:
            if source.startswith("$request.header."):
                values.append(request.header(source.removeprefix("$request.header.")))
            elif source.startswith("$request.querystring."):
                values.append(request.query_value(source.removeprefix("$request.querystring.")))
            elif source.startswith("$stageVariables."):
                values.append(self.api.stage_variables.get(source.removeprefix("$stageVariables.")))
            elif source.startswith("$context."):
                values.append(_context_variable(exchange, source.removeprefix("$context.")))
            else:
                values.append(None)
        return tuple(values)

    def authorize(self, exchange: Exchange) -> Grant | Refusal:
        raise NotImplementedError

    def missing_identity(self, block: TraceAuthorizer) -> Refusal:
        block["outcome"] = "unauthorized"
        block["reason"] = "identity_source_missing"
        return Refusal(
            "UNAUTHORIZED",
            "The identity source ("
            + ", ".join(self.trace_fields["identity_sources"])
            + ") is missing or empty, so API Gateway answered 401 without invoking the "
            "authorizer.",
        )


class LambdaAuthorizer(AuthorizerType):
    """A Lambda authorizer: TOKEN or REQUEST (REST), REQUEST with payload 1.0 or 2.0 (HTTP),
    answering with an IAM policy or, on HTTP APIs, a simple response."""

    kinds = ("TOKEN", "REQUEST")

    def __init__(self, api: Api, config: Authorizer, services: Authorization) -> None:
        super().__init__(api, config, services)
        assert config.function is not None
        self.function = config.function
        # What its events' traces must hide: credential headers, its identity sources.
        self.redaction = Redaction(config.identity_sources)
        # REST REQUEST authorizers with caching off run without identity sources.
        self.needs_identity = config.kind == "TOKEN" or self.ttl > 0 or api.kind == "HTTP"
        self.rest = api.kind == "REST"
        # What AWS keys the cached result by, in words the page shows as they are: the
        # identity sources in the API's own syntax, and what a hit re-checks.
        sources = " and ".join(self.trace_fields["identity_sources"])
        arn = "method ARN" if api.kind == "REST" else "route ARN"
        self.trace_fields["cache_key"] = (
            "not cached"
            if self.ttl == 0
            else f"the token ({sources}); the cached policy is checked again against each "
            f"request's {arn}"
            if config.kind == "TOKEN"
            else f"the values of {sources}; the cached verdict allows or denies every request "
            "with the same values"
            + (
                ", so it is per token and per route"
                if "$context.routeKey" in config.identity_sources
                else ", whatever its route"
            )
            if config.simple_responses
            else f"the values of {sources}; the cached policy is checked again against each "
            f"request's {arn}"
        )

    def authorize(self, exchange: Exchange) -> Grant | Refusal:
        config = self.config
        request = exchange.request
        header = config.single_header
        identity = (request.header(header),) if header is not None else self.identity(exchange)
        key = (self.api.api_id, config.name, identity)
        if self.ttl > 0:
            # A cached answer exists only for identity values that were present and passed
            # the validation expression, so a hit needs neither check again. The hit path is
            # the one API Gateway makes cheap, so it is kept short here too (bench/gateway.py
            # measures it against a public request).
            entry = self.services.cache.get(key)
            if entry is not None:
                hit = entry.verdicts.get(request.arn) or self._replay(exchange, entry)
                trace = exchange.trace
                trace["authorizer"] = hit.block
                if hit.policy is not None:
                    trace["policy"] = hit.policy
                if hit.refusal is not None:
                    return hit.refusal
                # A fresh copy for each integration event: the function may change its event.
                if self.rest:  # flat strings: a shallow copy is a deep one
                    return Grant(hit.context.copy())  # type: ignore[union-attr]
                return Grant(json_native_copy(hit.context))
        present = None not in identity and "" not in identity
        block: TraceAuthorizer = {  # type: ignore[typeddict-item]
            **self.trace_fields,
            "identity_source_present": present,
            "invoked": False,
            "cache": "off",
        }
        exchange.trace["authorizer"] = block
        if self.needs_identity and not present:
            return self.missing_identity(block)
        if (
            config.kind == "TOKEN"
            and config.validation_expression
            and not config.validation_pattern.fullmatch(identity[0] or "")
        ):
            block["outcome"] = "unauthorized"
            block["reason"] = "validation_expression"
            return Refusal(
                "UNAUTHORIZED",
                "The Authorization header does not match the validation expression "
                f"{config.validation_expression}, so API Gateway answered 401 without "
                "invoking the authorizer.",
            )
        request = exchange.request
        arn = request.arn
        block["arn"] = arn
        block["cache"] = "miss" if self.ttl > 0 else "off"
        route = exchange.route
        assert route is not None
        if config.kind == "TOKEN":
            event = events.token_authorizer_event(route, identity[0] or "", request)
        else:
            event = events.request_authorizer_event(
                self.api, route, request, [v or "" for v in identity], config.payload_version
            )
        block["event"] = self.redaction.event(event)
        invocation = self.services.invoke_authorizer(self.function, event, block)
        block.update(
            invoked=True,
            cold_start=invocation.cold_start,
            duration_ms=round(invocation.duration_ms, 3),
            function=self.function.logical_id,
        )
        keys = (block.get("decision") or {}).get("jwks")
        if keys is not None:  # only our authorizer's decision line says how it had the keys
            block["jwks"] = keys
        failure = self._failure(invocation, block)
        if failure is not None:
            return failure
        response = invocation.result
        block["result"] = response
        if self.ttl > 0:
            self.services.cache.put(key, response, self.ttl)
        decision_reason = (block.get("decision") or {}).get("reason")
        verdict = self._verdict(route, response, arn, False, decision_reason)
        block.update(verdict.block)  # type: ignore[typeddict-item]
        return self._apply(exchange, verdict, block)

    def _replay(self, exchange: Exchange, entry: CachedResult) -> Replay:
        """What a cached result means for this request's ARN (only its policy decides),
        remembered on the entry: it cannot change while the entry lives."""
        arn = exchange.request.arn
        assert exchange.route is not None
        verdict = self._verdict(exchange.route, entry.response, arn, True, None)
        block: TraceAuthorizer = {  # type: ignore[typeddict-item]
            **self.trace_fields,
            "identity_source_present": True,
            "invoked": False,
            "cache": "hit",
            "arn": arn,
            **verdict.block,
        }
        context = verdict.context
        if context is not None and self.api.kind == "REST":
            context = {**context, "integrationLatency": 0}  # no authorizer ran
        # Every hit on this ARN shares the block: traces are only read once written.
        hit = Replay(block, verdict.policy, context, verdict.refusal)
        if len(entry.verdicts) < MAX_VERDICTS_PER_ENTRY:
            entry.verdicts[arn] = hit
        return hit

    def _apply(
        self, exchange: Exchange, verdict: Verdict, block: TraceAuthorizer
    ) -> Grant | Refusal:
        if verdict.policy is not None:
            exchange.trace["policy"] = verdict.policy
        if verdict.refusal is not None:
            return verdict.refusal
        assert verdict.context is not None
        # A fresh copy for each integration event, as the function may change its event.
        if self.api.kind == "REST":  # flat strings
            return Grant(
                {**verdict.context, "integrationLatency": int(block.get("duration_ms", 0))}
            )
        return Grant(json_native_copy(verdict.context))

    def _verdict(
        self,
        route: Route,
        response: dict[str, Any],
        arn: str,
        hit: bool,
        decision_reason: str | None,
    ) -> Verdict:
        """Work out what an authorizer's answer means for a request's ARN (and its route,
        whose payload version shapes the context the integration receives)."""
        context = response.get("context") or {}
        if self.config.simple_responses:
            # The context rides along in the trace, so a cached verdict still says why.
            shown = {"context": context} if context else {}
            if response.get("isAuthorized") is True:
                reason = context.get("reason", "allowed")
                granted = events.lambda_authorizer_context(self.api, route, context, None)
                return Verdict({"outcome": "allow", "reason": reason, **shown}, None, granted)
            return Verdict(
                {
                    "outcome": "deny",
                    "reason": context.get("reason") or decision_reason,
                    **shown,
                },
                None,
                None,
                Refusal(
                    "FORBIDDEN",
                    "The authorizer's simple response said isAuthorized: false, which HTTP "
                    "APIs answer with 403 (a simple response cannot ask for 401).",
                ),
            )
        result = evaluate(response["policyDocument"], arn)
        block: dict[str, Any] = {}
        if context:
            block["context"] = context
        if hit:
            # The cached answer was made for whichever request came first: what decides now
            # is only whether its policy covers this request's ARN.
            block["cached_decision_reason"] = context.get("reason")
            block["reason"] = _REASON_OF_EFFECT.get(result.effect, "implicit_deny")
        else:
            block["reason"] = context.get("reason") or decision_reason
        policy: TracePolicy = {"arn": arn, "effect": result.effect, "resource": result.resource}  # type: ignore[typeddict-item]
        if result.effect == "Allow":
            block["outcome"] = "allow"
            principal = response["principalId"]
            if self.api.kind == "REST":
                # REST hands context values to integrations as strings.
                flat = {
                    k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in context.items()
                }
                return Verdict(block, policy, {**flat, "principalId": principal})
            granted = events.lambda_authorizer_context(self.api, route, context, principal)
            return Verdict(block, policy, granted)
        block["outcome"] = "deny"
        if result.effect == "Deny":
            summary = f"The policy explicitly denies {arn} (statement resource {result.resource})."
            return Verdict(block, policy, None, Refusal("EXPLICIT_DENY", summary))
        summary = (
            f"No Allow statement of the policy covers {arn}"
            + (" (a cached policy written for another route)" if hit else "")
            + "."
        )
        return Verdict(block, policy, None, Refusal("IMPLICIT_DENY", summary))

    def _failure(self, invocation: Invocation, block: TraceAuthorizer) -> Refusal | None:
        """The refusal for an authorizer that raised, timed out or answered malformed."""
        if invocation.failed:
            block["error"] = {
                "type": invocation.error_type or "",
                "message": invocation.error_message,
            }
            if invocation.error_message == "Unauthorized":
                block["outcome"] = "unauthorized"
                block["reason"] = (block.get("decision") or {}).get("reason", "unauthorized")
                return Refusal(
                    "UNAUTHORIZED",
                    "The authorizer raised Exception('Unauthorized'), which API Gateway "
                    "answers with 401.",
                )
            block["outcome"] = "error"
            block["reason"] = "authorizer_error"
            return Refusal(
                "AUTHORIZER_FAILURE",
                f"The authorizer failed ({invocation.error_type}: "
                f"{invocation.error_message}); API Gateway answers 500.",
            )
        response = invocation.result
        if self.config.simple_responses:
            valid = isinstance(response, dict) and isinstance(response.get("isAuthorized"), bool)
            problem = None if valid else "isAuthorized is missing or not a boolean"
            if valid and not isinstance(response.get("context", {}) or {}, dict):
                problem = "context is not an object"
        else:
            problem = malformed(response, rest=self.api.kind == "REST")
        if problem is None and self.api.kind == "HTTP":
            try:  # what reaches the integration must be JSON (no NaN or Infinity)
                json_native_copy(response.get("context"))
            except (TypeError, RecursionError):
                problem = "context holds a value JSON cannot carry (NaN or Infinity)"
        if problem is None:
            return None
        block["outcome"] = "error"
        block["reason"] = "authorizer_malformed_response"
        block["error"] = {"type": "AuthorizerConfigurationException", "message": problem}
        return Refusal(
            "AUTHORIZER_CONFIGURATION_ERROR",
            f"The authorizer's response is malformed ({problem}); API Gateway answers 500.",
        )


class JwtAuthorizer(AuthorizerType):
    """The HTTP API's built-in JWT authorizer: no Lambda, no result cache."""

    kinds = ("JWT",)

    def __init__(self, api: Api, config: Authorizer, services: Authorization) -> None:
        super().__init__(api, config, services)
        self.ttl = 0
        self.trace_fields["ttl"] = 0
        self.trace_fields["cache_key"] = (
            "not cached: the JWT authorizer checks every request's token itself and keeps only "
            "the issuer's public keys (JWKS)"
        )
        self.checker = JwtChecker(config.issuer or "", config.audience)

    def authorize(self, exchange: Exchange) -> Grant | Refusal:
        identity = self.identity(exchange)[0]
        route = exchange.route
        assert route is not None
        block: TraceAuthorizer = {  # type: ignore[typeddict-item]
            **self.trace_fields,
            "identity_source_present": bool(identity),
            "invoked": False,
            "cache": "off",
        }
        exchange.trace["authorizer"] = block
        outcome = self.checker.check(identity, route.scopes)
        block.update(reason=outcome.reason, detail=outcome.detail, route_scopes=list(route.scopes))
        if self.checker.jwks is not None:
            block["jwks"] = self.checker.jwks  # type: ignore[typeddict-item]
        if outcome.claims:
            block["claims"] = {
                k: outcome.claims.get(k)
                for k in ("iss", "sub", "aud", "azp", "scope", "exp", "gty")
                if k in outcome.claims
            }
        if outcome.status == 200:
            block["outcome"] = "allow"
            claims = render_claims(outcome.claims)
            return Grant(events.jwt_authorizer_context(route, claims, outcome.scopes))
        block["outcome"] = "unauthorized" if outcome.status == 401 else "deny"
        headers = (
            ()
            if outcome.reason == "missing_token"
            else (("www-authenticate", outcome.www_authenticate),)
        )
        return Refusal(
            "UNAUTHORIZED" if outcome.status == 401 else "FORBIDDEN",
            f"The JWT authorizer refused the request: {outcome.detail}.",
            headers,
        )


class CognitoUserPoolsAuthorizer(AuthorizerType):
    """The REST API's built-in `COGNITO_USER_POOLS` authorizer (`cognito_authorizer.py`).

    The result cache is keyed by the token (the identity source): a hit skips the signature
    check but not what the method needs (ID or access token, scopes), which differs per
    method; and the emulator still refuses a cached token once it has expired.
    """

    kinds = ("COGNITO_USER_POOLS",)

    def __init__(self, api: Api, config: Authorizer, services: Authorization) -> None:
        super().__init__(api, config, services)
        self.checker = CognitoChecker(config.user_pool_issuers)
        self.trace_fields["cache_key"] = (
            "not cached"
            if self.ttl == 0
            else f"the token ({' and '.join(self.trace_fields['identity_sources'])}); what "
            "each method needs (an ID token, or an access token with one of its scopes) is "
            "checked again"
        )

    def authorize(self, exchange: Exchange) -> Grant | Refusal:
        config = self.config
        identity = self.identity(exchange)[0]
        route = exchange.route
        assert route is not None
        block: TraceAuthorizer = {  # type: ignore[typeddict-item]
            **self.trace_fields,
            "identity_source_present": bool(identity),
            "invoked": False,
            "cache": "off",
            "route_scopes": list(route.scopes),
        }
        exchange.trace["authorizer"] = block
        if not identity:
            return self.missing_identity(block)
        if config.validation_expression and not config.validation_pattern.fullmatch(identity):
            block.update(outcome="unauthorized", reason="cognito_validation_expression")
            return Refusal(
                "UNAUTHORIZED",
                f"The token does not match the validation expression "
                f"{config.validation_expression}, so API Gateway answered 401.",
            )
        token = identity.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        key = (self.api.api_id, config.name, (token,))
        entry = self.services.cache.get(key) if self.ttl > 0 else None
        if entry is not None:
            block["cache"] = "hit"
            claims = entry.response
            outcome = self.checker.still_valid(claims)
        else:
            block["cache"] = "miss" if self.ttl > 0 else "off"
            outcome = self.checker.verify(token)
            if self.checker.jwks is not None:
                block["jwks"] = self.checker.jwks  # type: ignore[typeddict-item]
            claims = outcome.claims
            if outcome.allowed and self.ttl > 0:
                self.services.cache.put(key, claims, self.ttl)
        if outcome.allowed:
            outcome = method_check(claims, route.scopes)
        block.update(reason=outcome.reason, detail=outcome.detail)
        if claims:
            block["claims"] = {
                k: claims[k]
                for k in ("iss", "sub", "token_use", "client_id", "aud", "scope", "exp")
                if k in claims
            }
        if outcome.allowed:
            block["outcome"] = "allow"
            return Grant({"claims": render_cognito_claims(claims)})
        block["outcome"] = "unauthorized"
        if outcome.expired:
            return Refusal(
                "UNAUTHORIZED_EXPIRED",
                f"The Cognito authorizer refused the token: {EXPIRED_MESSAGE}.",
            )
        return Refusal(
            "UNAUTHORIZED", f"The Cognito authorizer refused the token: {outcome.detail}."
        )


class IamAuthorizer(AuthorizerType):
    """`AWS_IAM`: SigV4 signature, credential and identity policies (`iam_authorizer.py`).

    Nothing is cached: every request's signature is its own. The credentials are the local
    account's (`Authorization.credentials`).
    """

    kinds = ("AWS_IAM",)

    def __init__(self, api: Api, config: Authorizer, services: Authorization) -> None:
        super().__init__(api, config, services)
        self.ttl = 0
        self.trace_fields["ttl"] = 0
        self.checker = IamChecker(services.credentials, rest=api.kind == "REST")

    def authorize(self, exchange: Exchange) -> Grant | Refusal:
        request = exchange.request
        signed = bool(request.header("Authorization")) or any(
            name == "X-Amz-Algorithm" for name, _ in request.query
        )
        block: TraceAuthorizer = {  # type: ignore[typeddict-item]
            **self.trace_fields,
            "identity_source_present": signed,
            "invoked": False,
            "cache": "off",
            "arn": request.arn,
        }
        exchange.trace["authorizer"] = block
        outcome = self.checker.check(request)
        block.update(reason=outcome.reason, detail=outcome.detail)
        if outcome.block:
            block["iam"] = outcome.block
        statement = outcome.block.get("statement", False)
        if statement is not False:
            exchange.trace["policy"] = {
                "arn": request.arn,
                "effect": statement["effect"] if statement else "ImplicitDeny",
                "resource": statement["resource"] if statement else None,
            }
        if outcome.allowed:
            block["outcome"] = "allow"
            context, identity = grant_fields(outcome, self.api.kind == "REST")
            return Grant(context, identity)
        assert outcome.response is not None
        block["outcome"] = "deny" if outcome.response == "ACCESS_DENIED" else "unauthorized"
        return Refusal(
            outcome.response,
            f"IAM authorization refused the request: {outcome.detail}.",
            message=outcome.message,
            error_type=outcome.error_type,
        )


# The authorizer types the gateway serves, by the template's type name.
AUTHORIZER_TYPES: dict[str, type[AuthorizerType]] = {
    kind: cls
    for cls in (LambdaAuthorizer, JwtAuthorizer, CognitoUserPoolsAuthorizer, IamAuthorizer)
    for kind in cls.kinds
}


@dataclass
class Authorization:
    """The stage: every API's authorizers, the shared result cache, the Lambda runtime and
    the local AWS account's credentials (what `AWS_IAM` routes check signatures against)."""

    apis: list[Api]
    runtime: LambdaRuntime
    cache: ResultCache = field(default_factory=ResultCache)
    credentials: CredentialStore = field(default_factory=CredentialStore)

    def __post_init__(self) -> None:
        self._local = threading.local()
        self._authorizers: dict[tuple[str, str], AuthorizerType] = {}
        for api in self.apis:
            for config in api.authorizers.values():
                if config.ttl > MAX_TTL:
                    raise ValueError(
                        f"{api.logical_id}.{config.name}: TTL {config.ttl} is above API "
                        f"Gateway's maximum {MAX_TTL}"
                    )
                kind = AUTHORIZER_TYPES.get(config.kind)
                if kind is None:
                    raise ValueError(
                        f"{api.logical_id}.{config.name}: the emulator has no {config.kind} "
                        f"authorizer (it serves {', '.join(AUTHORIZER_TYPES)})"
                    )
                self._authorizers[(api.api_id, config.name)] = kind(api, config, self)
        # Each route's authorizer by the route's identity: one lookup per request, no key to
        # build (routes live as long as the model).
        self._by_route: dict[int, AuthorizerType] = {
            id(route): self._authorizers[(api.api_id, route.authorizer.name)]
            for api in self.apis
            for route in api.routes
            if route.authorizer is not None
        }
        audit.add_listener(self._on_decision)

    def close(self) -> None:
        audit.remove_listener(self._on_decision)

    def _on_decision(self, fields: dict[str, Any]) -> None:
        block = getattr(self._local, "block", None)
        if block is not None:
            block["decision"] = fields

    def invoke_authorizer(
        self, function: Any, event: dict[str, Any], block: TraceAuthorizer
    ) -> Invocation:
        """Run an authorizer function; its decision line lands in the trace's block."""
        self._local.block = block
        try:
            return self.runtime.invoke(function, event)
        finally:
            self._local.block = None

    def describe(self, api: Api, name: str) -> AuthorizerType:
        return self._authorizers[(api.api_id, name)]

    def authorize(self, exchange: Exchange) -> Grant | Refusal:
        """Decide a request whose route has an authorizer."""
        return self._by_route[id(exchange.route)].authorize(exchange)
