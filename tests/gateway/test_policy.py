"""Policy evaluation and authorizer-response checks, as IAM and API Gateway document them.

- IAM action names are case-insensitive and take `*`/`?` wildcards; resources are
  case-sensitive (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html,
  `reference_policies_elements_resource.html`); `NotAction`/`NotResource` match everything
  except what they list (`reference_policies_elements_notaction.html`, `..._notresource.html`).
- REST authorizer context values must be strings, numbers or booleans
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html);
  HTTP APIs document no such limit (`http-api-lambda-authorizer`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulators.gateway import create_gateway
from emulators.gateway.policy import evaluate
from emulators.gateway.policy import malformed
from emulators.gateway.policy import statements_match
from tests.conftest import LiveServer
from tests.gateway.policy_functions import POLICIES

TEMPLATE = Path(__file__).with_name("policy_variant.yaml")
ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/orders/42"


# The shared matching function ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "effect"),
    [
        ("exact", "Allow"),
        ("lower", "Allow"),
        ("upper", "Allow"),
        ("service", "Allow"),
        ("star", "Allow"),
        ("prefix", "Allow"),
        ("one-char", "Allow"),
        ("other-action", "ImplicitDeny"),
        ("other-service", "ImplicitDeny"),
        ("not-action", "Allow"),
        ("not-action-invoke", "ImplicitDeny"),
        ("deny-lower", "Deny"),
        ("lower-case-resource", "ImplicitDeny"),
    ],
)
def test_actions_match_case_insensitively_and_resources_case_sensitively(
    case: str, effect: str
) -> None:
    assert evaluate({"Statement": POLICIES[case]}, ARN).effect == effect


def test_statements_match_serves_any_action_and_resource_not_only_the_authorizer() -> None:
    # An identity policy as a later SigV4 stage will evaluate it.
    statements = [
        {"Effect": "Allow", "Action": ["s3:Get*", "execute-api:*"], "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": "S3:GETOBJECT", "Resource": "arn:aws:s3:::b/secret/*"},
    ]

    allowed = statements_match(statements, "s3:GetObject", "arn:aws:s3:::b/public/x")
    denied = statements_match(statements, "s3:GetObject", "arn:aws:s3:::b/secret/x")
    other = statements_match(statements, "s3:PutObject", "arn:aws:s3:::b/public/x")

    assert (allowed.effect, allowed.resource) == ("Allow", "arn:aws:s3:::b/*")
    assert (denied.effect, denied.resource) == ("Deny", "arn:aws:s3:::b/secret/*")
    assert other.effect == "ImplicitDeny"


def test_not_resource_applies_to_every_resource_but_those_listed() -> None:
    statements = POLICIES["not-resource"]

    assert statements_match(statements, "execute-api:Invoke", "a/dev/GET/open").effect == "Allow"
    refused = statements_match(statements, "execute-api:Invoke", "a/dev/POST/open")
    assert (refused.effect, refused.resource) == ("Deny", "NotResource */GET/open")


def test_wildcards_in_resources_span_slashes_and_question_marks_match_one_character() -> None:
    assert evaluate(
        {"Statement": [_allow("arn:aws:execute-api:*:*:abc123/*/GET/*")]}, ARN
    ).effect == ("Allow")
    assert evaluate({"Statement": [_allow(ARN[:-1] + "?")]}, ARN).effect == "Allow"
    assert evaluate({"Statement": [_allow(ARN + "?")]}, ARN).effect == "ImplicitDeny"


def _allow(resource: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource}


# Malformed responses -------------------------------------------------------------------------


def _response(context: Any) -> dict[str, Any]:
    return {
        "principalId": "p",
        "policyDocument": {"Statement": POLICIES["exact"]},
        "context": context,
    }


@pytest.mark.parametrize(
    ("value", "kind"), [(None, "null"), (["a"], "an array"), ({"a": 1}, "an object")]
)
def test_a_rest_context_value_other_than_string_number_or_boolean_is_malformed(
    value: Any, kind: str
) -> None:
    problem = malformed(_response({"ok": "x", "bad": value}), rest=True)

    assert problem == (
        f"context.bad is {kind}; REST APIs accept only strings, numbers and booleans "
        "as context values"
    )
    assert malformed(_response({"bad": value}), rest=False) is None


def test_strings_numbers_and_booleans_are_a_valid_rest_context() -> None:
    assert malformed(_response({"s": "x", "i": 1, "f": 1.5, "t": True}), rest=True) is None


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (POLICIES["both-action"][0], "a statement needs exactly one of Action and NotAction"),
        (
            {"Effect": "Allow", "Action": "execute-api:Invoke"},
            "a statement needs exactly one of Resource and NotResource",
        ),
        (
            {"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "x"},
            "a statement needs exactly one of Resource and NotResource",
        ),
    ],
)
def test_statements_need_one_of_each_pair(statement: dict[str, Any], problem: str) -> None:
    response = {"principalId": "p", "policyDocument": {"Statement": [statement]}}
    assert malformed(response, rest=True) == problem


# Through the gateway -------------------------------------------------------------------------


class PolicyGateway:
    def __init__(self, url: str, gateway: Any) -> None:
        self.url = url
        self.gateway = gateway

    def get(
        self, api: str, path: str, case: str | None = None, method: str = "GET"
    ) -> requests.Response:
        found = next(a for a in self.gateway.model.apis if a.logical_id == api)
        headers = {"Authorization": f"Bearer {case}"} if case else {}
        return requests.request(
            method, f"{self.url}/{found.api_id}/{found.stage}{path}", headers=headers, timeout=10
        )

    def trace(self, response: requests.Response) -> dict[str, Any]:
        rid = response.headers.get("x-amzn-RequestId") or response.headers["apigw-requestid"]
        return requests.get(f"{self.url}/_lab/traces/{rid}", timeout=5).json()


@pytest.fixture(scope="module")
def policy_gateway(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyGateway]:
    server = LiveServer()
    url = f"http://127.0.0.1:{server.port}"
    gateway = create_gateway(
        lab.issuer, url, template=TEMPLATE, notes_db=tmp_path_factory.mktemp("policy") / "n.db"
    )
    server.start(gateway)
    yield PolicyGateway(url, gateway)
    server.stop()
    gateway.close()


@pytest.mark.parametrize("case", ["lower", "upper", "service", "star", "prefix", "not-action"])
def test_a_policy_with_any_spelling_of_invoke_lets_the_rest_call_through(
    policy_gateway: PolicyGateway, case: str
) -> None:
    response = policy_gateway.get("PolicyRestApi", "/open", case)

    assert response.status_code == 200
    assert policy_gateway.trace(response)["policy"]["effect"] == "Allow"


IMPLICIT = "User is not authorized to access this resource"
# The explicit-deny text is the gateway's (older captures end at "explicit deny", newer add
# "in an identity-based policy"); what matters here is which of the two 403s it is.
EXPLICIT = IMPLICIT + " with an explicit deny"


@pytest.mark.parametrize(
    ("case", "method", "message"),
    [
        ("other-action", "GET", IMPLICIT),
        ("lower-case-resource", "GET", IMPLICIT),
        ("deny-lower", "GET", EXPLICIT),
        ("not-resource", "POST", EXPLICIT),
    ],
)
def test_policies_that_do_not_cover_the_call_are_403(
    policy_gateway: PolicyGateway, case: str, method: str, message: str
) -> None:
    response = policy_gateway.get("PolicyRestApi", "/open", case, method=method)

    assert response.status_code == 403
    assert response.json()["Message"].startswith(message)
    assert (message == EXPLICIT) == ("explicit deny" in response.json()["Message"])


@pytest.mark.parametrize("case", ["null", "array", "object", "both-action"])
def test_a_rest_authorizer_returning_a_malformed_response_is_a_500_configuration_error(
    policy_gateway: PolicyGateway, case: str
) -> None:
    response = policy_gateway.get("PolicyRestApi", "/open", case)

    assert response.status_code == 500
    assert response.json() == {"message": None}
    assert response.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    assert policy_gateway.trace(response)["authorizer"]["reason"] == "authorizer_malformed_response"


def test_rest_context_scalars_reach_the_function_as_strings(policy_gateway: PolicyGateway) -> None:
    authorizer = policy_gateway.get("PolicyRestApi", "/open", "scalars").json()["event"][
        "requestContext"
    ]["authorizer"]

    assert {k: authorizer[k] for k in ("n", "f", "yes", "no")} == {
        "n": "1",
        "f": "1.5",
        "yes": "true",
        "no": "false",
    }


# The integration's payload version shapes the event: a 2.0 integration gets the context
# under `lambda` whatever the authorizer's payload version; a 1.0 integration gets it flat.
@pytest.mark.parametrize(("path", "nested"), [("/open", True), ("/v1", True), ("/v1-flat", False)])
def test_http_policy_mode_passes_null_and_arrays_through(
    policy_gateway: PolicyGateway, path: str, nested: bool
) -> None:
    # HTTP APIs document no type limit on context values (their examples return arrays and maps).
    for case, key, value in [("null", "nothing", None), ("array", "roles", ["a", "b"])]:
        response = policy_gateway.get("PolicyHttpApi", path, case)
        assert response.status_code == 200, case
        authorizer = response.json()["event"]["requestContext"]["authorizer"]
        context = authorizer["lambda"] if nested else authorizer
        assert context[key] == value


def test_an_authorizer_whose_module_cannot_be_imported_is_an_authorizer_failure(
    policy_gateway: PolicyGateway,
) -> None:
    rest = policy_gateway.get("PolicyRestApi", "/unloadable-authorizer", "exact")
    http = policy_gateway.get("PolicyHttpApi", "/unloadable-authorizer", "exact")

    assert (rest.status_code, rest.json()) == (500, {"message": None})
    assert rest.headers["x-amzn-ErrorType"] == "AuthorizerFailureException"
    assert (http.status_code, http.json()) == (500, {"message": "Internal Server Error"})
    error = policy_gateway.trace(rest)["authorizer"]["error"]
    assert error == {
        "type": "Runtime.ImportModuleError",
        "message": "Unable to import module 'tests.gateway.no_such_module': "
        "No module named 'tests.gateway.no_such_module'",
    }
    assert policy_gateway.trace(rest)["authorizer"]["cold_start"] is True


def test_a_function_whose_handler_is_missing_is_an_integration_failure(
    policy_gateway: PolicyGateway,
) -> None:
    rest = policy_gateway.get("PolicyRestApi", "/unloadable-function")
    http = policy_gateway.get("PolicyHttpApi", "/unloadable-function")

    assert (rest.status_code, rest.json()) == (502, {"message": "Internal server error"})
    assert (http.status_code, http.json()) == (500, {"message": "Internal Server Error"})
    assert policy_gateway.trace(rest)["integration"]["error"] == {
        "type": "Runtime.HandlerNotFound",
        "message": "Handler 'no_such_handler' missing on module 'tests.gateway.functions'",
    }
