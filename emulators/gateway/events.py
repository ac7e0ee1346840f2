"""The events API Gateway sends: to Lambda authorizers and to Lambda proxy integrations.

Shapes follow the AWS developer guide pages `api-gateway-lambda-authorizer-input` (REST
TOKEN and REQUEST authorizers), `set-up-lambda-proxy-integrations` (REST proxy events),
`http-api-lambda-authorizer` (HTTP authorizer payloads 1.0 and 2.0),
`http-api-develop-integrations-lambda` (HTTP integration payloads 1.0 and 2.0) and
`api-gateway-payload-encodings` (when a REST request body is base64-encoded).

What varies by payload, as AWS does it:
- REST and payload 1.0 carry `multiValueHeaders` and `multiValueQueryStringParameters`
  (the single-value maps keep the last value); payload 2.0 joins repeats with commas.
- Header names: REST passes them as the client wrote them, which the WSGI server does not
  tell us, so `Api.header_case` chooses ("title" as HTTP/1.1 clients write them, "lower" as
  HTTP/2 clients must); HTTP APIs lower-case them in every payload.
- Empty maps: a proxy event (REST, HTTP 1.0) has `null` query, path parameters and stage
  variables; payload 2.0 leaves the keys out; a REST REQUEST authorizer event has
  `"pathParameters": {}` (the page's example, for a resource without parameters).
- Bodies: REST base64-encodes a body only when its Content-Type matches the API's
  `binaryMediaTypes`, and passes anything else as UTF-8 text (binary bytes are mangled, as
  on AWS); HTTP APIs pass text/*, application/json, application/xml and
  application/javascript bodies as text and base64-encode every other body.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TYPE_CHECKING
from typing import Any

from .template import ACCOUNT
from .template import Api
from .template import Route

if TYPE_CHECKING:
    from emulators.aws.credentials import Principal

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass
class IncomingRequest:
    """One HTTP request to an API, as the gateway sees it."""

    request_id: str
    method: str
    path: str  # the path within the stage, e.g. "/private"
    headers: list[tuple[str, str]]
    query: list[tuple[str, str]]
    raw_query: str
    body: bytes
    source_ip: str
    epoch_ms: int
    # Set by the route match: the path's variables ({id} -> "123") and the method ARN
    # (REST) or route ARN (HTTP) of this request, which holds the real path.
    path_parameters: dict[str, str] | None = None
    arn: str = ""
    # The whole path as the client sent it, still percent-encoded (`/abc123/dev/a%2Fb`):
    # what a SigV4 signature covers.
    raw_path: str = ""
    # Other spellings the client may have sent, when the server could not say (Granian):
    # a SigV4 signature over any of them verifies.
    raw_path_alternatives: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """Return a header's value (case-insensitive); repeated headers are comma-joined."""
        lookup = self.__dict__.get("_by_name")
        if lookup is None:
            lookup = {}
            for key, value in self.headers:
                lower = key.lower()
                lookup[lower] = f"{lookup[lower]}, {value}" if lower in lookup else value
            self.__dict__["_by_name"] = lookup
        return lookup.get(name.lower())

    def query_value(self, name: str) -> str | None:
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None


def read_body(environ: dict[str, Any]) -> bytes | None:
    """Return the request body, or None when it is over API Gateway's limit.

    A chunked body has no Content-Length: the server hands it over de-chunked and it is
    read to its end, a byte past the limit at most.
    """
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return None
    if length > 0:
        return environ["wsgi.input"].read(length)
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return b""
    body = environ["wsgi.input"].read(MAX_BODY_BYTES + 1)
    return None if len(body) > MAX_BODY_BYTES else body


def wsgi_headers(
    environ: dict[str, Any], not_sent: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """Return the request headers of a WSGI environ as (Name, value) pairs.

    `not_sent` holds `HTTP_*` variables of the server's own process environment: Granian
    copies that environment into every WSGI environ, so a shell's `HTTP_PROXY` would arrive
    as a `Proxy` header the client never sent (and, on IAM routes, as a header a signature
    could claim). A pair equal to the process's own is left out.
    """
    headers = [
        (key[5:].replace("_", "-").title(), value)
        for key, value in environ.items()
        if key.startswith("HTTP_") and (not not_sent or not_sent.get(key) != value)
    ]
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers.append((name, environ[key]))
    return headers


def binary_media_type_matches(api: Api, content_type: str | None) -> bool:
    """Say whether a Content-Type (or Accept) value is one of the API's binary media types.

    `image/*` and `*/*` are wildcards, as in `binaryMediaTypes`; parameters such as
    `; charset=utf-8` are ignored. An API without binary media types matches nothing.
    """
    if not api.binary_media_types or not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return bool(media) and any(fnmatchcase(media, t) for t in api.binary_media_types)


# The bodies an HTTP API hands over as text; every other body is base64-encoded (observed
# on AWS; the page says only that binary bodies are base64-encoded).
_HTTP_TEXT_TYPES = frozenset(("application/json", "application/xml", "application/javascript"))


def _rest_body(api: Api, request: IncomingRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if api.binary_media_types and binary_media_type_matches(api, request.header("Content-Type")):
        return base64.b64encode(request.body).decode("ascii"), True
    return request.body.decode("utf-8", "replace"), False


@lru_cache(maxsize=256)
def _http_text_media(content_type: str) -> bool:
    """Say whether an HTTP API passes a body of this Content-Type as text (cached: clients
    send few distinct values, and this runs on every request with a body)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _HTTP_TEXT_TYPES


def _http_body(request: IncomingRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = request.header("Content-Type")
    if content_type is not None and _http_text_media(content_type):
        # A compressed body is bytes whatever its type says.
        encoding = request.header("Content-Encoding")
        if encoding is None or encoding.strip().lower() == "identity":
            try:
                return request.body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass  # not UTF-8 after all: pass it intact
    return base64.b64encode(request.body).decode("ascii"), True


def _request_time(epoch_ms: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def _raw_path(api: Api, request: IncomingRequest) -> str:
    """The path the client called: a `$default` stage is not part of the URL."""
    return api.stage_path + request.path


def _v1_request_context(
    api: Api,
    route: Route | None,
    request: IncomingRequest,
) -> dict[str, Any]:
    resource = route.path if route else request.path
    context: dict[str, Any] = {
        "resourceId": route.function.logical_id[:6].lower() if route else "unknown",
        "resourcePath": resource,
        "httpMethod": request.method,
        "extendedRequestId": request.request_id[:16],
        "requestTime": _request_time(request.epoch_ms),
        "path": f"/{api.stage}{request.path}",
        "accountId": ACCOUNT,
        "protocol": "HTTP/1.1",
        "stage": api.stage,
        "domainPrefix": api.api_id,
        "requestTimeEpoch": request.epoch_ms,
        "requestId": request.request_id,
        "identity": {
            "cognitoIdentityPoolId": None,
            "accountId": None,
            "cognitoIdentityId": None,
            "caller": None,
            "sourceIp": request.source_ip,
            "principalOrgId": None,
            "accessKey": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "userArn": None,
            "userAgent": request.header("User-Agent"),
            "user": None,
            "apiKey": None,
            "clientCert": None,
        },
        "domainName": api.domain_name,
        "apiId": api.api_id,
    }
    if api.kind == "HTTP":
        # HTTP APIs have no resources (their 1.0 events say null), and `$default` stages
        # are not in the path.
        context["resourceId"] = None
        context["path"] = _raw_path(api, request)
    return context


def _single_and_multi(
    pairs: list[tuple[str, str]],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Return payload 1.0's two views of repeated names: the last value, and all of them."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _v1_headers(api: Api, request: IncomingRequest) -> tuple[dict[str, str], dict[str, list[str]]]:
    # REST: the client's spelling (see `Api.header_case`); HTTP APIs lower-case every name.
    if api.lower_case_headers:
        return _single_and_multi([(name.lower(), value) for name, value in request.headers])
    return _single_and_multi(request.headers)


def _v1_query(
    request: IncomingRequest,
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not request.query:
        return None, None
    return _single_and_multi(request.query)


def lambda_authorizer_context(
    api: Api, route: Route, context: dict[str, Any], principal_id: str | None
) -> dict[str, Any]:
    """Return `requestContext.authorizer` of the integration event after a Lambda authorizer.

    REST and HTTP payload 1.0: the context's keys with `principalId` beside them; HTTP
    payload 2.0: the context under `lambda` (`http-api-develop-integrations-lambda`). REST
    values must already be strings (the gateway turns them into strings or refuses them).
    """
    if api.kind == "HTTP" and route.payload_version == "2.0":
        return {"lambda": context}
    if principal_id is None:
        return dict(context)
    return {**context, "principalId": principal_id}


def jwt_authorizer_context(
    route: Route, claims: dict[str, Any], scopes: list[str] | None
) -> dict[str, Any]:
    """Return `requestContext.authorizer` after the HTTP JWT authorizer, per payload."""
    if route.payload_version == "2.0":
        return {"jwt": {"claims": claims, "scopes": scopes}}
    return {"claims": claims, "scopes": scopes}


def _http_authorizer(route: Route, authorizer: dict[str, Any] | None) -> dict[str, Any] | None:
    """Put an HTTP API's authorizer output in the form the route's payload version uses.

    Accepts what `lambda_authorizer_context`/`jwt_authorizer_context` return as well as a
    context shaped for the other payload version.
    """
    if route.payload_version == "2.0":
        # Only a flat (payload 1.0) Lambda context carries principalId at the top.
        if authorizer is None or "principalId" not in authorizer:
            return authorizer
        return {"lambda": {k: v for k, v in authorizer.items() if k != "principalId"}}
    shaped = authorizer is not None and len(authorizer) == 1
    if authorizer is None:
        return {"claims": None, "scopes": None}  # as the page's 1.0 example shows
    if shaped and "lambda" in authorizer:
        return dict(authorizer["lambda"])
    if shaped and "jwt" in authorizer:
        return jwt_authorizer_context(route, **authorizer["jwt"])
    return authorizer


def rest_proxy_event(
    api: Api,
    route: Route,
    request: IncomingRequest,
    authorizer: dict[str, Any] | None,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the payload 1.0 event of a REST Lambda proxy integration.

    `identity` holds the IAM caller's `requestContext.identity` fields (`iam_identity`).
    """
    headers, multi_headers = _v1_headers(api, request)
    query, multi_query = _v1_query(request)
    context = _v1_request_context(api, route, request)
    if identity:
        context["identity"].update(identity)
    if authorizer is not None:
        context["authorizer"] = authorizer
    body, is_base64 = _rest_body(api, request)
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": request.path_parameters or None,
        "stageVariables": api.stage_variables or None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _v2_request_context(
    api: Api,
    route: Route | None,
    request: IncomingRequest,
) -> dict[str, Any]:
    route_key = route.key if route else "$default"
    return {
        "accountId": ACCOUNT,
        "apiId": api.api_id,
        "domainName": api.domain_name,
        "domainPrefix": api.api_id,
        "http": {
            "method": request.method,
            "path": _raw_path(api, request),
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": request.header("User-Agent") or "",
        },
        "requestId": request.request_id,
        "routeKey": route_key,
        "stage": api.stage,
        "time": _request_time(request.epoch_ms),
        "timeEpoch": request.epoch_ms,
    }


def _v2_headers(request: IncomingRequest) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers, cookies


def _v2_query(request: IncomingRequest) -> dict[str, str]:
    query: dict[str, str] = {}
    for name, value in request.query:
        query[name] = f"{query[name]},{value}" if name in query else value
    return query


def _v2_optional(event: dict[str, Any], api: Api, request: IncomingRequest) -> None:
    """Add the maps payload 2.0 leaves out when they are empty."""
    if request.query:
        event["queryStringParameters"] = _v2_query(request)
    if request.path_parameters:
        event["pathParameters"] = request.path_parameters
    if api.stage_variables:
        event["stageVariables"] = api.stage_variables


def http_proxy_event(
    api: Api,
    route: Route,
    request: IncomingRequest,
    authorizer: dict[str, Any] | None,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the event of an HTTP API Lambda integration, in the route's payload version."""
    authorizer = _http_authorizer(route, authorizer)
    if route.payload_version == "1.0":
        return http_v1_proxy_event(api, route, request, authorizer, identity)
    headers, cookies = _v2_headers(request)
    context = _v2_request_context(api, route, request)
    if authorizer is not None:
        context["authorizer"] = authorizer
    body, is_base64 = _http_body(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": _raw_path(api, request),
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    _v2_optional(event, api, request)
    if body is not None:
        event["body"] = body
    return event


def http_v1_proxy_event(
    api: Api,
    route: Route,
    request: IncomingRequest,
    authorizer: dict[str, Any] | None,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the payload 1.0 event of an HTTP API Lambda integration.

    The REST shape with `"version": "1.0"`, lower-case header names, the full path, and the
    authorizer's context as it is (see `lambda_authorizer_context`). An IAM caller fills
    `requestContext.identity` as on REST (the emulator's reading of the 1.0 format, whose
    identity block has these fields; unverified against a capture).
    """
    headers, multi_headers = _v1_headers(api, request)
    query, multi_query = _v1_query(request)
    context = _v1_request_context(api, route, request)
    if identity:
        context["identity"].update(identity)
    context["authorizer"] = (
        authorizer if authorizer is not None else {"claims": None, "scopes": None}
    )
    body, is_base64 = _http_body(request)
    return {
        "version": "1.0",
        "resource": route.path,
        "path": _raw_path(api, request),
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": context,
        "pathParameters": request.path_parameters or None,
        "stageVariables": api.stage_variables or None,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def token_authorizer_event(
    route: Route, token: str, request: IncomingRequest | None = None
) -> dict[str, Any]:
    """Return a REST TOKEN authorizer event (the method ARN holds the request's real path)."""
    arn = (request.arn if request is not None else "") or route.arn
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}


def request_authorizer_event(
    api: Api, route: Route, request: IncomingRequest, identity: list[str], version: str
) -> dict[str, Any]:
    """Return a REQUEST authorizer event: REST, or HTTP payload 1.0 or 2.0."""
    arn = request.arn or route.arn
    if version == "2.0":
        headers, cookies = _v2_headers(request)
        event: dict[str, Any] = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": arn,
            "identitySource": identity,
            "routeKey": route.key,
            "rawPath": _raw_path(api, request),
            "rawQueryString": request.raw_query,
            "cookies": cookies,
            "headers": headers,
            "requestContext": _v2_request_context(api, route, request),
        }
        _v2_optional(event, api, request)
        return event
    headers, multi_headers = _v1_headers(api, request)
    query, multi_query = _v1_query(request)
    event = {
        "type": "REQUEST",
        "methodArn": arn,
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        # The page's example: `{}` for a resource without path parameters.
        "pathParameters": request.path_parameters or {},
        "stageVariables": dict(api.stage_variables),
        "requestContext": _v1_request_context(api, route, request),
    }
    if api.kind == "HTTP":
        event["version"] = "1.0"
        event["identitySource"] = ",".join(identity)
        event["authorizationToken"] = ",".join(identity)
    return event


def iam_identity(principal: Principal, access_key_id: str) -> dict[str, Any]:
    """Return the `requestContext.identity` fields of an IAM caller (REST, HTTP payload 1.0).

    As `api-gateway-mapping-template-reference` lists them: `caller` and `user` are the
    principal's id (`AIDA…`, or `AROA…:<session>`), `userArn` the ARN IAM evaluated, and the
    `cognito*` fields are set only for identity-pool credentials.
    """
    cognito = principal.cognito
    return {
        "accountId": principal.account_id,
        "caller": principal.caller_id,
        "user": principal.caller_id,
        "userArn": principal.arn,
        "accessKey": access_key_id,
        "principalOrgId": None,
        "cognitoIdentityId": cognito.identity_id if cognito else None,
        "cognitoIdentityPoolId": cognito.identity_pool_id if cognito else None,
        "cognitoAuthenticationType": cognito.authentication_type if cognito else None,
        "cognitoAuthenticationProvider": cognito.authentication_provider if cognito else None,
    }


def iam_authorizer_context(principal: Principal, access_key_id: str) -> dict[str, Any]:
    """Return `requestContext.authorizer` of an HTTP API event after IAM authorization:
    `{"iam": {...}}`, the shape of AWS's published `APIGatewayRequestContextV2` type."""
    cognito = principal.cognito
    return {
        "iam": {
            "accessKey": access_key_id,
            "accountId": principal.account_id,
            "callerId": principal.caller_id,
            "cognitoIdentity": (
                {
                    "amr": list(cognito.amr),
                    "identityId": cognito.identity_id,
                    "identityPoolId": cognito.identity_pool_id,
                }
                if cognito
                else None
            ),
            "principalOrgId": None,
            "userArn": principal.arn,
            "userId": principal.caller_id,
        }
    }
