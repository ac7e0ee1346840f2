"""IAM from the web app, over HTTP against the real lab: the Ping page exchanges the user's ID
token at the local identity pool, signs with botocore, and explains AWS's answer; the snippets
it shows run as they are (real curl, real Python); credentials never reach the page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from html import unescape
from typing import Any

import boto3
import pytest
import requests

from emulators.aws.account import LocalAccount
from emulators.gateway import local_parameters
from emulators.gateway.sigv4 import masked_key_id
from emulators.gateway.template import TEMPLATE
from emulators.gateway.template import load_model
from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from tests.conftest import LabActions
from tests.conftest import form_fields
from tests.oauth_helpers import Authorization
from webapp import iam
from webapp.config import DEFAULT_SCOPE
from webapp.config import LOCAL_SERVICE_KEY


def ping(browser: requests.Session, lab: Any, api: str, action: str, kind: str) -> Any:
    form = form_fields(browser.get(f"{lab.web_url}/ping", timeout=5).text)
    return browser.post(
        f"{lab.web_url}/ping/call",
        data={**form, "api": api, "action": action, "token": kind, "text": "a note"},
        headers={"X-Requested-With": "fetch"},
        timeout=15,
    )


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def trace_of(lab: Any, html: str) -> dict[str, Any]:
    request_id = re.search(
        r"(?:x-amzn-RequestId|apigw-requestid)</code></th><td>([^<]+)<", html, re.I
    )
    assert request_id, "no request id on the page"
    return requests.get(f"{lab.gateway_url}/_lab/traces/{request_id.group(1)}", timeout=5).json()


def test_the_local_service_key_is_the_one_the_account_derives() -> None:
    model = load_model(local_parameters("http://127.0.0.1:3001/"), TEMPLATE)
    account = LocalAccount.from_template(TEMPLATE, model.parameters)

    keys = [(key.access_key_id, key.secret_access_key) for _, key in account.service_keys()]

    assert keys == [LOCAL_SERVICE_KEY]


@pytest.mark.parametrize("api", ["rest-iam", "http-iam"])
def test_a_customer_signs_with_pool_credentials_private_200_admin_403(
    lab: Any, actions: LabActions, api: str
) -> None:
    browser = actions.login(*CUSTOMER)

    private = ping(browser, lab, api, "GET /private", "iam-mine")
    admin = ping(browser, lab, api, "GET /admin", "iam-mine")

    assert 'data-status="200"' in private.text, text_of(private.text)[:800]
    page = text_of(private.text)
    assert "IdentityPoolAuthenticatedRole" in page
    assert re.search(r"Cognito identity us-east-1:[0-9a-f-]{36}", page)
    assert "A statement of the policy invoke-private-and-notes allows" in page
    assert "Credential scope" in page and "/us-east-1/execute-api/aws4_request" in page
    assert "accept;host;x-amz-date;x-amz-security-token" in page
    assert 'data-status="403"' in admin.text
    assert "No statement of its policies allows execute-api:Invoke on this route" in text_of(
        admin.text
    )


def test_an_admins_pool_credentials_reach_admin(lab: Any, actions: LabActions) -> None:
    browser = actions.login(*ADMIN)

    admin = ping(browser, lab, "rest-iam", "GET /admin", "iam-mine")

    assert 'data-status="200"' in admin.text, text_of(admin.text)[:800]
    assert "IdentityPoolAdminRole" in text_of(admin.text)


def test_credentials_are_kept_and_never_shown(lab: Any, actions: LabActions) -> None:
    browser = actions.login(*CUSTOMER)

    first = ping(browser, lab, "rest-iam", "GET /private", "iam-mine")
    second = ping(browser, lab, "http-iam", "GET /private", "iam-mine")
    signed = [trace_of(lab, r.text)["authorizer"]["iam"]["signature"] for r in (first, second)]
    # The trace shows the key id masked (ASIA…WXYZ): find the key it stands for.
    (key,) = [
        c
        for c in lab.gateway.account.credentials.temporary()
        if masked_key_id(c.access_key_id) == signed[0]["access_key_id"]
    ]

    assert signed[0]["access_key_id"] == signed[1]["access_key_id"]  # one exchange, reused
    assert key.session_token
    assert key.access_key_id not in first.text  # not even the whole key id
    for response in (first, second):
        assert key.secret_access_key not in response.text
        assert key.session_token not in response.text
        assert "Signature=" not in response.text


def test_a_tampered_signature_shows_both_canonical_requests_the_same(
    lab: Any, actions: LabActions
) -> None:
    browser = actions.login(*CUSTOMER)

    answer = ping(browser, lab, "rest-iam", "GET /private", "iam-tampered")

    page = text_of(answer.text)
    assert 'data-status="403"' in answer.text
    assert "InvalidSignatureException" in page
    assert "Signed API Gateway computed" in page
    assert "The two canonical requests are the same" in page
    assert 'data-differs="true"' not in answer.text


def test_a_stale_signature_is_signature_expired_not_expired_token(
    lab: Any, actions: LabActions
) -> None:
    browser = actions.login(*CUSTOMER)

    answer = ping(browser, lab, "rest-iam", "GET /private", "iam-stale")

    page = text_of(answer.text)
    assert "Signature expired:" in page
    assert "InvalidSignatureException" in page
    assert "the signature is too old" in page


def test_expired_pool_credentials_are_expired_token(lab: Any, actions: LabActions) -> None:
    account = lab.gateway.account
    browser = actions.login(*CUSTOMER)
    before = account.lifetime
    account.lifetime = 2  # as `--credentials-lifetime`, for this login's exchange only
    try:
        fresh = ping(browser, lab, "rest-iam", "GET /private", "iam-mine")
    finally:
        account.lifetime = before
    assert 'data-status="200"' in fresh.text
    page = browser.get(f"{lab.web_url}/ping", timeout=5).text
    assert re.search(r'value="iam-expired"\s+disabled', page)  # nothing expired yet
    time.sleep(2.2)

    page = browser.get(f"{lab.web_url}/ping", timeout=5).text
    answer = ping(browser, lab, "rest-iam", "GET /private", "iam-expired")

    assert not re.search(r'value="iam-expired"\s+disabled', page)
    assert 'data-status="403"' in answer.text
    assert "The security token included in the request is expired" in text_of(answer.text)
    assert "ExpiredTokenException" in answer.text


def test_expired_credentials_before_any_expired_are_refused_clearly(
    lab: Any, actions: LabActions
) -> None:
    browser = actions.login(*CUSTOMER)

    answer = ping(browser, lab, "rest-iam", "GET /private", "iam-expired")

    assert answer.status_code == 502
    assert "no expired identity-pool credentials yet" in answer.text


def test_the_service_key_unsigned_and_a_bearer_token(lab: Any, actions: LabActions) -> None:
    browser = actions.login(*CUSTOMER)

    service = ping(browser, lab, "http-iam", "GET /private", "iam-service")
    unsigned = ping(browser, lab, "rest-iam", "GET /private", "iam-unsigned")
    bearer = ping(browser, lab, "rest-iam", "GET /private", "access")

    assert 'data-status="200"' in service.text
    assert "the IAM user arn:aws:iam::123456789012:user/" in text_of(service.text)
    assert LOCAL_SERVICE_KEY[1] not in service.text
    assert "Missing Authentication Token" in text_of(unsigned.text)
    assert "IncompleteSignatureException" in bearer.text
    # The unsigned call's curl sends what the call sent: no Authorization header.
    curl = re.search(r'<pre class="curl" id="curl"[^>]*>(.*?)</pre>', unsigned.text, re.S)
    assert curl and "Authorization" not in curl.group(1) and "TOKEN" not in curl.group(1)


def test_notes_say_whose_they_are_for_iam_callers(lab: Any, actions: LabActions) -> None:
    browser = actions.login(*CUSTOMER)

    mine = ping(browser, lab, "rest-iam", "GET /notes", "iam-mine")
    shared = ping(browser, lab, "rest-iam", "GET /notes", "iam-service")

    assert "your identity in the identity pool" in text_of(mine.text)
    assert "token's sub" not in text_of(mine.text)
    assert "one caller shared by everyone who signs with that key" in text_of(shared.text)


def test_logged_out_the_user_credentials_are_refused(lab: Any) -> None:
    browser = requests.Session()

    answer = ping(browser, lab, "rest-iam", "GET /private", "iam-mine")
    page = browser.get(f"{lab.web_url}/ping", timeout=5).text

    assert answer.status_code == 401
    assert "Log in first" in answer.text
    assert re.search(r'value="iam-mine"\s+disabled', page)
    assert re.search(r'value="iam-service"\s*>', page)  # the service key needs no login


# The snippets, run as a developer would ---------------------------------------------------


def _env(**values: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **values}


def _curl_version() -> tuple[int, int]:
    if not shutil.which("curl"):
        return (0, 0)
    first = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
    match = re.match(r"curl (\d+)\.(\d+)", first)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _pool_credentials(lab: Any) -> dict[str, str]:
    pool = requests.get(lab.gateway_url + "/", timeout=5).json()["identity_pool"]
    token = Authorization(lab).tokens(CUSTOMER, scope=DEFAULT_SCOPE)["id_token"]
    client = boto3.client(
        "cognito-identity", region_name=pool["region"], endpoint_url=pool["endpoint_url"]
    )
    logins = {lab.idp_url.removeprefix("http://"): token}
    identity = client.get_id(IdentityPoolId=pool["pools"][0]["id"], Logins=logins)
    creds = client.get_credentials_for_identity(IdentityId=identity["IdentityId"], Logins=logins)[
        "Credentials"
    ]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
        "ID_TOKEN": token,
    }


@pytest.mark.skipif(_curl_version() < (7, 75), reason="curl --aws-sigv4 needs curl 7.75+")
@pytest.mark.parametrize("who", ["service", "pool"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_curl_snippet_runs_with_real_curl(lab: Any, who: str, method: str) -> None:
    url = lab.api_url("RestIamApi") + ("/private" if method == "GET" else "/notes")
    body = '{"text": "from curl"}' if method == "POST" else None
    if who == "service":
        env = _env(
            AWS_ACCESS_KEY_ID=LOCAL_SERVICE_KEY[0], AWS_SECRET_ACCESS_KEY=LOCAL_SERVICE_KEY[1]
        )
    else:
        env = _env(**_pool_credentials(lab))
    command = iam.curl_snippet(method, url, body, "us-east-1", temporary=who == "pool")

    run = subprocess.run(
        ["bash", "-c", command + " -s"], capture_output=True, text=True, env=env, timeout=20
    )

    assert "$AWS_SECRET_ACCESS_KEY" in command and env["AWS_SECRET_ACCESS_KEY"] not in command
    status = re.search(r"HTTP/1\.[01] (\d{3})", run.stdout)
    assert status, run.stdout + run.stderr
    assert status.group(1) == ("200" if method == "GET" else "201"), run.stdout


@pytest.mark.parametrize("who", ["service", "pool"])
def test_the_botocore_snippet_runs(lab: Any, who: str) -> None:
    url = lab.api_url("HttpIamApi") + "/notes"
    body = '{"text": "from the snippet"}'
    if who == "service":
        env = _env(
            AWS_ACCESS_KEY_ID=LOCAL_SERVICE_KEY[0], AWS_SECRET_ACCESS_KEY=LOCAL_SERVICE_KEY[1]
        )
        pool = None
    else:
        creds = _pool_credentials(lab)
        env = _env(ID_TOKEN=creds["ID_TOKEN"])
        catalogue = requests.get(lab.gateway_url + "/", timeout=5).json()["identity_pool"]
        pool = {
            "pool_id": catalogue["pools"][0]["id"],
            "region": "us-east-1",
            "login_key": lab.idp_url.removeprefix("http://"),
            "endpoint_url": catalogue["endpoint_url"],
        }
    snippet = iam.botocore_snippet("POST", url, body, "us-east-1", pool)

    run = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, env=env, timeout=30
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("201 "), run.stdout
    assert "from the snippet" in run.stdout
    for value in env.values():
        if len(value) > 20:
            assert value not in snippet


def test_the_flow_diagram_shows_the_exchange_once_and_the_iam_check(
    lab: Any, actions: LabActions
) -> None:
    browser = actions.login(*CUSTOMER)

    first = ping(browser, lab, "rest-iam", "GET /private", "iam-mine")
    second = ping(browser, lab, "rest-iam", "GET /private", "iam-mine")

    hops = [re.search(r'data-hops="([^"]*)"', r.text).group(1).split() for r in (first, second)]
    assert "identity-pool" in hops[0] and "identity-pool" not in hops[1]  # kept in the session
    assert all("iam" in h and "builtin" not in h and "authorizer" not in h for h in hops)
    assert "IAM (SigV4) check" in first.text
    pool_node = r'class="node active" data-node="pool"'
    assert re.search(pool_node, first.text) and not re.search(pool_node, second.text)


def test_a_credential_choice_not_offered_says_why(lab: Any, actions: LabActions) -> None:
    browser = actions.login(*CUSTOMER)

    page = text_of(browser.get(f"{lab.web_url}/ping", timeout=5).text)

    assert "offered once your identity-pool credentials have expired" in page
