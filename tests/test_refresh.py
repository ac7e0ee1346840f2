"""Token refresh without races, the expired-token choice, and what /tokens says about refresh.

The lab's API issues 11-second access tokens while this module runs: the web app refreshes
10 s before `exp`, so a token is due for refresh one second after it was got. The IdP rotates
refresh tokens (each is single-use), so a second use of one would end the session with a 401.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import CUSTOMER
from tests.conftest import Lab
from tests.conftest import LabActions
from tests.conftest import form_fields
from webapp import create_app

LIFETIME = 11
TRIALS = 20
PARALLEL = 6


@pytest.fixture(scope="module")
def short_tokens(lab: Lab) -> Iterator[Lab]:
    """The shared lab, with the API's access tokens living 11 seconds while this module runs.

    The shared stack, not one of its own: the gateway runs the authorizer in-process, and a
    second gateway trusting another issuer would change the authorizer's settings under the
    other tests.
    """
    tenant = lab.idp_app.extensions["idp"].tenant
    saved = dict(tenant.apis)
    for audience, api in saved.items():
        tenant.apis[audience] = dataclasses.replace(api, token_lifetime=LIFETIME)
    yield lab
    tenant.apis.update(saved)


def call_private(
    url: str, cookies: dict[str, str], csrf: str, host: str | None = None
) -> requests.Response:
    """One Ping call of `GET /private` with the user's access token, as the page's script makes."""
    headers = {"X-Requested-With": "fetch", "X-CSRFToken": csrf}
    if host:
        headers["Host"] = host
    return requests.post(
        f"{url}/ping/call",
        data={"api": "rest-token", "action": "GET /private", "token": "access"},
        headers=headers,
        cookies=cookies,
        timeout=30,
    )


def stored_tokens(app: Any, cookies: dict[str, str]) -> dict[str, Any]:
    data = app.session_interface.load(cookies["lab_session"])
    assert data is not None
    return data["tokens"]


def run_trials(
    urls: list[str], cookies: dict[str, str], csrf: str, host: str | None = None
) -> list[str]:
    """Fire PARALLEL calls at the moment of expiry, TRIALS times; return every failure."""
    failures = []
    with ThreadPoolExecutor(PARALLEL) as pool:
        for trial in range(TRIALS):
            time.sleep(1.2)  # the token is now due for refresh
            futures = [
                pool.submit(call_private, urls[i % len(urls)], cookies, csrf, host)
                for i in range(PARALLEL)
            ]
            for i, future in enumerate(futures):
                response = future.result()
                if response.status_code != 200 or "200" not in response.text:
                    failures.append(f"trial {trial} call {i}: {response.status_code}")
    return failures


def test_parallel_calls_at_expiry_refresh_once_and_all_succeed(short_tokens: Lab) -> None:
    browser = LabActions(short_tokens).login(*CUSTOMER)
    csrf = form_fields(browser.get(f"{short_tokens.web_url}/ping", timeout=5).text)["csrf_token"]
    cookies = {"lab_session": browser.cookies["lab_session"]}
    first = stored_tokens(short_tokens.web_app, cookies)

    failures = run_trials([short_tokens.web_url], cookies, csrf)

    assert failures == []
    last = stored_tokens(short_tokens.web_app, cookies)
    assert last["refresh_token"] != first["refresh_token"]  # rotated, and the newest kept
    assert last["refreshed_at"] >= time.time() - 5
    # Still logged in, and the session's other keys survived the parallel saves.
    home = requests.get(f"{short_tokens.web_url}/", cookies=cookies, timeout=5)
    assert "customer@example.com" in home.text


def test_tokens_page_says_a_refresh_token_is_held_and_when_it_was_used(
    short_tokens: Lab,
) -> None:
    browser = LabActions(short_tokens).login(*CUSTOMER)
    page = browser.get(f"{short_tokens.web_url}/tokens", timeout=5).text
    assert re.search(r"Refresh token:\s*<strong>held</strong>", page)
    assert re.search(r"last refreshed:\s*<strong>never</strong>", page)

    time.sleep(1.2)
    page = browser.get(f"{short_tokens.web_url}/tokens", timeout=5).text

    # How long ago, and the exact time beside it (shown in local time by the page's script).
    assert re.search(
        r"last refreshed:\s*<strong>\d+ seconds? ago</strong>"
        r"\s*\(<time datetime=\"[^\"]+\" data-local>",
        page,
    )
    assert browser.cookies["lab_session"] not in page


def test_the_expired_copy_of_my_token_is_refused_for_its_exp(lab: Lab, actions: LabActions) -> None:
    browser = actions.login(*CUSTOMER)
    ping = browser.get(f"{lab.web_url}/ping", timeout=5).text
    assert 'value="expired"' in ping and "expired an hour ago" in ping

    response = browser.post(
        f"{lab.web_url}/ping/call",
        data={
            **form_fields(ping),
            "api": "rest-token",
            "action": "GET /private",
            "token": "expired",
        },
        headers={"X-Requested-With": "fetch"},
        timeout=10,
    )

    assert response.status_code == 200
    assert "401" in response.text
    assert "expired" in response.text.lower()
    # The real token still works: the copy changed nothing in the session.
    again = browser.post(
        f"{lab.web_url}/ping/call",
        data={
            **form_fields(ping),
            "api": "rest-token",
            "action": "GET /private",
            "token": "access",
        },
        headers={"X-Requested-With": "fetch"},
        timeout=10,
    )
    assert "200" in again.text


def test_no_expired_copy_against_a_real_tenant(lab: Lab, tmp_path: Any) -> None:
    app = create_app(
        {"TESTING": True, "WTF_CSRF_ENABLED": False, "INSTANCE_PATH": str(tmp_path)},
        environ={
            "AUTH0_DOMAIN": "tenant.example",
            "AUTH0_CLIENT_ID": "id",
            "AUTH0_CLIENT_SECRET": "secret",
            "AUTH0_AUDIENCE": "https://api.example",
            "API_BASE_URL": lab.gateway_url,
            "APP_SECRET_KEY": "y" * 32,
        },
    )
    client = app.test_client()
    with client.session_transaction() as session:
        session["user"] = {"sub": "auth0|1"}
        session["tokens"] = {"access_token": "a.b.c", "expires_at": time.time() + 3600}
    page = client.get("/ping").text
    assert re.search(r'value="expired"[^>]*disabled', page)

    response = client.post(
        "/ping/call",
        data={"api": "rest-token", "action": "GET /private", "token": "expired"},
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == 400
    assert "a real tenant signs nothing for the lab" in response.text
