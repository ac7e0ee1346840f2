"""The Compare grid's credential rows against the real lab: SigV4-signed calls (botocore,
through `webapp.iam`) to every column, the identity pool exchanged once per grid, and an IAM
cell's explanation and `curl --aws-sigv4` as the Ping page shows them.

AWS's answers (reference/aws-iam-cognito.md; the README's IAM outcome table): a good
signature by an allowed principal is 200; the customer's authenticated role may not call
`/admin` (403); a signature older than 5 minutes, expired credentials, a changed signature
and an unsigned request are 403 on an IAM route. A SigV4 `Authorization` header is no bearer
token: token authorizers refuse it (401, or 403 from a simple-response authorizer).
"""

from __future__ import annotations

import json
import re
import time
from html import unescape
from typing import Any

import pytest
import requests

from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from tests.conftest import LabActions
from tests.test_compare_page import run_grid

IAM_APIS = ("RestIamApi", "HttpIamApi")
TOKEN_APIS = ("RestTokenApi", "RestRequestApi", "HttpLambdaApi", "HttpJwtApi", "RestCognitoApi")
CREDENTIAL_ROWS = ("iam-mine", "iam-service", "iam-stale", "iam-expired", "iam-tampered")


def exported(lab: Any, browser: requests.Session, run_id: str) -> dict[str, Any]:
    answer = browser.get(f"{lab.web_url}/compare/runs/{run_id}/export.json", timeout=10)
    assert answer.status_code == 200
    return answer.json()


def cells_of(document: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(c["variant"], c["api"], f"{c['method']} {c['path']}"): c for c in document["cells"]}


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(scope="module")
def customer_run(lab: Any) -> tuple[requests.Session, str, dict[str, Any], int]:
    """A customer's grid run while holding a set of expired identity-pool credentials.

    The credentials are made to expire as `--credentials-lifetime 2` would: one Ping-page
    call signs with them, and then they run out.
    """
    account = lab.gateway.account
    browser = LabActions(lab).login(*CUSTOMER)
    before = account.lifetime
    account.lifetime = 2
    try:
        page = browser.get(f"{lab.web_url}/ping", timeout=5).text
        form = dict(re.findall(r'name="(csrf_token)" value="([^"]+)"', page))
        signed = browser.post(
            f"{lab.web_url}/ping/call",
            data={**form, "api": "rest-iam", "action": "GET /private", "token": "iam-mine"},
            headers={"X-Requested-With": "fetch"},
            timeout=15,
        )
        assert 'data-status="200"' in signed.text
    finally:
        account.lifetime = before
    time.sleep(2.2)
    issued = len(account.credentials.temporary())
    run_id = run_grid(lab, browser, "credential rows")
    exchanges = len(account.credentials.temporary()) - issued
    return browser, run_id, exported(lab, browser, run_id), exchanges


def test_every_credential_row_runs_against_every_column(
    customer_run: tuple[requests.Session, str, dict[str, Any], int],
) -> None:
    _, _, document, _ = customer_run
    rows = {v["id"]: v for v in document["variants"]}
    assert set(CREDENTIAL_ROWS) <= set(rows)
    assert {rows[r]["placement"] for r in CREDENTIAL_ROWS} == {"sigv4"}
    assert rows["iam-tampered"]["label"] != rows["tampered"]["label"]  # two rows, two names
    columns = {c["api"] for c in document["columns"]}
    assert set(IAM_APIS) <= columns
    assert len(document["cells"]) == len(document["variants"]) * len(document["columns"])


def test_the_identity_pool_is_asked_once_per_grid_not_per_cell(
    customer_run: tuple[requests.Session, str, dict[str, Any], int],
) -> None:
    # The expired set is replaced by one exchange; the four user rows × 16 IAM cells reuse it.
    assert customer_run[3] == 1


@pytest.mark.parametrize("api", IAM_APIS)
def test_iam_columns_answer_each_credential_row_as_aws_does(
    customer_run: tuple[requests.Session, str, dict[str, Any], int], api: str
) -> None:
    cells = cells_of(customer_run[2])

    def outcome(row: str, route: str = "GET /private") -> tuple[int, str]:
        cell = cells[(row, api, route)]
        return cell["status"], cell["reason"]

    assert outcome("iam-mine") == (200, "iam_allowed")
    assert outcome("iam-mine", "POST /notes")[0] == 201  # the body is signed too
    assert outcome("iam-mine", "GET /admin") == (403, "iam_not_allowed")  # the customer's role
    assert outcome("iam-service") == (200, "iam_allowed")
    assert outcome("iam-stale") == (403, "sigv4_expired")
    assert outcome("iam-expired") == (403, "credentials_expired")
    assert outcome("iam-tampered") == (403, "signature_mismatch")
    assert outcome("no-token") == (403, "sigv4_missing")  # the unsigned row
    assert outcome("access-customer") == (403, "sigv4_malformed")  # a bearer token: not SigV4


@pytest.mark.parametrize("api", TOKEN_APIS)
def test_token_columns_refuse_a_sigv4_header_as_no_bearer_token(
    customer_run: tuple[requests.Session, str, dict[str, Any], int], api: str
) -> None:
    cells = cells_of(customer_run[2])
    for row in CREDENTIAL_ROWS:
        for route in ("GET /private", "POST /notes"):
            cell = cells[(row, api, route)]
            # Refused, never let through, never a 5xx of the authorizer's.
            assert cell["status"] in (401, 403), (row, api, route, cell)
            assert cell["reason"] in (
                "validation_expression",
                "not_bearer",
                "malformed_token",
            ), (row, api, route, cell)
    # A simple-response authorizer says it with 403, the others with 401.
    assert cells[("iam-mine", "HttpLambdaApi", "GET /private")]["status"] == 403
    assert cells[("iam-mine", "RestRequestApi", "GET /private")]["status"] == 401


def test_a_tampered_iam_cell_explains_the_mismatch_and_copies_as_curl_sigv4(
    lab: Any, customer_run: tuple[requests.Session, str, dict[str, Any], int]
) -> None:
    browser, run_id, _, _ = customer_run
    page = browser.get(
        f"{lab.web_url}/compare/runs/{run_id}/cell",
        params={
            "variant": "iam-tampered",
            "api": "RestIamApi",
            "method": "GET",
            "path": "/private",
        },
        timeout=10,
    )
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Signed with: My credentials, with one signature character changed" in text
    # Both canonical requests, the same: the request arrived as signed, the signature is wrong.
    assert "API Gateway computed" in text
    assert "The two canonical requests are the same" in text
    assert "--aws-sigv4 aws:amz:us-east-1:execute-api" in text
    assert '"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"' in text
    assert "x-amz-security-token: $AWS_SESSION_TOKEN" in text
    assert "The credentials: SigV4 with your credentials" in text
    assert "curl signs afresh" in text  # why the copied command answers 200, not this 403
    assert "token workshop" not in text


def test_a_credential_row_in_a_token_column_names_the_signature(
    lab: Any, customer_run: tuple[requests.Session, str, dict[str, Any], int]
) -> None:
    browser, run_id, _, _ = customer_run
    page = browser.get(
        f"{lab.web_url}/compare/runs/{run_id}/cell",
        params={"variant": "iam-mine", "api": "HttpJwtApi", "method": "GET", "path": "/private"},
        timeout=10,
    )

    text = text_of(page.text)
    assert "No token was sent: this row signs the request with AWS Signature Version 4" in text
    assert "AWS4-HMAC-SHA256" in text


def test_an_allowed_iam_cell_names_the_principal_and_hides_the_keys(
    lab: Any, customer_run: tuple[requests.Session, str, dict[str, Any], int]
) -> None:
    browser, run_id, _, _ = customer_run
    page = browser.get(
        f"{lab.web_url}/compare/runs/{run_id}/cell",
        params={"variant": "iam-mine", "api": "HttpIamApi", "method": "GET", "path": "/private"},
        timeout=10,
    )
    text = text_of(page.text)
    assert "Signed with: My identity-pool credentials" in text
    assert "assumed-role/" in text  # the principal the gateway found
    assert "sha256:" in text  # the signature only as a fingerprint
    # No credential of the session's on the page: not the secret, not the session token.
    held = browser.get(f"{lab.web_url}/ping", timeout=5)
    assert held.status_code == 200
    assert not re.search(r"ASIA[A-Z0-9]{16}", page.text)
    assert "Signature=" not in page.text


def test_the_service_key_in_a_token_column_still_copies_as_sigv4_without_a_session_token(
    lab: Any, customer_run: tuple[requests.Session, str, dict[str, Any], int]
) -> None:
    browser, run_id, _, _ = customer_run
    page = browser.get(
        f"{lab.web_url}/compare/runs/{run_id}/cell",
        params={"variant": "iam-service", "api": "HttpJwtApi", "method": "GET", "path": "/private"},
        timeout=10,
    )
    text = text_of(page.text)
    assert "not a well-formed JWT" in text  # what the JWT authorizer made of the SigV4 header
    curl = re.search(r'<pre class="curl" id="curl"[^>]*>(.*?)</pre>', page.text, re.S)
    assert curl is not None
    assert "--aws-sigv4" in curl.group(1)
    assert "x-amz-security-token" not in curl.group(1)  # a long-term key has no session token


def test_without_expired_credentials_the_row_is_skipped_with_why(lab: Any) -> None:
    browser = LabActions(lab).login(*ADMIN)
    run_id = run_grid(lab, browser, "admin credential rows")
    document = exported(lab, browser, run_id)
    skipped = {row["id"]: row["reason"] for row in document["skipped"]}
    assert "no expired identity-pool credentials" in skipped["iam-expired"]
    page = text_of(browser.get(f"{lab.web_url}/compare", params={"run": run_id}, timeout=10).text)
    assert re.search(r"Expired credentials\s*: you hold no expired identity-pool credentials", page)
    cells = cells_of(document)
    # The admin's role may call /admin with the admin's own identity-pool credentials.
    assert cells[("iam-mine", "RestIamApi", "GET /admin")]["status"] == 200
    assert cells[("iam-mine", "HttpIamApi", "GET /admin")]["status"] == 200


def test_the_command_line_exchanges_the_id_token_and_runs_the_credential_rows(
    lab: Any, tmp_path: Any
) -> None:
    from tests.test_compare_grid import cli_env
    from webapp.compare_cli import main

    account = lab.gateway.account
    issued = len(account.credentials.temporary())
    saved = tmp_path / "run.json"
    assert main(["--format", "json", "--output", str(saved)], cli_env(lab)) == 0
    assert len(account.credentials.temporary()) - issued == 1  # one exchange for the run
    document = json.loads(saved.read_text())
    cells = cells_of(document)
    for api in IAM_APIS:
        assert cells[("iam-mine", api, "GET /private")]["status"] == 200
        assert cells[("iam-mine", api, "GET /admin")]["reason"] == "iam_not_allowed"
        assert cells[("iam-service", api, "GET /private")]["status"] == 200
        assert cells[("iam-tampered", api, "GET /private")]["reason"] == "signature_mismatch"
        assert cells[("iam-stale", api, "GET /private")]["reason"] == "sigv4_expired"
    skipped = {row["id"]: row["reason"] for row in document["skipped"]}
    assert "fresh credentials for each run" in skipped["iam-expired"]
    markdown = tmp_path / "run.md"
    assert main(["--output", str(markdown)], cli_env(lab)) == 0
    text = markdown.read_text()
    assert "| My identity-pool credentials |" in text
    assert "- Expired credentials: the command line exchanges fresh credentials" in text
    # No credential in either form: no temporary access key id, no signature.
    for form in (saved.read_text(), text):
        assert not re.search(r"ASIA[A-Z0-9]{16}", form)
        assert "Signature=" not in form
