"""The token workshop over HTTP: edits signed by the local IdP or forged, sent through the real
gateway, the edited token kept server-side until revealed."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.conftest import CUSTOMER
from tests.conftest import LabActions
from tests.conftest import form_fields
from webapp.tokens import decode


@pytest.fixture
def browser(lab: Any) -> requests.Session:
    return LabActions(lab).login(*CUSTOMER)


def post(lab: Any, browser: requests.Session, path: str, **data: str) -> requests.Response:
    page = browser.get(lab.web_url + "/workshop", timeout=10)
    return browser.post(lab.web_url + path, data={**form_fields(page.text), **data}, timeout=20)


def current(lab: Any, browser: requests.Session) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims the form now holds (the page's textareas)."""
    html = browser.get(lab.web_url + "/workshop", timeout=10).text
    import html as markup
    import re

    header = re.search(r'name="header"[^>]*>(.*?)</textarea>', html, re.S)
    claims = re.search(r'name="claims"[^>]*>(.*?)</textarea>', html, re.S)
    assert header and claims
    return json.loads(markup.unescape(header.group(1))), json.loads(
        markup.unescape(claims.group(1))
    )


def reveal(lab: Any, browser: requests.Session) -> str:
    page = browser.get(lab.web_url + "/workshop", timeout=10)
    answer = browser.post(
        lab.web_url + "/workshop/reveal",
        data=form_fields(page.text),
        headers={"X-Requested-With": "fetch", "X-CSRFToken": form_fields(page.text)["csrf_token"]},
        timeout=10,
    )
    assert answer.status_code == 200
    return answer.json()["token"]


def test_the_local_idp_signs_a_wrong_audience_copy_and_the_api_refuses_it(
    lab: Any, browser: requests.Session
) -> None:
    post(lab, browser, "/workshop", do="start-access")
    header, claims = current(lab, browser)
    post(
        lab,
        browser,
        "/workshop",
        do="preset-aud",
        header=json.dumps(header),
        claims=json.dumps(claims),
    )
    header, claims = current(lab, browser)
    assert claims["aud"] == "https://another-api.example.com"

    signed = post(
        lab,
        browser,
        "/workshop",
        do="sign",
        signer="idp",
        header=json.dumps(header),
        claims=json.dumps(claims),
    )
    assert signed.status_code == 200, signed.text[:300]
    token = reveal(lab, browser)
    assert token.split(".")[2] not in signed.text  # shown only when asked
    assert decode(token)[1]["aud"] == "https://another-api.example.com"

    sent = post(lab, browser, "/workshop/send", api="rest-token", action="GET /private")
    assert 'data-status="401"' in sent.text
    assert 'data-reason="wrong_audience"' in sent.text
    assert "$ACCESS_TOKEN" in sent.text and token.split(".")[2] not in sent.text


def test_the_idp_refuses_to_sign_a_changed_alg_and_says_why(
    lab: Any, browser: requests.Session
) -> None:
    post(lab, browser, "/workshop", do="start-access")
    header, claims = current(lab, browser)
    answer = post(
        lab,
        browser,
        "/workshop",
        do="sign",
        signer="idp",
        header=json.dumps({**header, "alg": "RS512"}),
        claims=json.dumps(claims),
    )
    assert answer.status_code == 400
    assert "can drop or replace <code>kid</code> but not change alg" in answer.text


@pytest.mark.parametrize(
    ("preset", "reason"),
    [
        ("alg-none", "malformed_token"),
        ("alg-hs256", "alg_not_allowed"),
        ("drop-kid", "kid_missing"),
    ],
)
def test_forgeries_are_refused_by_the_lambda_authorizer(
    lab: Any, browser: requests.Session, preset: str, reason: str
) -> None:
    post(lab, browser, "/workshop", do="start-access")
    header, claims = current(lab, browser)
    post(
        lab,
        browser,
        "/workshop",
        do=f"preset-{preset}",
        header=json.dumps(header),
        claims=json.dumps(claims),
    )
    header, claims = current(lab, browser)
    signer = {"alg-none": "none", "alg-hs256": "hs256-public", "drop-kid": "attacker"}[preset]
    signed = post(
        lab,
        browser,
        "/workshop",
        do="sign",
        signer=signer,
        header=json.dumps(header),
        claims=json.dumps(claims),
    )
    assert signed.status_code == 200, signed.text[:300]
    sent = post(lab, browser, "/workshop/send", api="rest-request", action="GET /private")
    assert 'data-status="401"' in sent.text
    assert f'data-reason="{reason}"' in sent.text


def test_bad_json_is_a_clear_error(lab: Any, browser: requests.Session) -> None:
    answer = post(lab, browser, "/workshop", do="sign", signer="attacker", header="{", claims="{}")
    assert answer.status_code == 400
    assert "The header is not valid JSON" in answer.text
    answer = post(lab, browser, "/workshop", do="sign", signer="attacker", header="[]", claims="{}")
    assert "The header must be a JSON object" in answer.text
    deep = "[" * 1999 + "]" * 1999  # within the length limit, past the parser's depth
    answer = post(lab, browser, "/workshop", do="sign", signer="attacker", header=deep, claims="{}")
    assert answer.status_code == 400
    assert "The header nests too deeply" in answer.text


def test_send_without_a_token_and_reveal_without_one(lab: Any) -> None:
    browser = LabActions(lab).login(*CUSTOMER)
    answer = post(lab, browser, "/workshop/send", api="rest-token", action="GET /private")
    assert answer.status_code == 400 and "Sign a token first" in answer.text


def test_send_offers_every_api_of_the_catalogue(lab: Any, browser: requests.Session) -> None:
    import re

    post(lab, browser, "/workshop", do="start-access")
    header, claims = current(lab, browser)
    post(
        lab,
        browser,
        "/workshop",
        do="preset-aud",
        header=json.dumps(header),
        claims=json.dumps(claims),
    )
    header, claims = current(lab, browser)
    signed = post(
        lab,
        browser,
        "/workshop",
        do="sign",
        signer="idp",
        header=json.dumps(header),
        claims=json.dumps(claims),
    )
    assert signed.status_code == 200, signed.text[:300]
    page = browser.get(lab.web_url + "/workshop", timeout=10).text
    start = page.index('id="ws-api"')
    offered = re.findall(r'<option value="([^"]+)"', page[start : page.index("</select>", start)])
    catalogue = requests.get(lab.gateway_url + "/", timeout=10).json()
    assert len(offered) == len(catalogue["apis"])
    # The lab's styles under their keys (the Cognito ones among them); any other API under
    # its logical id.
    assert {"rest-token", "http-jwt", "rest-cognito", "http-cognito-jwt"} <= set(offered)

    sent = post(lab, browser, "/workshop/send", api="rest-cognito", action="GET /private")
    assert sent.status_code == 200
    # The tenant's token on the pool's API: refused by API Gateway's Cognito authorizer.
    assert 'data-status="401"' in sent.text
