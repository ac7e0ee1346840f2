"""A Cognito login in the web app gets what an Auth0 login gets: an expired copy of its token on
the Ping page, every Cognito API offered (our Lambda authorizer's too) with a Cognito one chosen
first, and Compare grid rows of its own tokens' copies. Real servers on loopback."""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any

import requests

from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from tests.test_cognito_web import cognito_login
from tests.test_cognito_web import ping
from tests.test_cognito_web import said
from tests.test_cognito_web import status_of
from tests.test_compare_page import run_grid
from webapp.tokens import decode


def radio(page: str, name: str, value: str) -> str:
    """The <input> tag of one radio button of the Ping form."""
    found = re.search(rf'<input type="radio" name="{name}" value="{value}"[^>]*>', page)
    assert found, f"no {name}={value} radio"
    return found.group(0)


def test_the_ping_page_offers_a_cognito_session_its_apis_and_an_expired_copy(lab: Any) -> None:
    browser = cognito_login(lab, *CUSTOMER)
    page = browser.get(lab.web_url + "/ping", timeout=5).text

    # A fresh Cognito session starts on an API that trusts its tokens.
    assert "checked" in radio(page, "api", "rest-cognito")
    assert "checked" not in radio(page, "api", "rest-token")
    assert "disabled" not in radio(page, "api", "rest-cognito-lambda")
    assert "REST API · Lambda TOKEN authorizer for the Cognito pool" in page
    assert "disabled" not in radio(page, "token", "expired")


def test_an_expired_cognito_token_is_refused_for_its_expiry(lab: Any) -> None:
    browser = cognito_login(lab, *CUSTOMER)

    fresh = ping(browser, lab, "rest-cognito-lambda", "GET /notes", "access")
    expired = ping(browser, lab, "rest-cognito", "GET /notes", "expired")
    expired_lambda = ping(browser, lab, "rest-cognito-lambda", "GET /notes", "expired")

    assert status_of(fresh) == "200"
    assert status_of(expired) == "401"
    assert "The incoming token has expired" in said(expired)
    assert "expired" in said(expired_lambda) and status_of(expired_lambda) == "401"


def test_an_auth0_session_still_starts_on_rest_token(lab: Any, actions: Any) -> None:
    browser = actions.login(*CUSTOMER)
    page = browser.get(lab.web_url + "/ping", timeout=5).text
    assert "checked" in radio(page, "api", "rest-token")


def test_the_compare_grid_of_a_cognito_admin_has_its_copies(lab: Any) -> None:
    browser = cognito_login(lab, *ADMIN)
    run = run_grid(lab, browser, "cognito")
    exported = browser.get(f"{lab.web_url}/compare/runs/{run}/export.json", timeout=10).json()

    rows = {v["id"]: v for v in exported["variants"]}
    skipped = {s["id"]: s["reason"] for s in exported["skipped"]}
    assert exported["run"]["user"] == "admin"
    assert rows["access-admin"]["label"] == "Admin's access token (Cognito)"
    for copy in ("expired", "not-yet-valid", "wrong-aud", "wrong-iss", "no-kid", "unknown-kid"):
        assert rows[copy]["signed_by"] == "local IdP (a copy)", copy
    assert rows["iss-no-slash"]["label"] == "iss with a trailing slash"
    assert not any("refused" in reason for reason in skipped.values()), skipped
    assert skipped["opaque"] == "Cognito issues no opaque access token"

    cells = {(c["variant"], c["api"], c["method"], c["path"]): c for c in exported["cells"]}
    assert cells[("access-admin", "RestCognitoApi", "GET", "/notes")]["status"] == 200
    assert cells[("id-token", "RestCognitoApi", "GET", "/private")]["status"] == 200
    assert cells[("expired", "RestCognitoApi", "GET", "/notes")]["status"] == 401
    assert cells[("expired", "HttpCognitoJwtApi", "GET", "/notes")]["status"] == 401
    assert cells[("tampered", "RestCognitoLambdaApi", "GET", "/notes")]["status"] == 401

    page = browser.get(f"{lab.web_url}/compare?run={run}", timeout=10).text
    assert "the local IdP refused the copy" not in page


def test_a_skipped_row_names_its_reason_after_its_label(lab: Any) -> None:
    browser = cognito_login(lab, *CUSTOMER)
    run = run_grid(lab, browser)
    page = browser.get(f"{lab.web_url}/compare?run={run}", timeout=10).text
    words = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))
    assert "Admin's access token: no admin access token (log in as the admin)." in words


def test_the_workshop_expires_a_cognito_token_and_the_pool_api_refuses_it(lab: Any) -> None:
    from tests.test_workshop import current
    from tests.test_workshop import post
    from tests.test_workshop import reveal

    browser = cognito_login(lab, *CUSTOMER)
    post(lab, browser, "/workshop", do="start-access")
    for preset in ("expire", "iss-slash"):
        header, claims = current(lab, browser)
        post(lab, browser, "/workshop", do=f"preset-{preset}", **workshop_form(header, claims))
    header, claims = current(lab, browser)
    assert claims["iss"] == f"{lab.idp_url}/us-east-1_AuthzLab1/"  # the slash added

    signed = post(
        lab, browser, "/workshop", do="sign", signer="idp", **workshop_form(header, claims)
    )
    assert signed.status_code == 200, said(signed)[:300]
    token_header, token_claims = decode(reveal(lab, browser))
    pool_kids = {
        k["kid"]
        for k in requests.get(
            f"{lab.idp_url}/us-east-1_AuthzLab1/.well-known/jwks.json", timeout=5
        ).json()["keys"]
    }
    assert token_header["kid"] in pool_kids and token_claims["exp"] < time.time()
    # The page reads the copy against the pool's issuer, not the Auth0 tenant's.
    assert (
        f"Issued by {lab.idp_url}/us-east-1_AuthzLab1/, not by {lab.idp_url}/us-east-1_AuthzLab1."
        in said(signed)
    )

    sent = post(lab, browser, "/workshop/send", api="rest-cognito", action="GET /notes")
    assert 'data-status="401"' in sent.text


def workshop_form(header: dict[str, Any], claims: dict[str, Any]) -> dict[str, str]:
    return {"header": json.dumps(header), "claims": json.dumps(claims)}


def test_the_tokens_page_of_a_cognito_login_explains_cognito_not_auth0(
    lab: Any, actions: Any
) -> None:
    m2m_sub_hint = "the app client id for a machine (client credentials)"
    cognito = said(cognito_login(lab, *CUSTOMER).get(lab.web_url + "/tokens", timeout=5))
    auth0 = said(actions.login(*CUSTOMER).get(lab.web_url + "/tokens", timeout=5))

    assert "The classic confusions" not in cognito and "An opaque access token" not in cognito
    assert "Cognito's tokens are shaped differently" in cognito
    assert m2m_sub_hint in cognito and "@clients for a machine" not in cognito
    assert "The classic confusions" in auth0 and "<client id>@clients for a machine" in auth0
