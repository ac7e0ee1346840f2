"""Explanations of call outcomes, and the curl commands the Ping page offers."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from tests.test_tokens import ACCESS
from tests.test_tokens import ID
from tests.test_tokens import NOW
from tests.test_tokens import jwt_of
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


def trace(**authorizer: Any) -> dict[str, Any]:
    return {
        "request": {"method": "GET", "path": "/private", "route": "GET /private"},
        "authorizer": {
            "style": "Lambda TOKEN authorizer",
            "identity_source_present": True,
            "identity_sources": ["$request.header.Authorization"],
            "type": "TOKEN",
            "ttl": 300,
            **authorizer,
        },
        "policy": None,
        "integration": None,
        "summary": "summary line",
        "status": 401,
    }


def test_an_invoked_authorizer_refusing_an_expired_token() -> None:
    explanation = explain(
        result(
            401,
            trace(
                invoked=True,
                cache="miss",
                cold_start=True,
                duration_ms=4.2,
                outcome="unauthorized",
                reason="token_expired",
                decision={"reason": "token_expired", "detail": "the token expired 3 minutes ago"},
            ),
        ),
        None,
        API,
    )

    assert explanation.headline == ("401: the token has expired (the token expired 3 minutes ago).")
    assert "invoked the Lambda TOKEN authorizer (cold start, 4.2 ms)" in explanation.steps[1]
    assert explanation.authorizer_invoked is True
    assert "authorizer" in explanation.hops


def test_a_cached_deny_is_explained_by_what_the_route_needs() -> None:
    explanation = explain(
        result(
            403,
            {
                **trace(
                    invoked=False,
                    cache="hit",
                    outcome="deny",
                    reason="explicit_deny",
                    context={
                        "denied": "GET /admin needs read:admin; POST /notes needs write:notes"
                    },
                ),
                "request": {"method": "GET", "path": "/admin", "route": "GET /admin"},
                "policy": {
                    "arn": "arn:…/dev/GET/admin",
                    "effect": "Deny",
                    "resource": "arn:…/GET/admin",
                },
            },
        ),
        None,
        API,
    )

    assert explanation.reason_code == "insufficient_permission"
    assert "GET /admin needs `read:admin`" in explanation.headline
    assert any("reused the policy it cached" in step for step in explanation.steps)
    assert any("explicitly denies" in step for step in explanation.steps)
    assert explanation.cache == "hit"


def test_a_missing_identity_source() -> None:
    explanation = explain(
        result(
            401,
            trace(
                identity_source_present=False,
                invoked=False,
                reason="identity_source_missing",
                outcome="unauthorized",
            ),
        ),
        None,
        API,
    )

    assert "no Authorization header was sent" in explanation.headline


def test_an_unknown_route() -> None:
    unknown = {
        "request": {"method": "GET", "path": "/nope", "route": None},
        "summary": "No GET /nope route",
        "authorizer": None,
    }

    explanation = explain(result(403, unknown), None, API)

    assert explanation.headline.startswith("403")
    assert "No GET /nope route" in explanation.steps[0]


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
