"""The events the gateway hands to authorizers and functions, shaped as AWS shapes them.

Each scenario names the AWS developer guide page it follows:
`api-gateway-lambda-authorizer-input`, `set-up-lambda-proxy-integrations`,
`http-api-lambda-authorizer`, `http-api-develop-integrations-lambda`,
`api-gateway-payload-encodings`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulators.gateway import create_gateway
from emulators.gateway import events
from emulators.gateway.template import HEADER_CASE_ENV
from emulators.gateway.template import Api
from emulators.gateway.template import Model
from emulators.gateway.template import Route
from emulators.gateway.template import TemplateError
from emulators.gateway.template import load_model
from tests.conftest import LiveServer

TEMPLATE = Path(__file__).with_name("events.yaml")


@pytest.fixture(scope="module")
def template_path() -> Path:
    return TEMPLATE


@pytest.fixture(scope="module")
def model(template_path: Path) -> Model:
    return load_model({}, template_path, header_case="title")


def api_of(model: Model, name: str) -> Api:
    return next(a for a in model.apis if a.logical_id == name)


def route_of(api: Api, method: str, path: str) -> Route:
    return next(r for r in api.routes if r.method == method and r.path == path)


def request(
    path: str,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    query: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    path_parameters: dict[str, str] | None = None,
    arn: str = "",
) -> events.IncomingRequest:
    query = query or []
    return events.IncomingRequest(
        "req-1",
        method,
        path,
        headers if headers is not None else [("Host", "lab.local"), ("User-Agent", "test")],
        query,
        "&".join(f"{k}={v}" for k, v in query),
        body,
        "127.0.0.1",
        1_700_000_000_000,
        path_parameters=path_parameters,
        arn=arn,
    )


# Stage variables (REST `Variables`, HTTP `StageVariables`) -----------------------------------


def test_stage_variables_reach_every_event_kind(model: Model) -> None:
    # GIVEN APIs whose stages declare variables (set-up-lambda-proxy-integrations,
    # api-gateway-lambda-authorizer-input, http-api-lambda-authorizer,
    # http-api-develop-integrations-lambda)
    rest = api_of(model, "ShapeRestApi")
    http = api_of(model, "ShapeHttpApi")
    item = route_of(rest, "GET", "/items/{id}")
    v2 = route_of(http, "POST", "/v2/{id}")
    v1 = route_of(http, "POST", "/v1/{id}")
    sent = request("/items/1")
    # WHEN events are built for each kind
    rest_event = events.rest_proxy_event(rest, item, sent, None)
    rest_authorizer = events.request_authorizer_event(rest, item, sent, ["x"], "1.0")
    http_v2 = events.http_proxy_event(http, v2, sent, None)
    http_v1 = events.http_proxy_event(http, v1, sent, None)
    http_authorizer = events.request_authorizer_event(http, v2, sent, ["x"], "2.0")
    # THEN each carries the stage's variables
    assert rest_event["stageVariables"] == {"color": "blue", "lambdaAlias": "live"}
    assert rest_authorizer["stageVariables"] == {"color": "blue", "lambdaAlias": "live"}
    assert http_v2["stageVariables"] == {"color": "green"}
    assert http_v1["stageVariables"] == {"color": "green"}
    assert http_authorizer["stageVariables"] == {"color": "green"}


def test_without_stage_variables_proxy_events_say_null_and_payload_2_leaves_them_out(
    model: Model,
) -> None:
    # http-api-develop-integrations-lambda: 1.0 shows "stageVariables": null; 2.0 omits it.
    rest = api_of(model, "BareRestApi")
    http = api_of(model, "BareHttpApi")
    sent = request("/bare", "POST")
    rest_event = events.rest_proxy_event(rest, rest.routes[0], sent, None)
    http_event = events.http_proxy_event(http, http.routes[0], sent, None)
    assert rest_event["stageVariables"] is None
    assert "stageVariables" not in http_event


# Path parameters and the request's ARN -------------------------------------------------------


def test_path_parameters_and_the_real_path_arn_reach_rest_events(model: Model) -> None:
    # GIVEN a REST request matched to /items/{id} with id 42
    rest = api_of(model, "ShapeRestApi")
    item = route_of(rest, "GET", "/items/{id}")
    arn = f"{rest.arn_prefix()}/GET/items/42"
    sent = request("/items/42", path_parameters={"id": "42"}, arn=arn)
    # WHEN the authorizer and the function get their events
    authorizer = events.request_authorizer_event(rest, item, sent, ["Bearer good"], "1.0")
    token = events.token_authorizer_event(item, "Bearer good", sent)
    proxy = events.rest_proxy_event(rest, item, sent, None)
    # THEN they carry the parameters and the ARN of the real path (api-gateway-lambda-
    # authorizer-input: methodArn names the called resource)
    assert authorizer["pathParameters"] == {"id": "42"}
    assert authorizer["methodArn"] == arn
    assert token["methodArn"] == arn
    assert proxy["pathParameters"] == {"id": "42"}
    assert proxy["resource"] == "/items/{id}"
    assert proxy["path"] == "/items/42"


def test_without_path_parameters_each_event_says_so_in_its_own_form(model: Model) -> None:
    rest = api_of(model, "ShapeRestApi")
    http = api_of(model, "ShapeHttpApi")
    upload = route_of(rest, "POST", "/upload")
    v2_policy = route_of(http, "GET", "/v2-policy")
    v1_policy = route_of(http, "GET", "/v1-policy")
    sent = request("/upload", "POST")
    # set-up-lambda-proxy-integrations: null; api-gateway-lambda-authorizer-input: {} for a
    # resource without parameters; http-api-develop-integrations-lambda 2.0: left out.
    assert events.rest_proxy_event(rest, upload, sent, None)["pathParameters"] is None
    assert events.request_authorizer_event(rest, upload, sent, [], "1.0")["pathParameters"] == {}
    assert "pathParameters" not in events.http_proxy_event(http, v2_policy, sent, None)
    assert events.http_proxy_event(http, v1_policy, sent, None)["pathParameters"] is None
    assert "pathParameters" not in events.request_authorizer_event(
        http, v2_policy, sent, ["x"], "2.0"
    )
    # Without an ARN from the route matcher the route's own ARN is used.
    assert events.token_authorizer_event(upload, "t")["methodArn"] == upload.arn


def test_http_authorizer_2_0_event_has_path_parameters_and_route_arn(model: Model) -> None:
    http = api_of(model, "ShapeHttpApi")
    v2 = route_of(http, "POST", "/v2/{id}")
    arn = f"{http.arn_prefix()}/POST/v2/7"
    sent = request("/v2/7", "POST", path_parameters={"id": "7"}, arn=arn)
    event = events.request_authorizer_event(http, v2, sent, ["Bearer good"], "2.0")
    assert event["pathParameters"] == {"id": "7"}
    assert event["routeArn"] == arn
    assert event["rawPath"] == "/dev/v2/7"


# Repeated query parameters and headers --------------------------------------------------------


def test_http_2_0_authorizer_joins_a_repeated_query_parameter_with_commas(model: Model) -> None:
    # http-api-lambda-authorizer 2.0: "parameter1": "value1,value2"
    http = api_of(model, "ShapeHttpApi")
    v2 = route_of(http, "POST", "/v2/{id}")
    sent = request("/v2/1", "POST", query=[("tag", "a"), ("tag", "b"), ("one", "1")])
    event = events.request_authorizer_event(http, v2, sent, ["x"], "2.0")
    assert event["queryStringParameters"] == {"tag": "a,b", "one": "1"}


def test_payload_1_0_keeps_the_last_value_and_lists_all_of_them(model: Model) -> None:
    # set-up-lambda-proxy-integrations: the single-value maps hold the last value,
    # multiValue* hold them all.
    rest = api_of(model, "ShapeRestApi")
    upload = route_of(rest, "POST", "/upload")
    sent = request(
        "/upload",
        "POST",
        headers=[("X-Trace", "1"), ("X-Trace", "2")],
        query=[("tag", "a"), ("tag", "b")],
    )
    event = events.rest_proxy_event(rest, upload, sent, None)
    assert event["headers"] == {"X-Trace": "2"}
    assert event["multiValueHeaders"] == {"X-Trace": ["1", "2"]}
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    empty = events.rest_proxy_event(rest, upload, request("/upload", "POST"), None)
    assert empty["queryStringParameters"] is None
    assert empty["multiValueQueryStringParameters"] is None


# Header name case --------------------------------------------------------------------------


def test_rest_header_names_are_title_case_unless_lower_case_is_asked(
    template_path: Path, model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    # REST passes names as the client sent them (api-gateway-lambda-authorizer-input's example
    # has "cache-control" beside "Content-Type"); HTTP/2 clients always send lower case.
    headers = [("X-Lower-Case", "1"), ("Content-Type", "text/plain")]
    rest = api_of(model, "ShapeRestApi")
    upload = route_of(rest, "POST", "/upload")
    title = events.rest_proxy_event(rest, upload, request("/upload", "POST", headers), None)
    monkeypatch.setenv(HEADER_CASE_ENV, "lower")
    lower_model = load_model({}, template_path)
    lower_rest = api_of(lower_model, "ShapeRestApi")
    lower_upload = route_of(lower_rest, "POST", "/upload")
    sent = request("/upload", "POST", headers)
    lower = events.rest_proxy_event(lower_rest, lower_upload, sent, None)
    authorizer = events.request_authorizer_event(lower_rest, lower_upload, sent, [], "1.0")

    assert set(title["headers"]) == {"X-Lower-Case", "Content-Type"}
    assert set(lower["headers"]) == {"x-lower-case", "content-type"}
    assert set(lower["multiValueHeaders"]) == {"x-lower-case", "content-type"}
    assert set(authorizer["headers"]) == {"x-lower-case", "content-type"}


def test_an_unknown_header_case_setting_is_refused(template_path: Path) -> None:
    with pytest.raises(TemplateError, match="'title' or 'lower', not 'camel'"):
        load_model({}, template_path, header_case="camel")


def test_http_apis_lower_case_header_names_in_payload_1_0(model: Model) -> None:
    # http-api-develop-integrations-lambda: "All header names are lowercase."
    http = api_of(model, "ShapeHttpApi")
    v1 = route_of(http, "POST", "/v1/{id}")
    sent = request("/v1/1", "POST", headers=[("X-Lower-Case", "a"), ("X-Lower-Case", "b")])
    event = events.http_proxy_event(http, v1, sent, None)
    assert event["headers"] == {"x-lower-case": "b"}
    assert event["multiValueHeaders"] == {"x-lower-case": ["a", "b"]}


# Request bodies ------------------------------------------------------------------------------


def test_rest_bodies_are_base64_only_for_the_apis_binary_media_types(model: Model) -> None:
    # api-gateway-payload-encodings: SAM's image~1png is image/png.
    rest = api_of(model, "ShapeRestApi")
    upload = route_of(rest, "POST", "/upload")
    png = b"\x89PNG\r\n\x1a\n\x00\x01"

    def sent(content_type: str, body: bytes) -> dict[str, Any]:
        headers = [("Content-Type", content_type)]
        return events.rest_proxy_event(
            rest, upload, request("/upload", "POST", headers, body=body), None
        )

    binary = sent("image/png", png)
    json_text = sent("application/json; charset=utf-8", b'{"text": "hi"}')
    assert rest.binary_media_types == ("image/png", "application/vnd.lab+octet")
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == png
    assert json_text == {**json_text, "isBase64Encoded": False, "body": '{"text": "hi"}'}


def test_rest_binary_body_without_binary_media_types_arrives_mangled(model: Model) -> None:
    # As on AWS: without a matching binary media type the body is passed as UTF-8 text.
    rest = api_of(model, "BareRestApi")
    sent = request("/bare", "POST", [("Content-Type", "image/png")], body=b"\x89PNG\xff")
    event = events.rest_proxy_event(rest, rest.routes[0], sent, None)
    assert event["isBase64Encoded"] is False
    assert event["body"] == "\ufffdPNG\ufffd"


def test_binary_media_types_match_wildcards_and_ignore_parameters(model: Model) -> None:
    star = Api("A", "REST", "A", "dev", "a", binary_media_types=("image/*",))
    everything = Api("B", "REST", "B", "dev", "b", binary_media_types=("*/*",))
    rest = api_of(model, "ShapeRestApi")
    assert events.binary_media_type_matches(star, "image/png")
    assert events.binary_media_type_matches(star, "IMAGE/JPEG; q=0.9")
    assert not events.binary_media_type_matches(star, "application/json")
    assert events.binary_media_type_matches(everything, "text/plain")
    assert events.binary_media_type_matches(rest, "application/vnd.lab+octet")
    assert not events.binary_media_type_matches(rest, None)
    assert not events.binary_media_type_matches(api_of(model, "BareRestApi"), "image/png")


@pytest.mark.parametrize(
    ("content_type", "encoding", "base64_encoded"),
    [
        ("application/json", None, False),
        ("text/plain; charset=utf-8", None, False),
        ("application/xml", None, False),
        ("application/octet-stream", None, True),
        ("application/x-www-form-urlencoded", None, True),
        (None, None, True),
        ("application/json", "gzip", True),
    ],
)
def test_http_api_bodies_are_base64_unless_their_type_is_text(
    model: Model, content_type: str | None, encoding: str | None, base64_encoded: bool
) -> None:
    # http-api-develop-integrations-lambda: binary bodies are base64-encoded; which types
    # count as text was measured on AWS (ministack PR 766).
    http = api_of(model, "BareHttpApi")
    headers = [("Content-Type", content_type)] if content_type else []
    if encoding:
        headers.append(("Content-Encoding", encoding))
    body = b"a=1&b=2"
    event = events.http_proxy_event(
        http, http.routes[0], request("/bare", "POST", headers, body=body), None
    )
    assert event["isBase64Encoded"] is base64_encoded
    assert event["body"] == (base64.b64encode(body).decode() if base64_encoded else "a=1&b=2")


# HTTP payload format 1.0 ---------------------------------------------------------------------


def test_http_routes_default_to_payload_2_0_and_rest_routes_to_1_0(model: Model) -> None:
    http = api_of(model, "ShapeHttpApi")
    rest = api_of(model, "ShapeRestApi")
    assert route_of(http, "POST", "/v2/{id}").payload_version == "2.0"
    assert route_of(http, "POST", "/v1/{id}").payload_version == "1.0"
    assert {r.payload_version for r in rest.routes} == {"1.0"}
    assert http.authorizers["Policy"].payload_version == "1.0"


def test_an_http_payload_1_0_route_gets_the_rest_like_event_with_version(model: Model) -> None:
    # http-api-develop-integrations-lambda, 1.0
    http = api_of(model, "ShapeHttpApi")
    v1 = route_of(http, "POST", "/v1/{id}")
    sent = request(
        "/v1/9",
        "POST",
        [("Content-Type", "application/json")],
        [("tag", "a"), ("tag", "b")],
        b"{}",
        {"id": "9"},
    )
    context = events.lambda_authorizer_context(http, v1, {"tenant": "acme"}, None)
    event = events.http_proxy_event(http, v1, sent, context)
    assert event["version"] == "1.0"
    assert event["resource"] == "/v1/{id}"
    assert event["path"] == "/dev/v1/9"
    assert event["httpMethod"] == "POST"
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["pathParameters"] == {"id": "9"}
    assert event["requestContext"]["authorizer"] == {"tenant": "acme"}
    assert event["requestContext"]["resourceId"] is None
    assert (event["body"], event["isBase64Encoded"]) == ("{}", False)


def test_lambda_authorizer_context_takes_the_integrations_payload_form(model: Model) -> None:
    # http-api-develop-integrations-lambda: 2.0 integrations read authorizer.lambda; 1.0
    # integrations read the keys directly, beside principalId.
    http = api_of(model, "ShapeHttpApi")
    rest = api_of(model, "ShapeRestApi")
    v2 = route_of(http, "GET", "/v2-policy")
    v1 = route_of(http, "GET", "/v1-policy")
    token = route_of(rest, "GET", "/token")
    context = {"tenant": "acme"}
    assert events.lambda_authorizer_context(http, v2, context, "user-7") == {"lambda": context}
    assert events.lambda_authorizer_context(http, v1, context, "user-7") == {
        "tenant": "acme",
        "principalId": "user-7",
    }
    assert events.lambda_authorizer_context(rest, token, context, "user-7") == {
        "tenant": "acme",
        "principalId": "user-7",
    }
    claims = {"sub": "someone"}
    assert events.jwt_authorizer_context(v2, claims, ["read"]) == {
        "jwt": {"claims": claims, "scopes": ["read"]}
    }
    assert events.jwt_authorizer_context(v1, claims, ["read"]) == {
        "claims": claims,
        "scopes": ["read"],
    }


def test_an_authorizer_context_shaped_for_the_other_payload_is_reshaped(model: Model) -> None:
    http = api_of(model, "ShapeHttpApi")
    v2 = route_of(http, "GET", "/v2-policy")
    v1 = route_of(http, "GET", "/v1-policy")
    sent = request("/v1-policy")
    flat = {"tenant": "acme", "principalId": "user-7"}
    nested = {"lambda": {"tenant": "acme"}}
    jwt = {"jwt": {"claims": {"sub": "x"}, "scopes": None}}

    def authorizer(route: Route, given: dict[str, Any] | None) -> Any:
        return events.http_proxy_event(http, route, sent, given)["requestContext"].get("authorizer")

    assert authorizer(v2, flat) == {"lambda": {"tenant": "acme"}}
    assert authorizer(v2, nested) == nested
    assert authorizer(v2, None) is None
    assert authorizer(v1, nested) == {"tenant": "acme"}
    assert authorizer(v1, jwt) == {"claims": {"sub": "x"}, "scopes": None}
    assert authorizer(v1, None) == {"claims": None, "scopes": None}


# Through the gateway ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes(
    lab: Any, template_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Model]]:
    server = LiveServer()
    url = f"http://127.0.0.1:{server.port}"
    gateway = create_gateway(
        lab.issuer, url, template=template_path, notes_db=tmp_path_factory.mktemp("shapes") / "n.db"
    )
    server.start(gateway)
    yield url, gateway.model
    server.stop()
    gateway.close()


def echoed(shapes: tuple[str, Model], api_name: str, path: str, **kwargs: Any) -> dict[str, Any]:
    url, model = shapes
    api = api_of(model, api_name)
    method = kwargs.pop("method", "GET")
    response = requests.request(
        method, f"{url}/{api.api_id}/{api.stage}{path}", timeout=10, **kwargs
    )
    assert response.status_code == 200, response.text
    return json.loads(response.text)["event"]


def test_a_function_behind_the_gateway_sees_stage_variables_and_a_binary_upload(
    shapes: tuple[str, Model],
) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    event = echoed(
        shapes,
        "ShapeRestApi",
        "/upload",
        method="POST",
        data=png,
        headers={"Content-Type": "image/png"},
    )
    assert event["stageVariables"] == {"color": "blue", "lambdaAlias": "live"}
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png


def test_a_payload_1_0_route_behind_a_simple_authorizer_gets_a_flat_context(
    shapes: tuple[str, Model],
) -> None:
    # http-api-develop-integrations-lambda: a 1.0 integration reads the context directly.
    auth = {"Authorization": "Bearer good"}
    v1 = echoed(shapes, "ShapeHttpApi", "/v1-simple", method="POST", json={}, headers=auth)
    v2 = echoed(shapes, "ShapeHttpApi", "/v2-simple", method="POST", json={}, headers=auth)
    assert v1["version"] == "1.0"
    assert v1["requestContext"]["authorizer"] == {"tenant": "acme", "level": 3}
    assert v1["stageVariables"] == {"color": "green"}
    assert v2["version"] == "2.0"
    assert v2["requestContext"]["authorizer"] == {"lambda": {"tenant": "acme", "level": 3}}
