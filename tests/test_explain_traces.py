"""What the Ping page says about a call, on real traces (the lab's IdP, gateway and authorizer
answer real calls): each style's result cache in its own terms, the diagram's hops as what
happened on this call only, where `caller.permissions` comes from, and a function's 400."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.gateway.conftest import Tokens
from tests.test_trace_contract import Caller
from tests.test_trace_contract import fresh
from tests.test_trace_contract import unknown_key_token
from webapp.explain import TraceView
from webapp.explain import permissions_step
from webapp.ping import pretty_json

LAMBDA_APIS = ("RestTokenApi", "RestRequestApi", "HttpLambdaApi")


@pytest.fixture(scope="module")
def call(lab: Any) -> Caller:
    return Caller(lab.gateway_url, lab.gateway)


@pytest.fixture(scope="module")
def tokens(lab: Any) -> Tokens:
    return Tokens(lab)


def test_a_cached_simple_verdict_keeps_its_reason_and_says_it_is_per_token_and_route(
    call: Caller, tokens: Tokens
) -> None:
    token = f"Bearer {fresh(tokens)}"
    first = call("HttpLambdaApi", "GET", "/admin", token)
    again = call("HttpLambdaApi", "GET", "/admin", token)

    assert first.explanation.cache != "hit" and again.explanation.cache == "hit"
    assert again.status == 403
    assert again.explanation.reason_code == "insufficient_permission"
    assert "GET /admin needs `read:admin`" in again.headline
    assert "verdict in API Gateway's result cache denies the call" in again.headline
    assert "$request.header.Authorization and $context.routeKey" in again.text
    assert "per token and per route" in again.text
    assert "policy" not in again.text.lower()


def test_each_cache_is_worded_as_aws_keys_it(call: Caller, tokens: Tokens) -> None:
    rest_token = f"Bearer {fresh(tokens)}"
    call("RestTokenApi", "GET", "/private", rest_token)
    token_hit = call("RestTokenApi", "GET", "/notes", rest_token)
    request_token = f"Bearer {fresh(tokens)}"
    call("RestRequestApi", "GET", "/private", request_token)
    request_hit = call("RestRequestApi", "GET", "/notes", request_token)
    jwt = call("HttpJwtApi", "GET", "/notes", f"Bearer {fresh(tokens)}")

    assert "keyed by the token (method.request.header.Authorization)" in token_hit.text
    assert "checked again against each request's method ARN" in token_hit.text
    assert "keyed by the values of method.request.header.Authorization" in request_hit.text
    assert "Caching: not cached: the JWT authorizer checks every request's token" in jwt.text


def test_rest_traces_name_identity_sources_in_rest_terms(call: Caller, tokens: Tokens) -> None:
    for api in ("RestTokenApi", "RestRequestApi"):
        seen = call(api, "GET", "/private", f"Bearer {fresh(tokens)}")
        shown = pretty_json(seen.trace)
        assert "method.request.header.Authorization" in shown
        assert "$request." not in shown
    http = call("HttpLambdaApi", "GET", "/private", f"Bearer {fresh(tokens)}")
    assert "$request.header.Authorization" in pretty_json(http.trace)


def test_the_trace_reads_as_json_without_escapes(call: Caller, tokens: Tokens) -> None:
    seen = call("RestTokenApi", "GET", "/private", f"Bearer {fresh(tokens)}")

    shown = pretty_json(seen.trace)

    assert "Bearer <redacted> fingerprint:" in shown
    assert "\\u003c" not in shown and "\\u0027" not in shown
    assert json.loads(shown) == seen.trace


def test_a_protected_jwt_call_lights_a_different_path_than_a_public_one(
    call: Caller, tokens: Tokens, lab: Any
) -> None:
    public = call("HttpJwtApi", "GET", "/public")
    protected = call("HttpJwtApi", "GET", "/private", f"Bearer {fresh(tokens)}")
    lambda_call = call("HttpLambdaApi", "GET", "/private", f"Bearer {fresh(tokens)}")

    assert public.explanation.hops == ["webapp", "gateway", "function"]
    assert "builtin" in protected.explanation.hops
    assert "authorizer" not in protected.explanation.hops
    assert "authorizer" in lambda_call.explanation.hops
    assert "builtin" not in lambda_call.explanation.hops


def test_the_jwks_hop_lights_only_when_the_keys_were_fetched(
    call: Caller, tokens: Tokens, lab: Any
) -> None:
    call("HttpJwtApi", "GET", "/private", f"Bearer {fresh(tokens)}")
    warm = call("HttpJwtApi", "GET", "/private", f"Bearer {fresh(tokens)}")
    # An unknown key id sends API Gateway to the issuer's JWKS again.
    unknown = call("HttpJwtApi", "GET", "/private", f"Bearer {unknown_key_token(lab)}")
    call("RestTokenApi", "GET", "/private", f"Bearer {fresh(tokens)}")
    lambda_warm = call("RestTokenApi", "GET", "/private", f"Bearer {fresh(tokens)}")

    assert warm.trace["authorizer"]["jwks"] == "cached"
    assert "builtin-jwks" not in warm.explanation.hops
    assert "no JWKS request" in warm.text
    assert unknown.trace["authorizer"]["jwks"] == "fetched"
    assert "builtin-jwks" in unknown.explanation.hops
    assert lambda_warm.trace["authorizer"]["jwks"] == "cached"
    assert "authorizer-jwks" not in lambda_warm.explanation.hops


def test_caller_permissions_are_explained_from_what_each_authorizer_reads(
    call: Caller, tokens: Tokens
) -> None:
    token = fresh(tokens)
    body = {"caller": {"permissions": ["read:notes", "openid"]}}
    for api in LAMBDA_APIS:
        seen = call(api, "GET", "/private", f"Bearer {token}")
        words = permissions_step(TraceView(seen.trace), body, token)
        assert words is not None and "Lambda authorizer put in its context" in words
        assert "`scope`" in words
    jwt = call("HttpJwtApi", "GET", "/private", f"Bearer {token}")
    words = permissions_step(TraceView(jwt.trace), {"caller": {"permissions": ["x"]}}, token)

    assert words is not None
    assert "the token's `permissions` claim" in words
    assert "never reads `permissions`" in words
    assert "checks only `scope`" in words
    assert permissions_step(TraceView(jwt.trace), {"message": "hi"}, token) is None


@pytest.mark.parametrize("api", [*LAMBDA_APIS, "HttpJwtApi"])
def test_an_empty_note_is_the_functions_validation_on_every_style(
    api: str, call: Caller, tokens: Tokens
) -> None:
    seen = call(api, "POST", "/notes", f"Bearer {fresh(tokens, 'write:notes')}", '{"text": ""}')

    assert seen.status == 400
    assert seen.trace["decided_by"] == "integration"
    assert "the function NotesFunction answered 400" in seen.headline
    assert "authorizer allowed the call" in seen.headline
    assert "function" in seen.explanation.hops
