"""Notes through the gateway: each caller sees only their own, bodies are validated."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

from tests.gateway.conftest import Tokens


def notes(
    lab: Any,
    api: str,
    token: str,
    method: str = "GET",
    **kwargs: Any,
) -> requests.Response:
    return requests.request(
        method,
        lab.api_url(api) + "/notes",
        timeout=10,
        headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
        **kwargs,
    )


@pytest.mark.parametrize("api", ["RestTokenApi", "RestRequestApi", "HttpLambdaApi", "HttpJwtApi"])
def test_notes_are_private_to_their_owner(lab: Any, tokens: Tokens, api: str) -> None:
    text = f"customer's secret via {api}"

    created = notes(lab, api, tokens.customer, "POST", json={"text": text})
    customer_view = notes(lab, api, tokens.customer).json()
    admin_view = notes(lab, api, tokens.admin).json()

    assert created.status_code == 201
    assert created.json()["note"]["text"] == text
    assert created.json()["owner"] == "auth0|customer-0001"
    assert text in [n["text"] for n in customer_view["notes"]]
    assert admin_view["owner"] == "auth0|admin-0001"
    assert text not in [n["text"] for n in admin_view["notes"]]


def test_a_chunked_body_is_read_whole(lab: Any, tokens: Tokens) -> None:
    # A generator makes requests send Transfer-Encoding: chunked, with no Content-Length.
    def chunks() -> Any:
        yield b'{"text": "sent '
        yield b'in chunks"}'

    created = notes(
        lab,
        "RestTokenApi",
        tokens.writer,
        "POST",
        data=chunks(),
        headers={"Content-Type": "application/json"},
    )
    too_big = notes(
        lab,
        "RestTokenApi",
        tokens.writer,
        "POST",
        data=(b"x" * 1024 * 1024 for _ in range(11)),
        headers={"Content-Type": "application/json"},
    )

    assert created.status_code == 201
    assert created.json()["note"]["text"] == "sent in chunks"
    assert too_big.status_code == 413


def test_the_owner_comes_from_the_token_not_the_request(lab: Any, tokens: Tokens) -> None:
    response = notes(
        lab,
        "RestTokenApi",
        tokens.writer,
        "POST",
        json={"text": "hello"},
        headers={"X-User-Id": "auth0|customer-0001"},
    )

    assert response.json()["owner"] == "lab-m2m-writer@clients"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no body"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"text": ""}', "non-empty string"),
        (b'{"text": 42}', "non-empty string"),
        (b'{"text": "hi", "owner": "auth0|admin-0001"}', "Unknown field(s) owner"),
        (json.dumps({"text": "x" * 501}).encode(), "at most 500"),
        (json.dumps({"text": "x" * 5000}).encode(), "at most 4096 are accepted"),
    ],
    ids=[
        "empty",
        "invalid-json",
        "array",
        "empty-text",
        "number",
        "extra-field",
        "long-text",
        "large-body",
    ],
)
def test_bad_bodies_get_a_clear_400(lab: Any, tokens: Tokens, body: bytes, message: str) -> None:
    response = notes(
        lab,
        "HttpLambdaApi",
        tokens.writer,
        "POST",
        data=body,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert message in response.json()["message"]


def test_binary_bodies_arrive_base64_encoded_and_are_still_validated(
    lab: Any, tokens: Tokens
) -> None:
    response = notes(
        lab,
        "RestTokenApi",
        tokens.writer,
        "POST",
        data=b"\xff\xfe\x00",
        headers={"Content-Type": "application/octet-stream"},
    )

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
    assert base64.b64encode(b"\xff\xfe\x00")  # what the function received, per the event
