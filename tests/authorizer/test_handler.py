"""The Lambda handlers: every event kind, every outcome, the context, the log, the cache."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import authorizer.handler as handler_module
from authorizer.audit import add_listener
from authorizer.audit import remove_listener
from authorizer.handler import Authorizer
from authorizer.settings import SettingsError
from authorizer.settings import load_settings
from tests.authorizer.conftest import ARN_PREFIX
from tests.authorizer.conftest import AUDIENCE
from tests.authorizer.conftest import ISSUER
from tests.authorizer.conftest import ROUTES
from tests.authorizer.conftest import FakeClock
from tests.authorizer.conftest import Minter
from tests.authorizer.conftest import token_event

EVENTS = Path(__file__).resolve().parents[1] / "events"
ROOT = Path(__file__).resolve().parents[2]


def recorded_event(
    name: str, token: str | None, method: str = "GET", path: str = "/private"
) -> dict[str, Any]:
    """Load a recorded AWS event and aim it at a route with a credential (None: no header)."""
    text = (EVENTS / f"{name}.json").read_text()
    text = text.replace("/GET/private", f"/{method}{path}").replace(
        "GET /private", f"{method} {path}"
    )
    event = json.loads(text)
    credential = f"Bearer {token}" if token is not None else None

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: fix(v)
                for k, v in node.items()
                if not (credential is None and v == "Bearer TOKEN")
            }
        if isinstance(node, list):
            return [fix(v) for v in node if not (credential is None and v == "Bearer TOKEN")]
        return credential if node == "Bearer TOKEN" else node

    return fix(event)


def policy_effects(response: dict[str, Any]) -> dict[str, str]:
    """Map each policy resource's route ("GET /admin") to its effect."""
    effects = {}
    for statement in response["policyDocument"]["Statement"]:
        for resource in statement["Resource"]:
            _, stage_route = resource.split(
                ":a1b2c3d4e5/" if "a1b2c3d4e5" in resource else ":f6g7h8i9j0/"
            )
            _, method, path = stage_route.split("/", 2)
            effects[f"{method} /{path}"] = statement["Effect"]
    return effects


# Outcomes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rest_token", "rest_request", "http_v1", "http_v2"])
def test_policy_mode_allows_lists_every_route_and_passes_context(
    authorizer: Authorizer, mint: Minter, kind: str
) -> None:
    response = authorizer.policy_response(recorded_event(kind, mint.token()))

    assert response["principalId"] == "auth0|customer-0001"
    assert policy_effects(response) == {
        "GET /private": "Allow",
        "GET /notes": "Allow",
        "POST /notes": "Allow",
        "GET /admin": "Deny",
    }
    context = response["context"]
    assert context["sub"] == "auth0|customer-0001"
    assert context["tokenKind"] == "user"
    assert context["clientId"] == "lab-webapp"
    if kind == "http_v2":
        assert context["permissions"] == ["read:messages", "read:notes", "write:notes"]
        assert context["scope"] == ["openid", "profile", "read:notes"]
    else:  # REST context values may only be strings, numbers and booleans
        assert context["permissions"] == "read:messages read:notes write:notes"
        assert all(isinstance(v, str | int | float | bool) for v in context.values())


@pytest.mark.parametrize("kind", ["rest_token", "rest_request", "http_v1", "http_v2"])
def test_policy_mode_denies_explicitly_without_the_permission(
    authorizer: Authorizer, mint: Minter, kind: str
) -> None:
    response = authorizer.policy_response(recorded_event(kind, mint.token(), path="/admin"))

    assert policy_effects(response)["GET /admin"] == "Deny"
    assert response["context"]["reason"] == "insufficient_permission"


@pytest.mark.parametrize("kind", ["rest_token", "rest_request", "http_v1", "http_v2"])
@pytest.mark.parametrize(
    "credential", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer not.a.jwt", "Bearer a b"]
)
def test_policy_mode_raises_exactly_unauthorized_for_a_bad_credential(
    authorizer: Authorizer, kind: str, credential: str | None
) -> None:
    event = recorded_event(kind, None)
    if credential is not None:
        if kind == "rest_token":
            event["authorizationToken"] = credential
        else:
            event["headers"]["authorization" if kind.startswith("http") else "Authorization"] = (
                credential
            )

    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.policy_response(event)


def test_simple_mode_outcomes(authorizer: Authorizer, mint: Minter) -> None:
    allowed = authorizer.simple_response(recorded_event("http_v2", mint.token()))
    denied = authorizer.simple_response(recorded_event("http_v2", mint.token(), path="/admin"))
    expired = authorizer.simple_response(recorded_event("http_v2", mint.token(exp=1000)))
    missing = authorizer.simple_response(recorded_event("http_v2", None))

    assert allowed["isAuthorized"] is True
    assert allowed["context"]["permissions"] == ["read:messages", "read:notes", "write:notes"]
    assert denied == {"isAuthorized": False, "context": denied["context"]}
    assert denied["context"]["reason"] == "insufficient_permission"
    assert expired == {"isAuthorized": False, "context": {"reason": "token_expired"}}
    assert missing == {"isAuthorized": False, "context": {"reason": "missing_token"}}


def test_bearer_scheme_is_case_insensitive(authorizer: Authorizer, mint: Minter) -> None:
    for scheme in ("bearer ", "BEARER ", "Bearer  "):
        response = authorizer.policy_response(token_event(mint.token(), scheme=scheme))
        assert response["principalId"] == "auth0|customer-0001"


def test_m2m_tokens_are_marked_as_clients(authorizer: Authorizer, mint: Minter) -> None:
    token = mint.token(
        sub="lab-m2m-reader@clients",
        azp="lab-m2m-reader",
        aud=AUDIENCE,
        gty="client-credentials",
        scope="read:notes",
        permissions=None,
    )

    response = authorizer.policy_response(token_event(token, path="notes"))

    assert response["context"]["tokenKind"] == "client"
    assert response["context"]["clientId"] == "lab-m2m-reader"
    assert policy_effects(response) == {
        "GET /private": "Allow",
        "GET /notes": "Allow",
        "POST /notes": "Deny",
        "GET /admin": "Deny",
    }


def test_a_route_unknown_to_the_authorizer_is_denied(authorizer: Authorizer, mint: Minter) -> None:
    response = authorizer.policy_response(token_event(mint.token(), method="DELETE", path="notes"))

    assert policy_effects(response)["DELETE /notes"] == "Deny"
    assert response["context"]["reason"] == "unknown_route"


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "TOKEN",
        {},
        {"type": "TOKEN", "authorizationToken": "Bearer x"},
        {"type": "TOKEN", "authorizationToken": "Bearer x", "methodArn": "arn:aws:s3:::bucket"},
        {"type": "SOMETHING", "methodArn": f"{ARN_PREFIX}/GET/private"},
    ],
    ids=["none", "list", "string", "empty", "no-arn", "foreign-arn", "unknown-type"],
)
def test_malformed_events_are_refused_not_crashed(authorizer: Authorizer, event: Any) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.policy_response(event)
    assert authorizer.simple_response(event)["isAuthorized"] is False


def test_an_internal_error_fails_closed(
    authorizer: Authorizer, mint: Minter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(authorizer.verifier, "verify", broken)

    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.policy_response(token_event(mint.token()))
    assert (
        authorizer.simple_response(recorded_event("http_v2", mint.token()))["isAuthorized"] is False
    )


# Configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TOKEN_ISSUER": ""}, "TOKEN_ISSUER is not set"),
        ({"AUDIENCE": ""}, "AUDIENCE is not set"),
        ({"TOKEN_ISSUER": "ftp://issuer/"}, "must be an https:// URL"),
        ({"JWKS_URI": "http://attacker.example/jwks.json"}, "http:// only on loopback"),
        ({"ROUTE_PERMISSIONS": ""}, "ROUTE_PERMISSIONS is not set"),
        ({"ROUTE_PERMISSIONS": "{not json"}, "ROUTE_PERMISSIONS is not valid"),
        ({"ROUTE_PERMISSIONS": '{"FETCH /x": ""}'}, 'is not "METHOD /path"'),
        ({"LEEWAY_SECONDS": "600"}, "between 0 and 60"),
        ({"LEEWAY_SECONDS": "soon"}, "must be a number"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], message: str) -> None:
    base = {"TOKEN_ISSUER": ISSUER, "AUDIENCE": AUDIENCE, "ROUTE_PERMISSIONS": json.dumps(ROUTES)}

    with pytest.raises(SettingsError, match=message):
        load_settings({**base, **env})


def test_a_misconfigured_authorizer_logs_once_and_refuses_everything(
    monkeypatch: pytest.MonkeyPatch, mint: Minter, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("TOKEN_ISSUER", "AUDIENCE", "JWKS_URI", "ROUTE_PERMISSIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(handler_module, "_authorizer", None)
    caplog.set_level(logging.INFO, logger="authorizer")

    for _ in range(3):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            handler_module.lambda_handler(token_event(mint.token()), None)
        assert (
            handler_module.simple_handler(recorded_event("http_v2", mint.token()), None)[
                "isAuthorized"
            ]
            is False
        )

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "TOKEN_ISSUER is not set" in errors[0].getMessage()
    monkeypatch.setattr(handler_module, "_authorizer", None)


# Decision log -------------------------------------------------------------------------------


def test_every_decision_is_one_json_line_without_the_token(
    authorizer: Authorizer, mint: Minter, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[dict[str, Any]] = []
    add_listener(seen.append)
    good, expired = mint.token(), mint.token(exp=1000)
    try:
        authorizer.policy_response(token_event(good))
        with pytest.raises(Exception, match="Unauthorized"):
            authorizer.policy_response(token_event(expired))
    finally:
        remove_listener(seen.append)

    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["reason"] for line in lines] == ["allowed", "token_expired"]
    allowed = lines[0]
    assert allowed["kid"] == "k1" and allowed["iss"] == ISSUER
    assert allowed["sub"] == "auth0|customer-0001" and allowed["client"] == "lab-webapp"
    assert 3500 < allowed["expires_in"] <= 3600
    assert allowed["cache"] == "miss" and allowed["duration_us"] >= 0
    assert len(allowed["fingerprint"]) == 16
    for token in (good, expired):
        assert token not in out
        assert token.split(".")[2] not in out
    assert seen == lines  # the same fields, structured, for the local gateway


def test_the_line_written_without_listeners_carries_the_same_fields(
    authorizer: Authorizer, mint: Minter, capsys: pytest.CaptureFixture[str]
) -> None:
    # The line is formatted by hand on the warm path: it must stay the JSON of the fields.
    events = [
        token_event(mint.token()),
        token_event(mint.token(azp=None, sub='odd "sub" \\ \u00e9\u2028')),
        token_event(mint.token(), path="admin"),
        token_event(mint.token(exp=1000)),
        token_event(None),
        token_event("not-a-jwt!"),
    ]

    def decide_all() -> None:
        for event in events:
            authorizer.cache.clear()
            with contextlib.suppress(Exception):
                authorizer.policy_response(event)

    decide_all()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    seen: list[dict[str, Any]] = []
    add_listener(seen.append)
    try:
        decide_all()
    finally:
        remove_listener(seen.append)
    capsys.readouterr()

    # The first pass fetched the issuer's keys, the second found them cached.
    assert [line.get("jwks") for line in lines] == ["fetched", "cached", "cached", "cached"] + [
        None
    ] * 2
    assert [fields.get("jwks") for fields in seen] == ["cached"] * 4 + [None] * 2
    for fields in (*lines, *seen):
        fields.pop("duration_us")
        fields.pop("jwks", None)
        # Seconds to expiry may tick between the two passes on a loaded machine.
        fields["expires_in"] = fields.get("expires_in") is not None
    assert [line["reason"] for line in lines] == [
        "allowed",
        "allowed",
        "insufficient_permission",
        "token_expired",
        "missing_token",
        "malformed_token",
    ]
    assert lines[1]["sub"] == 'odd "sub" \\ \u00e9\u2028' and lines[1]["client"] is None
    assert lines == seen


# Decision cache -----------------------------------------------------------------------------


def test_a_repeated_token_is_answered_from_the_cache(
    authorizer: Authorizer, mint: Minter, jwks_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = token_event(mint.token())
    first = authorizer.policy_response(event)
    monkeypatch.setattr(authorizer, "decide", lambda request: pytest.fail("not cached"))

    assert authorizer.policy_response(copy.deepcopy(event)) == first


def test_cached_decisions_end_with_the_token(
    make_authorizer: Callable[..., Authorizer], mint: Minter
) -> None:
    clock = FakeClock()
    authorizer = make_authorizer(clock=clock, LEEWAY_SECONDS="0")
    token = mint.token(exp=int(clock.now) + 60)
    authorizer.policy_response(token_event(token))

    clock.now += 61

    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.policy_response(token_event(token))


def test_the_decision_cache_is_bounded(
    make_authorizer: Callable[..., Authorizer], mint: Minter
) -> None:
    authorizer = make_authorizer()
    authorizer.cache.max_entries = 5

    for i in range(12):
        authorizer.policy_response(token_event(mint.token(jti=str(i))))

    assert len(authorizer.cache) == 5


def test_failures_are_never_cached(authorizer: Authorizer, mint: Minter) -> None:
    with pytest.raises(Exception, match="Unauthorized"):
        authorizer.policy_response(token_event(mint.token(exp=1000)))

    assert len(authorizer.cache) == 0


# Packaging ------------------------------------------------------------------------------------


def test_the_handler_imports_nothing_heavy() -> None:
    code = (
        "import sys, authorizer.handler; "
        "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    modules = set(
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.split()
    )

    forbidden = {
        "flask",
        "requests",
        "boto3",
        "botocore",
        "jwt",
        "authlib",
        "joserfc",
        "werkzeug",
        "webapp",
        "emulators",
        "aws_lambda_powertools",
        "urllib3",
    }
    assert not modules & forbidden
    assert "cryptography" in modules


def test_requirements_list_only_what_lambda_needs() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "authorizer" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert [line.split(">")[0].split("=")[0] for line in lines] == ["cryptography"]


def test_cache_hits_are_told_to_listeners_and_logged_only_at_debug(
    authorizer: Authorizer,
    mint: Minter,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import authorizer.audit as audit

    seen: list[dict[str, Any]] = []
    event = token_event(mint.token())
    authorizer.policy_response(event)
    capsys.readouterr()

    authorizer.policy_response(event)
    assert capsys.readouterr().out == ""  # INFO: a hit writes no line
    add_listener(seen.append)
    try:
        authorizer.policy_response(event)
        monkeypatch.setattr(audit, "_level", logging.DEBUG)
        authorizer.policy_response(event)
    finally:
        remove_listener(seen.append)

    assert [f["cache"] for f in seen] == ["hit", "hit"]
    assert seen[0]["reason"] == "allowed" and seen[0]["sub"] == "auth0|customer-0001"
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["cache"] == "hit"


def test_the_fast_decision_line_equals_the_structured_one(
    make_authorizer: Callable[..., Authorizer],
    mint: Minter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a token whose claims need JSON escaping
    token = mint.token(sub='auth0|"odd" \\ sub\u2028ü', azp='app"</script>')
    event = token_event(token, path="admin")
    # WHEN one authorizer writes its line directly and another through a listener
    make_authorizer().policy_response(event)
    direct = json.loads(capsys.readouterr().out)
    seen: list[dict[str, Any]] = []
    add_listener(seen.append)
    try:
        make_authorizer().policy_response(event)
    finally:
        remove_listener(seen.append)
    structured = json.loads(capsys.readouterr().out)
    # THEN both lines say the same, escaped correctly
    for line in (direct, structured):
        line.pop("duration_us")
        # Seconds to expiry may tick between the two decisions on a loaded machine.
        line["expires_in"] = line.get("expires_in") is not None
    assert direct == structured
    assert direct["sub"] == 'auth0|"odd" \\ sub\u2028ü'
    assert direct["client"] == 'app"</script>'
    assert direct["reason"] == "insufficient_permission"
