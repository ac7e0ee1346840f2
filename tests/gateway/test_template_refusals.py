"""Templates AWS refuses to deploy are refused at load, and unreadable APIs are named.

Pages: `http-api-lambda-authorizer` (authorizer payload format versions 1.0 and 2.0; simple
responses only with 2.0) and `http-api-develop-integrations-lambda` (integration payload
format versions 1.0 and 2.0).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from emulators.gateway.template import TemplateError
from emulators.gateway.template import load_model

HEAD = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Authorizer:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ., Handler: authorizer.handler.simple_handler}
"""


def write(tmp_path: Path, resources: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(HEAD + resources, encoding="utf-8")
    return path


def http_api(authorizer: str = "", event: str = "") -> str:
    return f"""
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: dev
      Auth:
        Authorizers:
          Lambda:
            FunctionArn: !GetAtt Authorizer.Arn
            Identity: {{Headers: [Authorization]}}
{authorizer}
  Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: api.public.handler
      Events:
        Get:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /thing
            Method: get
            Auth: {{Authorizer: Lambda}}
{event}
"""


def test_simple_responses_with_authorizer_payload_1_0_are_refused(tmp_path: Path) -> None:
    # GIVEN an HTTP API Lambda authorizer asking for simple responses in payload 1.0
    template = write(
        tmp_path,
        http_api(
            "            AuthorizerPayloadFormatVersion: '1.0'\n"
            "            EnableSimpleResponses: true"
        ),
    )
    # WHEN the emulator loads it THEN it refuses, as AWS does, and says how to fix it
    with pytest.raises(TemplateError) as refused:
        load_model({}, template)
    message = str(refused.value)
    assert "authorizer Lambda" in message
    assert "EnableSimpleResponses" in message
    assert '"2.0"' in message


@pytest.mark.parametrize("version", ["3.0", "2", "'1'"])
def test_an_authorizer_payload_version_aws_does_not_know_is_refused(
    tmp_path: Path, version: str
) -> None:
    template = write(tmp_path, http_api(f"            AuthorizerPayloadFormatVersion: {version}"))
    with pytest.raises(TemplateError, match=r"AuthorizerPayloadFormatVersion is .*1\.0.*2\.0"):
        load_model({}, template)


def test_an_integration_payload_version_aws_does_not_know_is_refused(tmp_path: Path) -> None:
    template = write(
        tmp_path,
        http_api(
            "            AuthorizerPayloadFormatVersion: '2.0'",
            "            PayloadFormatVersion: '3.0'",
        ),
    )
    with pytest.raises(TemplateError) as refused:
        load_model({}, template)
    assert str(refused.value).startswith('Function.Get: PayloadFormatVersion is "3.0"')


def test_unquoted_payload_versions_read_as_aws_reads_them(tmp_path: Path) -> None:
    # YAML reads 1.0 as a number; SAM passes it on as "1.0".
    template = write(
        tmp_path,
        http_api(
            "            AuthorizerPayloadFormatVersion: 1.0",
            "            PayloadFormatVersion: 1.0",
        ),
    )
    api = load_model({}, template).apis[0]
    assert api.authorizers["Lambda"].payload_version == "1.0"
    assert api.routes[0].payload_version == "1.0"


NATIVE = """
  RestApi:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: native}
  HttpApi:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: native-http, ProtocolType: HTTP}
"""

OPENAPI = """
  OpenApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      DefinitionUri: s3://lab-bucket/openapi.yaml
  Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: api.public.handler
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref OpenApi, Path: /thing, Method: get}}
"""


def test_a_template_of_native_api_gateway_resources_only_is_refused(tmp_path: Path) -> None:
    # GIVEN APIs declared as native AWS::ApiGateway*/ApiGatewayV2 resources, no SAM API
    template = write(tmp_path, NATIVE)
    # WHEN the emulator loads it THEN it says which resources it cannot read and what it can
    with pytest.raises(TemplateError) as refused:
        load_model({}, template)
    message = str(refused.value)
    assert "RestApi (AWS::ApiGateway::RestApi)" in message
    assert "HttpApi (AWS::ApiGatewayV2::Api)" in message
    assert "AWS::Serverless::Api (REST) and AWS::Serverless::HttpApi (HTTP)" in message


def test_an_api_defined_by_openapi_is_refused_when_it_is_the_only_one(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"OpenApi \(AWS::Serverless::Api\) is defined by an "):
        load_model({}, write(tmp_path, OPENAPI))


def test_readable_apis_are_served_beside_unreadable_ones_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a readable HTTP API beside an OpenAPI-defined one and a gateway response
    resources = (
        http_api("            AuthorizerPayloadFormatVersion: '2.0'")
        + OPENAPI.replace("  Function:", "  OpenFunction:")
        + """
  Cors4xx:
    Type: AWS::ApiGateway::GatewayResponse
    Properties: {ResponseType: DEFAULT_4XX, RestApiId: !Ref OpenApi}
"""
    )
    # WHEN it loads
    with caplog.at_level(logging.WARNING, logger="emulators.gateway.template"):
        model = load_model({}, write(tmp_path, resources))
    # THEN the readable API is served and the rest is named, in the model and the log
    assert [a.logical_id for a in model.apis] == ["Api"]
    assert [r.key for r in model.apis[0].routes] == ["GET /thing"]
    assert any(
        "OpenApi (AWS::Serverless::Api)" in w and "DefinitionUri" in w for w in model.warnings
    )
    assert any("Cors4xx (AWS::ApiGateway::GatewayResponse)" in w for w in model.warnings)
    assert "OpenApi" in caplog.text


def test_a_template_that_is_not_yaml_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources: {Api: [unclosed", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"template\.yaml is not valid YAML"):
        load_model({}, path)
