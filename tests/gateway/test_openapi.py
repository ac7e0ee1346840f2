"""APIs declared by an OpenAPI DefinitionBody serve as their SAM-form twins do.

`openapi.yaml` restates the four APIs of `template.yaml` with `x-amazon-apigateway-integration`
and `x-amazon-apigateway-authorizer` (AWS pages `api-gateway-swagger-extensions-integration`,
`api-gateway-swagger-extensions-authorizer`, `http-api-open-api`): the gateway must list the
same catalogue and give the same answers, with the real authorizer and real IdP tokens.
The smaller templates below check the rest of the extension's reading and its refusals.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulators.gateway.template import TemplateError
from emulators.gateway.template import load_model
from tests.gateway.conftest import ServedTemplate as Served
from tests.gateway.conftest import Tokens
from tests.gateway.conftest import serve_template

OPENAPI = Path(__file__).with_name("openapi.yaml")


@pytest.fixture(scope="module")
def openapi(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_template(lab.issuer, OPENAPI, tmp_path_factory.mktemp("oas") / "notes.db") as it:
        yield it


def catalogue(url: str) -> dict[str, Any]:
    """The gateway's catalogue by API name, without what differs by port and id."""
    apis = requests.get(url + "/", timeout=5).json()["apis"]
    return {a["name"]: {k: v for k, v in a.items() if k not in ("id", "base_url")} for a in apis}


def test_the_openapi_form_lists_the_same_catalogue_as_the_sam_form(
    lab: Any, openapi: Served
) -> None:
    # GIVEN template.yaml (SAM's Auth and Events) and openapi.yaml (DefinitionBody)
    sam, oas = catalogue(lab.gateway_url), catalogue(openapi.url)
    # (the emulator reads Cognito user pool authorizers only from SAM's Auth, so the
    # OpenAPI form has no RestCognitoApi)
    sam.pop("RestCognitoApi")
    sam.pop("HttpCognitoJwtApi")
    # (nor the user pool's Lambda-authorized API, which openapi.yaml does not restate)
    sam.pop("RestCognitoLambdaApi")
    # (nor the IAM APIs: tests/gateway/test_iam.py covers IAM, and awsSigv4 below)
    sam.pop("RestIamApi")
    sam.pop("HttpIamApi")
    # THEN both list the same APIs, routes, functions, authorizers, scopes and TTLs
    assert oas == sam
    assert openapi.gateway.model.warnings == []
    # AND what the OpenAPI form spells differently reads as the SAM form does
    token = oas["RestTokenApi"]["authorizers"][0]
    assert (token["type"], token["ttl"]) == ("TOKEN", 300)
    assert token["validation_expression"] == "^Bearer [-0-9a-zA-Z\\._]*$"
    request = oas["RestRequestApi"]["authorizers"][0]
    assert (request["type"], request["ttl"]) == ("REQUEST", 300)  # REST's default TTL
    jwt_scopes = {(r["method"], r["path"]): r["scopes"] for r in oas["HttpJwtApi"]["routes"]}
    assert jwt_scopes[("GET", "/admin")] == ["read:admin"]
    assert jwt_scopes[("POST", "/notes")] == ["write:notes"]
    public = [r for r in oas["HttpLambdaApi"]["routes"] if r["path"] == "/public"]
    assert public[0]["auth"] == "NONE"  # `security: []` beats the API-level default


# (api, method, path, credential, the status both forms must give)
ANSWERS = [
    ("RestTokenApi", "GET", "/public", None, 200),
    ("RestTokenApi", "GET", "/private", None, 401),
    ("RestTokenApi", "GET", "/private", "bearer {customer}", 401),  # validation expression
    ("RestTokenApi", "GET", "/private", "Bearer {customer}", 200),
    ("RestTokenApi", "GET", "/admin", "Bearer {customer}", 403),  # the authorizer's Deny
    ("RestTokenApi", "GET", "/admin", "Bearer {admin}", 200),
    ("RestTokenApi", "GET", "/private", "Bearer {expired}", 401),
    ("RestTokenApi", "DELETE", "/private", "Bearer {customer}", 403),  # no such method
    ("RestRequestApi", "GET", "/public", None, 200),
    ("RestRequestApi", "GET", "/private", None, 401),
    ("RestRequestApi", "GET", "/admin", "Bearer {customer}", 403),
    ("RestRequestApi", "GET", "/notes", "Bearer {reader}", 200),
    ("RestRequestApi", "POST", "/notes", "Bearer {reader}", 403),
    ("HttpLambdaApi", "GET", "/private", None, 401),
    ("HttpLambdaApi", "GET", "/private", "Bearer {customer}", 200),
    ("HttpLambdaApi", "GET", "/admin", "Bearer {customer}", 403),
    ("HttpLambdaApi", "GET", "/notes", "Bearer {reader}", 200),
    ("HttpJwtApi", "GET", "/public", None, 200),
    ("HttpJwtApi", "GET", "/private", None, 401),
    ("HttpJwtApi", "GET", "/private", "Bearer {customer}", 200),
    ("HttpJwtApi", "GET", "/private", "{customer}", 200),  # the bare token passes too
    ("HttpJwtApi", "GET", "/admin", "Bearer {customer}", 403),  # no read:admin scope
    ("HttpJwtApi", "GET", "/admin", "Bearer {admin}", 200),
    ("HttpJwtApi", "GET", "/notes", "Bearer {reader}", 200),
    ("HttpJwtApi", "POST", "/notes", "Bearer {reader}", 403),  # read scope only
    ("HttpJwtApi", "GET", "/no-such-route", "Bearer {customer}", 404),
]


@pytest.mark.parametrize(("api", "method", "path", "credential", "status"), ANSWERS)
def test_the_openapi_form_answers_as_the_sam_form(
    lab: Any,
    openapi: Served,
    tokens: Tokens,
    api: str,
    method: str,
    path: str,
    credential: str | None,
    status: int,
) -> None:
    headers = {}
    if credential is not None:
        kind = credential.split("{")[1].rstrip("}")
        headers["Authorization"] = credential.replace("{" + kind + "}", getattr(tokens, kind))
    body = {"text": "from the openapi test"} if method == "POST" else None

    sam = requests.request(method, lab.api_url(api) + path, headers=headers, json=body, timeout=10)
    oas = requests.request(method, openapi.base(api) + path, headers=headers, json=body, timeout=10)

    assert (oas.status_code, sam.status_code) == (status, status)
    if path != "/notes":  # notes are kept per gateway
        assert oas.json() == sam.json()
    for name in ("www-authenticate", "x-amzn-ErrorType"):
        assert oas.headers.get(name) == sam.headers.get(name)


# --- Reading the extensions, and what is refused ---------------------------------------------

HEAD = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Authorizer:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ., Handler: tests.gateway.pipeline_functions.header_policy_authorizer}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: tests.gateway.functions.echo
{events}
"""

# Quoted: a YAML flow mapping would read the braces of ${...} as its own.
URI = (
    '!Sub "arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/'
    '${{{function}.Arn}}/invocations"'
)


def rest_api(paths: str, schemes: str = "", extra: str = "") -> str:
    return f"""
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      {extra}
      DefinitionBody:
        openapi: 3.0.1
        x-amazon-apigateway-binary-media-types: [image/png, "application~1octet-stream"]
        components:
          securitySchemes:
{schemes or "            {}"}
        paths:
{paths}
"""


def write(tmp_path: Path, resources: str, events: str = "") -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(HEAD.replace("{events}", events) + resources, encoding="utf-8")
    return path


REQUEST_SCHEME = f"""            ByQuery:
              type: apiKey
              name: Unused
              in: header
              x-amazon-apigateway-authorizer:
                type: request
                identitySource: "method.request.querystring.key, stageVariables.tenant,
                  context.httpMethod"
                authorizerResultTtlInSeconds: 60
                authorizerUri: {URI.format(function="Authorizer")}
"""

ECHO = f"{{type: aws_proxy, httpMethod: POST, uri: {URI.format(function='Echo')}}}"
PROXY_PATHS = f"""          /files/{{proxy+}}:
            x-amazon-apigateway-any-method:
              security: [{{ByQuery: []}}]
              x-amazon-apigateway-integration: {ECHO}
          /items/{{id}}:
            parameters: [{{name: id, in: path, required: true}}]
            get:
              x-amazon-apigateway-integration: {ECHO}
"""


def test_rest_identity_sources_any_method_proxy_paths_and_binary_types_are_read(
    tmp_path: Path,
) -> None:
    api = load_model({}, write(tmp_path, rest_api(PROXY_PATHS, REQUEST_SCHEME))).apis[0]

    authorizer = api.authorizers["ByQuery"]
    assert authorizer.identity_sources == (
        "$request.querystring.key",
        "$stageVariables.tenant",
        "$context.httpMethod",
    )
    assert (authorizer.kind, authorizer.ttl, authorizer.function.logical_id) == (
        "REQUEST",
        60,
        "Authorizer",
    )
    routes = {r.key: r for r in api.routes}
    assert set(routes) == {"ANY /files/{proxy+}", "GET /items/{id}"}
    assert routes["ANY /files/{proxy+}"].authorizer is authorizer
    assert routes["GET /items/{id}"].authorizer is None  # no `security` anywhere
    assert api.binary_media_types == ("image/png", "application/octet-stream")


@pytest.fixture
def proxy_gateway(tmp_path: Path) -> Iterator[str]:
    template = write(
        tmp_path, rest_api(PROXY_PATHS, REQUEST_SCHEME, extra="Variables: {tenant: blue}")
    )
    # No JWT here: the issuer is never called.
    with serve_template("http://127.0.0.1:9/", template, tmp_path / "notes.db") as served:
        api = served.gateway.model.apis[0]
        yield f"{served.url}/{api.api_id}/{api.stage}"


def test_a_greedy_any_method_route_of_a_definition_is_served(proxy_gateway: str) -> None:
    # WHEN a client calls a deep path under /files/{proxy+} with another method
    missing = requests.delete(proxy_gateway + "/files/a/b.txt", timeout=10)
    allowed = requests.delete(
        proxy_gateway + "/files/a/b.txt?key=1",
        headers={"X-Deny": "no"},
        timeout=10,
    )
    # THEN the identity source in the query string is required, and then the route runs
    assert missing.status_code == 401
    assert allowed.status_code == 200, allowed.text
    event = allowed.json()["event"]
    assert event["resource"] == "/files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b.txt"}
    assert event["httpMethod"] == "DELETE"


HTTP_API = """
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: dev
      DefinitionBody:
        openapi: 3.0.1
        components:
          securitySchemes:
            Lambda:
              type: apiKey
              name: Authorization
              in: header
              x-amazon-apigateway-authorizer:
{authorizer}
        paths:
          /thing:
            get:
              security: [{{Lambda: []}}]
              x-amazon-apigateway-integration:
{integration}
"""
HTTP_AUTHORIZER = f"""                type: request
                identitySource: $request.header.Authorization
                authorizerUri: {URI.format(function="Authorizer")}
                authorizerPayloadFormatVersion: "1.0"
"""
HTTP_INTEGRATION = """                type: aws_proxy
                uri: !GetAtt Echo.Arn
                payloadFormatVersion: "1.0"
"""


def http_template(
    tmp_path: Path, authorizer: str = HTTP_AUTHORIZER, integration: str = HTTP_INTEGRATION
) -> Path:
    return write(tmp_path, HTTP_API.format(authorizer=authorizer, integration=integration))


def test_http_api_authorizers_cache_nothing_without_a_ttl_and_keep_payload_versions(
    tmp_path: Path,
) -> None:
    api = load_model({}, http_template(tmp_path)).apis[0]
    authorizer = api.authorizers["Lambda"]
    assert (authorizer.ttl, authorizer.payload_version, authorizer.simple_responses) == (
        0,
        "1.0",
        False,
    )
    assert [(r.key, r.payload_version) for r in api.routes] == [("GET /thing", "1.0")]


@pytest.mark.parametrize(
    ("authorizer", "integration", "message"),
    [
        (
            HTTP_AUTHORIZER.replace("request", "token"),
            HTTP_INTEGRATION,
            "HTTP APIs have no token authorizers",
        ),
        (
            HTTP_AUTHORIZER.replace("$request.header.Authorization", "method.request.header.A"),
            HTTP_INTEGRATION,
            "identity source 'method.request.header.A' is not one a HTTP API accepts",
        ),
        (
            HTTP_AUTHORIZER.replace('"1.0"', '"1.0"\n                enableSimpleResponses: true'),
            HTTP_INTEGRATION,
            "enableSimpleResponses needs authorizerPayloadFormatVersion",
        ),
        (
            HTTP_AUTHORIZER.replace('authorizerPayloadFormatVersion: "1.0"', "x-other: 1"),
            HTTP_INTEGRATION,
            "authorizerPayloadFormatVersion is missing",
        ),
        (
            HTTP_AUTHORIZER,
            HTTP_INTEGRATION.replace('payloadFormatVersion: "1.0"', "x-other: 1"),
            "the integration has no payloadFormatVersion",
        ),
        (
            HTTP_AUTHORIZER,
            HTTP_INTEGRATION.replace("Echo.Arn", "Missing.Arn"),
            "FunctionArn must be !GetAtt <Function>.Arn",
        ),
    ],
)
def test_definitions_aws_refuses_are_refused_with_the_reason(
    tmp_path: Path, authorizer: str, integration: str, message: str
) -> None:
    with pytest.raises(TemplateError) as refused:
        load_model({}, http_template(tmp_path, authorizer, integration))
    assert message in str(refused.value)
    assert str(refused.value).startswith("Api ")


def test_integrations_other_than_lambda_proxy_are_named_and_not_served_and_sigv4_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = f"""          /echo:
            get:
              x-amazon-apigateway-integration: {ECHO}
          /mocked:
            get:
              x-amazon-apigateway-integration: {{type: mock}}
          /signed:
            get:
              security: [{{Sigv4: []}}]
              x-amazon-apigateway-integration: {ECHO}
"""
    schemes = """            Sigv4:
              type: apiKey
              name: Authorization
              in: header
              x-amazon-apigateway-authtype: awsSigv4
"""
    with caplog.at_level(logging.WARNING, logger="emulators.gateway.template"):
        model = load_model({}, write(tmp_path, rest_api(paths, schemes)))

    routes = {r.key: r for r in model.apis[0].routes}
    assert list(routes) == ["GET /echo", "GET /signed"]
    assert any("Api GET /mocked has a mock integration" in w for w in model.warnings)
    # An awsSigv4 security scheme is IAM authorization, served as SAM's AWS_IAM is.
    signed = routes["GET /signed"].authorizer
    assert signed is not None and (signed.name, signed.kind) == ("Sigv4", "AWS_IAM")
    assert "GET /mocked" in caplog.text


EVENT = """      Events:
        Extra: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: {path}, Method: get}}}}
"""
ECHO_PATH = f"""          /echo:
            get:
              x-amazon-apigateway-integration: {ECHO}
"""


def test_events_of_an_inline_definition_add_their_routes_as_sam_does(tmp_path: Path) -> None:
    template = write(tmp_path, rest_api(ECHO_PATH), EVENT.format(path="/extra"))
    assert [r.key for r in load_model({}, template).apis[0].routes] == [
        "GET /echo",
        "GET /extra",
    ]


def test_an_event_the_definition_already_integrates_is_refused_as_sam_does(
    tmp_path: Path,
) -> None:
    template = write(tmp_path, rest_api(ECHO_PATH), EVENT.format(path="/echo"))
    with pytest.raises(TemplateError, match='API method "get" defined multiple times'):
        load_model({}, template)


def test_a_local_definition_uri_is_read_and_its_events_add_nothing(tmp_path: Path) -> None:
    (tmp_path / "openapi.yaml").write_text(
        f"swagger: '2.0'\npaths:\n  /echo:\n    get:\n      x-amazon-apigateway-integration:"
        f" {ECHO}\n",
        encoding="utf-8",
    )
    api = """
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: dev, DefinitionUri: openapi.yaml}
"""
    model = load_model({}, write(tmp_path, api, EVENT.format(path="/extra")))
    assert [r.key for r in model.apis[0].routes] == ["GET /echo"]
    assert any("Echo.Extra" in w and "DefinitionUri" in w for w in model.warnings)
