"""The events API Gateway sends: to Lambda authorizers and to Lambda proxy integrations.

Shapes follow the AWS developer guide pages `api-gateway-lambda-authorizer-input`,
`http-api-lambda-authorizer` and `http-api-develop-integrations-lambda` (payloads 1.0, 2.0).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from .template import ACCOUNT
from .template import REGION
from .template import Api
from .template import Route

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


def wsgi_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the request headers of a WSGI environ as (Name, value) pairs."""
    headers = [
        (key[5:].replace("_", "-").title(), value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    ]
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers.append((name, environ[key]))
    return headers


def _text_body(request: IncomingRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    try:
        return request.body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(request.body).decode("ascii"), True


def _request_time(epoch_ms: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def _v1_request_context(
    api: Api,
    route: Route | None,
    request: IncomingRequest,
) -> dict[str, Any]:
    resource = route.path if route else request.path
    return {
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
        "domainName": f"{api.api_id}.execute-api.{REGION}.amazonaws.com",
        "apiId": api.api_id,
    }


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


def _v1_headers(request: IncomingRequest) -> tuple[dict[str, str], dict[str, list[str]]]:
    return _single_and_multi(request.headers)


def _v1_query(
    request: IncomingRequest,
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not request.query:
        return None, None
    return _single_and_multi(request.query)


def rest_proxy_event(
    api: Api, route: Route, request: IncomingRequest, authorizer: dict[str, Any] | None
) -> dict[str, Any]:
    """Return the payload 1.0 event of a REST Lambda proxy integration."""
    headers, multi_headers = _v1_headers(request)
    query, multi_query = _v1_query(request)
    context = _v1_request_context(api, route, request)
    if authorizer is not None:
        context["authorizer"] = authorizer
    body, is_base64 = _text_body(request)
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": None,
        "stageVariables": None,
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
        "domainName": f"{api.api_id}.execute-api.{REGION}.amazonaws.com",
        "domainPrefix": api.api_id,
        "http": {
            "method": request.method,
            "path": f"/{api.stage}{request.path}",
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


def http_proxy_event(
    api: Api, route: Route, request: IncomingRequest, authorizer: dict[str, Any] | None
) -> dict[str, Any]:
    """Return the payload 2.0 event of an HTTP API Lambda integration."""
    headers, cookies = _v2_headers(request)
    context = _v2_request_context(api, route, request)
    if authorizer is not None:
        context["authorizer"] = authorizer
    body, is_base64 = _text_body(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": f"/{api.stage}{request.path}",
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if request.query:
        query: dict[str, str] = {}
        for name, value in request.query:
            query[name] = f"{query[name]},{value}" if name in query else value
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body
    return event


def token_authorizer_event(route: Route, token: str) -> dict[str, Any]:
    """Return a REST TOKEN authorizer event."""
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": route.arn}


def request_authorizer_event(
    api: Api, route: Route, request: IncomingRequest, identity: list[str], version: str
) -> dict[str, Any]:
    """Return a REQUEST authorizer event: REST, or HTTP payload 1.0 or 2.0."""
    arn = route.arn
    if version == "2.0":
        headers, cookies = _v2_headers(request)
        event: dict[str, Any] = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": arn,
            "identitySource": identity,
            "routeKey": route.key,
            "rawPath": f"/{api.stage}{request.path}",
            "rawQueryString": request.raw_query,
            "cookies": cookies,
            "headers": headers,
            "requestContext": _v2_request_context(api, route, request),
        }
        if request.query:
            event["queryStringParameters"] = dict(request.query)
        return event
    headers, multi_headers = _v1_headers(request)
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
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": _v1_request_context(api, route, request),
    }
    if api.kind == "HTTP":
        event["version"] = "1.0"
        event["identitySource"] = ",".join(identity)
        event["authorizationToken"] = ",".join(identity)
    return event
