"""The Compare page over HTTP: a run against the real lab, saved per user, diffed, exported."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from typing import Any

import pytest
import requests

from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from tests.conftest import form_fields


def run_grid(lab: Any, browser: requests.Session, note: str = "") -> str:
    """Run the grid as a page without JavaScript does; return the saved run's id."""
    page = browser.get(lab.web_url + "/compare", timeout=10)
    answer = browser.post(
        lab.web_url + "/compare/run",
        data={**form_fields(page.text), "note": note},
        timeout=120,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    match = re.search(r"run=([A-Za-z0-9_-]+)", answer.headers["Location"])
    assert match
    return match.group(1)


@pytest.fixture(scope="module")
def customer_runs(lab: Any) -> tuple[requests.Session, str, str]:
    from tests.conftest import LabActions

    browser = LabActions(lab).login(*CUSTOMER)
    first = run_grid(lab, browser, "first")
    second = run_grid(lab, browser, "second, cache warm")
    return browser, first, second


def test_a_run_fills_every_cell_and_the_page_shows_the_grid(
    lab: Any, customer_runs: tuple[requests.Session, str, str]
) -> None:
    browser, first, _ = customer_runs
    exported = browser.get(f"{lab.web_url}/compare/runs/{first}/export.json", timeout=10).json()
    # The README's stable keys of `run`, as the command line writes them.
    assert (exported["run"]["user"], exported["run"]["target"]) == ("customer", "local gateway")
    variants = {v["id"] for v in exported["variants"]}
    styles = {c["api"] for c in exported["columns"]}
    routes = {(c["method"], c["path"]) for c in exported["columns"]}
    assert {
        "access-customer",
        "id-token",
        "expired",
        "not-yet-valid",
        "wrong-aud",
        "wrong-iss",
        "no-kid",
        "unknown-kid",
        "tampered",
        "alg-none",
        "alg-hs256",
        "attacker-key",
        "query-string",
        "lowercase-bearer",
        "m2m-reader",
        "m2m-writer",
        "no-token",
    } <= variants
    # Rows the web session cannot have are listed with the reason, not dropped silently.
    skipped = {row["id"]: row["reason"] for row in exported["skipped"]}
    assert "log in as the admin" in skipped["access-admin"]
    assert "audience" in skipped["opaque"]
    assert {"RestTokenApi", "RestRequestApi", "HttpLambdaApi", "HttpJwtApi"} <= styles
    assert {("GET", "/private"), ("GET", "/admin"), ("GET", "/notes"), ("POST", "/notes")} <= routes
    assert len(exported["cells"]) == len(exported["variants"]) * len(exported["columns"])
    cells = {(c["variant"], c["api"], c["method"], c["path"]): c for c in exported["cells"]}
    assert cells[("access-customer", "RestTokenApi", "GET", "/private")]["status"] == 200
    assert cells[("no-token", "RestTokenApi", "GET", "/private")]["status"] == 401
    assert cells[("no-token", "RestTokenApi", "GET", "/private")]["decided_by"] == "identity_source"
    assert cells[("id-token", "HttpLambdaApi", "GET", "/private")]["status"] == 403
    assert cells[("id-token", "RestTokenApi", "GET", "/private")]["reason"] == "id_token"
    admin = cells[("access-customer", "HttpJwtApi", "GET", "/admin")]
    assert admin["status"] == 403 and admin["decided_by"] == "authorizer"

    page = browser.get(f"{lab.web_url}/compare?run={first}", timeout=10).text
    assert "compare-grid" in page and "styles disagree" in page
    assert "a simple-response authorizer can only answer isAuthorized: false" in page
    assert "needs the local IdP" in page


def test_a_cell_opens_its_explanation_and_trace(
    lab: Any, customer_runs: tuple[requests.Session, str, str]
) -> None:
    browser, first, _ = customer_runs
    answer = browser.get(
        f"{lab.web_url}/compare/runs/{first}/cell",
        params={"variant": "id-token", "api": "RestTokenApi", "method": "GET", "path": "/private"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert 'data-reason="id_token"' in answer.text
    assert "The gateway&#39;s trace" in answer.text or "The gateway's trace" in answer.text
    assert "x-amzn-RequestId" in answer.text  # a REST API's header name, not the HTTP API's
    http = browser.get(
        f"{lab.web_url}/compare/runs/{first}/cell",
        params={"variant": "id-token", "api": "HttpJwtApi", "method": "GET", "path": "/private"},
        timeout=10,
    )
    assert "apigw-requestid" in http.text and "x-amzn-RequestId" not in http.text
    missing = browser.get(
        f"{lab.web_url}/compare/runs/{first}/cell",
        params={"variant": "nope", "api": "RestTokenApi", "method": "GET", "path": "/private"},
        timeout=10,
    )
    assert missing.status_code == 404


def test_a_second_run_is_compared_with_the_first(
    lab: Any, customer_runs: tuple[requests.Session, str, str]
) -> None:
    browser, first, second = customer_runs
    page = browser.get(f"{lab.web_url}/compare?run={second}&against={first}", timeout=10).text
    assert f"Changes since run {first}" in page
    # Calls of the second run met the authorizer cache the first filled: cached, not invoked.
    exported = browser.get(f"{lab.web_url}/compare/runs/{second}/export.json", timeout=10).json()
    assert any(c["cache"] == "hit" for c in exported["cells"])
    assert "changed-cache" in page


def test_exports_carry_no_token(lab: Any, customer_runs: tuple[requests.Session, str, str]) -> None:
    browser, first, _ = customer_runs
    reveal_page = browser.get(lab.web_url + "/tokens", timeout=10)
    token = browser.post(
        lab.web_url + "/tokens/reveal",
        data={**form_fields(reveal_page.text), "which": "access"},
        headers={"X-Requested-With": "fetch"},
        timeout=10,
    ).json()["token"]
    signature = token.split(".")[2]
    for fmt, kind in (("md", "text/markdown"), ("csv", "text/csv"), ("json", "application/json")):
        answer = browser.get(f"{lab.web_url}/compare/runs/{first}/export.{fmt}", timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == f"{kind}; charset=utf-8"
        assert "attachment" in answer.headers["Content-Disposition"]
        assert signature not in answer.text and token.split(".")[1] not in answer.text
    rows = list(
        csv.DictReader(
            io.StringIO(
                browser.get(f"{lab.web_url}/compare/runs/{first}/export.csv", timeout=10).text
            )
        )
    )
    assert rows and {"variant", "style", "status", "decided_by", "reason", "cache"} <= set(rows[0])
    md = browser.get(f"{lab.web_url}/compare/runs/{first}/export.md", timeout=10).text
    assert md.startswith("Note: first\n") and "# Compare: token variants" in md
    assert "Customer's access token" in md


def test_runs_are_per_user(lab: Any, customer_runs: tuple[requests.Session, str, str]) -> None:
    from tests.conftest import LabActions

    _, first, _ = customer_runs
    admin = LabActions(lab).login(*ADMIN)
    assert (
        admin.get(f"{lab.web_url}/compare/runs/{first}/export.json", timeout=10).status_code == 404
    )
    page = admin.get(f"{lab.web_url}/compare?run={first}", timeout=10).text
    assert "There is no such run among yours" in page


def test_the_page_needs_a_login(lab: Any) -> None:
    answer = requests.get(lab.web_url + "/compare", timeout=10, allow_redirects=False)
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_the_script_path_polls_progress_until_saved(lab: Any) -> None:
    from tests.conftest import LabActions

    browser = LabActions(lab).login(*CUSTOMER)
    page = browser.get(lab.web_url + "/compare", timeout=10)
    started = browser.post(
        lab.web_url + "/compare/run",
        data=form_fields(page.text),
        headers={"X-Requested-With": "fetch", "X-CSRFToken": form_fields(page.text)["csrf_token"]},
        timeout=10,
    ).json()
    assert started["poll"].startswith("/compare/jobs/")
    deadline = time.time() + 60
    seen = []
    while time.time() < deadline:
        state = browser.get(lab.web_url + started["poll"], timeout=10).json()
        seen.append(state["done"])
        if state["finished"]:
            break
        time.sleep(0.1)
    assert state["finished"] and state["error"] is None and state["run"]
    assert seen == sorted(seen) and seen[-1] == state["total"] > 100
    assert json.dumps(state).count("data-key") >= state["total"]
