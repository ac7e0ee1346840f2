"""An IAM (SigV4) call from the Ping page, in Debian's Chromium: the customer's identity-pool
credentials open /private and not /admin (with the policy that decided), the admin's open
/admin; the snippets are on the page as selectable text, with variables, not keys."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.browser.test_ping import console_errors  # noqa: F401 (a fixture)
from tests.browser.test_ping import status
from tests.conftest import ADMIN
from tests.conftest import CUSTOMER

pytestmark = pytest.mark.browser
MINE = "My identity-pool credentials (my ID token exchanged at the identity pool)"


def iam_call(page: Page, button: str, api: str = "REST API · IAM (SigV4)") -> None:
    page.get_by_label(api, exact=True).check()
    page.get_by_label(MINE, exact=True).check()
    previous = page.locator("#result").inner_html()
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_function(
        "prev => document.getElementById('result').innerHTML !== prev", arg=previous
    )
    expect(page.locator("#result")).not_to_have_attribute("aria-busy", "true")


def test_the_customer_signs_private_200_and_admin_403_with_the_policy(
    page: Page,
    lab: Any,
    console_errors: list[str],  # noqa: F811
) -> None:
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")

    iam_call(page, "Call Private")
    expect(status(page)).to_have_attribute("data-status", "200")
    expect(page.locator("#result .iam-signed")).to_contain_text("execute-api/aws4_request")
    expect(page.locator("#result #curl")).to_contain_text(
        "--aws-sigv4 aws:amz:us-east-1:execute-api"
    )
    expect(page.locator("#result #curl")).to_contain_text("$AWS_SESSION_TOKEN")
    expect(page.locator("#result #iam-botocore")).to_contain_text('os.environ["ID_TOKEN"]')

    iam_call(page, "Call Admin")
    expect(status(page)).to_have_attribute("data-status", "403")
    steps = page.locator("#result .steps")
    expect(steps).to_contain_text("IdentityPoolAuthenticatedRole")
    expect(steps).to_contain_text("its identity policies: invoke-private-and-notes")
    expect(steps).to_contain_text("No statement of its policies allows execute-api:Invoke")
    assert console_errors == []


def test_the_admin_signs_admin_200(page: Page, lab: Any) -> None:
    log_in(page, lab, *ADMIN)
    page.goto(lab.web_url + "/ping")

    iam_call(page, "Call Admin", api="HTTP API · IAM (SigV4)")

    expect(status(page)).to_have_attribute("data-status", "200")
    expect(page.locator("#result .steps")).to_contain_text("IdentityPoolAdminRole")


def test_without_javascript_the_iam_call_comes_back_as_a_page(browser: Any, lab: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")

    page.get_by_label("REST API · IAM (SigV4)", exact=True).check()
    page.get_by_label(MINE, exact=True).check()
    page.get_by_role("button", name="Call Private", exact=True).click()

    expect(status(page)).to_have_attribute("data-status", "200")
    expect(page.locator("#curl")).to_contain_text("$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
    context.close()
