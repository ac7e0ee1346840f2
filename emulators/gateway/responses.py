"""What the client receives: AWS's gateway responses, and the mapping of a function's proxy result.

Gateway responses are the answers API Gateway itself sends when a stage refuses a request,
with each API type's default status, body and headers:
- REST: https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html
  (bodies as real REST APIs send them; see the README's outcome table for the sources),
  with `x-amzn-RequestId` and `x-amzn-ErrorType`.
- HTTP: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html
  and `http-api-lambda-authorizer` (`{"message": ...}` bodies, `apigw-requestid`).

A Lambda proxy result becomes a response as
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
(REST, payload 1.0) and
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
(HTTP, payload 2.0 infers a response from any JSON value) describe it; a base64 body is
decoded as https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html
says: on REST only when the binary media types match, on HTTP APIs always.
"""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from typing import Any

from .events import binary_media_type_matches
from .exchange import Answer
from .exchange import Refusal
from .template import Api

EXPLICIT_DENY_MESSAGE = (
    "User is not authorized to access this resource with an explicit deny in an "
    "identity-based policy"
)

# (status, body, x-amzn-ErrorType) of REST APIs' default gateway responses.
REST_RESPONSES: dict[str, tuple[int, dict[str, Any], str]] = {
    "UNAUTHORIZED": (401, {"message": "Unauthorized"}, "UnauthorizedException"),
    # The Cognito authorizer's UNAUTHORIZED for an expired token says why.
    "UNAUTHORIZED_EXPIRED": (
        401,
        {"message": "The incoming token has expired"},
        "UnauthorizedException",
    ),
    "EXPLICIT_DENY": (403, {"Message": EXPLICIT_DENY_MESSAGE}, "AccessDeniedException"),
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
    # AWS_IAM routes (`iam_authorizer.py` words each answer; these are the defaults).
    "INVALID_SIGNATURE": (
        403,
        {
            "message": "The request signature we calculated does not match the signature you "
            "provided."
        },
        "InvalidSignatureException",
    ),
    "EXPIRED_TOKEN": (
        403,
        {"message": "The security token included in the request is expired"},
        "ExpiredTokenException",
    ),
    "ACCESS_DENIED": (
        403,
        {"Message": "User is not authorized to access this resource"},
        "AccessDeniedException",
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
# (status, body) of HTTP APIs' answers: they have no x-amzn-ErrorType.
HTTP_RESPONSES: dict[str, tuple[int, dict[str, Any]]] = {
    "UNAUTHORIZED": (401, {"message": "Unauthorized"}),
    "FORBIDDEN": (403, {"message": "Forbidden"}),
    "EXPLICIT_DENY": (403, {"message": "Forbidden"}),
    "IMPLICIT_DENY": (403, {"message": "Forbidden"}),
    "AUTHORIZER_FAILURE": (500, {"message": "Internal Server Error"}),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, {"message": "Internal Server Error"}),
    "NOT_FOUND": (404, {"message": "Not Found"}),
    "MISSING_AUTHENTICATION_TOKEN": (404, {"message": "Not Found"}),
    # AWS_IAM routes: "Forbidden" when not allowed or unsigned; a signature problem is
    # worded per request as on REST (unverified for HTTP APIs).
    "INVALID_SIGNATURE": (403, {"message": "Forbidden"}),
    "EXPIRED_TOKEN": (403, {"message": "Forbidden"}),
    "ACCESS_DENIED": (403, {"message": "Forbidden"}),
    "INTEGRATION_FAILURE": (500, {"message": "Internal Server Error"}),
    "REQUEST_TOO_LARGE": (413, {"message": "Request Entity Too Large"}),
    "HEADERS_TOO_LARGE": (431, {"message": "Request Header Fields Too Large"}),
}
# Rendered once: a refusal's body and headers only differ by the request id.
_REST_RENDERED = {
    name: (status, json.dumps(body).encode(), error_type)
    for name, (status, body, error_type) in REST_RESPONSES.items()
}
_HTTP_RENDERED = {
    name: (status, json.dumps(body).encode()) for name, (status, body) in HTTP_RESPONSES.items()
}


def request_id_header(api: Api, request_id: str) -> tuple[str, str]:
    """The header that carries API Gateway's request id on every answer of this API type."""
    return ("x-amzn-RequestId" if api.kind == "REST" else "apigw-requestid", request_id)


def gateway_response(api: Api, refusal: Refusal, request_id: str) -> Answer:
    """Render a refusal as the API type's default gateway response."""
    if api.kind == "REST":
        status, body, error_type = _REST_RENDERED[refusal.response]
        if refusal.message is not None:
            # The default body's one key (`message`, or `Message` for AccessDenied).
            key = next(iter(REST_RESPONSES[refusal.response][1]))
            body = json.dumps({key: refusal.message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", refusal.error_type or error_type),
        ]
    else:
        status, body = _HTTP_RENDERED[refusal.response]
        if refusal.message is not None:
            body = json.dumps({"message": refusal.message}).encode()
        headers = [("Content-Type", "application/json"), ("apigw-requestid", request_id)]
    return Answer(status, body, headers + list(refusal.headers))


def status_line(code: int) -> str:
    """Return the WSGI status line of a code (AWS passes unusual codes through)."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _binary(api: Api, value: str | None) -> bool:
    """Whether a Content-Type, or any type an Accept header lists, is a binary media type."""
    return bool(value) and any(
        binary_media_type_matches(api, part) for part in (value or "").split(",")
    )


def map_proxy_response(
    result: Any, api: Api, accept: str | None = None
) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """Map a Lambda proxy result to (status, headers, body); None when it is malformed.

    `accept` is the request's Accept header: on REST APIs a base64 body is decoded only when
    it or the response's Content-Type matches the API's binary media types; otherwise the
    client gets the base64 text, as from AWS.
    """
    if api.kind == "HTTP" and not (isinstance(result, dict) and "statusCode" in result):
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
    content_type = next((v for n, v in headers if n.lower() == "content-type"), None)
    body = result.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        decode = result.get("isBase64Encoded") is True and (
            api.kind == "HTTP" or _binary(api, accept) or _binary(api, content_type)
        )
        if decode:
            try:
                raw = base64.b64decode(body, validate=True)
            except ValueError:
                return None
        else:
            raw = body.encode("utf-8")
    else:
        return None
    if api.kind == "HTTP" and isinstance(result.get("cookies"), list):
        headers.extend(("Set-Cookie", str(c)) for c in result["cookies"])
    if content_type is None:
        headers.append(("Content-Type", "application/json"))
    return status, headers, raw
