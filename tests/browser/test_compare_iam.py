"""A person opens an IAM cell of the Compare grid in Debian's Chromium: the credential row's
explanation (the principal, or the two canonical requests of a tampered signature) and the
`curl --aws-sigv4` to copy, as the Ping page shows an IAM call."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.test_compare import cell
from tests.browser.test_compare import run_the_grid
from tests.browser.test_login import log_in
from tests.conftest import CUSTOMER

pytestmark = pytest.mark.browser


def test_an_iam_cell_explains_the_signature_and_copies_as_curl_sigv4(page: Page, lab: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/compare")
    run_the_grid(page, "credential rows")

    row = page.locator('#grid tr[data-variant="iam-mine"] th.variant')
    expect(row).to_contain_text("My identity-pool credentials")
    expect(row).to_contain_text("SigV4")
    mine = cell(page, "iam-mine", "RestIamApi", "GET", "/private")
    expect(mine).to_have_attribute("data-status", "200")
    expect(cell(page, "iam-mine", "RestIamApi", "GET", "/admin")).to_contain_text("refused")
    # The same signature in a token column: no bearer token, refused.
    expect(cell(page, "iam-mine", "HttpJwtApi", "GET", "/private")).to_have_attribute(
        "data-status", "401"
    )

    tampered = cell(page, "iam-tampered", "HttpIamApi", "GET", "/private")
    expect(tampered).to_have_attribute("data-status", "403")
    tampered.get_by_role("link").click()
    detail = page.locator("#cell-detail")
    expect(detail).to_be_visible()
    expect(detail.locator(".explanation")).to_have_attribute("data-reason", "signature_mismatch")
    expect(detail.locator(".iam-call")).to_contain_text("Signed with: My credentials")
    expect(detail.locator(".canonical-compare")).to_be_visible()
    expect(detail.locator(".iam-same")).to_be_visible()  # arrived as signed: the signature lies
    expect(detail.locator("#curl")).to_contain_text("--aws-sigv4 aws:amz:us-east-1:execute-api")
    expect(detail.locator("#curl")).to_contain_text("$AWS_SECRET_ACCESS_KEY")

    page.locator("#grid").scroll_into_view_if_needed()
    mine.get_by_role("link").click()
    expect(detail.locator(".explanation")).to_have_attribute("data-reason", "iam_allowed")
    expect(detail).to_contain_text("assumed-role/")
    assert not errors
