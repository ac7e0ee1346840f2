"""No part of a credential reaches a log line, a listener or an exception message.

OWASP ASVS 5.0 V16.2.5 and `security.md` AZ-15: log a reason and a fingerprint, never the
token. The headers here are the malformed ones a client really sends (a tab or nothing after
the scheme, another scheme, a bare token, very long or non-ASCII values), plus tokens whose
header carries values an attacker chose; for each, every 6-character piece of the credential
(and of the chosen header values) must be absent from everything the authorizer wrote.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from authorizer.audit import add_listener
from authorizer.audit import remove_listener
from authorizer.handler import Authorizer
from authorizer.handler import bearer_token
from authorizer.verify import Rejected
from tests.authorizer.conftest import ARN_PREFIX
from tests.authorizer.conftest import Minter
from tests.authorizer.conftest import b64url

WINDOW = 6


def _secrets(credential: str, *chosen: str) -> list[str]:
    """The credential without its scheme word, and any header values an attacker chose."""
    for scheme in ("Bearer", "bearer", "Basic", "DPoP", "Token"):
        if credential.startswith(scheme):
            credential = credential[len(scheme) :]
            break
    return [credential.strip(), *chosen]


def _leaks(secret: str, text: str) -> list[str]:
    return sorted(
        {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}
        & {text[i : i + WINDOW] for i in range(len(text) - WINDOW + 1)}
    )


def _cases(mint: Minter) -> dict[str, tuple[str, list[str]]]:
    """Name → (Authorization value, texts that must not appear)."""
    good = mint.token()
    basic = base64.b64encode(b"lab-user:correct horse battery staple").decode()
    headers = {
        "tab after Bearer": f"Bearer\t{good}",
        "no space after Bearer": f"Bearer{good}",
        "no-break space after Bearer": f"Bearer\u00a0{good}",
        "bare token": good,
        "lower-case scheme": f"bearer {good}",
        "Basic credentials": f"Basic {basic}",
        "DPoP scheme": f"DPoP {good}",
        "unknown scheme": f"Xyzzy{good[:40]} {good}",
        "two tokens": f"Bearer {good} {good[::-1]}",
        "very long": "Bearer " + good + "." + "QmlnU2VjcmV0" * 2000,
        "very long, no dots": "Bearer " + "c2VjcmV0LXRva2Vu" * 1000,
        "non-ASCII": f"Bearer {good[:30]}секретный-ключ{good[30:]}",
        "opaque token": "Bearer Zm9vYmFyLXNlY3JldC1vcGFxdWU",
        "base64 alphabet, bad JSON": "Bearer bm90LWpzb24tYXQtYWxs.e30.c2ln",
    }
    cases = {name: (value, _secrets(value)) for name, value in headers.items()}
    # Header values chosen by whoever made the token: refused, and never echoed.
    for name, header, chosen in [
        ("chosen alg", {"alg": "SecretAlgorithmText", "kid": "k1"}, "SecretAlgorithmText"),
        ("chosen typ", {"alg": "RS256", "kid": "k1", "typ": "secret+typ+text"}, "secret+typ+text"),
    ]:
        token = mint.raw(header, mint.claims())
        cases[name] = (f"Bearer {token}", [token, chosen])
    duplicate = mint.raw('{"alg":"RS256","kid":"k1","hiddenName":1,"hiddenName":2}', mint.claims())
    cases["duplicate header member"] = (f"Bearer {duplicate}", [duplicate, "hiddenName"])
    forged = good.rsplit(".", 1)[0] + "." + b64url(b"\x00" * 256)
    cases["forged signature"] = (f"Bearer {forged}", [forged])
    return cases


EVENTS: dict[str, Callable[[str], dict[str, Any]]] = {
    "rest-token": lambda credential: {
        "type": "TOKEN",
        "authorizationToken": credential,
        "methodArn": f"{ARN_PREFIX}/GET/private",
    },
    "http-2.0": lambda credential: {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"{ARN_PREFIX}/GET/private",
        "headers": {"authorization": credential},
    },
}


@pytest.mark.parametrize("kind", list(EVENTS))
def test_no_log_line_or_message_carries_any_part_of_the_credential(
    authorizer: Authorizer,
    mint: Minter,
    kind: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="authorizer")
    failures: list[str] = []
    for name, (credential, secrets) in _cases(mint).items():
        seen: list[dict[str, Any]] = []
        add_listener(seen.append)
        raised = ""
        try:
            # Twice: the second answer may come from the decision cache, logged at DEBUG.
            for _ in range(2):
                try:
                    authorizer.policy_response(EVENTS[kind](credential))
                except Exception as exc:
                    raised += str(exc)
                authorizer.simple_response(EVENTS[kind](credential))
        finally:
            remove_listener(seen.append)
        written = capsys.readouterr()
        text = "\n".join(
            [written.out, written.err, caplog.text, json.dumps(seen, ensure_ascii=False), raised]
        )
        caplog.clear()
        assert seen, name  # each case was decided and told
        for secret in secrets:
            if leaked := _leaks(secret, text):
                failures.append(f"{name}: {leaked[:3]}")
    assert failures == []


def test_the_refusal_says_what_kind_of_header_it_was(mint: Minter) -> None:
    good = mint.token()
    details = {}
    for name, value in {
        "tab": f"Bearer\t{good}",
        "glued": f"Bearer{good}",
        "basic": "Basic dXNlcjpwYXNz",
        "bare": good,
        "other": "Xyzzy abc",
    }.items():
        with pytest.raises(Rejected) as refused:
            bearer_token(value)
        details[name] = (refused.value.code, refused.value.detail)

    assert details == {
        "tab": (
            "not_bearer",
            "`Bearer` is followed by a tab or other whitespace, not a space; send `Bearer <token>`",
        ),
        "glued": ("not_bearer", "`Bearer` is not followed by a space; send `Bearer <token>`"),
        "basic": ("not_bearer", "the Authorization scheme is Basic; send `Bearer <token>`"),
        "bare": (
            "not_bearer",
            "the Authorization header has a token but no scheme; send `Bearer <token>`",
        ),
        "other": ("not_bearer", "the Authorization scheme is not Bearer; send `Bearer <token>`"),
    }


def test_an_internal_error_logs_its_type_and_frames_not_its_message(
    authorizer: Authorizer,
    mint: Minter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = mint.token()

    def broken(candidate: str, now: float | None = None) -> Any:
        raise ValueError(f"could not handle {candidate}")  # a bug that quotes its input

    monkeypatch.setattr(authorizer.verifier, "verify", broken)
    caplog.set_level(logging.ERROR, logger="authorizer")

    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.policy_response(EVENTS["rest-token"](f"Bearer {token}"))

    assert "authorizer error: ValueError" in caplog.text
    assert "in broken" in caplog.text  # the frames are kept for debugging
    assert _leaks(token, caplog.text) == []


def test_a_credential_that_is_not_a_string_is_refused_as_missing(authorizer: Authorizer) -> None:
    event = {
        "type": "TOKEN",
        "authorizationToken": ["Bearer", 1],
        "methodArn": f"{ARN_PREFIX}/GET/x",
    }

    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.policy_response(event)
