"""Malformed requests at every IdP endpoint: never a 500, always a refusal a developer can read.

Hand-picked cases first (each the shape of a real mistake or attack), then a seeded generator
that mutates valid requests: repeated, dropped, oversized and garbled parameters, bytes that
are not UTF-8, control characters, wrong content types, JSON for forms and forms for JSON,
broken Basic credentials. Requests go over a raw socket to the real IdP on a loopback port,
so nothing on the client side cleans them up first.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import re
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import quote_from_bytes
from urllib.parse import urlparse

import pytest

from tests.conftest import AUDIENCE
from tests.oauth_helpers import READER
from tests.oauth_helpers import WEBAPP_SECRET

SEED = 20261130
GENERATED = 400
# RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
DESCRIPTION_CHARSET = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]+")
FORM = "application/x-www-form-urlencoded"


@dataclass
class Call:
    """One raw HTTP request."""

    method: str
    path: str
    params: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    in_query: bool = False

    def encoded(self) -> bytes:
        return b"&".join(
            quote_from_bytes(k, safe=b"").encode() + b"=" + quote_from_bytes(v, safe=b"").encode()
            for k, v in self.params
        )


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def send(base: str, call: Call) -> Answer:
    host = urlparse(base)
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    path = call.path
    body = call.body
    if call.in_query or call.method == "GET":
        path += ("&" if "?" in path else "?") + call.encoded().decode() if call.params else ""
    elif body is None:
        body = call.encoded()
    headers = dict(call.headers)
    if body is not None and call.method != "GET":
        headers.setdefault("Content-Type", FORM)
    try:
        connection.putrequest(call.method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value.encode("latin-1"))
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def b(pairs: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in pairs.items()]


def base_calls(lab: Any) -> dict[str, Call]:
    """One valid-looking request per endpoint, the seed of every mutation."""
    callback = f"{lab.web_url}/callback"
    authorize = {
        "response_type": "code",
        "client_id": "lab-webapp",
        "redirect_uri": callback,
        "scope": "openid profile offline_access read:messages",
        "state": "s",
        "audience": AUDIENCE,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return {
        "token-client-credentials": Call(
            "POST",
            "/oauth/token",
            b({"grant_type": "client_credentials", "audience": AUDIENCE}),
            headers={"Authorization": basic(*READER)},
        ),
        "token-code": Call(
            "POST",
            "/oauth/token",
            b(
                {
                    "grant_type": "authorization_code",
                    "code": "no-such-code",
                    "redirect_uri": callback,
                    "code_verifier": "v" * 43,
                    "client_id": "lab-webapp",
                    "client_secret": WEBAPP_SECRET,
                }
            ),
        ),
        "token-refresh": Call(
            "POST",
            "/oauth/token",
            b({"grant_type": "refresh_token", "refresh_token": "no-such-token"}),
            headers={"Authorization": basic("lab-webapp", WEBAPP_SECRET)},
        ),
        "authorize": Call("GET", "/authorize", b(authorize)),
        "login-form": Call(
            "POST",
            "/authorize?" + Call("", "", b(authorize)).encoded().decode(),
            b({"email": "a@example.com", "password": "x", "action": "login"}),
        ),
        "userinfo": Call("GET", "/userinfo", headers={"Authorization": "Bearer a.b.c"}),
        "v2-logout": Call(
            "GET", "/v2/logout", b({"client_id": "lab-webapp", "returnTo": f"{lab.web_url}/"})
        ),
        "oidc-logout": Call(
            "GET",
            "/oidc/logout",
            b(
                {
                    "client_id": "lab-webapp",
                    "post_logout_redirect_uri": f"{lab.web_url}/",
                    "id_token_hint": "a.b.c",
                    "state": "s",
                }
            ),
        ),
        "discovery": Call("GET", "/.well-known/openid-configuration", b({"x": "y"})),
        "jwks": Call("GET", "/.well-known/jwks.json"),
    }


def check_answer(name: str, call: Call, answer: Answer) -> None:
    """The contract every refusal keeps, by kind of endpoint."""
    where = f"{name}: {call.method} {call.path[:80]} -> {answer.status} {answer.body[:200]!r}"
    assert answer.status < 500, where
    if answer.status < 400:
        return
    if call.path.startswith("/oauth/token"):
        assert answer.headers.get("Content-Type", "").startswith("application/json"), where
        body = answer.json()
        assert isinstance(body.get("error"), str) and body["error"], where
        description = body.get("error_description")
        assert isinstance(description, str) and DESCRIPTION_CHARSET.fullmatch(description), where
        assert "['" not in description and "Traceback" not in description, where
        assert answer.status in (400, 401, 403, 413), where
        if body["error"] == "invalid_client":
            assert answer.status == 401 and "WWW-Authenticate" in answer.headers, where
    elif call.path.startswith("/userinfo"):
        assert answer.status == 401 and "WWW-Authenticate" in answer.headers, where
    else:
        # Browser endpoints: a page that says what went wrong, never a stack trace.
        text = answer.body.decode("utf-8")
        assert "<h1>" in text and "Traceback" not in text, where


# Hand-picked cases ----------------------------------------------------------------------------


def token_call(params: dict[str, str] | None = None, **kwargs: Any) -> Call:
    return Call("POST", "/oauth/token", b(params or {}), **kwargs)


CC = {"grant_type": "client_credentials", "audience": AUDIENCE}
HAND_PICKED: list[tuple[str, Call, int, str | None, str | None]] = [
    # (id, request, status, OAuth error, text the description contains)
    (
        "basic-not-utf8",
        token_call(CC, headers={"Authorization": "Basic /zr+"}),
        401,
        "invalid_client",
        "Basic",
    ),
    (
        "basic-not-base64",
        token_call(CC, headers={"Authorization": "Basic !!!"}),
        401,
        "invalid_client",
        "Basic",
    ),
    (
        "basic-no-colon",
        token_call(CC, headers={"Authorization": "Basic Zm9v"}),
        401,
        "invalid_client",
        "Basic",
    ),
    (
        "basic-percent-not-utf8",
        token_call(CC, headers={"Authorization": basic("%ff", "x")}),
        401,
        "invalid_client",
        None,
    ),
    (
        "wrong-secret",
        token_call(CC, headers={"Authorization": basic(READER[0], "wrong")}),
        401,
        "access_denied",
        "Unauthorized",
    ),
    (
        "wrong-secret-in-body",
        token_call({**CC, "client_id": READER[0], "client_secret": "wrong"}),
        401,
        "access_denied",
        "Unauthorized",
    ),
    (
        "unknown-client-in-body",
        token_call({**CC, "client_id": "nobody", "client_secret": "x"}),
        401,
        "access_denied",
        "Unauthorized",
    ),
    (
        "basic-and-secret",
        token_call({**CC, "client_secret": READER[1]}, headers={"Authorization": basic(*READER)}),
        400,
        "invalid_request",
        "once",
    ),
    (
        "repeated-client-id",
        Call(
            "POST",
            "/oauth/token",
            [*b(CC), (b"client_id", READER[0].encode()), (b"client_id", b"lab-m2m-writer")],
            headers={"Authorization": basic(*READER)},
        ),
        400,
        "invalid_request",
        "'client_id' is included more than once",
    ),
    ("no-grant-type", token_call({}), 400, "invalid_request", "grant_type"),
    (
        "unknown-grant-type",
        token_call({"grant_type": "magic"}, headers={"Authorization": basic(*READER)}),
        400,
        "unsupported_grant_type",
        "Unsupported grant type: magic",
    ),
    (
        "form-not-utf8",
        Call("POST", "/oauth/token", body=b"grant_type=client_credentials&audience=\xff\xfe"),
        400,
        "invalid_request",
        "UTF-8",
    ),
    (
        "percent-not-utf8",
        Call("POST", "/oauth/token", body=b"grant_type=client_credentials&client_id=%ff"),
        400,
        "invalid_request",
        "UTF-8",
    ),
    (
        "control-character",
        token_call({**CC, "audience": "x\x00y"}, headers={"Authorization": basic(*READER)}),
        400,
        "invalid_request",
        "'audience'",
    ),
    (
        "quote-in-echoed-audience",
        token_call({**CC, "audience": 'x"\\y'}, headers={"Authorization": basic(*READER)}),
        400,
        "invalid_request",
        "'audience' is malformed",
    ),
    (
        "unknown-audience",
        token_call(
            {**CC, "audience": "https://unknown.example/"},
            headers={"Authorization": basic(*READER)},
        ),
        403,
        "access_denied",
        "Service not found: https://unknown.example/",
    ),
    (
        "oversized-parameter",
        token_call({**CC, "scope": "a" * 5000}, headers={"Authorization": basic(*READER)}),
        400,
        "invalid_request",
        "longer than",
    ),
    (
        "huge-body",
        Call("POST", "/oauth/token", body=b"a=" + b"b" * 200_000),
        413,
        "invalid_request",
        "64 KiB",
    ),
    (
        "text-plain",
        Call(
            "POST",
            "/oauth/token",
            body=b"grant_type=client_credentials",
            headers={"Content-Type": "text/plain"},
        ),
        400,
        "invalid_request",
        "Content-Type",
    ),
    (
        "json-array",
        Call("POST", "/oauth/token", body=b"[1]", headers={"Content-Type": "application/json"}),
        400,
        "invalid_request",
        "JSON",
    ),
    (
        "json-deeply-nested",
        Call(
            "POST",
            "/oauth/token",
            body=b'{"a":' * 1000 + b"1" + b"}" * 1000,
            headers={"Content-Type": "application/json"},
        ),
        400,
        "invalid_request",
        "nests too deeply",
    ),
    (
        "json-deeply-nested-array",
        Call(
            "POST",
            "/oauth/token",
            body=b"[" * 2000 + b"]" * 2000,
            headers={"Content-Type": "application/json"},
        ),
        400,
        "invalid_request",
        "nests too deeply",
    ),
    (
        "json-not-json",
        Call(
            "POST",
            "/oauth/token",
            body=b"grant_type=x",
            headers={"Content-Type": "application/json"},
        ),
        400,
        "invalid_request",
        "JSON",
    ),
    (
        "json-number",
        Call(
            "POST",
            "/oauth/token",
            body=b'{"grant_type": 1}',
            headers={"Content-Type": "application/json"},
        ),
        400,
        "invalid_request",
        "must be a string",
    ),
    (
        "secret-in-query",
        Call("POST", f"/oauth/token?client_secret={READER[1]}", b(CC)),
        400,
        "invalid_request",
        "query string",
    ),
    (
        "pkce-verifier-too-short",
        token_call(
            {"grant_type": "authorization_code", "code": "c", "code_verifier": "short"},
            headers={"Authorization": basic("lab-webapp", WEBAPP_SECRET)},
        ),
        400,
        "invalid_grant",
        "Invalid authorization code",
    ),
    (
        "refresh-unknown",
        token_call(
            {"grant_type": "refresh_token", "refresh_token": "nope"},
            headers={"Authorization": basic("lab-webapp", WEBAPP_SECRET)},
        ),
        400,
        "invalid_grant",
        "Unknown or invalid refresh token.",
    ),
    (
        "authorize-repeated-client-id",
        Call("GET", "/authorize?client_id=lab-webapp&client_id=other&response_type=code"),
        400,
        None,
        "included more than once",
    ),
    (
        "authorize-not-utf8",
        Call("GET", "/authorize?client_id=%ff&response_type=code"),
        400,
        None,
        "UTF-8",
    ),
    (
        "authorize-quote-in-response-type",
        Call("GET", "/authorize?client_id=lab-webapp&response_type=co%22de"),
        400,
        None,
        "malformed",
    ),
    (
        "login-form-as-json",
        Call(
            "POST",
            "/authorize?client_id=lab-webapp&response_type=code",
            body=b"{}",
            headers={"Content-Type": "application/json"},
        ),
        400,
        None,
        "form",
    ),
    (
        "userinfo-not-a-token",
        Call("GET", "/userinfo", headers={"Authorization": "Bearer \xff\xfe"}),
        401,
        None,
        None,
    ),
    (
        "oidc-logout-hint-not-utf8",
        Call("GET", "/oidc/logout?id_token_hint=%ff.%ff.%ff&post_logout_redirect_uri=x"),
        400,
        None,
        "id_token_hint",
    ),
]


@pytest.mark.parametrize(
    ("call", "status", "error", "says"),
    [case[1:] for case in HAND_PICKED],
    ids=[case[0] for case in HAND_PICKED],
)
def test_hand_picked_malformed_requests_get_a_clear_refusal(
    lab: Any, call: Call, status: int, error: str | None, says: str | None
) -> None:
    answer = send(lab.idp_url, call)

    check_answer("hand-picked", call, answer)
    assert answer.status == status, answer.body[:300]
    if error is not None:
        assert answer.json()["error"] == error
        if says:
            assert says in answer.json()["error_description"]
    elif says:
        assert says in answer.body.decode()


def test_a_token_request_as_json_works_as_at_auth0(lab: Any) -> None:
    answer = send(
        lab.idp_url,
        Call(
            "POST",
            "/oauth/token",
            body=json.dumps(
                {
                    "grant_type": "client_credentials",
                    "client_id": READER[0],
                    "client_secret": READER[1],
                    "audience": AUDIENCE,
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        ),
    )

    assert answer.status == 200, answer.body
    assert answer.json()["token_type"] == "Bearer"


# Seeded generator ----------------------------------------------------------------------------

NASTY_VALUES = [
    b"",
    b"\xff\xfe",
    b"\x00",
    b"\r\nX-Injected: 1",
    b'"\\',
    "é".encode(),
    b"\xed\xa0\x80",  # a UTF-16 surrogate in UTF-8 form: not valid UTF-8
    b"a" * 5000,
    b"%zz",
    b"../../etc/passwd",
    b"<script>alert(1)</script>",
    b"Basic",
    b"null",
]
CONTENT_TYPES = [
    FORM,
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded; charset=latin-1",
    "",
]
AUTH_HEADERS = [
    "Basic /zr+",
    "Basic ====",
    "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
    "Basic " + base64.b64encode(b":").decode(),
    "Bearer x",
    "Basic",
    "basic " + base64.b64encode(b"lab-webapp:%zz").decode(),
    "Digest x",
]


def mutate(rng: random.Random, call: Call) -> Call:
    """Return a copy of `call` with one to three random defects."""
    params = list(call.params)
    headers = dict(call.headers)
    body: bytes | None = None
    in_query = call.in_query
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(
            ["duplicate", "drop", "nasty", "nasty-name", "content-type", "json", "auth", "query"]
        )
        if kind == "duplicate" and params:
            params.append(rng.choice(params))
        elif kind == "drop" and params:
            params.pop(rng.randrange(len(params)))
        elif kind == "nasty" and params:
            index = rng.randrange(len(params))
            params[index] = (params[index][0], rng.choice(NASTY_VALUES))
        elif kind == "nasty-name":
            params.append((rng.choice(NASTY_VALUES) or b"x", b"1"))
        elif kind == "content-type" and call.method == "POST":
            headers["Content-Type"] = rng.choice(CONTENT_TYPES)
        elif kind == "json" and call.method == "POST":
            headers["Content-Type"] = "application/json"
            body = json.dumps(
                {k.decode("latin-1"): v.decode("latin-1") for k, v in params}
            ).encode()
        elif kind == "auth":
            headers["Authorization"] = rng.choice(AUTH_HEADERS)
        elif kind == "query":
            in_query = not in_query
    return Call(call.method, call.path, params, body, headers, in_query)


def test_generated_malformed_requests_never_get_a_server_error(lab: Any) -> None:
    rng = random.Random(SEED)
    bases = base_calls(lab)
    names = sorted(bases)
    statuses: dict[int, int] = {}
    for number in range(GENERATED):
        name = names[number % len(names)]
        call = mutate(rng, bases[name])
        answer = send(lab.idp_url, call)
        check_answer(f"#{number} {name}", call, answer)
        statuses[answer.status] = statuses.get(answer.status, 0) + 1

    # The generator reaches the refusals it is meant to exercise, not only one of them.
    assert {400, 401} <= set(statuses), statuses
