"""A person on the Compare page and in the token workshop, in Debian's Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.conftest import CUSTOMER

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def run_the_grid(page: Page, note: str = "") -> str:
    """Press Run the grid, watch it fill, and wait for the saved run's page."""
    page.get_by_label("Note for this run").fill(note)
    before = page.url
    page.get_by_role("button", name="Run the grid").click()
    expect(page.locator("#compare-progress")).to_be_visible()
    page.wait_for_url(lambda url: url != before and "run=" in url, timeout=60_000)
    expect(page.locator("table.compare-grid")).to_be_visible()
    return page.url.split("run=")[1].split("&")[0]


def cell(page: Page, variant: str, api: str, method: str, path: str) -> Any:
    return page.locator(f'#grid td.cell[data-key="{variant}|{api}|{method}|{path}"]')


def test_run_the_grid_open_a_cell_flush_rerun_diff_and_export(
    page: Page, lab: Any, tmp_path: Path
) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, lab, *CUSTOMER)
    page.get_by_role("link", name="Compare").click()
    expect(
        page.get_by_role("heading", name="Compare every token with every authorizer")
    ).to_be_visible()

    first = run_the_grid(page, "first run")

    cells = page.locator("#grid td.cell[data-status]")
    total = cells.count()
    assert total >= 18 * 16
    admin = cell(page, "access-customer", "HttpJwtApi", "GET", "/admin")
    expect(admin).to_have_attribute("data-status", "403")
    expect(admin).to_contain_text("refused")  # readable without colour
    expect(admin).to_contain_text("authorizer")
    expect(cell(page, "no-token", "RestTokenApi", "GET", "/private")).to_contain_text("gateway")
    expect(cell(page, "id-token", "HttpLambdaApi", "GET", "/private")).to_contain_text(
        "styles disagree"
    )
    expect(page.locator(".disagreements")).to_contain_text("simple-response")
    expect(page.locator("#skipped")).to_be_visible()

    page.set_viewport_size({"width": 2600, "height": 1000})
    shot = tmp_path / "compare.png"
    page.locator("#grid-card").screenshot(path=str(shot))
    if os.environ.get("LAB_UPDATE_SCREENSHOTS"):
        shutil.copy(shot, ROOT / "docs" / "compare.png")

    admin.get_by_role("link").click()
    detail = page.locator("#cell-detail")
    expect(detail).to_be_visible()
    expect(detail.locator(".explanation")).to_have_attribute("data-reason", "insufficient_scope")
    expect(detail).to_contain_text("The gateway's trace")

    # A rerun meets API Gateway's result cache; after a flush the authorizers run again.
    cached = run_the_grid(page, "cache warm")
    expect(page.locator("#diff")).to_contain_text(f"Changes since run {first}")
    expect(cell(page, "access-customer", "RestTokenApi", "GET", "/private")).to_contain_text(
        "cached"
    )
    page.get_by_role("button", name="Flush the authorizer cache").click()
    served = len(lab.gateway.model.apis)  # every API of the catalogue answers the flush
    expect(page.locator(".flash")).to_contain_text(
        f"Flushed the authorizer result cache of {served} APIs"
    )
    run_the_grid(page, "after the flush")
    diff = page.locator("#diff")
    expect(diff).to_contain_text(f"Changes since run {cached}")
    admin_cell = cell(page, "access-customer", "RestTokenApi", "GET", "/admin")
    expect(admin_cell).to_contain_text("invoked")
    expect(admin_cell).to_have_class(re.compile(r"changed-cache"))
    expect(admin_cell).to_contain_text("was 403 · authorizer · insufficient_permission · cached")
    expect(diff.locator("tr.changed-cache").first).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Markdown").click()
    markdown = Path(download_info.value.path()).read_text()
    assert "| Customer's access token |" in markdown or "Customer's access token" in markdown
    assert "after the flush" in markdown
    assert "Customer's access token" in markdown
    assert errors == []


def test_the_progress_bar_counts_the_cells_as_they_arrive(page: Page, lab: Any) -> None:
    polls: list[dict[str, Any]] = []

    def record(route: Any) -> None:
        # Read each poll's answer on its way to the page (the page leaves once the run is saved).
        answer = route.fetch()
        polls.append(answer.json())
        route.fulfill(response=answer)

    page.route("**/compare/jobs/**", record)
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/compare")

    page.get_by_role("button", name="Run the grid").click()

    expect(page.locator("#compare-progress progress")).to_be_visible()
    expect(page.locator("#compare-progress-text")).to_contain_text("calls")
    page.wait_for_url("**run=**", timeout=60_000)
    done = [poll["done"] for poll in polls]
    assert done == sorted(done) and done[-1] == polls[-1]["total"] > 100
    assert polls[-1]["finished"] and polls[-1]["run"] in page.url
    # Each poll carries the grid so far: finished cells have a status, the rest wait.
    assert polls[-1]["grid"].count("data-status=") == polls[-1]["total"]
    if len(polls) > 1 and polls[0]["done"] < polls[0]["total"]:
        assert "… waiting" in polls[0]["grid"]


def test_the_compare_page_works_without_javascript(browser: Browser, lab: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/compare")
    expect(page.locator("#compare-progress")).to_be_hidden()  # no run, nothing to count

    page.get_by_role("button", name="Run the grid").click()

    expect(page.locator("table.compare-grid")).to_be_visible(timeout=60_000)
    expect(page.locator("#compare-progress")).to_be_hidden()
    expect(cell(page, "access-customer", "RestRequestApi", "GET", "/private")).to_have_attribute(
        "data-status", "200"
    )
    cell(page, "tampered", "RestRequestApi", "GET", "/private").get_by_role("link").click()
    expect(page.locator(".explanation")).to_have_attribute("data-reason", "bad_signature")
    context.close()


def test_the_workshop_expires_a_token_and_sends_it(page: Page, lab: Any) -> None:
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/workshop")
    html_before = page.content()

    page.get_by_role("button", name="Expire it (an hour ago)").click()
    page.get_by_role("button", name="Sign and decode").click()
    expect(page.locator("#workshop-token")).to_contain_text("This token expired")
    page.get_by_label("API").select_option("rest-token")
    page.get_by_label("Route").select_option("GET /private")
    page.get_by_role("button", name="Send").click()

    expect(page.locator("#result .status")).to_have_attribute("data-status", "401")
    expect(page.locator("#result .explanation")).to_have_attribute("data-reason", "token_expired")
    expect(page.locator("#curl")).to_contain_text("$ACCESS_TOKEN")
    page.get_by_role("button", name="Reveal the edited token").click()
    token = page.get_by_label("Raw edited token").input_value()
    assert token.count(".") == 2
    assert token.split(".")[2] not in html_before


def test_the_workshop_forges_with_the_attacker_key(page: Page, lab: Any) -> None:
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/workshop")
    page.get_by_role("button", name="Another audience").click()
    page.get_by_label("the attacker's throw-away RSA key (RS256, a forgery)").check()
    page.get_by_role("button", name="Sign and decode").click()
    expect(page.locator("#workshop-token")).to_contain_text("another-api.example")
    page.get_by_label("API").select_option("http-jwt")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#result .status")).to_have_attribute("data-status", "401")
    expect(page.locator("#result .explanation")).to_have_attribute("data-reason", "bad_signature")
