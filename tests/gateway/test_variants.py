"""Authorizers and functions that misbehave on purpose: the caching trap, failures, expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulators.gateway import create_gateway
from tests.conftest import LiveServer

VARIANT = Path(__file__).with_name("variant.yaml")


class Variant:
    """A gateway serving `variant.yaml` on a loopback port."""

    def __init__(self, url: str, gateway: Any) -> None:
        self.url = url
        self.gateway = gateway

    def base(self, name: str) -> str:
        api = next(a for a in self.gateway.model.apis if a.logical_id == name)
        return f"{self.url}/{api.api_id}/{api.stage}"

    def get(self, api: str, path: str, credential: str | None = None) -> requests.Response:
        headers = {"Authorization": credential} if credential is not None else {}
        return requests.get(self.base(api) + path, headers=headers, timeout=10)

    def trace(self, response: requests.Response) -> dict[str, Any]:
        rid = response.headers.get("x-amzn-RequestId") or response.headers["apigw-requestid"]
        return requests.get(f"{self.url}/_lab/traces/{rid}", timeout=5).json()


@pytest.fixture(scope="module")
def variant(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Variant]:
    server = LiveServer()
    url = f"http://127.0.0.1:{server.port}"
    gateway = create_gateway(
        lab.issuer, url, template=VARIANT, notes_db=tmp_path_factory.mktemp("variant") / "notes.db"
    )
    server.start(gateway)
    yield Variant(url, gateway)
    server.stop()
    gateway.close()


def test_a_per_method_policy_breaks_the_next_route_while_cached(variant: Variant) -> None:
    # GIVEN an authorizer whose policy names only the ARN of the first request
    first = variant.get("TrapApi", "/first", "Bearer good")
    # WHEN the same token calls another route within the TTL
    second = variant.get("TrapApi", "/second", "Bearer good")
    # THEN the cached policy is re-checked against the new ARN: an implicit deny
    assert first.status_code == 200
    assert second.status_code == 403
    assert second.json() == {"Message": "User is not authorized to access this resource"}
    trace = variant.trace(second)
    assert trace["authorizer"]["cache"] == "hit"
    assert trace["policy"]["effect"] == "ImplicitDeny"
    assert "cached policy written for another route" in trace["summary"]


def test_cached_results_expire_with_the_ttl(variant: Variant) -> None:
    first = variant.trace(variant.get("TrapApi", "/short", "Bearer good"))
    cached = variant.trace(variant.get("TrapApi", "/short", "Bearer good"))
    time.sleep(1.1)
    expired = variant.trace(variant.get("TrapApi", "/short", "Bearer good"))

    assert [
        first["authorizer"]["cache"],
        cached["authorizer"]["cache"],
        expired["authorizer"]["cache"],
    ] == ["miss", "hit", "miss"]


def test_unauthorized_is_not_cached(variant: Variant) -> None:
    first = variant.get("TrapApi", "/short", "Bearer bad")
    second = variant.get("TrapApi", "/short", "Bearer bad")

    assert first.status_code == second.status_code == 401
    assert variant.trace(second)["authorizer"]["invoked"] is True


@pytest.mark.parametrize(
    ("path", "error_type"),
    [
        ("/crash", "AuthorizerFailureException"),
        ("/malformed", "AuthorizerConfigurationException"),
        ("/array-context", "AuthorizerConfigurationException"),
    ],
)
def test_authorizer_failures_are_500_with_a_null_message(
    variant: Variant, path: str, error_type: str
) -> None:
    response = variant.get("TrapApi", path, "Bearer anything")

    assert response.status_code == 500
    assert response.json() == {"message": None}
    assert response.headers["x-amzn-ErrorType"] == error_type
    assert variant.trace(response)["authorizer"]["outcome"] == "error"


def test_a_string_is_authorized_does_not_allow(variant: Variant) -> None:
    response = variant.get("HttpVariantApi", "/verdict", "Bearer anything")

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


@pytest.mark.parametrize(
    ("api", "path", "status", "body"),
    [
        ("TrapApi", "/bad-response", 502, {"message": "Internal server error"}),
        ("TrapApi", "/crashing-function", 502, {"message": "Internal server error"}),
        ("HttpVariantApi", "/bad-response", 500, {"message": "Internal Server Error"}),
        ("HttpVariantApi", "/crashing-function", 500, {"message": "Internal Server Error"}),
        ("TrapApi", "/unserializable", 502, {"message": "Internal server error"}),
        ("HttpVariantApi", "/unserializable", 500, {"message": "Internal Server Error"}),
    ],
)
def test_integration_failures(
    variant: Variant, api: str, path: str, status: int, body: dict[str, Any]
) -> None:
    response = variant.get(api, path)

    assert response.status_code == status
    assert response.json() == body
    if path == "/unserializable":
        error = variant.trace(response)["integration"]["error"]
        assert error["type"] == "Runtime.MarshalError"
        assert "set is not JSON serializable" in error["message"]


def test_rest_proxy_events_carry_the_authorizer_context(variant: Variant) -> None:
    response = variant.get("TrapApi", "/open")
    event = response.json()["event"]

    assert event["resource"] == "/open"
    assert event["httpMethod"] == "GET"
    assert event["requestContext"]["stage"] == "dev"
    assert event["requestContext"]["accountId"] == "123456789012"
    assert event["requestContext"]["requestId"] == response.headers["x-amzn-RequestId"]
    assert response.json()["remaining_ms"] > 0

    authorized = variant.get("TrapApi", "/first", "Bearer good").json()["event"]
    assert authorized["requestContext"]["authorizer"]["principalId"] == "someone"
    assert "integrationLatency" in authorized["requestContext"]["authorizer"]
