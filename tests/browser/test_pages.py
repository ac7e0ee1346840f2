"""Pages that read well, in Debian's Chromium: at phone width and on a desktop, light and dark,
with and without JavaScript."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.browser.test_ping import ping
from tests.conftest import CUSTOMER

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# For every table cell: is it narrower than the longest word it holds (up to 24 characters:
# a token or a URL may wrap)? The word is measured in the cell's own font, on one line.
SQUEEZED_CELLS = """() => {
  const squeezed = [];
  for (const cell of document.querySelectorAll("main td, main th")) {
    if (!cell.offsetParent) continue;  // hidden (a closed <details>)
    const style = getComputedStyle(cell);
    const room = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const texts = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = texts.nextNode(); node; node = texts.nextNode()) {
      for (const word of node.textContent.split(/\\s+/)) {
        if (!word || word.length > 24) continue;
        // Measured where it is written (a <code> has its own font), on one line.
        const probe = document.createElement("span");
        probe.style.whiteSpace = "nowrap";
        probe.style.position = "absolute";
        probe.textContent = word;
        node.parentElement.appendChild(probe);
        const needed = probe.getBoundingClientRect().width;
        probe.remove();
        if (room + 1 < needed) squeezed.push(`${word}: ${needed.toFixed(0)}>${room.toFixed(0)}`);
      }
    }
  }
  return squeezed;
}"""


@pytest.fixture(params=["light", "dark"])
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_no_table_cell_is_narrower_than_a_word(
    browser: Browser, lab: Any, viewport: dict[str, int], scheme: str
) -> None:
    context = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")
    ping(page, "Call Private", api="http-lambda")
    squeezed = {"ping": page.evaluate(SQUEEZED_CELLS)}
    page.get_by_label("Note text").fill("Remember the milk")
    ping(page, "Add note")
    ping(page, "List notes")
    squeezed["notes"] = page.evaluate(SQUEEZED_CELLS)
    for path in ("/", "/tokens", "/profile", "/compare", "/workshop"):
        page.goto(lab.web_url + path)
        squeezed[path] = page.evaluate(SQUEEZED_CELLS)
        # Nothing but the Compare grid (which scrolls in its own box) is wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], path
    context.close()

    assert {page_: cells for page_, cells in squeezed.items() if cells} == {}


def test_claims_read_as_json_with_rounded_times_and_the_exact_local_time(
    browser: Browser, lab: Any
) -> None:
    context = browser.new_context(viewport=PHONE, timezone_id="Pacific/Auckland")
    page = context.new_page()
    log_in(page, lab, *CUSTOMER)

    for path in ("/tokens", "/profile"):
        page.goto(lab.web_url + path)
        cells = page.locator("table.claims td").all_inner_texts()
        assert cells and not [cell for cell in cells if "True" in cell or "False" in cell], path
    page.goto(lab.web_url + "/profile")
    expect(page.locator("table.claims tr", has_text="email_verified").locator("td")).to_have_text(
        "true"
    )

    page.goto(lab.web_url + "/tokens")
    exp = page.locator("article.token-view[data-role='access token'] tr[data-claim='exp'] td")
    # A token that lives 24 hours expires "in 24 hours", not "in 23 hours".
    expect(exp).to_contain_text("in 24 hours")
    # The exact time beside it, in the browser's time zone (not the ISO UTC the server wrote).
    shown = exp.locator("time").inner_text()
    assert "T" not in shown and "+00:00" not in shown
    context.close()


def test_notes_read_as_notes_with_whose_they_are(browser: Browser, lab: Any) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")

    page.get_by_label("Note text").fill("Water the plants")
    ping(page, "Add note")
    ping(page, "List notes")
    notes = page.locator("#result section.notes")
    expect(notes.locator("li.note", has_text="Water the plants")).to_have_count(1)
    expect(notes.locator("li.note time").first).not_to_contain_text("+00:00")
    expect(notes).to_contain_text("That is the user the token was issued to")
    expect(page.locator("#result pre.body")).not_to_be_visible()  # the raw JSON, one click away

    page.get_by_label("Note text").fill("From the shared writer")
    ping(page, "Add note", token="M2M token of the notes writer (read:notes write:notes)")
    ping(page, "List notes")
    expect(notes).to_have_attribute("data-owner", "lab-m2m-writer@clients")
    expect(notes.locator(".shared-caller")).to_have_text(
        "one caller shared by everyone who sends its token"
    )
    context.close()


def test_m2m_copy_as_curl_chains_the_token_request_without_the_secret(
    browser: Browser, lab: Any
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(lab.web_url + "/ping")

    ping(page, "List notes", token="M2M token of the notes reader (read:notes)")

    curl = page.locator("#curl").inner_text()
    token_request, call = curl.split("# 2. Call the API with it:")
    assert "M2M_READER_TOKEN=$(curl -s" in token_request and "oauth/token" in token_request
    assert '"lab-m2m-reader:$CLIENT_SECRET"' in token_request
    assert "CLIENT_SECRET is the secret of the" in token_request
    assert '"Authorization: Bearer $M2M_READER_TOKEN"' in call
    assert "secret-for-local-use-only" not in curl
    context.close()


def test_the_id_tokens_curl_names_the_id_token(page: Page, lab: Any) -> None:
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")

    ping(page, "Call Private", token="My ID token (the classic mistake)")

    expect(page.locator("#curl")).to_contain_text('"Authorization: Bearer $ID_TOKEN"')
    expect(page.locator("#curl")).not_to_contain_text("$ACCESS_TOKEN")


def test_without_javascript_the_command_is_shown_to_select_not_a_dead_button(
    browser: Browser, lab: Any, scheme: str
) -> None:
    context = browser.new_context(java_script_enabled=False, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(lab.web_url + "/ping")

    page.get_by_role("button", name="Call Public", exact=True).click()

    expect(page.locator("#curl")).to_be_visible()
    expect(page.locator("#curl")).to_contain_text("curl -i -X GET")
    expect(page.get_by_role("button", name="Copy as curl")).to_be_hidden()
    expect(page.locator(".no-js-copy")).to_be_visible()
    expect(page.locator(".no-js-copy")).to_contain_text("Select the command above")
    context.close()


def test_with_javascript_the_copy_button_is_there(page: Page, lab: Any) -> None:
    page.goto(lab.web_url + "/ping")
    ping(page, "Call Public")

    expect(page.get_by_role("button", name="Copy as curl")).to_be_visible()
    expect(page.locator(".no-js-copy")).to_be_hidden()


def test_a_wrong_password_logs_no_console_error(browser: Browser, lab: Any, scheme: str) -> None:
    context = browser.new_context(color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    log_in(page, lab, CUSTOMER[0], "not-the-password")

    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    assert errors == []
    context.close()


def test_cancel_says_the_login_was_cancelled(page: Page, lab: Any) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(lab.web_url + "/")
    page.get_by_role("link", name="Log in").first.click()
    page.get_by_role("button", name="Cancel").click()

    expect(page.locator("main")).to_contain_text("Login cancelled")
    expect(page.locator("main")).to_contain_text("access_denied: The user cancelled the login")
    assert errors == []  # a cancel is not an error the browser should log
