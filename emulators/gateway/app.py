"""The API Gateway emulator as a WSGI application: every API of `template.yaml` on one port.

A request to `/{api id}/{stage}/{path}` goes through the pipeline in API Gateway's order,
one module per stage:

    request limits (here) -> route match (`routing.py`) -> authorization (`authorization.py`:
    identity sources, result cache, authorizer, verdict) -> integration (`integration.py`)
    -> response (`responses.py`)

Each stage fills in the request's `Exchange` or returns a `Refusal`, which `responses.py`
renders as AWS's gateway response; every request leaves a trace (`traces.py`). Anything
else is one of the emulator's own endpoints (`local_endpoints.py`).

Limits from https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html:
10 MB payloads; 10,240 bytes of headers.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import quote

from werkzeug.wrappers import Request

from emulators.aws.account import LocalAccount
from emulators.aws.endpoints import AwsEndpoints

from . import events
from .authorization import Authorization
from .authorization import ResultCache
from .exchange import Answer
from .exchange import Exchange
from .exchange import Grant
from .exchange import Refusal
from .integration import Integration
from .lambdas import LambdaRuntime
from .lambdas import request_id as new_request_id
from .local_endpoints import LocalEndpoints
from .local_endpoints import json_response
from .responses import gateway_response
from .responses import status_line
from .routing import RouteTable
from .template import Api
from .template import Model
from .traces import DecidedBy
from .traces import Trace
from .traces import TraceApi
from .traces import TraceStore
from .traces import new_trace

log = logging.getLogger("emulators.gateway")
MAX_HEADER_BYTES = 10240
MAX_BODY_BYTES = events.MAX_BODY_BYTES
_NO_AUTHORIZER = Grant(None)
# The refusals whose gateway response comes before any authorizer runs.
_BEFORE_AUTHORIZER = frozenset(("identity_source_missing", "validation_expression"))


def _request_path(environ: dict[str, Any]) -> str:
    """The request's path, percent-decoded once and read as UTF-8, as API Gateway reads it.

    WSGI hands PATH_INFO over decoded, each byte as one Latin-1 character (PEP 3333), so
    `/items/%C3%A9` arrives as `/items/Ã©`: its bytes are re-read as UTF-8.
    """
    path = environ.get("PATH_INFO") or "/"
    if path.isascii():  # the usual case: nothing to re-read
        return path
    try:
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:  # not UTF-8: keep what the server gave (AWS would too, mangled)
        return path


# What a URI path may hold unencoded (RFC 3986 pchar and "/"): a client that sent such a path
# literally could also have sent some of it percent-encoded; nothing else was sent literally.
_URI_PATH_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/"
)


def _raw_paths(environ: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The path as the client sent it, still percent-encoded (what a SigV4 signature
    covers), and other spellings it may have had when the server does not say.

    Werkzeug keeps the request line's path in RAW_URI/REQUEST_URI. Granian does not: the
    decoded path is encoded again as botocore encodes (`/~` safe), and when every character
    of it may also stand unencoded (`+`, `!`, `:` …), that literal spelling is the
    alternative. Both decode to the path routing and policies use, so trying both changes
    what is authorized not at all.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = raw.split("?", 1)[0]
        if path.startswith("/"):
            return path, ()
    decoded = environ.get("PATH_INFO") or "/"
    encoded = quote(decoded.encode("latin-1"), safe="/~")
    if encoded != decoded and _URI_PATH_CHARACTERS.issuperset(decoded):
        return encoded, (decoded,)
    return encoded, ()


class Gateway:
    """The emulator as a WSGI application."""

    def __init__(
        self,
        model: Model,
        base_url: str,
        local_env: dict[str, str] | None = None,
        account: LocalAccount | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        # The server process's HTTP_* variables, which Granian copies into every environ:
        # not request headers (`events.wsgi_headers`).
        self._process_http = {k: v for k, v in os.environ.items() if k.startswith("HTTP_")}
        self.runtime = LambdaRuntime(model.functions, local_env or {})
        self._stages: dict[str, dict[str, Api]] = {}
        for api in model.apis:
            self._stages.setdefault(api.api_id, {})[api.stage] = api
        self._routes = {api.api_id: RouteTable(api) for api in model.apis}
        self._trace_api: dict[str, TraceApi] = {
            api.api_id: {
                "id": api.api_id,
                "name": api.logical_id,
                "type": api.kind,  # type: ignore[typeddict-item]
                "stage": api.stage,
            }
            for api in model.apis
        }
        # The local AWS account (IAM principals, STS, identity pools) read from the same
        # template; its credential store is what the IAM authorizer looks access keys up in.
        self.account = account or LocalAccount()
        self.aws = AwsEndpoints(self.account, self.base_url)
        self.authorization = Authorization(
            model.apis, self.runtime, ResultCache(), self.account.credentials
        )
        self.integration = Integration(self.runtime)
        self.traces = TraceStore()
        self.local = LocalEndpoints(self)

    def stages_of(self, api_id: str) -> dict[str, Api]:
        """The stages of one API by name (empty when there is no such API)."""
        return self._stages.get(api_id, {})

    @property
    def cache(self) -> ResultCache:
        """The authorizer result cache of every API."""
        return self.authorization.cache

    def close(self) -> None:
        """Stop listening to decisions and restore the environment."""
        self.authorization.close()
        self.runtime.close()

    def catalogue(self) -> dict[str, Any]:
        return self.local.catalogue()

    # WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            path = _request_path(environ)
            parts = path.split("/", 3)
            stages = self._stages.get(parts[1]) if len(parts) >= 3 else None
            if stages is None:
                return self.local.dispatch(Request(environ))(environ, start_response)
            api = stages.get(parts[2])
            within = "/" + (parts[3] if len(parts) == 4 else "")
            if api is None and "$default" in stages:
                # A $default stage is served at the API's root: no stage in the URL.
                api, within = stages["$default"], "/" + path.split("/", 2)[2]
            if api is None:
                answer = self._unknown_stage(stages, parts[2])
            else:
                # The API path skips Werkzeug's request and response objects: a request
                # through the emulator should cost little next to the work it emulates.
                answer, trace = self.handle(api, environ, within)
                self.traces.keep(trace)
            start_response(
                status_line(answer.status),
                [*answer.headers, ("Content-Length", str(len(answer.body)))],
            )
            return [answer.body]
        except Exception:  # never a stack trace to the client
            log.exception("emulator error")
            return json_response(
                500, {"message": "Internal Server Error"}, [("x-amzn-ErrorType", "InternalFailure")]
            )(environ, start_response)

    def _unknown_stage(self, stages: dict[str, Api], stage: str) -> Answer:
        """A stage the API does not have: REST's 403 Missing Authentication Token, HTTP's 404.

        AWS sends these before any route is looked at and keeps no log of them, so the
        emulator keeps no trace either.
        """
        api = next(iter(stages.values()))
        response = "MISSING_AUTHENTICATION_TOKEN" if api.kind == "REST" else "NOT_FOUND"
        answer = gateway_response(api, Refusal(response, f"No stage {stage!r}."), new_request_id())
        if api.kind == "HTTP":  # HTTP APIs answer an unknown stage with the bare body
            answer.headers = [("Content-Type", "application/json")]
        return answer

    # One API request -------------------------------------------------------------------------

    def handle(self, api: Api, environ: dict[str, Any], path: str) -> tuple[Answer, Trace]:
        """Serve one request to an API the way API Gateway would; return it with its trace."""
        started = time.perf_counter()
        request_id = new_request_id()
        method = environ.get("REQUEST_METHOD", "GET")
        trace = new_trace(request_id, self._trace_api[api.api_id], method, path)
        outcome, decided_by = self._pipeline(api, environ, method, path, trace)
        if isinstance(outcome, Refusal):
            answer = gateway_response(api, outcome, request_id)
            trace["summary"] = outcome.summary
        else:
            answer = outcome
            trace["summary"] = f"The function answered {answer.status}."
        trace["status"] = answer.status
        trace["decided_by"] = decided_by
        trace["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return answer, trace

    def _pipeline(
        self, api: Api, environ: dict[str, Any], method: str, path: str, trace: Trace
    ) -> tuple[Answer | Refusal, DecidedBy]:
        """The stages in AWS's order; the first refusal ends the request."""
        # Request limits.
        headers = events.wsgi_headers(environ, self._process_http)
        header_bytes = sum(len(k) + len(v) + 4 for k, v in headers)
        if header_bytes > MAX_HEADER_BYTES:
            return Refusal(
                "HEADERS_TOO_LARGE",
                f"The headers are {header_bytes} bytes; API Gateway takes {MAX_HEADER_BYTES}.",
            ), "request"
        body = events.read_body(environ)
        if body is None:
            return Refusal(
                "REQUEST_TOO_LARGE", "The body is over API Gateway's 10 MB limit."
            ), "request"
        raw_query = environ.get("QUERY_STRING", "")
        request = events.IncomingRequest(
            trace["id"],
            method,
            path,
            headers,
            parse_qsl(raw_query, keep_blank_values=True) if raw_query else [],
            raw_query,
            body,
            environ.get("REMOTE_ADDR") or "127.0.0.1",
            int(time.time() * 1000),
        )
        request.raw_path, request.raw_path_alternatives = _raw_paths(environ)
        exchange = Exchange(api, request, trace)

        # Route match.
        match = self._routes[api.api_id].match(method, path)
        if match is None:
            if api.kind == "REST":
                return Refusal(
                    "MISSING_AUTHENTICATION_TOKEN",
                    f"No {method} {path} route: REST APIs answer 'Missing Authentication "
                    "Token' for unknown routes.",
                ), "routing"
            return Refusal("NOT_FOUND", f"No {method} {path} route."), "routing"
        route = exchange.route = match.route
        request.path_parameters = match.path_parameters
        request.arn = match.arn
        trace["request"]["route"] = route.key
        if match.path_parameters:
            trace["request"]["path_parameters"] = match.path_parameters

        # Authorization.
        grant = _NO_AUTHORIZER
        if route.authorizer is not None:
            decision = self.authorization.authorize(exchange)
            if isinstance(decision, Refusal):
                block = trace["authorizer"] or {}
                before = block.get("reason") in _BEFORE_AUTHORIZER
                return decision, "identity_source" if before else "authorizer"
            grant = decision

        # Integration.
        return self.integration.call(exchange, grant), "integration"
