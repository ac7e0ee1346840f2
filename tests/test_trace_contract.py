"""The trace as a contract, on real traces: the lab's IdP, gateway and authorizer answer real
calls; each trace is read back from `GET /_lab/traces/{request id}` and explained by the web
app's own code, and the test reads what a user would read on the Ping page.

A trace key renamed on either side fails here: the explanation loses its stage or reason
(and `test_every_trace_fits_its_documented_shape` names the key).
"""

from __future__ import annotations

import json
import re
import time
import typing
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from emulators.gateway import create_gateway
from emulators.gateway import traces
from tests.conftest import AUDIENCE
from tests.conftest import LiveServer
from tests.gateway.conftest import Tokens
from webapp.api_client import STYLE_BY_KEY
from webapp.api_client import CallResult
from webapp.explain import REASONS
from webapp.explain import Explanation
from webapp.explain import explain
from webapp.tokens import tampered

VARIANT = Path(__file__).parent / "gateway" / "variant.yaml"
STYLE_OF_API = {style.logical_id: style for style in STYLE_BY_KEY.values()}


@dataclass
class Seen:
    """One call as the Ping page shows it: the status, the trace and its explanation."""

    status: int
    trace: dict[str, Any]
    explanation: Explanation

    @property
    def headline(self) -> str:
        return self.explanation.headline

    @property
    def text(self) -> str:
        return "\n".join([self.headline, *self.explanation.steps])


class Caller:
    """Calls one gateway's APIs and explains each call from its trace."""

    def __init__(self, gateway_url: str, gateway: Any) -> None:
        self.gateway_url = gateway_url
        self.gateway = gateway
        self.seen: list[Seen] = []

    def __call__(
        self,
        api: str,
        method: str,
        path: str,
        authorization: str | None = None,
        body: str | None = None,
    ) -> Seen:
        model = next(a for a in self.gateway.model.apis if a.logical_id == api)
        url = f"{self.gateway_url}/{model.api_id}/{model.stage}{path}"
        headers = {"Accept": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = requests.request(method, url, headers=headers, data=body, timeout=10)
        request_id = response.headers.get("x-amzn-RequestId") or response.headers["apigw-requestid"]
        trace = requests.get(f"{self.gateway_url}/_lab/traces/{request_id}", timeout=5).json()
        result = CallResult(
            STYLE_OF_API.get(api, STYLE_BY_KEY["rest-token"]),
            "call",
            method,
            url,
            "access",
            status=response.status_code,
            headers=list(response.headers.items()),
            request_id=request_id,
            trace=trace,
            trace_available=True,
        )
        seen = Seen(response.status_code, trace, explain(result, None, AUDIENCE))
        self.seen.append(seen)
        return seen


@pytest.fixture(scope="module")
def call(lab: Any) -> Caller:
    return Caller(lab.gateway_url, lab.gateway)


@pytest.fixture(scope="module")
def variant(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caller]:
    """A second gateway serving the misbehaving authorizers of `gateway/variant.yaml`."""
    server = LiveServer()
    url = f"http://127.0.0.1:{server.port}"
    gateway = create_gateway(
        lab.issuer, url, template=VARIANT, notes_db=tmp_path_factory.mktemp("trace") / "notes.db"
    )
    server.start(gateway)
    yield Caller(url, gateway)
    server.stop()
    gateway.close()


@pytest.fixture(scope="module")
def tokens(lab: Any) -> Tokens:
    return Tokens(lab)


def fresh(tokens: Tokens, permission: str = "read:notes") -> str:
    """A new customer access token signed by the IdP's key, with one permission: no result
    cache has seen it (RS256 is deterministic, so the `jti` makes it unique)."""
    claims = tokens.idp.minter.access_token_claims(
        sub="auth0|customer-0001",
        client_id="lab-webapp",
        audience=AUDIENCE,
        scope=f"openid {permission}",
        permissions=[permission],
        grant_type="authorization_code",
    )
    claims["jti"] = uuid.uuid4().hex
    return tokens.idp.keys.sign(claims)


def unknown_key_token(lab: Any) -> str:
    """A well-formed token for the lab's API signed by a key the issuer never published."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": lab.issuer, "aud": AUDIENCE, "sub": "someone", "iat": now, "exp": now + 300}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "not-a-lab-key"})


def assert_readable(seen: Seen, code: str | None) -> None:
    """What every explanation owes its reader: the status first, words and not codes."""
    assert seen.headline.startswith(f"{seen.status}: ")
    assert "no reason recorded" not in seen.text
    assert not re.search(r"\bNone\b", seen.text), seen.text
    assert all(step.strip() for step in seen.explanation.steps)
    for known in REASONS:
        if "_" in known:  # codes that are not words
            assert known not in seen.text, f"raw code {known} shown: {seen.text}"
    assert seen.explanation.reason_code == code, seen.text
    if code is not None:
        assert REASONS[code].split(" (")[0] in seen.text or code == "identity_source_missing"


# Each case: the call, then what the user reads: status, the stage that decided, the reason
# code (the page's data-reason), and phrases of the headline and of the steps.
Case = tuple[
    Callable[[Caller, Caller, Tokens, Any], Seen], int, str, str | None, list[str], list[str]
]


def _cached_then(first: str, then: str) -> Callable[[Caller, Caller, Tokens, Any], Seen]:
    def run(call: Caller, variant: Caller, tokens: Tokens, lab: Any) -> Seen:
        token = fresh(tokens)
        assert call("RestTokenApi", "GET", first, f"Bearer {token}").status == 200
        return call("RestTokenApi", "GET", then, f"Bearer {token}")

    return run


CASES: dict[str, Case] = {
    "allowed": (
        lambda call, variant, tokens, lab: call(
            "RestTokenApi", "GET", "/notes", f"Bearer {fresh(tokens)}"
        ),
        200,
        "integration",
        "allowed",
        ["200: the call went through"],
        [
            "API Gateway invoked the Lambda TOKEN authorizer",
            "The authorizer allowed the call: the token is valid",
            "The policy allows",
            "The function NotesFunction answered 200",
        ],
    ),
    "identity source missing (REST)": (
        lambda call, variant, tokens, lab: call("RestTokenApi", "GET", "/private"),
        401,
        "identity_source",
        "identity_source_missing",
        ["401: no Authorization header was sent", "without invoking the authorizer"],
        ["is missing or empty"],
    ),
    "identity source missing (HTTP Lambda)": (
        lambda call, variant, tokens, lab: call("HttpLambdaApi", "GET", "/private"),
        401,
        "identity_source",
        "identity_source_missing",
        ["401: no Authorization header was sent", "without invoking the authorizer"],
        ["$request.header.Authorization"],
    ),
    "validation expression": (
        lambda call, variant, tokens, lab: call("RestTokenApi", "GET", "/private", "bearer abc"),
        401,
        "identity_source",
        "validation_expression",
        ["401: the Authorization header does not match", "validation expression"],
        ["^Bearer "],
    ),
    "authorizer explicit deny": (
        lambda call, variant, tokens, lab: call(
            "RestRequestApi", "GET", "/admin", f"Bearer {fresh(tokens)}"
        ),
        403,
        "authorizer",
        "insufficient_permission",
        ["403: the authorizer denied the call", "lacks the permission", "`read:admin`"],
        ["API Gateway invoked the Lambda REQUEST authorizer", "The policy explicitly denies"],
    ),
    "cached deny": (
        _cached_then("/notes", "/admin"),
        403,
        "authorizer",
        "insufficient_permission",
        ["403: the policy in API Gateway's result cache denies the call", "`read:admin`"],
        ["did not invoke the Lambda TOKEN authorizer", "The policy explicitly denies"],
    ),
    "cached implicit deny": (
        lambda call, variant, tokens, lab: (
            variant("TrapApi", "GET", "/first", "Bearer good"),
            variant("TrapApi", "GET", "/second", "Bearer good"),
        )[1],
        403,
        "authorizer",
        "implicit_deny",
        ["403: the policy in API Gateway's result cache does not allow the call"],
        ["did not invoke", "The policy does not cover", "written for another route can refuse"],
    ),
    "authorizer 401: request shape": (
        lambda call, variant, tokens, lab: call("RestRequestApi", "GET", "/private", "Basic abc"),
        401,
        "authorizer",
        "not_bearer",
        ["401: the authorizer refused the token: the Authorization header does not use"],
        ["API Gateway invoked the Lambda REQUEST authorizer", "answers with 401"],
    ),
    "authorizer 401: not a JWT": (
        lambda call, variant, tokens, lab: call(
            "RestRequestApi", "GET", "/private", "Bearer not.a-jwt"
        ),
        401,
        "authorizer",
        "malformed_token",
        ["401: the authorizer refused the token: the token is not a well-formed JWT"],
        ["API Gateway invoked"],
    ),
    "authorizer 401: opaque token": (
        lambda call, variant, tokens, lab: call(
            "RestRequestApi", "GET", "/private", f"Bearer {tokens.opaque}"
        ),
        401,
        "authorizer",
        "opaque_token",
        ["401: the authorizer refused the token: this is an opaque access token"],
        ["API Gateway invoked"],
    ),
    "authorizer 401: forged signature": (
        lambda call, variant, tokens, lab: call(
            "RestRequestApi", "GET", "/private", f"Bearer {tampered(fresh(tokens))}"
        ),
        401,
        "authorizer",
        "bad_signature",
        ["401: the authorizer refused the token: the signature does not match"],
        ["API Gateway invoked"],
    ),
    "authorizer 401: unknown signing key": (
        lambda call, variant, tokens, lab: call(
            "RestRequestApi", "GET", "/private", f"Bearer {unknown_key_token(lab)}"
        ),
        401,
        "authorizer",
        "unknown_kid",
        ["401: the authorizer refused the token: the token's key id", "not-a-lab-key"],
        ["API Gateway invoked"],
    ),
    "authorizer 401: expired": (
        lambda call, variant, tokens, lab: call(
            "RestRequestApi", "GET", "/private", f"Bearer {tokens.expired}"
        ),
        401,
        "authorizer",
        "token_expired",
        ["401: the authorizer refused the token: the token has expired", "ago"],
        ["API Gateway invoked"],
    ),
    "authorizer 401: ID token": (
        lambda call, variant, tokens, lab: call(
            "RestRequestApi", "GET", "/private", f"Bearer {tokens.id_token}"
        ),
        401,
        "authorizer",
        "id_token",
        ["401: the authorizer refused the token: this is an ID token"],
        ["API Gateway invoked"],
    ),
    "simple response 403 for a bad token": (
        lambda call, variant, tokens, lab: call(
            "HttpLambdaApi", "GET", "/private", f"Bearer {tokens.expired}"
        ),
        403,
        "authorizer",
        "token_expired",
        ["403: the authorizer denied the call: the token has expired"],
        ["isAuthorized: false", "cannot ask for 401"],
    ),
    "JWT authorizer 401": (
        lambda call, variant, tokens, lab: call(
            "HttpJwtApi", "GET", "/private", f"Bearer {tokens.expired}"
        ),
        401,
        "authorizer",
        "token_expired",
        ["401: API Gateway's JWT authorizer (built in) refused the token: the token has expired"],
        ["no Lambda involved"],
    ),
    "JWT authorizer 401 without a token": (
        lambda call, variant, tokens, lab: call("HttpJwtApi", "GET", "/private"),
        401,
        "authorizer",
        "missing_token",
        ["401: API Gateway's JWT authorizer (built in) refused the token: no token was sent"],
        ["found no token in $request.header.Authorization"],
    ),
    "JWT authorizer 403": (
        lambda call, variant, tokens, lab: call(
            "HttpJwtApi", "POST", "/notes", f"Bearer {fresh(tokens)}", '{"text": "hi"}'
        ),
        403,
        "authorizer",
        "insufficient_scope",
        ["403: API Gateway's JWT authorizer (built in) denied the call", "write:notes"],
        ["no Lambda involved"],
    ),
    "function 400 on an empty note": (
        lambda call, variant, tokens, lab: call(
            "RestTokenApi",
            "POST",
            "/notes",
            f"Bearer {fresh(tokens, 'write:notes')}",
            '{"text": ""}',
        ),
        400,
        "integration",
        "allowed",
        ["400: the authorizer allowed the call, but the function NotesFunction answered 400"],
        ["The authorizer allowed the call", "The function NotesFunction answered 400"],
    ),
    "routing miss (REST)": (
        lambda call, variant, tokens, lab: call("RestTokenApi", "GET", "/nope"),
        403,
        "routing",
        None,
        ["403: API Gateway has no GET /nope route"],
        ["Missing Authentication Token"],
    ),
    "routing miss (HTTP)": (
        lambda call, variant, tokens, lab: call("HttpJwtApi", "DELETE", "/private"),
        404,
        "routing",
        None,
        ["404: API Gateway has no DELETE /private route"],
        [],
    ),
    "authorizer failure": (
        lambda call, variant, tokens, lab: variant("TrapApi", "GET", "/crash", "Bearer x"),
        500,
        "authorizer",
        "authorizer_error",
        ["500: the authorizer failed: the authorizer function failed"],
        ["RuntimeError: database unavailable", "answers 500"],
    ),
    "authorizer malformed response": (
        lambda call, variant, tokens, lab: variant("TrapApi", "GET", "/malformed", "Bearer x"),
        500,
        "authorizer",
        "authorizer_malformed_response",
        ["500: the authorizer failed: the authorizer returned a response API Gateway cannot use"],
        ["principalId"],
    ),
    "an authorizer of one's own raising Unauthorized": (
        lambda call, variant, tokens, lab: variant("TrapApi", "GET", "/first", "Bearer bad"),
        401,
        "authorizer",
        "unauthorized",
        ["401: the authorizer refused the token: the authorizer raised `Unauthorized`"],
        ["answers with 401"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_page_explains_a_real_trace(
    case: str, call: Caller, variant: Caller, tokens: Tokens, lab: Any
) -> None:
    run, status, stage, code, in_headline, in_steps = CASES[case]

    seen = run(call, variant, tokens, lab)

    assert seen.status == status, seen.trace
    assert seen.trace["decided_by"] == stage
    assert_readable(seen, code)
    for phrase in in_headline:
        assert phrase in seen.headline, seen.headline
    steps = "\n".join(seen.explanation.steps)
    for phrase in in_steps:
        assert phrase in steps, steps


@pytest.mark.parametrize(
    ("case", "never"),
    [
        # API Gateway answered alone: no authorizer decided anything.
        ("identity source missing (REST)", "authorizer refused"),
        ("validation expression", "authorizer refused"),
        # A cached policy decided: the authorizer did not run for this request.
        ("cached deny", "authorizer denied"),
        ("cached implicit deny", "authorizer denied"),
        # The function refused the body, not the authorizer the token.
        ("function 400 on an empty note", "400: the token"),
        # API Gateway's own JWT authorizer: no Lambda ran.
        ("JWT authorizer 401", "invoked"),
    ],
)
def test_the_explanation_does_not_contradict_the_stage(
    case: str, never: str, call: Caller, variant: Caller, tokens: Tokens, lab: Any
) -> None:
    seen = CASES[case][0](call, variant, tokens, lab)

    assert never not in seen.text.replace("did not invoke", "").lower(), seen.text


def test_the_authorizer_hop_shows_only_when_it_ran(
    call: Caller, variant: Caller, tokens: Tokens, lab: Any
) -> None:
    ran = CASES["authorizer explicit deny"][0](call, variant, tokens, lab)
    cached = CASES["cached deny"][0](call, variant, tokens, lab)
    refused_first = CASES["identity source missing (REST)"][0](call, variant, tokens, lab)

    assert ran.explanation.hops[:3] == ["webapp", "gateway", "authorizer"]
    assert "cache" not in ran.explanation.hops
    assert ran.explanation.authorizer_invoked is True
    # A cached answer: no authorizer ran, no key was looked up, no function called.
    assert cached.explanation.hops == ["webapp", "gateway", "cache"]
    assert cached.explanation.cache == "hit"
    assert refused_first.explanation.authorizer_invoked is False


# The documented shape ----------------------------------------------------------------------


def _typed_fields(typed: Any) -> tuple[set[str], set[str], dict[str, Any]]:
    """A TypedDict's required keys, all keys, and the TypedDicts nested in its fields."""
    # `__required_keys__` cannot see Required/NotRequired through postponed annotations:
    # read the qualifiers from the evaluated hints.
    hints = typing.get_type_hints(typed, include_extras=True)
    required, nested = set(), {}
    for name, hint in hints.items():
        qualifier = typing.get_origin(hint)
        if qualifier is typing.Required or (
            typed.__total__ and qualifier is not typing.NotRequired
        ):
            required.add(name)
        if qualifier in (typing.Required, typing.NotRequired):
            hint = typing.get_args(hint)[0]
        for candidate in (hint, *typing.get_args(hint)):
            if typing.is_typeddict(candidate):
                nested[name] = candidate
    return required, set(hints), nested


def _check_shape(value: Any, typed: Any, where: str) -> list[str]:
    required, declared, nested = _typed_fields(typed)
    problems = [f"{where}.{key} is not in {typed.__name__}" for key in set(value) - declared]
    problems += [f"{where}.{key} ({typed.__name__}) is missing" for key in required - set(value)]
    for key, inner in nested.items():
        if isinstance(value.get(key), dict):
            problems += _check_shape(value[key], inner, f"{where}.{key}")
    return problems


def test_every_trace_fits_its_documented_shape(
    call: Caller, variant: Caller, tokens: Tokens, lab: Any
) -> None:
    """Every key of every real trace is declared in traces.py, and every required key is there:
    a key renamed in the gateway without its TypedDict (and the README) fails here."""
    for run, *_ in CASES.values():
        run(call, variant, tokens, lab)
    seen = call.seen + variant.seen
    decided = {s.trace["decided_by"] for s in seen}

    problems = [p for s in seen for p in _check_shape(s.trace, traces.Trace, "trace")]

    assert problems == []
    assert decided == {"identity_source", "authorizer", "integration", "routing"}
    assert any("decision" in (s.trace["authorizer"] or {}) for s in seen)


# One token fingerprint everywhere -----------------------------------------------------------


def _redacted_values(event: dict[str, Any]) -> list[str]:
    """Every redacted credential in an authorizer event."""
    text = json.dumps(event)
    return re.findall(r"[A-Za-z]* ?<redacted> fingerprint:[0-9a-f]+", text)


@pytest.mark.parametrize(
    ("api", "kind"),
    [
        ("RestTokenApi", "jwt"),
        ("RestRequestApi", "jwt"),
        ("HttpLambdaApi", "jwt"),
        ("RestRequestApi", "opaque"),
        ("HttpLambdaApi", "opaque"),
    ],
)
def test_a_token_has_one_fingerprint_in_the_trace(
    api: str, kind: str, call: Caller, tokens: Tokens
) -> None:
    token = fresh(tokens) if kind == "jwt" else tokens.opaque

    seen = call(api, "GET", "/private", f"Bearer {token}")

    authorizer = seen.trace["authorizer"]
    fingerprint = authorizer["decision"]["fingerprint"]
    shown = _redacted_values(authorizer["event"])
    # TOKEN: authorizationToken; REQUEST: headers and multiValueHeaders; HTTP 2.0: the
    # identity source and the headers.
    assert len(shown) >= (1 if api == "RestTokenApi" else 2)
    assert all(value.startswith("Bearer ") for value in shown if "Bearer" in value)
    assert f"Bearer <redacted> fingerprint:{fingerprint}" in shown
    bearer = {value for value in shown if value.startswith("Bearer ")}
    assert bearer == {f"Bearer <redacted> fingerprint:{fingerprint}"}
    # Nothing of the token itself, not even its signature.
    text = json.dumps(seen.trace)
    assert token not in text
    assert token.rsplit(".", 1)[-1] not in text
