"""The web app with the Cognito user pool: log in at the local pool's hosted UI, see the user,
call the Cognito APIs from the Ping page with the user's and the M2M clients' tokens, log out
at the pool's /logout. Real servers on loopback; the tokens are the local pool's."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests

from tests.cognito_helpers import domain
from tests.conftest import CUSTOMER
from tests.conftest import form_fields
from webapp.config import ConfigError
from webapp.config import settings_from_env


def cognito_login(lab: Any, email: str, password: str) -> requests.Session:
    """Log in at the web app through the local pool's hosted UI; return the browser session."""
    browser = requests.Session()
    page = browser.get(f"{lab.web_url}/login/cognito", timeout=5)
    assert page.url.startswith(domain(lab.idp_url) + "/oauth2/authorize"), page.url
    response = browser.post(
        page.url,
        data={**form_fields(page.text), "email": email, "password": password, "action": "login"},
        timeout=5,
    )
    assert response.url.rstrip("/") == lab.web_url, response.text[:500]
    return browser


def ping(browser: requests.Session, lab: Any, api: str, action: str, token: str) -> Any:
    form = form_fields(browser.get(f"{lab.web_url}/ping", timeout=5).text)
    return browser.post(
        f"{lab.web_url}/ping/call",
        data={**form, "api": api, "action": action, "token": token, "text": "from cognito"},
        headers={"X-Requested-With": "fetch"},
        timeout=10,
    )


def status_of(fragment: requests.Response) -> str:
    """The status the Ping page's result shows."""
    found = re.search(r'data-status="([^"]+)"', fragment.text)
    assert found, fragment.text[:800]
    return found.group(1)


def test_home_offers_both_providers(lab: Any) -> None:
    home = requests.get(lab.web_url + "/", timeout=5).text

    assert "Log in with Auth0 (local)" in home
    assert "Log in with Cognito (local)" in home
    assert f"{lab.idp_url}/us-east-1_AuthzLab1" in home


def test_cognito_login_shows_the_user_and_its_tokens_are_the_pools(lab: Any) -> None:
    browser = cognito_login(lab, *CUSTOMER)

    home = browser.get(lab.web_url + "/", timeout=5).text
    assert CUSTOMER[0] in home
    assert '<strong class="provider">Cognito</strong>' in home
    # The ID token's claims reach the Tokens page: Cognito's shape, not Auth0's.
    tokens = browser.get(lab.web_url + "/tokens", timeout=5).text
    assert "cognito:username" in tokens


def test_the_tokens_page_explains_cognitos_shapes(lab: Any) -> None:
    browser = cognito_login(lab, *CUSTOMER)

    page = browser.get(lab.web_url + "/tokens", timeout=5)
    words = said(page)

    assert "Cognito access token (token_use: access): it has no aud" in words
    assert "Cognito ID token (token_use: id)" in words
    # The two kids, each named on its token: Cognito's two keys.
    kids = re.findall(r"Signed with the key (\S+): Cognito signs ID tokens and access", words)
    assert len(kids) == 2 and kids[0] != kids[1]
    # No Auth0 mix-up is claimed for a token that is what Cognito issues.
    assert "this token is for another API" not in words
    assert "Issued by" not in words


def test_cognito_user_calls_the_cognito_apis(lab: Any) -> None:
    browser = cognito_login(lab, *CUSTOMER)

    private_with_id = ping(browser, lab, "rest-cognito", "GET /private", "id")
    notes_with_access = ping(browser, lab, "rest-cognito", "GET /notes", "access")
    private_with_access = ping(browser, lab, "rest-cognito", "GET /private", "access")

    assert status_of(private_with_id) == "200"
    assert status_of(notes_with_access) == "200"
    assert status_of(private_with_access) == "401"


def test_cognito_logout_goes_to_the_pools_logout(lab: Any) -> None:
    browser = cognito_login(lab, *CUSTOMER)
    home = browser.get(lab.web_url + "/", timeout=5)

    answer = browser.post(
        lab.web_url + "/logout", data=form_fields(home.text), allow_redirects=False, timeout=5
    )

    location = urlsplit(answer.headers["Location"])
    assert answer.status_code == 302
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        domain(lab.idp_url) + "/logout"
    )
    assert parse_qs(location.query) == {
        "client_id": ["labcognitowebapp0000000001"],
        "logout_uri": [lab.web_url + "/"],
    }
    back = browser.get(answer.headers["Location"], timeout=5)
    assert back.url == lab.web_url + "/"
    assert CUSTOMER[0] not in back.text


@pytest.mark.parametrize(
    ("kind", "post_status"), [("cognito-reader", 401), ("cognito-writer", 201)]
)
def test_cognito_machine_clients_from_the_ping_page(lab: Any, kind: str, post_status: int) -> None:
    browser = requests.Session()

    listed = ping(browser, lab, "rest-cognito", "GET /notes", kind)
    added = ping(browser, lab, "rest-cognito", "POST /notes", kind)

    assert status_of(listed) == "200"
    assert status_of(added) == str(post_status)
    # How to get the token yourself: the pool's token endpoint, the secret left out.
    assert "/oauth2/token" in listed.text
    assert "secret-for-local-use-only" not in listed.text


REAL_POOL = {
    "COGNITO_DOMAIN": "https://lab.auth.eu-west-1.amazoncognito.com/",
    "COGNITO_USER_POOL_ID": "eu-west-1_AbCdEf123",
    "COGNITO_REGION": "eu-west-1",
    "COGNITO_CLIENT_ID": "client",
    "COGNITO_CLIENT_SECRET": "secret",
}


def test_a_real_pool_by_configuration() -> None:
    settings = settings_from_env(REAL_POOL)

    assert settings["COGNITO_MODE"] == "aws"
    assert settings["COGNITO_ISSUER"] == (
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    )
    assert settings["COGNITO_DOMAIN_URL"] == "https://lab.auth.eu-west-1.amazoncognito.com"
    assert settings["COGNITO_M2M_CLIENTS"] == {}
    with_reader = settings_from_env(
        {**REAL_POOL, "COGNITO_M2M_READER_CLIENT_ID": "r", "COGNITO_M2M_READER_CLIENT_SECRET": "s"}
    )
    assert with_reader["COGNITO_M2M_CLIENTS"] == {"cognito-reader": ("r", "s")}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"COGNITO_CLIENT_SECRET": ""}, "COGNITO_CLIENT_SECRET is not set"),
        ({"COGNITO_USER_POOL_ID": "AbCdEf123"}, "a user pool id is the region"),
        ({"COGNITO_REGION": "us-east-1"}, "is in 'eu-west-1'"),
        ({"COGNITO_DOMAIN": ""}, "COGNITO_DOMAIN is not"),
        (
            {"COGNITO_M2M_READER_CLIENT_ID": "reader"},
            "COGNITO_M2M_READER_CLIENT_ID is set but COGNITO_M2M_READER_CLIENT_SECRET is not",
        ),
        (
            {"COGNITO_M2M_WRITER_CLIENT_SECRET": "s"},
            "COGNITO_M2M_WRITER_CLIENT_SECRET is set but COGNITO_M2M_WRITER_CLIENT_ID is not",
        ),
    ],
    ids=[
        "missing-secret",
        "bad-pool-id",
        "wrong-region",
        "no-domain",
        "m2m-no-secret",
        "m2m-no-id",
    ],
)
def test_a_partial_or_wrong_pool_configuration_is_refused(
    change: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_env({**REAL_POOL, **change})


def test_no_cognito_login_against_auth0_without_a_pool() -> None:
    settings = settings_from_env(
        {
            "AUTH0_DOMAIN": "tenant.eu.auth0.com",
            "AUTH0_CLIENT_ID": "c",
            "AUTH0_CLIENT_SECRET": "s",
            "AUTH0_AUDIENCE": "https://api",
        }
    )

    assert settings["COGNITO_MODE"] is None


def said(fragment: requests.Response) -> str:
    """The Ping result's words, without markup."""
    words = html.unescape(re.sub(r"<[^>]+>", "", fragment.text))
    return re.sub(r"\s+", " ", words)


def test_explains_the_id_token_accepted_and_the_access_token_refused(lab: Any) -> None:
    browser = cognito_login(lab, *CUSTOMER)

    with_id = ping(browser, lab, "rest-cognito", "GET /private", "id")
    with_id_again = ping(browser, lab, "rest-cognito", "GET /private", "id")
    with_access = ping(browser, lab, "rest-cognito", "GET /private", "access")

    assert status_of(with_id) == "200"
    assert "Surprise: API Gateway's Cognito authorizer accepted an ID token here" in said(with_id)
    # The second call is a cache hit: Cognito caches claims, not a policy.
    assert "reused the claims in its result cache (TTL 300 s), keyed by the token" in said(
        with_id_again
    )
    assert "policy" not in said(with_id_again).split("Response body")[0]
    assert status_of(with_access) == "401"
    assert "Surprise: the access token is refused although it is valid" in said(with_access)


def test_explains_scope_versus_groups(lab: Any) -> None:
    browser = cognito_login(lab, *CUSTOMER)

    admin = ping(browser, lab, "rest-cognito", "GET /admin", "id")
    notes_with_id = ping(browser, lab, "http-cognito-jwt", "GET /notes", "id")

    assert status_of(admin) == "403"
    assert "`scope` and `cognito:groups` are different things" not in said(admin)  # rendered
    assert "scope and cognito:groups are different things" in said(admin)
    assert "This token's groups: customers." in said(admin)
    assert status_of(notes_with_id) == "403"
    assert "never groups" in said(notes_with_id)
    assert "It has no scope at all." in said(notes_with_id)


def test_explains_a_token_of_the_other_provider(lab: Any, actions: Any) -> None:
    auth0_user = actions.login(*CUSTOMER)
    cognito_user = cognito_login(lab, *CUSTOMER)

    auth0_to_cognito = ping(auth0_user, lab, "rest-cognito", "GET /private", "access")
    cognito_to_auth0 = ping(cognito_user, lab, "rest-token", "GET /private", "access")

    assert status_of(auth0_to_cognito) == "401"
    assert f"This is an Auth0 token (issuer {lab.idp_url}/)" in said(auth0_to_cognito)
    assert status_of(cognito_to_auth0) == "401"
    assert "This is a Cognito token (token_use: access" in said(cognito_to_auth0)
