"""Explanations of call outcomes without a trace (as against AWS), and the curl commands the
Ping page offers. Explanations from the gateway's trace are tested on real traces in
`test_trace_contract.py`."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from tests.test_tokens import ACCESS
from tests.test_tokens import ID
from tests.test_tokens import NOW
from tests.test_tokens import jwt_of
from webapp import explain as explain_module
from webapp.api_client import STYLE_BY_KEY
from webapp.api_client import CallResult
from webapp.api_client import build_curl
from webapp.explain import explain
from webapp.explain import reason_words

API = "https://api.authorizer-lab.local"


def result(status: int, trace: dict[str, Any] | None = None, **kwargs: Any) -> CallResult:
    return CallResult(
        STYLE_BY_KEY["rest-token"],
        "private",
        "GET",
        "http://127.0.0.1:3002/x/dev/private",
        "access",
        status=status,
        trace=trace,
        trace_available=trace is not None,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        (jwt_of(ID), 401, "id_token"),
        (jwt_of({**ACCESS, "exp": NOW - 60}), 401, "token_expired"),
        (jwt_of({**ACCESS, "aud": "https://other.example"}), 403, "wrong_audience"),
        ("opaque-token-value", 401, "opaque_token"),
        (None, 401, "missing_token"),
    ],
)
def test_without_a_trace_the_token_itself_is_read(
    token: str | None, status: int, code: str
) -> None:
    explanation = explain(result(status, request_id="req-1"), token, API, now=NOW)

    assert explanation.reason_code == code
    assert "CloudWatch Logs, request id req-1" in explanation.steps[0]


def test_an_unreachable_api() -> None:
    explanation = explain(result(0, error="The API at x is not reachable."), None, API)

    assert explanation.headline == "The API at x is not reachable."


def test_reason_words_fall_back_to_the_code() -> None:
    assert reason_words("something_new") == "something_new"
    assert reason_words(None) == "no reason recorded"


def test_curl_never_carries_the_token_and_quotes_bodies() -> None:
    curl = build_curl(
        "POST", "http://127.0.0.1:3002/x/dev/notes", "access", '{"text": "it\'s $HOME"}'
    )

    words = shlex.split(curl.replace("$ACCESS_TOKEN", "TOKEN"))
    assert words[:5] == ["curl", "-i", "-X", "POST", "http://127.0.0.1:3002/x/dev/notes"]
    assert "Authorization: Bearer TOKEN" in words
    assert words[-1] == '{"text": "it\'s $HOME"}'
    assert "$ACCESS_TOKEN" in curl


def test_curl_without_a_token_has_no_authorization_header() -> None:
    assert "Authorization" not in build_curl("GET", "http://h/dev/public", "none", None)


@pytest.mark.parametrize(
    ("words", "sentence"),
    [
        ("It refused: the token expired", "It refused: the token expired."),
        ("It refused: 'did not match.'", "It refused: 'did not match.'"),
        (
            "It refused: the signature does not match.\n",
            "It refused: the signature does not match.\n",
        ),
    ],
)
def test_a_step_ends_with_one_full_stop(words: str, sentence: str) -> None:
    assert explain_module._sentence(words) == sentence
