"""Notes through the gateway: each caller sees only their own, bodies are validated.

The isolation and validation tests run against both stores the notes function has: SQLite (the
local gateway's) and DynamoDB (the deployed stack's), the latter on moto's server.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulators.gateway import create_gateway
from tests.conftest import LiveServer
from tests.gateway.conftest import Tokens
from tests.gateway.dynamodb import MotoServer
from tests.gateway.dynamodb import ServedGateway
from tests.gateway.dynamodb import dynamodb_gateway


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def backend(
    request: pytest.FixtureRequest, lab: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A gateway whose notes function keeps notes in SQLite or in DynamoDB."""
    if request.param == "sqlite":
        yield lab
        return
    moto = request.getfixturevalue("moto")
    with dynamodb_gateway(lab.issuer, moto.url, tmp_path_factory.mktemp("dynamodb")) as served:
        moto.create_notes_table(served.notes_table)
        yield served


def notes(
    where: Any,
    api: str,
    token: str,
    method: str = "GET",
    **kwargs: Any,
) -> requests.Response:
    """Call /notes of `api` on the gateway `where` (the session's lab, or another one)."""
    return requests.request(
        method,
        where.api_url(api) + "/notes",
        timeout=10,
        headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
        **kwargs,
    )


@pytest.mark.parametrize("api", ["RestTokenApi", "RestRequestApi", "HttpLambdaApi", "HttpJwtApi"])
def test_notes_are_private_to_their_owner(backend: Any, tokens: Tokens, api: str) -> None:
    text = f"customer's secret via {api}"

    created = notes(backend, api, tokens.customer, "POST", json={"text": text})
    customer_view = notes(backend, api, tokens.customer).json()
    admin_view = notes(backend, api, tokens.admin).json()

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


def test_the_owner_comes_from_the_token_not_the_request(backend: Any, tokens: Tokens) -> None:
    response = notes(
        backend,
        "RestTokenApi",
        tokens.writer,
        "POST",
        json={"text": "planted by the writer"},
        headers={"X-User-Id": "auth0|customer-0001"},
    )
    customer_view = notes(backend, "RestTokenApi", tokens.customer).json()

    assert response.status_code == 201
    assert response.json()["owner"] == "lab-m2m-writer@clients"
    assert "planted by the writer" not in [n["text"] for n in customer_view["notes"]]


def test_notes_are_listed_in_the_order_they_were_written(backend: Any, tokens: Tokens) -> None:
    texts = ["first", "second", "third", "fourth"]
    for text in texts:
        notes(backend, "HttpLambdaApi", tokens.writer, "POST", json={"text": text})

    listed = [n["text"] for n in notes(backend, "HttpLambdaApi", tokens.writer).json()["notes"]]

    assert [t for t in listed if t in texts] == texts


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no body"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"[" * 2000 + b"]" * 2000, "nests too deeply"),
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
        "deep-nesting",
        "empty-text",
        "number",
        "extra-field",
        "long-text",
        "large-body",
    ],
)
def test_bad_bodies_get_a_clear_400(
    backend: Any, tokens: Tokens, body: bytes, message: str
) -> None:
    response = notes(
        backend,
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


# DynamoDB: where the notes land, and what a developer sees when the store is not there ----------


def test_a_note_is_stored_under_its_owner_in_the_dynamodb_table(
    moto: MotoServer, lab: Any, tokens: Tokens, tmp_path: Any
) -> None:
    with dynamodb_gateway(lab.issuer, moto.url, tmp_path) as served:
        if served.notes_table not in moto.client().list_tables()["TableNames"]:
            moto.create_notes_table(served.notes_table)
        created = notes(served, "RestTokenApi", tokens.customer, "POST", json={"text": "mine"})
        item = moto.client().get_item(
            TableName=served.notes_table,
            Key={
                "owner": {"S": "auth0|customer-0001"},
                "note_id": {"S": created.json()["note"]["id"]},
            },
        )

    assert created.status_code == 201
    assert item["Item"]["text"] == {"S": "mine"}


def unavailable_store(served: ServedGateway, tokens: Tokens) -> list[requests.Response]:
    return [
        notes(served, "RestTokenApi", tokens.customer),
        notes(served, "RestTokenApi", tokens.customer, "POST", json={"text": "lost?"}),
    ]


def test_a_missing_table_answers_503_saying_what_to_deploy(
    lab: Any, tokens: Tokens, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    empty = MotoServer()  # a DynamoDB with no tables at all
    try:
        with (
            caplog.at_level(logging.ERROR),
            dynamodb_gateway(lab.issuer, empty.url, tmp_path) as served,
        ):
            responses = unavailable_store(served, tokens)
            table = served.notes_table
    finally:
        empty.stop()

    for response in responses:
        assert response.status_code == 503
        assert "notes table does not exist" in response.json()["message"]
        assert "NOTES_TABLE" in response.json()["message"]
    logged = [r.getMessage() for r in caplog.records if r.name == "api.notes"]
    assert any("ResourceNotFoundException" in m and table in m for m in logged), logged


def test_an_unreachable_dynamodb_answers_503_within_the_lambda_timeout(
    lab: Any, tokens: Tokens, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A port held but not listening: every connection is refused.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{held.getsockname()[1]}"
        with (
            caplog.at_level(logging.ERROR),
            dynamodb_gateway(lab.issuer, endpoint, tmp_path) as served,
        ):
            responses = unavailable_store(served, tokens)

    for response in responses:
        assert response.status_code == 503
        assert "DynamoDB could not be reached" in response.json()["message"]
        assert response.elapsed.total_seconds() < 5  # the template's Timeout
    logged = [r.getMessage() for r in caplog.records if r.name == "api.notes"]
    assert any(endpoint in m for m in logged), logged


def test_a_dynamodb_that_never_answers_gets_503_within_the_lambda_timeout(
    lab: Any, tokens: Tokens, tmp_path: Any
) -> None:
    # Listening but never accepting: connections open (the backlog) and no answer ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with dynamodb_gateway(lab.issuer, endpoint, tmp_path) as served:
            response = notes(served, "RestTokenApi", tokens.customer)

    assert response.status_code == 503
    assert "did not answer in time" in response.json()["message"]
    assert response.elapsed.total_seconds() < 5  # the template's Timeout


def test_an_unusable_sqlite_file_answers_503(lab: Any, tokens: Tokens, tmp_path: Any) -> None:
    server = LiveServer()
    url = f"http://127.0.0.1:{server.port}"
    # A directory where the database file should be: SQLite cannot open it.
    gateway = create_gateway(lab.issuer, url, notes_db=tmp_path)
    server.start(gateway)
    try:
        response = notes(ServedGateway(url, gateway), "RestTokenApi", tokens.customer)
    finally:
        server.stop()
        gateway.close()
        importlib.reload(sys.modules["api.notes"])  # the session's gateway opens its own again

    assert response.status_code == 503
    assert "NOTES_DB" in response.json()["message"]
