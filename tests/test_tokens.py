"""Reading tokens for people: kinds, roles, times, mix-ups, differences."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from webapp.tokens import classify
from webapp.tokens import compare
from webapp.tokens import inspect
from webapp.tokens import relative
from webapp.tokens import tampered
from webapp.tokens import when

API = "https://api.authorizer-lab.local"
ISSUER = "http://127.0.0.1:3001/"
NOW = 1_800_000_000


def jwt_of(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    def b64(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{b64(header or {'alg': 'RS256', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims)}.c2ln"


ACCESS = {
    "iss": ISSUER,
    "sub": "auth0|c",
    "aud": [API, ISSUER + "userinfo"],
    "iat": NOW - 60,
    "exp": NOW + 3600,
    "azp": "lab-webapp",
    "scope": "openid read:notes",
    "permissions": ["read:notes"],
}
ID = {
    "iss": ISSUER,
    "sub": "auth0|c",
    "aud": "lab-webapp",
    "iat": NOW - 60,
    "exp": NOW + 3600,
    "nonce": "n",
    "email": "c@example.com",
}


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        (None, "none"),
        ("", "none"),
        ("Zk3_n6YpYvRjF0qz3J8u1Xo2", "opaque"),
        ("a.b.c.d.e", "encrypted (JWE)"),
        (jwt_of(ACCESS), "JWT"),
        ("x.y.z", "opaque"),
    ],
)
def test_classify(token: str | None, kind: str) -> None:
    assert classify(token) == kind


def test_an_access_token_is_described_with_its_times_and_audiences() -> None:
    view = inspect(jwt_of(ACCESS), "Access token", API, ISSUER, "lab-webapp", now=NOW)

    assert view.role == "access token" and not view.warnings and not view.expired
    rows = {row.name: row for row in view.rows}
    assert rows["exp"].relative == "in 60 minutes"
    assert rows["exp"].moment == "2027-01-15T09:00:00+00:00"
    assert rows["aud"].display == f"{API}, {ISSUER}userinfo"
    assert "client id for an ID token" in rows["aud"].hint


def test_an_id_token_is_flagged_for_its_audience() -> None:
    view = inspect(jwt_of(ID), "ID token", API, ISSUER, "lab-webapp", now=NOW)

    assert view.role == "ID token"
    assert any("client id lab-webapp" in w and API in w for w in view.warnings)


def test_an_opaque_token_is_explained_by_the_missing_audience() -> None:
    view = inspect("Zk3_n6YpYvRjF0qz3J8u1Xo2", "Access token", API, ISSUER, "lab-webapp")

    assert view.kind == "opaque"
    assert "no `audience` was sent" in view.warnings[0]


def test_expired_and_foreign_tokens_are_warned_about() -> None:
    token = jwt_of(
        {**ACCESS, "exp": NOW - 180, "aud": "https://other.example", "iss": "https://evil.example/"}
    )

    view = inspect(token, "Access token", API, ISSUER, "lab-webapp", now=NOW)

    assert view.expired
    text = " ".join(view.warnings)
    assert "expired 3 minutes ago" in text
    assert "for another API" in text
    assert "https://evil.example/" in text


def test_m2m_tokens_are_recognised() -> None:
    token = jwt_of({**ACCESS, "sub": "svc@clients", "gty": "client-credentials", "aud": API})

    assert inspect(token, "t", API, ISSUER, "lab-webapp", now=NOW).role == (
        "machine-to-machine access token"
    )


def test_compare_marks_only_differing_claims() -> None:
    id_view = inspect(jwt_of(ID), "ID token", API, ISSUER, "lab-webapp", now=NOW)
    access_view = inspect(jwt_of(ACCESS), "Access token", API, ISSUER, "lab-webapp", now=NOW)

    compare(id_view, access_view)

    differing = {row.name for row in access_view.rows if row.differs}
    assert {"aud", "azp", "scope", "permissions"} <= differing
    assert "sub" not in differing and "iss" not in differing
    assert {row.name for row in id_view.rows if row.differs} >= {"aud", "nonce"}


def test_tampered_changes_the_signature_only() -> None:
    token = jwt_of(ACCESS)
    forged = tampered(token)

    assert forged != token
    assert forged.rsplit(".", 1)[0] == token.rsplit(".", 1)[0]


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (5, "5 seconds"),
        (1, "1 second"),
        (60, "1 minute"),
        (179, "3 minutes"),
        (35999, "10 hours"),
        (5399, "90 minutes"),
        (7200, "2 hours"),
        (3 * 86400, "3 days"),
    ],
)
def test_relative(seconds: int, words: str) -> None:
    assert relative(seconds) == words


def test_when_says_future_and_past() -> None:
    now = time.time()
    assert when(now + 7200, now) == "in 2 hours"
    assert when(now - 600, now) == "10 minutes ago"
