"""The pipeline's stages as AWS runs them: route selection, caching only with an identity
source, unknown stages, trailing slashes, and which stage decided (`pipeline.yaml`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulators.gateway import create_gateway
from tests.conftest import LiveServer

PIPELINE = Path(__file__).with_name("pipeline.yaml")
MISSING_TOKEN = {"message": "Missing Authentication Token"}


class Served:
    """A gateway serving `pipeline.yaml` on a loopback port."""

    def __init__(self, url: str, gateway: Any) -> None:
        self.url = url
        self.gateway = gateway

    def base(self, name: str) -> str:
        api = next(a for a in self.gateway.model.apis if a.logical_id == name)
        return f"{self.url}/{api.api_id}/{api.stage}"

    def call(self, api: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.base(api) + path, timeout=10, **kwargs)

    def trace(self, response: requests.Response) -> dict[str, Any]:
        rid = response.headers.get("x-amzn-RequestId") or response.headers["apigw-requestid"]
        return requests.get(f"{self.url}/_lab/traces/{rid}", timeout=5).json()


@pytest.fixture(scope="module")
def served(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = LiveServer()
    url = f"http://127.0.0.1:{server.port}"
    gateway = create_gateway(
        lab.issuer, url, template=PIPELINE, notes_db=tmp_path_factory.mktemp("p") / "notes.db"
    )
    server.start(gateway)
    yield Served(url, gateway)
    server.stop()
    gateway.close()


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
