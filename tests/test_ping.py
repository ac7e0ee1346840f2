"""The Ping endpoints over HTTP: CSRF, the allowlist, and what a logged-out caller may send."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import CUSTOMER
from tests.conftest import LabActions
from tests.conftest import form_fields
from webapp import create_app


def page_form(session: requests.Session, lab: Any) -> dict[str, str]:
    return form_fields(session.get(f"{lab.web_url}/ping", timeout=5).text)


def test_calls_need_the_csrf_token(lab: Any) -> None:
    response = requests.post(
        f"{lab.web_url}/ping/call",
        timeout=5,
        data={"api": "rest-token", "action": "GET /public", "token": "none"},
    )

    assert response.status_code == 400
    assert "This form has expired" in response.text


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"api": "rest-token", "action": "delete-everything"}, 400, "Unknown action"),
        ({"api": "https://evil.example", "action": "GET /public"}, 400, "Unknown API"),
        ({"api": "rest-token", "action": "GET /public", "token": "stolen"}, 400, "Unknown token"),
        ({"api": "rest-token", "action": "GET /private", "token": "access"}, 401, "Log in first"),
        ({"api": "rest-token", "action": "POST /notes", "text": "x" * 501}, 400, "at most 500"),
    ],
    ids=["unknown-action", "url-instead-of-api", "unknown-token", "logged-out-token", "long-note"],
)
def test_bad_choices_are_refused_clearly(
    lab: Any, data: dict[str, str], status: int, message: str
) -> None:
    browser = requests.Session()
    response = browser.post(
        f"{lab.web_url}/ping/call",
        timeout=5,
        data={**page_form(browser, lab), "token": "none", **data},
        headers={"X-Requested-With": "fetch"},
    )

    assert response.status_code == status
    assert message in response.text


def test_without_javascript_the_whole_page_comes_back(lab: Any) -> None:
    browser = requests.Session()
    response = browser.post(
        f"{lab.web_url}/ping/call",
        timeout=5,
        data={
            **page_form(browser, lab),
            "api": "http-jwt",
            "action": "GET /private",
            "token": "none",
        },
    )

    assert response.status_code == 200
    assert "<html" in response.text
    assert 'data-status="401"' in response.text


def test_the_web_app_adds_the_token_server_side(lab: Any, actions: LabActions) -> None:
    browser = actions.login(*CUSTOMER)
    response = browser.post(
        f"{lab.web_url}/ping/call",
        timeout=5,
        data={
            **page_form(browser, lab),
            "api": "rest-request",
            "action": "GET /private",
            "token": "access",
        },
        headers={"X-Requested-With": "fetch"},
    )

    assert 'data-status="200"' in response.text
    assert "auth0|customer-0001" in response.text
    assert "eyJ" not in response.text  # the fragment never carries a token


def test_reveal_needs_login_csrf_and_a_known_token(lab: Any, actions: LabActions) -> None:
    forged = requests.post(
        f"{lab.web_url}/tokens/reveal", data={"which": "access"}, timeout=5, allow_redirects=False
    )
    stranger = requests.Session()
    logged_out = stranger.post(
        f"{lab.web_url}/tokens/reveal",
        allow_redirects=False,
        data={**page_form(stranger, lab), "which": "access"},
        timeout=5,
    )
    browser = actions.login(*CUSTOMER)
    fields = form_fields(browser.get(f"{lab.web_url}/tokens", timeout=5).text)
    unknown = browser.post(
        f"{lab.web_url}/tokens/reveal",
        timeout=5,
        data={**fields, "which": "refresh"},
        headers={"X-Requested-With": "fetch"},
    )
    revealed = browser.post(
        f"{lab.web_url}/tokens/reveal",
        timeout=5,
        data={**fields, "which": "access"},
        headers={"X-Requested-With": "fetch"},
    )

    assert forged.status_code == 400  # no CSRF token
    assert logged_out.status_code == 302 and logged_out.headers["Location"].endswith("/login")
    assert "eyJ" not in logged_out.text
    assert unknown.status_code == 400
    assert revealed.json()["token"].count(".") == 2


def test_an_unreachable_gateway_is_explained() -> None:
    app = create_app(
        {"TESTING": True, "WTF_CSRF_ENABLED": False}, environ={"API_BASE_URL": "http://127.0.0.1:9"}
    )
    client = app.test_client()

    page = client.get("/ping")
    call = client.post(
        "/ping/call", data={"api": "rest-token", "action": "GET /public", "token": "none"}
    )

    assert "No API is reachable" in page.text
    assert call.status_code == 503
    assert "not reachable" in call.text


def test_deployed_api_urls_are_used_without_a_trace() -> None:
    app = create_app(
        {"TESTING": True},
        environ={
            "API_BASE_URL": "http://127.0.0.1:9",
            "API_URL_HTTP_JWT": "https://abc.execute-api.eu-west-1.amazonaws.com/dev",
        },
    )

    targets = app.extensions["api_directory"].targets()

    assert list(targets) == ["http-jwt"]
    assert targets["http-jwt"].trace_url is None


@pytest.mark.parametrize(
    ("token", "api", "action", "status", "owner"),
    [
        ("m2m-reader", "rest-token", "GET /notes", 200, "lab-m2m-reader@clients"),
        ("m2m-reader", "rest-token", "POST /notes", 403, None),
        ("m2m-reader", "http-jwt", "POST /notes", 403, None),
        ("m2m-writer", "http-jwt", "POST /notes", 201, "lab-m2m-writer@clients"),
        ("m2m-writer", "http-lambda", "GET /admin", 403, None),
    ],
)
def test_m2m_client_tokens_get_what_their_scopes_allow(
    lab: Any, token: str, api: str, action: str, status: int, owner: str | None
) -> None:
    browser = requests.Session()  # logged out: machine tokens need no person
    response = browser.post(
        f"{lab.web_url}/ping/call",
        timeout=10,
        data={
            **page_form(browser, lab),
            "api": api,
            "action": action,
            "token": token,
            "text": "from a machine",
        },
        headers={"X-Requested-With": "fetch"},
    )

    assert f'data-status="{status}"' in response.text
    if owner:
        assert owner in response.text
    assert "client_credentials" in response.text  # how to get the token yourself
    assert "-secret-for-local-use-only" not in response.text
