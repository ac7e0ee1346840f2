"""A person logs in and out through the browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.conftest import ADMIN
from tests.conftest import CUSTOMER

pytestmark = pytest.mark.browser


def log_in(page: Page, lab: Any, email: str, password: str) -> None:
    page.goto(lab.web_url + "/")
    page.get_by_role("link", name="Log in").first.click()
    expect(page.get_by_label("Email")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()


@pytest.mark.parametrize(("email", "password"), [CUSTOMER, ADMIN], ids=["customer", "admin"])
def test_log_in_see_email_log_out(page: Page, lab: Any, email: str, password: str) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    log_in(page, lab, email, password)

    expect(page.locator("strong.email")).to_have_text(email)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in").first).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(email)
    assert errors == []


def test_wrong_password_shows_the_form_again(page: Page, lab: Any) -> None:
    log_in(page, lab, CUSTOMER[0], "not-the-password")

    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Email")).to_have_value(CUSTOMER[0])
