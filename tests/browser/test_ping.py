"""A person on the Ping page and the token inspector, in Debian's Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.conftest import ADMIN
from tests.conftest import CUSTOMER

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]

API_TITLES = {
    "rest-token": "REST API · Lambda TOKEN authorizer",
    "rest-request": "REST API · Lambda REQUEST authorizer",
    "http-lambda": "HTTP API · Lambda authorizer, simple responses",
    "http-jwt": "HTTP API · built-in JWT authorizer",
}


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def ping(page: Page, button: str, api: str = "rest-token", token: str | None = None) -> None:
    """Choose an API (and a token), press a button, wait for the answer."""
    page.get_by_label(API_TITLES[api], exact=True).check()
    if token:
        page.get_by_label(token, exact=True).check()
    previous = page.locator("#result").inner_html()
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.locator("#result")).not_to_have_attribute("aria-busy", "true")
    page.wait_for_function(
        "prev => document.getElementById('result').innerHTML !== prev", arg=previous
    )


def status(page: Page) -> Any:
    return page.locator("#result .status")


def test_logged_out_public_works_and_private_is_401(
    page: Page, lab: Any, console_errors: list[str]
) -> None:
    page.goto(lab.web_url + "/ping")

    ping(page, "Call Public")
    expect(status(page)).to_have_attribute("data-status", "200")
    expect(page.locator("#result")).to_contain_text("Welcome to our Public API!")

    ping(page, "Call Private")
    expect(status(page)).to_have_attribute("data-status", "401")
    expect(page.locator("#result .explanation")).to_contain_text("no Authorization header")
    expect(page.locator("#result .curl")).not_to_contain_text("Authorization")
    assert console_errors == []


def test_customer_private_admin_and_notes(
    page: Page, lab: Any, console_errors: list[str], tmp_path: Path
) -> None:
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")

    ping(page, "Call Private")
    expect(status(page)).to_have_attribute("data-status", "200")
    expect(page.locator("#result")).to_contain_text("Only logged in users can see this")

    ping(page, "Call Admin")
    expect(status(page)).to_have_attribute("data-status", "403")
    expect(page.locator("#result .explanation")).to_have_attribute(
        "data-reason", "insufficient_permission"
    )
    expect(page.locator("#result .explanation")).to_contain_text("read:admin")
    shot = tmp_path / "ping.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("LAB_UPDATE_SCREENSHOTS"):
        shutil.copy(shot, ROOT / "docs" / "ping.png")

    page.get_by_label("Note text").fill("Remember the milk")
    ping(page, "Add note")
    expect(status(page)).to_have_attribute("data-status", "201")
    ping(page, "List notes")
    expect(status(page)).to_have_attribute("data-status", "200")
    expect(page.locator("#result .body")).to_contain_text("Remember the milk")
    assert console_errors == []


def test_admin_may_call_admin(page: Page, lab: Any) -> None:
    log_in(page, lab, *ADMIN)
    page.goto(lab.web_url + "/ping")

    ping(page, "Call Admin", api="http-jwt")

    expect(status(page)).to_have_attribute("data-status", "200")
    expect(page.locator("#result")).to_contain_text("admin area")


@pytest.mark.parametrize(
    ("api", "with_id_token"),
    [
        ("rest-token", 401),
        ("rest-request", 401),
        ("http-lambda", 403),
        ("http-jwt", 401),
    ],
)
def test_each_authorizer_style_answers_as_aws_would(
    page: Page, lab: Any, api: str, with_id_token: int
) -> None:
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")

    ping(page, "Call Private", api=api, token="My access token")
    expect(status(page)).to_have_attribute("data-status", "200")

    ping(page, "Call Private", api=api, token="My ID token (the classic mistake)")
    expect(status(page)).to_have_attribute("data-status", str(with_id_token))
    expect(page.locator("#result .explanation")).to_have_attribute("data-reason", "id_token")
    expect(page.locator("#result .explanation")).to_contain_text("ID token")


def test_a_tampered_token_is_refused_as_forged(page: Page, lab: Any) -> None:
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")

    ping(page, "Call Private", token="My access token with one signature character changed")

    expect(status(page)).to_have_attribute("data-status", "401")
    expect(page.locator("#result .explanation")).to_have_attribute("data-reason", "bad_signature")


def test_tokens_stay_out_of_the_page_until_revealed(
    page: Page, lab: Any, console_errors: list[str]
) -> None:
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")
    ping(page, "Call Private")
    ping(page, "Call Admin", api="http-lambda")
    ping_html = page.content()
    page.goto(lab.web_url + "/tokens")
    tokens_html = page.content()

    page.get_by_role("button", name="Reveal my access token").click()
    revealed = page.get_by_label("Raw access token")
    expect(revealed).to_be_visible()
    token = revealed.input_value()

    assert token.count(".") == 2 and len(token) > 200
    assert token not in ping_html and token not in tokens_html
    assert token.split(".")[2] not in ping_html + tokens_html
    assert console_errors == []


def test_the_inspector_shows_both_tokens_and_flags_the_id_tokens_audience(
    page: Page, lab: Any
) -> None:
    log_in(page, lab, *CUSTOMER)

    page.goto(lab.web_url + "/tokens")

    id_card = page.locator("article.token-view", has_text="ID token").first
    access_card = page.locator("article.token-view[data-role='access token']")
    expect(id_card.locator(".role")).to_have_text("ID token")
    expect(access_card.locator(".role")).to_have_text("access token")
    expect(id_card.locator(".alert")).to_contain_text("client id lab-webapp")
    expect(id_card.locator("tr[data-claim='aud']")).to_have_class("differs")
    expect(access_card.locator("tr[data-claim='aud']")).to_contain_text(
        "https://api.authorizer-lab.local"
    )
    expect(access_card.locator("tr[data-claim='exp']")).to_contain_text("in 24 hours")


def test_the_ping_page_works_without_javascript(browser: Browser, lab: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(lab.web_url + "/ping")

    page.get_by_role("button", name="Call Public", exact=True).click()

    expect(page.locator("#result .status")).to_have_attribute("data-status", "200")
    context.close()


def test_the_flow_diagram_lights_the_last_calls_hops(page: Page, lab: Any) -> None:
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")
    ping(page, "Call Private", api="rest-request")

    page.goto(lab.web_url + "/")

    expect(page.locator("figure.flow figcaption")).to_contain_text("Call Private")
    assert page.locator(".flow-svg line.hop.active").count() >= 3


def test_dark_mode(browser: Browser, lab: Any) -> None:
    context = browser.new_context(color_scheme="dark")
    page = context.new_page()
    page.goto(lab.web_url + "/")

    background = page.evaluate("getComputedStyle(document.body).backgroundColor")

    assert background == "rgb(17, 19, 24)"
    context.close()
