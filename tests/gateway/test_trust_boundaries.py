"""Two trust rules checked where a cache or a second code path could hide a regression.

- A token without `kid` (or with `"kid": ""`) is refused even after a good token has put the
  issuer's key in every cache: no verifier may fall back to "the only key I know" (RFC 8725
  §3.1 asks for a key chosen by the header, never guessed). Checked on every API style,
  including the HTTP API's built-in JWT authorizer.
- `GET /notes` lists the caller's own notes only: another user's id in `X-User-Id` or in
  `?owner=` changes nothing, even with the admin's token.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from tests.gateway.conftest import Tokens

API_STYLES = ["RestTokenApi", "RestRequestApi", "HttpLambdaApi", "HttpJwtApi"]
NOTES_APIS = ["RestTokenApi", "RestRequestApi", "HttpLambdaApi", "HttpJwtApi"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def resign_without_kid(idp: Any, token: str, kid: str | None) -> str:
    """Sign the claims of `token` again with the IdP key, under a header with no usable kid."""
    payload = token.split(".")[1]
    header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    key = serialization.load_pem_private_key(idp.keys.signing_key().as_pem(private=True), None)
    signing_input = f"{b64url(json.dumps(header).encode())}.{payload}".encode()
    signature = key.sign(signing_input, PKCS1v15(), SHA256())  # type: ignore[union-attr,call-arg]
    return f"{signing_input.decode()}.{b64url(signature)}"


@pytest.mark.parametrize("kid", [None, ""], ids=["no-kid", "empty-kid"])
@pytest.mark.parametrize("api", API_STYLES)
def test_a_token_without_kid_is_refused_after_the_key_is_cached(
    lab: Any, tokens: Tokens, api: str, kid: str | None
) -> None:
    url = lab.api_url(api) + "/private"
    good = requests.get(url, headers={"Authorization": f"Bearer {tokens.customer}"}, timeout=10)
    assert good.status_code == 200  # the issuer's key is now in every cache

    kidless = resign_without_kid(lab.idp_app.extensions["idp"], tokens.customer, kid)
    answer = requests.get(url, headers={"Authorization": f"Bearer {kidless}"}, timeout=10)

    assert answer.status_code in (401, 403), answer.text


@pytest.mark.parametrize("api", NOTES_APIS)
def test_get_notes_takes_its_owner_from_the_token_only(lab: Any, tokens: Tokens, api: str) -> None:
    url = lab.api_url(api) + "/notes"
    customer = "auth0|customer-0001"
    written = requests.post(
        url,
        json={"text": f"the customer's own note on {api}"},
        headers={"Authorization": f"Bearer {tokens.customer}"},
        timeout=10,
    )
    assert written.status_code == 201, written.text
    assert written.json()["owner"] == customer

    answers = [
        requests.get(
            url,
            params=params,
            headers={"Authorization": f"Bearer {tokens.admin}", **headers},
            timeout=10,
        )
        for params, headers in [
            ({}, {"X-User-Id": customer}),
            ({"owner": customer}, {}),
            ({"owner": customer, "sub": customer}, {"X-User-Id": customer}),
        ]
    ]

    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["owner"] == "auth0|admin-0001"
        assert f"the customer's own note on {api}" not in answer.text
