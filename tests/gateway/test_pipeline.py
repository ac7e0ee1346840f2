"""The pipeline's stages as AWS runs them: route selection, caching only with an identity
source, unknown stages, trailing slashes, and which stage decided (`pipeline.yaml`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.gateway.conftest import ServedTemplate as Served
from tests.gateway.conftest import serve_template

PIPELINE = Path(__file__).with_name("pipeline.yaml")
MISSING_TOKEN = {"message": "Missing Authentication Token"}


@pytest.fixture(scope="module")
def served(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_template(lab.issuer, PIPELINE, tmp_path_factory.mktemp("p") / "notes.db") as it:
        yield it


BOTH = pytest.mark.parametrize("api", ["RestRoutesApi", "HttpRoutesApi"])


# Route selection: http-api-develop-routes ("Routing API requests") and REST's resource tree.
@BOTH
@pytest.mark.parametrize(
    ("method", "path", "route", "parameters"),
    [
        ("GET", "/items/123", "GET /items/{id}", {"id": "123"}),
        ("GET", "/items/special", "GET /items/special", None),  # a literal beats {id}
        ("GET", "/items/a%20b", "GET /items/{id}", {"id": "a b"}),  # decoded, as AWS does
        (
            "GET",
            "/items/7/parts/wheel",
            "GET /items/{id}/parts/{part}",
            {"id": "7", "part": "wheel"},
        ),
        ("GET", "/files/readme", "GET /files/readme", None),  # a literal beats {proxy+}
        ("GET", "/files/a/b/c.txt", "ANY /files/{proxy+}", {"proxy": "a/b/c.txt"}),
        ("DELETE", "/files/readme", "ANY /files/{proxy+}", {"proxy": "readme"}),
        ("POST", "/thing", "POST /thing", None),  # a method beats ANY
        ("PATCH", "/thing", "ANY /thing", None),
        ("GET", "/public/", "GET /public", None),  # a trailing slash is ignored
    ],
)
def test_requests_reach_the_route_aws_would_choose(
    served: Served, api: str, method: str, path: str, route: str, parameters: Any
) -> None:
    response = served.call(api, method, path)

    assert response.status_code == 200, response.text
    trace = served.trace(response)
    assert trace["request"]["route"] == route
    assert trace["request"].get("path_parameters") == parameters
    assert trace["decided_by"] == "integration"


@pytest.mark.parametrize("path", ["/items/", "/nowhere", "/items/1/parts/"])
def test_rest_answers_missing_authentication_token_where_no_route_matches(
    served: Served, path: str
) -> None:
    # A path variable never matches an empty segment (/items/ is not /items/{id}).
    response = served.call("RestRoutesApi", "GET", path)

    assert response.status_code == 403
    assert response.json() == MISSING_TOKEN
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert served.trace(response)["decided_by"] == "routing"


def test_http_api_sends_unmatched_requests_to_the_default_route(served: Served) -> None:
    response = served.call("HttpRoutesApi", "PUT", "/nowhere/at/all")

    assert response.status_code == 200
    trace = served.trace(response)
    assert trace["request"]["route"] == "$default"
    assert trace["integration"]["function"] == "CatchAllFunction"


@BOTH
def test_the_method_arn_holds_the_real_path(served: Served, api: str) -> None:
    # The policy is checked against .../GET/guarded/42, not the template's {id}.
    response = served.call(api, "GET", "/guarded/42", headers={"Authorization": f"arn-{api}"})

    assert response.status_code == 200
    authorizer = served.trace(response)["authorizer"]
    assert authorizer["arn"].endswith("/dev/GET/guarded/42")


@BOTH
def test_nothing_is_cached_without_an_identity_source(served: Served, api: str) -> None:
    # GIVEN an authorizer with no identity source, whose verdict follows the X-Deny header
    # (the HTTP one has no ReauthorizeEvery; the REST one asks for 300 s)
    first = served.call(api, "GET", "/no-identity")
    # WHEN a second request carries the header that makes the authorizer deny
    second = served.call(api, "GET", "/no-identity", headers={"X-Deny": "yes"})

    # THEN the authorizer ran again and denied: AWS caches nothing without an identity source
    assert first.status_code == 200
    assert second.status_code == 403
    trace = served.trace(second)
    assert trace["authorizer"]["invoked"] is True
    assert trace["authorizer"]["cache"] == "off"
    assert trace["authorizer"]["ttl"] == 0


@BOTH
def test_with_an_identity_source_the_verdict_is_cached(served: Served, api: str) -> None:
    # The same X-Deny request is answered from the cached Allow: the cache keys by the
    # identity source (Authorization) only.
    served.call(api, "GET", "/guarded/1", headers={"Authorization": f"cached-{api}"})
    second = served.call(
        api, "GET", "/guarded/1", headers={"Authorization": f"cached-{api}", "X-Deny": "yes"}
    )

    assert second.status_code == 200
    assert served.trace(second)["authorizer"]["cache"] == "hit"


def test_rest_reports_a_missing_identity_source_before_the_authorizer(served: Served) -> None:
    response = served.call("RestRoutesApi", "GET", "/guarded/1")

    assert response.status_code == 401
    trace = served.trace(response)
    assert trace["decided_by"] == "identity_source"
    assert trace["authorizer"]["identity_sources"] == ["method.request.header.Authorization"]
    assert "method.request.header.Authorization" in trace["summary"]


def test_http_identity_sources_keep_their_own_syntax(served: Served) -> None:
    response = served.call("HttpRoutesApi", "GET", "/guarded/1")

    assert response.status_code == 401
    assert served.trace(response)["authorizer"]["identity_sources"] == [
        "$request.header.Authorization"
    ]


def test_a_rest_stage_that_does_not_exist_is_missing_authentication_token(served: Served) -> None:
    api = next(a for a in served.gateway.model.apis if a.logical_id == "RestRoutesApi")

    response = requests.get(f"{served.url}/{api.api_id}/prod/public", timeout=5)

    assert response.status_code == 403
    assert response.json() == MISSING_TOKEN
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert "hint" not in response.text


def test_an_http_stage_that_does_not_exist_is_a_bare_not_found(served: Served) -> None:
    api = next(a for a in served.gateway.model.apis if a.logical_id == "HttpRoutesApi")

    response = requests.get(f"{served.url}/{api.api_id}/prod/public", timeout=5)

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}
    assert "apigw-requestid" not in response.headers


@pytest.mark.parametrize(
    ("api", "sources"),
    [
        (
            "RestRoutesApi",
            [
                "method.request.header.Authorization",
                "stageVariables.tenant",
                "context.httpMethod",
            ],
        ),
        (
            "HttpRoutesApi",
            ["$request.header.Authorization", "$stageVariables.tenant", "$context.routeKey"],
        ),
    ],
)
def test_stage_variables_and_context_variables_are_identity_sources(
    served: Served, api: str, sources: list[str]
) -> None:
    # Every identity source is present (the stage declares `tenant`): the authorizer runs.
    response = served.call(api, "GET", "/by-stage", headers={"Authorization": "stage-test"})

    assert response.status_code == 200, response.text
    authorizer = served.trace(response)["authorizer"]
    assert authorizer["identity_sources"] == sources
    assert authorizer["invoked"] is True


def test_an_http_authorizer_without_reauthorize_every_caches_nothing(served: Served) -> None:
    # SAM's HttpApi identity has no default TTL (REST's has 300).
    headers = {"Authorization": "no-ttl"}
    served.call("HttpRoutesApi", "GET", "/by-stage", headers=headers)
    second = served.call("HttpRoutesApi", "GET", "/by-stage", headers={**headers, "X-Deny": "yes"})

    assert second.status_code == 403
    assert served.trace(second)["authorizer"]["cache"] == "off"


def test_a_default_stage_is_served_at_the_api_root(served: Served) -> None:
    catalogue = requests.get(served.url + "/", timeout=5).json()
    api = next(a for a in catalogue["apis"] if a["name"] == "DefaultStageApi")

    response = requests.get(api["base_url"] + "/hello", timeout=5)

    assert api["base_url"] == f"{served.url}/{api['id']}"
    assert response.status_code == 200
    assert served.trace(response)["request"]["route"] == "GET /hello"


def test_the_trace_redacts_credentials_but_not_context_or_stage_variables(served: Served) -> None:
    response = served.call(
        "HttpRoutesApi", "GET", "/by-stage", headers={"Authorization": "Bearer secret-value"}
    )

    source = served.trace(response)["authorizer"]["event"]["identitySource"]
    assert source[0].startswith("Bearer <redacted> fingerprint:")
    assert source[1:] == ["blue", "GET /by-stage"]
    assert "secret-value" not in str(served.trace(response))


@BOTH
def test_traces_hide_every_credential_the_authorizer_reads(served: Served, api: str) -> None:
    # GIVEN an authorizer whose identity sources are a custom header and a query parameter,
    # and a JWT-looking value in an unrelated header
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA"
    response = served.call(
        api,
        "GET",
        "/api-token?token=query-secret-456&page=2",
        headers={"X-Api-Token": "header-secret-789", "X-Other": jwt_like},
    )

    # THEN the trace has none of them, anywhere, but keeps what is not a credential
    assert response.status_code == 200, response.text
    trace = json.dumps(served.trace(response))
    for secret in ("header-secret-789", "query-secret-456", "c2lnbmF0dXJlLXNlY3JldA"):
        assert secret not in trace
    assert "page" in trace


@pytest.mark.parametrize(
    ("path", "value"),
    [("/items/%2541", "%41"), ("/items/%C3%A9t%C3%A9", "été"), ("/items/a%2Bb", "a+b")],
)
@BOTH
def test_path_parameters_are_decoded_once_as_utf8(
    served: Served, api: str, path: str, value: str
) -> None:
    response = served.call(api, "GET", path)

    assert response.status_code == 200
    event = response.json()["event"]
    assert event["pathParameters"] == {"id": value}
    assert served.trace(response)["request"]["path_parameters"] == {"id": value}


@pytest.mark.parametrize("path", ["/list-context", "/infinite-context"])
def test_a_simple_response_with_an_unusable_context_is_a_traced_500(
    served: Served, path: str
) -> None:
    response = served.call("HttpRoutesApi", "GET", path)

    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    authorizer = served.trace(response)["authorizer"]
    assert authorizer["reason"] == "authorizer_malformed_response"
    assert "x-amzn-ErrorType" not in response.headers  # the emulator's own 500 has one


def test_cache_flushes_answer_as_the_aws_apis_do(served: Served) -> None:
    rest = next(a for a in served.gateway.model.apis if a.logical_id == "RestRoutesApi")
    http = next(a for a in served.gateway.model.apis if a.logical_id == "HttpRoutesApi")
    rest_url = f"{served.url}/restapis/{rest.api_id}/stages/dev/cache/authorizers"
    http_url = f"{served.url}/v2/apis/{http.api_id}/stages/dev/cache/authorizers"

    flushed_rest = requests.delete(rest_url, timeout=5)  # FlushStageAuthorizersCache
    flushed_http = requests.delete(http_url, timeout=5)  # ResetAuthorizersCache
    wrong_family = requests.delete(rest_url.replace(rest.api_id, http.api_id), timeout=5)
    wrong_stage = requests.delete(http_url.replace("/dev/", "/prod/"), timeout=5)
    wrong_method = requests.get(http_url, timeout=5)

    assert (flushed_rest.status_code, flushed_rest.content) == (202, b"")
    assert (flushed_http.status_code, flushed_http.content) == (204, b"")
    assert wrong_family.status_code == 404
    assert wrong_family.headers["x-amzn-ErrorType"] == "NotFoundException"
    assert wrong_stage.json() == {"message": "Invalid stage identifier specified"}
    assert (wrong_method.status_code, wrong_method.headers["Allow"]) == (405, "DELETE")


def test_traces_are_read_only(served: Served) -> None:
    response = requests.post(f"{served.url}/_lab/traces", timeout=5)

    assert (response.status_code, response.headers["Allow"]) == (405, "GET, HEAD")


def test_cors_settings_are_named_as_not_applied(served: Served) -> None:
    assert any("CORS is not applied" in w for w in served.gateway.model.warnings)


@pytest.mark.parametrize(
    ("api", "decoded"),
    [("RestBinaryApi", True), ("RestRoutesApi", False), ("HttpRoutesApi", True)],
)
def test_a_base64_answer_is_decoded_as_aws_decides(served: Served, api: str, decoded: bool) -> None:
    # REST decodes only when the binary media types match (api-gateway-payload-encodings);
    # otherwise the client gets the base64 text. HTTP APIs always decode.
    from tests.gateway.pipeline_functions import PNG

    response = served.call(api, "GET", "/logo", headers={"Accept": "image/png"})

    assert response.status_code == 200
    assert response.content == (PNG if decoded else base64.b64encode(PNG))
