"""A person logs in with the Cognito user pool, calls the Cognito API and logs out, in Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.test_ping import status
from tests.conftest import CUSTOMER

pytestmark = pytest.mark.browser
REST_COGNITO = "REST API · Cognito user pool authorizer"


def call(page: Page, button: str, token: str) -> None:
    """Choose a token, press a button of the Ping page, wait for the answer."""
    page.get_by_label(token, exact=True).check()
    previous = page.locator("#result").inner_html()
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_function(
        "prev => document.getElementById('result').innerHTML !== prev", arg=previous
    )


def test_log_in_with_cognito_call_the_cognito_api_log_out(page: Page, lab: Any) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(lab.web_url + "/")

    page.get_by_role("link", name="Log in with Cognito (local)").click()
    expect(page).to_have_url(
        re.compile(re.escape(f"{lab.idp_url}/cognito/authorizer-lab/oauth2/authorize?"))
    )
    page.get_by_label("Email").fill(CUSTOMER[0])
    page.get_by_label("Password").fill(CUSTOMER[1])
    page.get_by_role("button", name="Continue").click()

    expect(page.locator("strong.email")).to_have_text(CUSTOMER[0])
    expect(page.locator("strong.provider")).to_have_text("Cognito")

    page.goto(lab.web_url + "/ping")
    page.get_by_label(REST_COGNITO, exact=True).check()
    call(page, "Call Private", "My ID token (the classic mistake)")
    expect(status(page)).to_have_attribute("data-status", "200")
    call(page, "List notes", "My access token")
    expect(status(page)).to_have_attribute("data-status", "200")
    call(page, "Call Private", "My access token")
    expect(status(page)).to_have_attribute("data-status", "401")
    # The surprise, explained: the method lists no scopes, so only ID tokens pass.
    expect(page.locator("#result")).to_contain_text("takes only ID tokens")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in with Cognito (local)")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(CUSTOMER[0])
    assert errors == []
