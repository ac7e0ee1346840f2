"""`template.yaml`: it lints, translates with the SAM translator offline, and the emulator
serves exactly the routes and authorizers the translation declares."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulators.gateway import local_parameters
from emulators.gateway.template import TEMPLATE
from emulators.gateway.template import _Loader
from emulators.gateway.template import load_model

ROOT = Path(__file__).resolve().parents[1]


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def translated(monkeypatch_module: Any) -> dict[str, Any]:
    """The template as CloudFormation will see it after the SAM transform."""
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    document = yaml.load(TEMPLATE.read_text(), Loader=_Loader)
    document = copy.deepcopy(document)
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # The translator wants deployed code; `sam build` puts it in S3 for real.
            resource["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    try:
        # A policy map stands in for the IAM lookup the translator would make online.
        role = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        policies = {"AWSLambdaBasicExecutionRole": role}
        return Translator(policies, Parser()).translate(
            document,
            {
                "TokenIssuer": "https://tenant.auth0.com/",
                "JwksUri": "https://tenant.auth0.com/.well-known/jwks.json",
            },
        )
    except InvalidDocumentException as exc:
        pytest.fail("; ".join(str(e) for e in exc.causes))


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    patcher = pytest.MonkeyPatch()
    yield patcher
    patcher.undo()


def _rest_body(translated: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return translated["Resources"][logical_id]["Properties"]["Body"]


def test_the_rest_token_authorizer_translates_as_the_emulator_serves_it(
    translated: dict[str, Any],
) -> None:
    body = _rest_body(translated, "RestTokenApi")
    authorizer = body["securityDefinitions"]["TokenAuthorizer"]["x-amazon-apigateway-authorizer"]
    model = load_model(local_parameters())
    served = next(a for a in model.apis if a.logical_id == "RestTokenApi")
    served_authorizer = served.authorizers["TokenAuthorizer"]

    assert authorizer["type"] == "token"
    assert authorizer["identityValidationExpression"] == served_authorizer.validation_expression
    assert authorizer["authorizerResultTtlInSeconds"] == served_authorizer.ttl == 300
    assert body["securityDefinitions"]["TokenAuthorizer"]["name"] == "Authorization"
    assert body["paths"]["/public"]["get"]["security"] == [{"NONE": []}]
    assert body["paths"]["/private"]["get"]["security"] == [{"TokenAuthorizer": []}]


def test_the_cognito_lambda_authorizer_is_its_own_function_in_the_cognito_profile(
    translated: dict[str, Any],
) -> None:
    body = _rest_body(translated, "RestCognitoLambdaApi")
    scheme = body["securityDefinitions"]["CognitoLambdaAuthorizer"]
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    served = next(
        a for a in load_model(local_parameters()).apis if a.logical_id == "RestCognitoLambdaApi"
    )
    function = served.authorizers["CognitoLambdaAuthorizer"].function
    assert function is not None

    assert authorizer["type"] == "token"
    assert "CognitoAuthorizerFunction" in json.dumps(authorizer["authorizerUri"])
    assert body["paths"]["/admin"]["get"]["security"] == [{"CognitoLambdaAuthorizer": []}]
    # its settings are all COGNITO_-prefixed: none clashes with the Auth0 functions' names
    assert function.handler == "authorizer.handler.cognito_handler"
    assert set(function.environment) == {
        "COGNITO_TOKEN_ISSUER",
        "COGNITO_CLIENT_IDS",
        "COGNITO_ROUTE_PERMISSIONS",
    }
    assert function.environment["COGNITO_TOKEN_ISSUER"].endswith("/us-east-1_AuthzLab1")


@pytest.mark.parametrize(
    "logical_id",
    [
        "RestTokenApi",
        "RestRequestApi",
        "HttpLambdaApi",
        "HttpJwtApi",
        "RestCognitoApi",
        "HttpCognitoJwtApi",
        "RestCognitoLambdaApi",
    ],
)
def test_the_emulator_serves_exactly_the_translated_routes(
    translated: dict[str, Any], logical_id: str
) -> None:
    body = _rest_body(translated, logical_id)
    translated_routes = {
        (method.upper(), path)
        for path, methods in body["paths"].items()
        for method in methods
        if method != "parameters"
    }
    served = next(a for a in load_model(local_parameters()).apis if a.logical_id == logical_id)

    assert translated_routes == {(r.method, r.path) for r in served.routes}


def test_the_jwt_authorizer_and_its_scopes_translate(translated: dict[str, Any]) -> None:
    body = _rest_body(translated, "HttpJwtApi")
    jwt = body["components"]["securitySchemes"]["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]

    assert jwt["type"] == "jwt"
    assert jwt["jwtConfiguration"]["issuer"] == {"Ref": "TokenIssuer"}
    assert jwt["jwtConfiguration"]["audience"] == [{"Ref": "Audience"}]
    assert body["paths"]["/admin"]["get"]["security"] == [{"JwtAuthorizer": ["read:admin"]}]
    assert body["paths"]["/public"]["get"]["security"] == [{"NONE": []}]


def test_the_http_lambda_authorizer_caches_per_route(translated: dict[str, Any]) -> None:
    body = _rest_body(translated, "HttpLambdaApi")
    scheme = body["components"]["securitySchemes"]["LambdaAuthorizer"]
    authorizer = scheme["x-amazon-apigateway-authorizer"]

    assert authorizer["enableSimpleResponses"] is True
    assert authorizer["authorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["authorizerResultTtlInSeconds"] == 300
    assert authorizer["identitySource"] == ["$request.header.Authorization", "$context.routeKey"]


def test_functions_are_built_as_packages() -> None:
    makefile = (ROOT / "Makefile").read_text()
    model = load_model(local_parameters())

    for function in model.functions.values():
        assert f"build-{function.logical_id}" in makefile
        package = function.handler.split(".")[0]
        assert (ROOT / package / "__init__.py").exists()


def test_a_missing_parameter_is_named() -> None:
    from emulators.gateway.template import TemplateError

    with pytest.raises(TemplateError, match="TokenIssuer"):
        load_model({"JwksUri": "x"})
    assert os.environ.get("AWS_DEFAULT_REGION") in (None, "us-east-1")


def test_both_lambda_authorizers_read_the_one_route_permissions_parameter(
    translated: dict[str, Any],
) -> None:
    # GIVEN a deployer's override of RoutePermissions (sam deploy --parameter-overrides)
    override = '{"GET /private": "", "GET /admin": "read:admin"}'
    model = load_model({**local_parameters(), "RoutePermissions": override})
    default = load_model(local_parameters())

    for logical_id in ("AuthorizerFunction", "SimpleAuthorizerFunction"):
        variables = translated["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
        # THEN CloudFormation resolves one parameter for both functions, and so does the emulator
        assert variables["ROUTE_PERMISSIONS"] == {"Ref": "RoutePermissions"}
        assert model.functions[logical_id].environment["ROUTE_PERMISSIONS"] == override
        assert (
            json.loads(default.functions[logical_id].environment["ROUTE_PERMISSIONS"])["GET /admin"]
            == "read:admin"
        )


def test_the_cognito_authorizer_and_its_scopes_translate(translated: dict[str, Any]) -> None:
    body = _rest_body(translated, "RestCognitoApi")
    scheme = body["securityDefinitions"]["CognitoAuthorizer"]
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    served = next(
        a for a in load_model(local_parameters()).apis if a.logical_id == "RestCognitoApi"
    )
    served_authorizer = served.authorizers["CognitoAuthorizer"]
    scopes = {(r.method, r.path): list(r.scopes) for r in served.routes}

    assert authorizer["type"] == "cognito_user_pools"
    assert authorizer["providerARNs"] == [{"Fn::GetAtt": ["LabUserPool", "Arn"]}]
    assert scheme["name"] == "Authorization"
    assert served_authorizer.kind == "COGNITO_USER_POOLS"
    assert served_authorizer.user_pool_issuers == ("http://127.0.0.1:3001/us-east-1_AuthzLab1",)
    for path, method in (("/notes", "get"), ("/notes", "post"), ("/private", "get")):
        security = body["paths"][path][method]["security"]
        assert security == [{"CognitoAuthorizer": scopes[(method.upper(), path)]}]
    assert scopes[("GET", "/notes")] == ["notes-api/read"]
    assert scopes[("POST", "/notes")] == ["notes-api/write"]
    assert body["paths"]["/public"]["get"]["security"] == [{"NONE": []}]
    # The pool, its domain, resource server, clients and groups are CloudFormation resources.
    kinds = {r["Type"] for r in translated["Resources"].values()}
    assert {
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolDomain",
        "AWS::Cognito::UserPoolResourceServer",
        "AWS::Cognito::UserPoolClient",
        "AWS::Cognito::UserPoolGroup",
    } <= kinds
