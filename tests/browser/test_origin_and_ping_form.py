"""In Chromium: login from http://127.0.0.1 works, the Ping page keeps what was chosen without
JavaScript, and Enter in the note field adds the note."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.test_ping import API_TITLES
from tests.conftest import CUSTOMER

pytestmark = pytest.mark.browser


def test_login_started_at_127_0_0_1_ends_logged_in_at_the_origin(page: Page, lab: Any) -> None:
    port = urlsplit(lab.web_url).port
    page.goto(f"http://127.0.0.1:{port}/")
    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("Email").fill(CUSTOMER[0])
    page.get_by_label("Password").fill(CUSTOMER[1])
    page.get_by_role("button", name="Continue").click()

    expect(page.locator("strong.email")).to_have_text(CUSTOMER[0])
    assert page.url == f"{lab.web_url}/"


def test_without_javascript_the_ping_page_keeps_the_choice(browser: Browser, lab: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(lab.web_url + "/ping")
    page.get_by_label(API_TITLES["http-jwt"], exact=True).check()
    page.get_by_label("M2M token of the notes reader (read:notes)", exact=True).check()

    page.get_by_role("button", name="List notes", exact=True).click()

    expect(page.locator("#result .status")).to_have_attribute("data-status", "200")
    expect(page.get_by_label(API_TITLES["http-jwt"], exact=True)).to_be_checked()
    expect(page.get_by_label("M2M token of the notes reader (read:notes)")).to_be_checked()
    expect(page.locator("button.primary")).to_have_count(1)
    expect(page.locator("button.primary")).to_have_text("List notes")
    context.close()


def test_enter_in_the_note_field_adds_the_note(page: Page, lab: Any) -> None:
    page.goto(lab.web_url + "/ping")
    page.get_by_label(API_TITLES["rest-token"], exact=True).check()
    page.get_by_label("M2M token of the notes writer (read:notes write:notes)").check()
    page.get_by_label("Note text").fill("Pressed Enter")

    page.get_by_label("Note text").press("Enter")

    expect(page.locator("#result .status")).to_have_attribute("data-status", "201")
    expect(page.locator("#result")).to_contain_text("Pressed Enter")
    expect(page.locator("button.primary")).to_have_text("Add note")
