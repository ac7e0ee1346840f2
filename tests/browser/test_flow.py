"""The flow diagram and the trace on the Ping page, as a person sees them in Debian's Chromium,
at phone width (390 px) and on a laptop (1280 px)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.test_login import log_in
from tests.browser.test_ping import ping
from tests.conftest import CUSTOMER

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("width", "shown", "hidden"), [(390, "tall", "wide"), (1280, "wide", "tall")]
)
def test_the_diagram_shows_this_calls_path_readably(
    page: Page, lab: Any, width: int, shown: str, hidden: str
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")

    ping(page, "Call Private", api="http-jwt")

    diagram = page.locator(f"#result svg.flow-{shown}")
    expect(diagram).to_be_visible()
    expect(page.locator(f"#result svg.flow-{hidden}")).to_be_hidden()
    # API Gateway's built-in JWT authorizer checked the token: no Lambda authorizer ran.
    expect(diagram.locator('[data-part="builtin"].lit')).to_have_count(1)
    expect(diagram.locator('line.active[data-hop="authorizer"]')).to_have_count(0)
    expect(diagram.locator('line.active[data-hop="function"]')).to_have_count(1)
    expect(page.locator("#result ol.happened")).to_contain_text(
        "API Gateway's built-in authorizer checked the token"
    )
    # Readable: a label is drawn at least 10 px tall, and nothing overflows the page.
    box = diagram.locator("text", has_text="API Gateway").first.bounding_box()
    assert box is not None and box["height"] >= 10
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    ping(page, "Call Public", api="http-jwt")
    expect(diagram.locator('[data-part="builtin"].lit')).to_have_count(0)
    expect(diagram.locator("line.active")).to_have_count(3)  # browser, gateway, function

    page.goto(lab.web_url + "/")
    home = page.locator(f"svg.flow-{shown}")
    expect(home).to_be_visible()
    expect(home.locator("line.active")).to_have_count(3)


def test_the_trace_shows_plain_characters(page: Page, lab: Any) -> None:
    log_in(page, lab, *CUSTOMER)
    page.goto(lab.web_url + "/ping")

    ping(page, "Call Private", api="rest-request")

    page.locator("#result details.trace summary").click()
    trace = page.locator("#result pre.trace-json")
    expect(trace).to_contain_text("Bearer <redacted> fingerprint:")
    expect(trace).to_contain_text("method.request.header.Authorization")
    expect(trace).not_to_contain_text("\\u003c")
    expect(trace).not_to_contain_text("$request.header")
