"""A Cognito login in the web app gets what an Auth0 login gets: an expired copy of its token on
the Ping page, every Cognito API offered (our Lambda authorizer's too) with a Cognito one chosen
first, and Compare grid rows of its own tokens' copies. Real servers on loopback."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from tests.test_cognito_web import cognito_login
from tests.test_cognito_web import ping
from tests.test_cognito_web import said
from tests.test_cognito_web import status_of
from tests.test_compare_page import run_grid


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
