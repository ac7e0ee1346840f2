"""What AWS would answer, row by row: every authorizer style, every outcome, over real HTTP.

Tokens come from the local IdP; the authorizer is the real Lambda code, run by the emulator.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.gateway.conftest import Tokens

WELCOME = {"message": "Welcome to our Public API!"}
UNAUTHORIZED = {"message": "Unauthorized"}
EXPLICIT_DENY = {
    "Message": "User is not authorized to access this resource with an explicit deny in an "
    "identity-based policy"
}
MISSING_TOKEN = {"message": "Missing Authentication Token"}
FORBIDDEN = {"message": "Forbidden"}
NOT_FOUND = {"message": "Not Found"}
PRIVATE = "Only logged in users can see this"

# (api, method, path, credential, status, body or message, authorizer invoked, reason)
SCENARIOS = [
    # REST API, TOKEN authorizer (validation expression ^Bearer [-0-9a-zA-Z\._]*$, TTL 300)
    ("RestTokenApi", "GET", "/public", None, 200, WELCOME, None, None),
    ("RestTokenApi", "GET", "/private", None, 401, UNAUTHORIZED, False, "identity_source_missing"),
    ("RestTokenApi", "GET", "/private", "", 401, UNAUTHORIZED, False, "identity_source_missing"),
    (
        "RestTokenApi",
        "GET",
        "/private",
        "bearer {customer}",
        401,
        UNAUTHORIZED,
        False,
        "validation_expression",
    ),
    ("RestTokenApi", "GET", "/private", "Bearer {customer}", 200, PRIVATE, True, "allowed"),
    (
        "RestTokenApi",
        "GET",
        "/private",
        "Bearer {expired}",
        401,
        UNAUTHORIZED,
        True,
        "token_expired",
    ),
    ("RestTokenApi", "GET", "/private", "Bearer {id_token}", 401, UNAUTHORIZED, True, "id_token"),
    ("RestTokenApi", "GET", "/private", "Bearer {opaque}", 401, UNAUTHORIZED, True, "opaque_token"),
    (
        "RestTokenApi",
        "GET",
        "/admin",
        "Bearer {customer}",
        403,
        EXPLICIT_DENY,
        True,
        "insufficient_permission",
    ),
    ("RestTokenApi", "GET", "/admin", "Bearer {admin}", 200, "admin area", True, "allowed"),
    (
        "RestTokenApi",
        "POST",
        "/notes",
        "Bearer {reader}",
        403,
        EXPLICIT_DENY,
        True,
        "insufficient_permission",
    ),
    ("RestTokenApi", "GET", "/no-such-route", "Bearer {customer}", 403, MISSING_TOKEN, None, None),
    ("RestTokenApi", "DELETE", "/private", "Bearer {customer}", 403, MISSING_TOKEN, None, None),
    # REST API, REQUEST authorizer (no validation expression: the authorizer judges)
    (
        "RestRequestApi",
        "GET",
        "/private",
        None,
        401,
        UNAUTHORIZED,
        False,
        "identity_source_missing",
    ),
    ("RestRequestApi", "GET", "/private", "bearer {customer}", 200, PRIVATE, True, "allowed"),
    (
        "RestRequestApi",
        "GET",
        "/private",
        "Basic dXNlcjpwYXNz",
        401,
        UNAUTHORIZED,
        True,
        "not_bearer",
    ),
    (
        "RestRequestApi",
        "GET",
        "/admin",
        "Bearer {customer}",
        403,
        EXPLICIT_DENY,
        True,
        "insufficient_permission",
    ),
    # HTTP API, Lambda authorizer with simple responses: false is always 403
    ("HttpLambdaApi", "GET", "/private", None, 401, UNAUTHORIZED, False, "identity_source_missing"),
    ("HttpLambdaApi", "GET", "/private", "Bearer {customer}", 200, PRIVATE, True, "allowed"),
    ("HttpLambdaApi", "GET", "/private", "Bearer {expired}", 403, FORBIDDEN, True, "token_expired"),
    (
        "HttpLambdaApi",
        "GET",
        "/admin",
        "Bearer {customer}",
        403,
        FORBIDDEN,
        True,
        "insufficient_permission",
    ),
    ("HttpLambdaApi", "GET", "/admin", "Bearer {admin}", 200, "admin area", True, "allowed"),
    ("HttpLambdaApi", "GET", "/no-such-route", "Bearer {customer}", 404, NOT_FOUND, None, None),
    # HTTP API, built-in JWT authorizer: 401 with www-authenticate, 403 for a missing scope
    ("HttpJwtApi", "GET", "/private", None, 401, UNAUTHORIZED, False, "missing_token"),
    ("HttpJwtApi", "GET", "/private", "Bearer {customer}", 200, PRIVATE, False, "allowed"),
    ("HttpJwtApi", "GET", "/private", "{customer}", 200, PRIVATE, False, "allowed"),
    (
        "HttpJwtApi",
        "GET",
        "/private",
        "Bearer {expired}",
        401,
        UNAUTHORIZED,
        False,
        "token_expired",
    ),
    ("HttpJwtApi", "GET", "/private", "Bearer {id_token}", 401, UNAUTHORIZED, False, "id_token"),
    ("HttpJwtApi", "GET", "/private", "Bearer xyz", 401, UNAUTHORIZED, False, "malformed_token"),
    (
        "HttpJwtApi",
        "GET",
        "/admin",
        "Bearer {customer}",
        403,
        FORBIDDEN,
        False,
        "insufficient_scope",
    ),
    (
        "HttpJwtApi",
        "POST",
        "/notes",
        "Bearer {reader}",
        403,
        FORBIDDEN,
        False,
        "insufficient_scope",
    ),
    ("HttpJwtApi", "GET", "/notes", "Bearer {reader}", 200, "notes", False, "allowed"),
]


def _credential(template: str | None, tokens: Tokens) -> str | None:
    if template is None:
        return None
    for name in ("customer", "expired", "id_token", "opaque", "admin", "reader"):
        template = template.replace(
            "{" + name + "}", getattr(tokens, name) if "{" + name + "}" in template else ""
        )
    return template


def call(
    lab: Any, api: str, method: str, path: str, credential: str | None, **kwargs: Any
) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if credential is not None:
        headers["Authorization"] = credential
    return requests.request(method, lab.api_url(api) + path, headers=headers, timeout=10, **kwargs)


def flush(lab: Any, api: str) -> None:
    """Empty one API's authorizer result cache, as ResetAuthorizersCache would."""
    lab.gateway.cache.flush(next(a.api_id for a in lab.gateway.model.apis if a.logical_id == api))


def trace_of(lab: Any, response: requests.Response) -> dict[str, Any]:
    request_id = response.headers.get("x-amzn-RequestId") or response.headers["apigw-requestid"]
    return requests.get(f"{lab.gateway_url}/_lab/traces/{request_id}", timeout=5).json()


@pytest.mark.parametrize(
    ("api", "method", "path", "credential", "status", "expected", "invoked", "reason"),
    SCENARIOS,
    ids=[
        f"{s[0]}-{s[1]}{s[2]}-{s[3] or 'none'}-{s[4]}".replace("{", "")
        .replace("}", "")
        .replace(" ", "_")
        for s in SCENARIOS
    ],
)
def test_gateway_answers_as_aws_would(
    lab: Any,
    tokens: Tokens,
    api: str,
    method: str,
    path: str,
    credential: str | None,
    status: int,
    expected: Any,
    invoked: bool | None,
    reason: str | None,
) -> None:
    flush(lab, api)

    response = call(lab, api, method, path, _credential(credential, tokens))

    assert response.status_code == status, response.text
    if isinstance(expected, dict):
        assert response.json() == expected
    else:
        assert expected in response.text
    assert response.headers["Content-Type"].startswith("application/json")
    trace = trace_of(lab, response)
    assert trace["status"] == status
    if invoked is not None:
        assert trace["authorizer"]["invoked"] is invoked
        assert trace["authorizer"]["reason"] == reason
    if api.startswith("Rest") and status >= 400:
        assert response.headers["x-amzn-ErrorType"]
    if api == "HttpJwtApi" and status in (401, 403) and credential:
        error = "insufficient_scope" if status == 403 else "invalid_token"
        assert f'error="{error}"' in response.headers["www-authenticate"]


def test_rest_errors_carry_the_aws_error_type(lab: Any, tokens: Tokens) -> None:
    cases = {
        ("GET", "/private", None): "UnauthorizedException",
        ("GET", "/admin", f"Bearer {tokens.customer}"): "AccessDeniedException",
        ("GET", "/nope", None): "MissingAuthenticationTokenException",
    }
    for (method, path, credential), error_type in cases.items():
        response = call(lab, "RestTokenApi", method, path, credential)
        assert response.headers["x-amzn-ErrorType"] == error_type


def test_the_result_cache_answers_repeats_without_invoking(lab: Any, tokens: Tokens) -> None:
    credential = f"Bearer {tokens.writer}"
    flush(lab, "RestTokenApi")

    first = call(lab, "RestTokenApi", "GET", "/private", credential)
    second = call(lab, "RestTokenApi", "GET", "/notes", credential)  # another route, same token
    denied = call(lab, "RestTokenApi", "GET", "/admin", credential)

    assert [first.status_code, second.status_code, denied.status_code] == [200, 200, 403]
    assert trace_of(lab, first)["authorizer"]["cache"] == "miss"
    second_trace = trace_of(lab, second)
    assert second_trace["authorizer"]["cache"] == "hit"
    assert second_trace["authorizer"]["invoked"] is False
    assert second_trace["policy"]["effect"] == "Allow"
    denied_trace = trace_of(lab, denied)
    assert denied_trace["authorizer"]["cache"] == "hit"
    assert denied_trace["policy"]["effect"] == "Deny"


def test_a_cache_flush_makes_the_next_call_invoke_again(lab: Any, tokens: Tokens) -> None:
    api = next(a for a in lab.gateway.model.apis if a.logical_id == "HttpLambdaApi")
    credential = f"Bearer {tokens.customer}"
    call(lab, "HttpLambdaApi", "GET", "/private", credential)
    assert (
        trace_of(lab, call(lab, "HttpLambdaApi", "GET", "/private", credential))["authorizer"][
            "cache"
        ]
        == "hit"
    )

    flush = requests.delete(
        f"{lab.gateway_url}/v2/apis/{api.api_id}/stages/dev/cache/authorizers", timeout=5
    )

    assert (flush.status_code, flush.content) == (204, b"")  # ResetAuthorizersCache
    assert (
        trace_of(lab, call(lab, "HttpLambdaApi", "GET", "/private", credential))["authorizer"][
            "cache"
        ]
        == "miss"
    )


def test_simple_responses_are_cached_per_route_key(lab: Any, tokens: Tokens) -> None:
    credential = f"Bearer {tokens.customer}"
    flush(lab, "HttpLambdaApi")

    allowed = call(lab, "HttpLambdaApi", "GET", "/private", credential)
    admin = call(lab, "HttpLambdaApi", "GET", "/admin", credential)

    # The template adds $context.routeKey to the identity sources, so the cached Allow for
    # /private does not open /admin.
    assert allowed.status_code == 200 and admin.status_code == 403
    assert trace_of(lab, admin)["authorizer"]["cache"] == "miss"


# Context delivery ------------------------------------------------------------------------------

# Where each API's authorizer puts the caller: `requestContext.authorizer` itself (REST),
# its `lambda` key (HTTP Lambda authorizer) or its `jwt.claims` (HTTP JWT authorizer).
CALLER_SOURCES = [
    ("RestTokenApi", "rest"),
    ("RestRequestApi", "rest"),
    ("HttpLambdaApi", "lambda"),
    ("HttpJwtApi", "jwt"),
]


@pytest.mark.parametrize(("api", "source"), CALLER_SOURCES)
def test_the_backend_learns_the_caller_from_the_authorizer(
    lab: Any, tokens: Tokens, api: str, source: str
) -> None:
    response = call(
        lab,
        api,
        "GET",
        "/private",
        f"Bearer {tokens.admin}",
        headers={"X-User-Id": "auth0|someone-else"},
    )

    caller = response.json()["caller"]
    assert caller["sub"] == "auth0|admin-0001"
    assert caller["kind"] == "user"
    assert "read:admin" in caller["permissions"]
    assert len(set(caller["permissions"])) == len(caller["permissions"])
    assert not any("[" in word or "]" in word for word in caller["permissions"])
    assert caller["authorizer"] == source


@pytest.mark.parametrize(("api", "source"), CALLER_SOURCES)
def test_m2m_callers_are_reported_as_clients_the_same_way_by_every_style(
    lab: Any, tokens: Tokens, api: str, source: str
) -> None:
    response = call(lab, api, "GET", "/private", f"Bearer {tokens.reader}")

    caller = response.json()["caller"]
    assert caller == {
        "sub": "lab-m2m-reader@clients",
        "kind": "client",
        "clientId": "lab-m2m-reader",
        "permissions": ["read:notes"],
        "authorizer": source,
    }


# Traces -----------------------------------------------------------------------------------


def test_every_request_has_an_id_and_a_trace_without_the_token(lab: Any, tokens: Tokens) -> None:
    flush(lab, "RestRequestApi")
    response = call(lab, "RestRequestApi", "GET", "/admin", f"Bearer {tokens.customer}")

    request_id = response.headers["x-amzn-RequestId"]
    trace = trace_of(lab, response)
    text = requests.get(f"{lab.gateway_url}/_lab/traces/{request_id}", timeout=5).text
    assert trace["id"] == request_id
    assert trace["request"] == {"method": "GET", "path": "/admin", "route": "GET /admin"}
    authorizer = trace["authorizer"]
    assert authorizer["identity_source_present"] is True
    assert authorizer["event"]["type"] == "REQUEST"
    assert authorizer["event"]["methodArn"].endswith("/dev/GET/admin")
    assert authorizer["decision"]["reason"] == "insufficient_permission"
    assert authorizer["decision"]["sub"] == "auth0|customer-0001"
    assert trace["policy"]["effect"] == "Deny"
    assert "explicitly denies" in trace["summary"]
    assert tokens.customer not in text
    assert tokens.customer.split(".")[2] not in text
    assert "<redacted>" in text


def test_traces_list_the_recent_requests(lab: Any) -> None:
    response = call(lab, "RestTokenApi", "GET", "/public", None)

    recent = requests.get(f"{lab.gateway_url}/_lab/traces", timeout=5).json()["traces"]
    assert recent[0]["id"] == response.headers["x-amzn-RequestId"]
    assert requests.get(f"{lab.gateway_url}/_lab/traces/unknown", timeout=5).status_code == 404


def test_cold_and_warm_starts_are_reported(lab: Any, tmp_path: Any) -> None:
    from werkzeug.test import Client

    from emulators.gateway import create_gateway

    gateway = create_gateway(lab.issuer, "http://gateway.test", notes_db=tmp_path / "n.db")
    try:
        api = next(a for a in gateway.model.apis if a.logical_id == "RestTokenApi")
        client = Client(gateway)
        first = client.get(f"/{api.api_id}/dev/public").headers["x-amzn-RequestId"]
        second = client.get(f"/{api.api_id}/dev/public").headers["x-amzn-RequestId"]

        assert gateway.traces[first]["integration"]["cold_start"] is True
        assert gateway.traces[second]["integration"]["cold_start"] is False
        assert gateway.traces[first]["integration"]["function"] == "PublicFunction"
    finally:
        gateway.close()


# The catalogue ------------------------------------------------------------------------------


def test_the_catalogue_lists_every_api_with_its_routes(lab: Any) -> None:
    catalogue = requests.get(lab.gateway_url + "/", timeout=5).json()

    apis = {api["name"]: api for api in catalogue["apis"]}
    assert set(apis) == {
        "RestTokenApi",
        "RestRequestApi",
        "HttpLambdaApi",
        "HttpJwtApi",
        "RestCognitoApi",
        "HttpCognitoJwtApi",
        "RestCognitoLambdaApi",
        "RestIamApi",
        "HttpIamApi",
    }
    iam_routes = {(r["method"], r["path"], r["auth"]) for r in apis["HttpIamApi"]["routes"]}
    assert ("GET", "/admin", "AWS_IAM") in iam_routes
    assert ("GET", "/public", "NONE") in iam_routes
    token_api = apis["RestTokenApi"]
    assert token_api["type"] == "REST" and token_api["stage"] == "dev"
    assert token_api["base_url"] == lab.api_url("RestTokenApi")
    assert {(r["method"], r["path"], r["auth"]) for r in token_api["routes"]} == {
        ("GET", "/public", "NONE"),
        ("GET", "/private", "TokenAuthorizer"),
        ("GET", "/admin", "TokenAuthorizer"),
        ("GET", "/notes", "TokenAuthorizer"),
        ("POST", "/notes", "TokenAuthorizer"),
    }
    assert token_api["authorizers"][0]["ttl"] == 300
    assert token_api["authorizers"][0]["validation_expression"] == "^Bearer [-0-9a-zA-Z\\._]*$"
    jwt_routes = {(r["method"], r["path"]): r["scopes"] for r in apis["HttpJwtApi"]["routes"]}
    assert jwt_routes[("GET", "/admin")] == ["read:admin"]
    assert apis["HttpLambdaApi"]["type"] == "HTTP"


# Bad input to the emulator --------------------------------------------------------------------


def test_oversized_headers_and_bodies_get_aws_answers(lab: Any) -> None:
    huge_header = call(
        lab, "RestTokenApi", "GET", "/public", None, headers={"X-Padding": "x" * 11000}
    )
    huge_body = call(lab, "HttpJwtApi", "POST", "/notes", None, data=b"x" * (10 * 1024 * 1024 + 1))

    assert huge_header.status_code == 431
    assert huge_body.status_code == 413
    assert huge_body.json() == {"message": "Request Entity Too Large"}


@pytest.mark.parametrize(("api", "status"), [("RestTokenApi", 403), ("HttpJwtApi", 404)])
def test_unknown_methods_get_the_unknown_route_answer(lab: Any, api: str, status: int) -> None:
    response = call(lab, api, "FOO", "/public", None)

    assert response.status_code == status
    assert "Traceback" not in response.text


def test_paths_outside_any_api_are_explained(lab: Any) -> None:
    response = requests.get(f"{lab.gateway_url}/nothing/here", timeout=5)

    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"
