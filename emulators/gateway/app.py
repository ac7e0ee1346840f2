"""The API Gateway emulator: serves every API of `template.yaml` on one local port.

Each request goes through what API Gateway does, in its order: route match, identity
source check (401 without invoking), authorizer result cache (TTL from the template, keyed
by the identity sources, re-checked against each request's ARN), the authorizer (real
Lambda code, in-process), policy evaluation, the Lambda proxy integration, and the mapping
of every outcome to AWS's status codes, bodies and headers. Each request leaves a trace,
readable as JSON by its request id, with the token redacted.

Local endpoints beside the APIs: `GET /` (catalogue), `GET /_lab/traces[/{id}]`, and the
cache flushes `DELETE /restapis/{id}/stages/{stage}/cache/authorizers` (REST) and
`DELETE /v2/apis/{id}/stages/{stage}/cache/authorizers` (HTTP, `ResetAuthorizersCache`).
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from http import HTTPStatus
from typing import Any
from typing import NamedTuple
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from authorizer import audit

from . import events
from .jwt_authorizer import JwtAuthorizer
from .jwt_authorizer import render_claims
from .lambdas import Invocation
from .lambdas import LambdaRuntime
from .lambdas import json_native_copy
from .lambdas import request_id as new_request_id
from .policy import evaluate
from .policy import malformed
from .template import Api
from .template import Authorizer
from .template import Model
from .template import Route

log = logging.getLogger("emulators.gateway")
MAX_HEADER_BYTES = 10240
MAX_BODY_BYTES = events.MAX_BODY_BYTES
TRACE_LIMIT = 500
MAX_TTL = 3600
REDACTED = "<redacted>"

# Gateway responses: (status, body) per API type, as AWS sends them by default.
REST_ERRORS = {
    "UNAUTHORIZED": (401, {"message": "Unauthorized"}, "UnauthorizedException"),
    "EXPLICIT_DENY": (
        403,
        {"Message": "User is not authorized to access this resource with an explicit deny"},
        "AccessDeniedException",
    ),
    "IMPLICIT_DENY": (
        403,
        {"Message": "User is not authorized to access this resource"},
        "AccessDeniedException",
    ),
    "AUTHORIZER_FAILURE": (500, {"message": None}, "AuthorizerFailureException"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, {"message": None}, "AuthorizerConfigurationException"),
    "MISSING_AUTHENTICATION_TOKEN": (
        403,
        {"message": "Missing Authentication Token"},
        "MissingAuthenticationTokenException",
    ),
    "INTEGRATION_FAILURE": (
        502,
        {"message": "Internal server error"},
        "InternalServerErrorException",
    ),
    "REQUEST_TOO_LARGE": (413, {"message": "Request Too Long"}, "RequestTooLargeException"),
    "HEADERS_TOO_LARGE": (
        431,
        {"message": "Request Header Fields Too Large"},
        "RequestHeaderFieldsTooLargeException",
    ),
}
HTTP_ERRORS = {
    "UNAUTHORIZED": (401, {"message": "Unauthorized"}),
    "FORBIDDEN": (403, {"message": "Forbidden"}),
    "AUTHORIZER_FAILURE": (500, {"message": "Internal Server Error"}),
    "NOT_FOUND": (404, {"message": "Not Found"}),
    "INTEGRATION_FAILURE": (500, {"message": "Internal Server Error"}),
    "REQUEST_TOO_LARGE": (413, {"message": "Request Entity Too Large"}),
    "HEADERS_TOO_LARGE": (431, {"message": "Request Header Fields Too Large"}),
}


def fingerprint(value: str) -> str:
    """Return the identifier under which a credential appears in traces."""
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:16]


def redact_credential(value: str | None) -> str | None:
    """Replace a credential with its scheme and fingerprint."""
    if value is None:
        return None
    scheme = value.split(" ", 1)[0] if " " in value else ""
    return f"{scheme} {REDACTED} sha256:{fingerprint(value)}".strip()


def _redact_event(event: dict[str, Any]) -> dict[str, Any]:
    redacted = dict(event)
    if "authorizationToken" in redacted:
        redacted["authorizationToken"] = redact_credential(redacted["authorizationToken"])
    if "identitySource" in redacted:
        source = redacted["identitySource"]
        redacted["identitySource"] = (
            [redact_credential(v) if isinstance(v, str) and " " in v else v for v in source]
            if isinstance(source, list)
            else redact_credential(source)
        )
    for key in ("headers", "multiValueHeaders"):
        if isinstance(redacted.get(key), dict):
            headers = {}
            for name, value in redacted[key].items():
                if name.lower() in ("authorization", "cookie"):
                    value = (
                        [redact_credential(v) for v in value]
                        if isinstance(value, list)
                        else redact_credential(value)
                    )
                headers[name] = value
            redacted[key] = headers
    return redacted


@dataclass
class CachedResult:
    """An authorizer's answer kept for the TTL: a policy (with context) or a simple verdict.

    What it means for each method or route ARN is remembered: it cannot change while cached.
    """

    response: dict[str, Any]
    expires: float
    verdicts: dict[str, tuple[Verdict, dict[str, Any]]] = field(default_factory=dict)


_REASON_OF_EFFECT = {"Allow": "allowed", "Deny": "explicit_deny"}


class Verdict(NamedTuple):
    """What an authorizer's answer means for one ARN: allowed with a context, or an error."""

    block: dict[str, Any]  # outcome and reason fields for the trace's authorizer block
    policy: dict[str, Any] | None  # the trace's policy evaluation (policy mode)
    context: dict[str, Any] | None  # for the integration when allowed; None when refused
    error: str = ""  # the AWS error when refused
    summary: str = ""


def _verdict(
    api: Api,
    authorizer: Authorizer,
    response: dict[str, Any],
    arn: str,
    hit: bool,
    decision_reason: str | None,
) -> Verdict:
    """Work out what an authorizer's answer means for a request's ARN."""
    context = response.get("context") or {}
    if authorizer.simple_responses:
        if response.get("isAuthorized") is True:
            return Verdict(
                {"outcome": "allow", "reason": context.get("reason", "allowed")},
                None,
                {"lambda": context},
            )
        return Verdict(
            {"outcome": "deny", "reason": context.get("reason") or decision_reason},
            None,
            None,
            "FORBIDDEN",
            "The authorizer's simple response said isAuthorized: false, which HTTP "
            "APIs answer with 403 (a simple response cannot ask for 401).",
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
    policy = {"arn": arn, "effect": result.effect, "resource": result.resource}
    if result.effect == "Allow":
        block["outcome"] = "allow"
        if api.kind == "REST":
            # REST hands context values to integrations as strings.
            rest_context = {
                k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in context.items()
            }
            return Verdict(block, policy, {**rest_context, "principalId": response["principalId"]})
        if authorizer.payload_version == "2.0":
            return Verdict(block, policy, {"lambda": context})
        return Verdict(block, policy, {**context, "principalId": response["principalId"]})
    block["outcome"] = "deny"
    if result.effect == "Deny":
        name = "EXPLICIT_DENY" if api.kind == "REST" else "FORBIDDEN"
        summary = f"The policy explicitly denies {arn} (statement resource {result.resource})."
    else:
        name = "IMPLICIT_DENY" if api.kind == "REST" else "FORBIDDEN"
        summary = (
            f"No Allow statement of the policy covers {arn}"
            + (" (a cached policy written for another route)" if hit else "")
            + "."
        )
    return Verdict(block, policy, None, name, summary)


@dataclass
class Outcome:
    """What the gateway answers, with the trace of how it got there."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]
    trace: dict[str, Any] = field(default_factory=dict)


class ResultCache:
    """The authorizer result cache of all APIs, keyed per API, authorizer and identity."""

    def __init__(self, max_entries: int = 10000) -> None:
        self._entries: dict[tuple[Any, ...], CachedResult] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: tuple[Any, ...]) -> CachedResult | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() >= entry.expires:
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


class Gateway:
    """The emulator as a WSGI application."""

    def __init__(
        self,
        model: Model,
        base_url: str,
        local_env: dict[str, str] | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.runtime = LambdaRuntime(model.functions, local_env or {})
        self.apis = {(api.api_id, api.stage): api for api in model.apis}
        self._routes = {
            api.api_id: {(r.method, r.path): r for r in api.routes} for api in model.apis
        }
        self.cache = ResultCache()
        self.traces: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._traces_lock = threading.Lock()
        self._jwt: dict[tuple[str, str], JwtAuthorizer] = {}
        self._local = threading.local()
        audit.add_listener(self._on_decision)
        for api in model.apis:
            for authorizer in api.authorizers.values():
                if authorizer.ttl > MAX_TTL:
                    raise ValueError(
                        f"{api.logical_id}.{authorizer.name}: TTL "
                        f"{authorizer.ttl} is above API Gateway's maximum 3600"
                    )

    def close(self) -> None:
        """Stop listening to decisions and restore the environment."""
        audit.remove_listener(self._on_decision)
        self.runtime.close()

    def _on_decision(self, fields: dict[str, Any]) -> None:
        trace = getattr(self._local, "authorizer_trace", None)
        if trace is not None:
            trace["decision"] = fields

    # WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            path = environ.get("PATH_INFO") or "/"
            parts = path.split("/", 3)
            api = self.apis.get((parts[1], parts[2])) if len(parts) >= 3 else None
            if api is None:
                response = self.dispatch(Request(environ))
                return response(environ, start_response)
            # The API path skips Werkzeug's request and response objects: a request through
            # the emulator should cost little next to the work it emulates.
            outcome = self.handle(api, environ, "/" + (parts[3] if len(parts) == 4 else ""))
            self._keep_trace(outcome.trace)
            headers = [*outcome.headers, ("Content-Length", str(len(outcome.body)))]
            start_response(_status_line(outcome.status), headers)
            return [outcome.body]
        except Exception:  # never a stack trace to the client
            log.exception("emulator error")
            response = self._json(
                500, {"message": "Internal Server Error"}, [("x-amzn-ErrorType", "InternalFailure")]
            )
            return response(environ, start_response)

    def _json(
        self,
        status: int,
        body: Any,
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        for name, value in headers or []:
            response.headers.add(name, value)
        return response

    def dispatch(self, request: Request) -> Response:
        """Route a request to the local endpoints or to an API."""
        path = request.path
        if path == "/" and request.method == "GET":
            return self._json(200, self.catalogue())
        if path.startswith("/_lab/"):
            return self._lab(request)
        match = re.fullmatch(
            r"/(?:v2/apis|restapis)/([^/]+)/stages/([^/]+)/cache/authorizers", path
        )
        if match:
            if request.method != "DELETE":
                return self._json(405, {"message": "Use DELETE to flush the cache"})
            api = self.apis.get((match.group(1), match.group(2)))
            if api is None:
                return self._json(404, {"message": "Invalid API identifier specified"})
            flushed = self.cache.flush(api.api_id)
            return self._json(202, {"flushed": flushed})
        return self._json(
            404, {"message": "Not Found", "hint": f"no API at this path; see {self.base_url}/"}
        )

    def _lab(self, request: Request) -> Response:
        if request.path == "/_lab/traces":
            with self._traces_lock:
                recent = list(self.traces.values())[-50:]
            return self._json(
                200,
                {
                    "traces": [
                        {
                            "id": t["id"],
                            "time": t["time"],
                            "api": t["api"]["name"],
                            "request": f"{t['request']['method']} {t['request']['path']}",
                            "status": t["status"],
                        }
                        for t in reversed(recent)
                    ]
                },
            )
        trace_id = request.path.removeprefix("/_lab/traces/")
        with self._traces_lock:
            trace = self.traces.get(trace_id)
        if trace is None:
            return self._json(
                404,
                {
                    "message": f"No trace {trace_id!r}; the emulator keeps the "
                    f"last {TRACE_LIMIT} requests"
                },
            )
        return self._json(200, trace)

    def _keep_trace(self, trace: dict[str, Any]) -> None:
        with self._traces_lock:
            self.traces[trace["id"]] = trace
            while len(self.traces) > TRACE_LIMIT:
                self.traces.popitem(last=False)

    def catalogue(self) -> dict[str, Any]:
        """Describe every API: id, type, stage, base URL, routes and their authorization."""
        apis = []
        for api in self.model.apis:
            apis.append(
                {
                    "id": api.api_id,
                    "name": api.logical_id,
                    "title": api.name,
                    "type": api.kind,
                    "stage": api.stage,
                    "base_url": f"{self.base_url}/{api.api_id}/{api.stage}",
                    "authorizers": [self._describe_authorizer(a) for a in api.authorizers.values()],
                    "routes": [
                        {
                            "method": r.method,
                            "path": r.path,
                            "function": r.function.logical_id,
                            "auth": r.authorizer.name if r.authorizer else "NONE",
                            "scopes": list(r.scopes),
                        }
                        for r in api.routes
                    ],
                }
            )
        return {
            "region": "us-east-1",
            "apis": apis,
            "traces": f"{self.base_url}/_lab/traces/{{request id}}",
        }

    @staticmethod
    def _describe_authorizer(authorizer: Authorizer) -> dict[str, Any]:
        described: dict[str, Any] = {
            "name": authorizer.name,
            "type": authorizer.kind,
            "style": authorizer.style,
            "identity_sources": list(authorizer.identity_sources),
            "ttl": authorizer.ttl,
        }
        if authorizer.function:
            described["function"] = authorizer.function.logical_id
            described["handler"] = authorizer.function.handler
        if authorizer.validation_expression:
            described["validation_expression"] = authorizer.validation_expression
        if authorizer.kind == "JWT":
            described.update(issuer=authorizer.issuer, audience=list(authorizer.audience))
        return described

    # One API request ---------------------------------------------------------------------

    def _error(
        self, api: Api, name: str, request_id: str, extra: list[tuple[str, str]] | None = None
    ) -> tuple[int, bytes, list[Any]]:
        if api.kind == "REST":
            status, body, error_type = REST_ERRORS[name]
            headers = [
                ("Content-Type", "application/json"),
                ("x-amzn-RequestId", request_id),
                ("x-amzn-ErrorType", error_type),
            ]
        else:
            status, body = HTTP_ERRORS[name]
            headers = [("Content-Type", "application/json"), ("apigw-requestid", request_id)]
        return status, json.dumps(body).encode(), headers + (extra or [])

    def handle(self, api: Api, environ: dict[str, Any], path: str) -> Outcome:
        """Serve one request to an API the way API Gateway would."""
        started = time.perf_counter()
        request_id = new_request_id()
        method = environ.get("REQUEST_METHOD", "GET")
        trace: dict[str, Any] = {
            "id": request_id,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "api": {"id": api.api_id, "name": api.logical_id, "type": api.kind, "stage": api.stage},
            "request": {"method": method, "path": path, "route": None},
            "authorizer": None,
            "policy": None,
            "integration": None,
        }

        def finish(status: int, body: bytes, headers: list[Any], summary: str) -> Outcome:
            trace["status"] = status
            trace["summary"] = summary
            trace["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            return Outcome(status, body, headers, trace)

        headers = events.wsgi_headers(environ)
        header_bytes = sum(len(k) + len(v) + 4 for k, v in headers)
        if header_bytes > MAX_HEADER_BYTES:
            return finish(
                *self._error(api, "HEADERS_TOO_LARGE", request_id),
                f"The headers are {header_bytes} bytes; API Gateway takes {MAX_HEADER_BYTES}.",
            )
        body = events.read_body(environ)
        if body is None:
            return finish(
                *self._error(api, "REQUEST_TOO_LARGE", request_id),
                "The body is over API Gateway's 10 MB limit.",
            )
        raw_query = environ.get("QUERY_STRING", "")
        incoming = events.IncomingRequest(
            request_id,
            method,
            path,
            headers,
            parse_qsl(raw_query, keep_blank_values=True) if raw_query else [],
            raw_query,
            body,
            environ.get("REMOTE_ADDR") or "127.0.0.1",
            int(time.time() * 1000),
        )

        route = self._routes[api.api_id].get((method, path))
        if route is None:
            if api.kind == "REST":
                return finish(
                    *self._error(api, "MISSING_AUTHENTICATION_TOKEN", request_id),
                    f"No {method} {path} route: REST APIs answer "
                    "'Missing Authentication Token' for unknown routes.",
                )
            return finish(*self._error(api, "NOT_FOUND", request_id), f"No {method} {path} route.")
        trace["request"]["route"] = route.key

        authorizer_context: dict[str, Any] | None = None
        if route.authorizer is not None:
            verdict = self._authorize(api, route, incoming, trace)
            if isinstance(verdict, tuple):
                return finish(*verdict)
            authorizer_context = verdict

        return finish(*self._integrate(api, route, incoming, authorizer_context, trace))

    # Authorization --------------------------------------------------------------------------

    def _identity(
        self, authorizer: Authorizer, route: Route, request: events.IncomingRequest, api: Api
    ) -> tuple[str | None, ...]:
        if authorizer.single_header is not None:  # the usual case: just the Authorization header
            return (request.header(authorizer.single_header),)
        values: list[str | None] = []
        for where, name in authorizer.parsed_sources:
            if where == "header":
                values.append(request.header(name))
            elif where == "querystring":
                values.append(request.query_value(name))
            elif where == "context" and name == "routeKey":
                values.append(route.key)
            elif where == "context" and name == "stage":
                values.append(api.stage)
            else:
                values.append(None)
        return tuple(values)

    def _authorize(
        self, api: Api, route: Route, request: events.IncomingRequest, trace: dict[str, Any]
    ) -> dict[str, Any] | tuple[int, bytes, list[Any], str]:
        authorizer = route.authorizer
        assert authorizer is not None
        rid = request.request_id
        identity = self._identity(authorizer, route, request, api)
        key = (api.api_id, authorizer.name, identity)
        if authorizer.ttl > 0 and authorizer.kind != "JWT":
            # A cached answer exists only for identity values that were present and passed
            # the validation expression, so a hit needs neither check again.
            entry = self.cache.get(key)
            if entry is not None:
                return self._replay(api, authorizer, route.arn, entry, trace, rid)
        present = None not in identity and "" not in identity
        block: dict[str, Any] = {
            **authorizer.trace_fields,
            "identity_source_present": present,
            "invoked": False,
            "cache": "off",
        }
        trace["authorizer"] = block

        if authorizer.kind == "JWT":
            return self._authorize_jwt(api, route, authorizer, identity[0], block, rid)

        # REST caching off: REQUEST authorizers run without identity sources; TOKEN needs one.
        needs_identity = authorizer.kind == "TOKEN" or authorizer.ttl > 0 or api.kind == "HTTP"
        if needs_identity and not present:
            block["outcome"] = "unauthorized"
            block["reason"] = "identity_source_missing"
            return (
                *self._error(api, "UNAUTHORIZED", rid),
                "The identity source (" + ", ".join(authorizer.identity_sources) + ") is "
                "missing or empty, so API Gateway answered 401 without invoking the "
                "authorizer.",
            )
        if authorizer.kind == "TOKEN" and authorizer.validation_expression:
            token = identity[0] or ""
            if not authorizer.validation_pattern.fullmatch(token):
                block["outcome"] = "unauthorized"
                block["reason"] = "validation_expression"
                return (
                    *self._error(api, "UNAUTHORIZED", rid),
                    "The Authorization header does not match the validation expression "
                    f"{authorizer.validation_expression}, so API Gateway answered 401 "
                    "without invoking the authorizer.",
                )

        arn = route.arn
        block["arn"] = arn
        block["cache"] = "miss" if authorizer.ttl > 0 else "off"
        if authorizer.kind == "TOKEN":
            event = events.token_authorizer_event(route, identity[0] or "")
        else:
            event = events.request_authorizer_event(
                api, route, request, [v or "" for v in identity], authorizer.payload_version
            )
        block["event"] = _redact_event(event)
        self._local.authorizer_trace = block
        try:
            assert authorizer.function is not None
            invocation = self.runtime.invoke(authorizer.function, event)
        finally:
            self._local.authorizer_trace = None
        block.update(
            invoked=True,
            cold_start=invocation.cold_start,
            duration_ms=round(invocation.duration_ms, 3),
            function=authorizer.function.logical_id,
        )
        failure = self._authorizer_failure(api, authorizer, invocation, block, rid)
        if failure is not None:
            return failure
        response = invocation.result
        block["result"] = response
        if authorizer.ttl > 0:
            self.cache.put(key, response, authorizer.ttl)

        decision_reason = (block.get("decision") or {}).get("reason")
        verdict = _verdict(api, authorizer, response, arn, False, decision_reason)
        block.update(verdict.block)
        return self._apply(api, verdict, block, trace, rid)

    def _replay(
        self,
        api: Api,
        authorizer: Authorizer,
        arn: str,
        entry: CachedResult,
        trace: dict[str, Any],
        rid: str,
    ) -> dict[str, Any] | tuple[int, bytes, list[Any], str]:
        """Answer from a cached authorizer result: only its policy against this ARN decides."""
        hit = entry.verdicts.get(arn)
        if hit is None:
            verdict = _verdict(api, authorizer, entry.response, arn, True, None)
            block = {
                **authorizer.trace_fields,
                "identity_source_present": True,
                "invoked": False,
                "cache": "hit",
                "arn": arn,
                **verdict.block,
            }
            hit = entry.verdicts[arn] = (verdict, block)
        verdict, block = hit
        # Every hit on this ARN shares the block: traces are only read once written.
        trace["authorizer"] = block
        return self._apply(api, verdict, block, trace, rid)

    def _apply(
        self,
        api: Api,
        verdict: Verdict,
        block: dict[str, Any],
        trace: dict[str, Any],
        rid: str,
    ) -> dict[str, Any] | tuple[int, bytes, list[Any], str]:
        """Put a verdict in the trace; return the integration's context or the error."""
        if verdict.policy is not None:
            trace["policy"] = verdict.policy
        if verdict.context is None:
            return (*self._error(api, verdict.error, rid), verdict.summary)
        # A fresh copy for each integration event, as the function may change its event.
        if api.kind == "REST":  # flat strings
            return {**verdict.context, "integrationLatency": int(block.get("duration_ms", 0))}
        return json_native_copy(verdict.context)

    def _authorizer_failure(
        self,
        api: Api,
        authorizer: Authorizer,
        invocation: Invocation,
        block: dict[str, Any],
        rid: str,
    ) -> tuple[int, bytes, list[Any], str] | None:
        if invocation.failed:
            block["error"] = {"type": invocation.error_type, "message": invocation.error_message}
            if invocation.error_message == "Unauthorized":
                block["outcome"] = "unauthorized"
                block["reason"] = (block.get("decision") or {}).get("reason", "unauthorized")
                return (
                    *self._error(api, "UNAUTHORIZED", rid),
                    "The authorizer raised Exception('Unauthorized'), which API Gateway "
                    "answers with 401.",
                )
            block["outcome"] = "error"
            block["reason"] = "authorizer_error"
            return (
                *self._error(api, "AUTHORIZER_FAILURE", rid),
                f"The authorizer failed ({invocation.error_type}: "
                f"{invocation.error_message}); API Gateway answers 500.",
            )
        response = invocation.result
        problem = None
        if authorizer.simple_responses:
            if not isinstance(response, dict) or not isinstance(response.get("isAuthorized"), bool):
                problem = "isAuthorized is missing or not a boolean"
        else:
            problem = malformed(response, rest=api.kind == "REST")
        if problem is None:
            return None
        block["outcome"] = "error"
        block["reason"] = "authorizer_malformed_response"
        block["error"] = {"type": "AuthorizerConfigurationException", "message": problem}
        name = "AUTHORIZER_CONFIGURATION_ERROR" if api.kind == "REST" else "AUTHORIZER_FAILURE"
        return (
            *self._error(api, name, rid),
            f"The authorizer's response is malformed ({problem}); API Gateway answers 500.",
        )

    def _authorize_jwt(
        self,
        api: Api,
        route: Route,
        authorizer: Authorizer,
        identity: str | None,
        block: dict[str, Any],
        rid: str,
    ) -> dict[str, Any] | tuple[int, bytes, list[Any], str]:
        checker = self._jwt.get((api.api_id, authorizer.name))
        if checker is None:
            checker = JwtAuthorizer(authorizer.issuer or "", authorizer.audience)
            self._jwt[(api.api_id, authorizer.name)] = checker
        outcome = checker.check(identity, route.scopes)
        block.update(
            invoked=False,
            reason=outcome.reason,
            detail=outcome.detail,
            route_scopes=list(route.scopes),
        )
        if outcome.claims:
            block["claims"] = {
                k: outcome.claims.get(k)
                for k in ("iss", "sub", "aud", "azp", "scope", "exp", "gty")
                if k in outcome.claims
            }
        if outcome.status == 200:
            block["outcome"] = "allow"
            return {"jwt": {"claims": render_claims(outcome.claims), "scopes": outcome.scopes}}
        block["outcome"] = "unauthorized" if outcome.status == 401 else "deny"
        name = "UNAUTHORIZED" if outcome.status == 401 else "FORBIDDEN"
        header = (
            []
            if outcome.reason == "missing_token"
            else [("www-authenticate", outcome.www_authenticate)]
        )
        return (
            *self._error(api, name, rid, header),
            f"The JWT authorizer refused the request: {outcome.detail}.",
        )

    # Integration ------------------------------------------------------------------------------

    def _integrate(
        self,
        api: Api,
        route: Route,
        request: events.IncomingRequest,
        authorizer_context: dict[str, Any] | None,
        trace: dict[str, Any],
    ) -> tuple[int, bytes, list[Any], str]:
        rid = request.request_id
        if api.kind == "REST":
            event = events.rest_proxy_event(api, route, request, authorizer_context)
        else:
            event = events.http_proxy_event(api, route, request, authorizer_context)
        invocation = self.runtime.invoke(route.function, event)
        block: dict[str, Any] = {
            "function": route.function.logical_id,
            "cold_start": invocation.cold_start,
            "duration_ms": round(invocation.duration_ms, 3),
        }
        trace["integration"] = block
        if invocation.failed:
            block["error"] = {"type": invocation.error_type, "message": invocation.error_message}
            return (
                *self._error(api, "INTEGRATION_FAILURE", rid),
                f"The function failed ({invocation.error_type}); API Gateway answers "
                f"{502 if api.kind == 'REST' else 500}.",
            )
        mapped = map_proxy_response(invocation.result, api.kind)
        if mapped is None:
            block["error"] = {
                "type": "MalformedProxyResponse",
                "message": "the function's response is not a proxy response",
            }
            return (
                *self._error(api, "INTEGRATION_FAILURE", rid),
                "The function returned a malformed proxy response; API Gateway answers "
                f"{502 if api.kind == 'REST' else 500}.",
            )
        status, headers, body = mapped
        block["status"] = status
        id_header = ("x-amzn-RequestId" if api.kind == "REST" else "apigw-requestid", rid)
        return status, body, [*headers, id_header], f"The function answered {status}."


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def map_proxy_response(result: Any, kind: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """Map a Lambda proxy result to (status, headers, body); None if it is malformed."""
    if kind == "HTTP" and not (isinstance(result, dict) and "statusCode" in result):
        # Payload 2.0 infers a response: any JSON value becomes a 200 JSON body.
        body = result if isinstance(result, str) else json.dumps(result)
        return 200, [("Content-Type", "application/json")], body.encode()
    if not isinstance(result, dict):
        return None
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return None
    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        return None
    for name, value in single.items():
        if name not in multi:
            headers.append((str(name), str(value)))
    for name, values in multi.items():
        if not isinstance(values, list):
            return None
        headers.extend((str(name), str(v)) for v in values)
    body = result.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        if result.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except ValueError:
                return None
        else:
            raw = body.encode("utf-8")
    else:
        return None
    if kind == "HTTP" and isinstance(result.get("cookies"), list):
        headers.extend(("Set-Cookie", str(c)) for c in result["cookies"])
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return status, headers, raw
