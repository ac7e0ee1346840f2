"""Login, callback and logout of the web app against the live local IdP, over real HTTP."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest
import requests

from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from tests.conftest import LabActions
from tests.conftest import form_fields
from webapp import create_app


def test_login_shows_the_user_and_keeps_tokens_on_the_server(lab: Any, actions: LabActions) -> None:
    browser = requests.Session()
    browser.get(f"{lab.web_url}/", timeout=5)
    before = browser.get(f"{lab.web_url}/login", allow_redirects=False, timeout=5)
    cookie_before = before.cookies.get("lab_session") or browser.cookies.get("lab_session")

    actions.login(*CUSTOMER, session=browser)
    home = browser.get(f"{lab.web_url}/", timeout=5)

    assert "customer@example.com" in home.text
    assert "Casey Customer" in home.text
    cookie = next(c for c in browser.cookies if c.name == "lab_session")
    assert cookie.value != cookie_before  # a new session id at login
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert len(cookie.value) < 64  # an id, not the tokens
    assert "eyJ" not in home.text  # no token on the page


def test_the_cookie_is_httponly_and_samesite_lax(lab: Any) -> None:
    response = requests.get(f"{lab.web_url}/login", allow_redirects=False, timeout=5)

    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Path=/" in header


def test_login_asks_for_code_flow_with_pkce_state_nonce_and_audience(lab: Any) -> None:
    response = requests.get(f"{lab.web_url}/login", allow_redirects=False, timeout=5)

    location = response.headers["Location"]
    assert location.startswith(lab.idp_url + "/authorize?")
    for part in (
        "response_type=code",
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "audience=https%3A%2F%2Fapi.authorizer-lab.local",
        "redirect_uri=http%3A%2F%2Flocalhost",
    ):
        assert part in location, part


def test_profile_shows_userinfo_and_needs_a_login(lab: Any, actions: LabActions) -> None:
    anonymous = requests.get(f"{lab.web_url}/profile", allow_redirects=False, timeout=5)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].endswith("/login")

    browser = actions.login(*ADMIN)
    profile = browser.get(f"{lab.web_url}/profile", timeout=5)

    assert profile.status_code == 200
    assert "/userinfo" in profile.text
    assert "admin@example.com" in profile.text and "auth0|admin-0001" in profile.text


def test_logout_needs_post_with_csrf_and_ends_both_sessions(lab: Any, actions: LabActions) -> None:
    browser = actions.login(*CUSTOMER)

    confirm = browser.get(f"{lab.web_url}/logout", timeout=5)
    assert "Log out?" in confirm.text
    forged = browser.post(f"{lab.web_url}/logout", timeout=5)
    assert forged.status_code == 400
    assert "customer@example.com" in browser.get(f"{lab.web_url}/", timeout=5).text

    done = actions.logout(browser)

    assert done.url == f"{lab.web_url}/"
    assert ">Log in<" in done.text and "customer@example.com" not in done.text
    # The IdP session ended too: the next login shows the form again.
    again = browser.get(f"{lab.web_url}/login", timeout=5)
    assert 'id="password"' in again.text


def test_a_cancelled_login_gets_a_friendly_page(lab: Any) -> None:
    browser = requests.Session()
    page = browser.get(f"{lab.web_url}/login", timeout=5)

    response = browser.post(
        page.url, data={**form_fields(page.text), "action": "cancel"}, timeout=5
    )

    assert response.status_code == 200  # the user's choice: no error for the browser to log
    assert "Login cancelled" in response.text
    assert "access_denied: The user cancelled the login." in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("state", [None, "not-mine"])
def test_an_error_callback_for_no_login_of_this_browser_shows_no_foreign_text(
    lab: Any, state: str | None
) -> None:
    # A link anyone can send: its description must not appear in the lab's own page.
    browser = requests.Session()
    browser.get(f"{lab.web_url}/login", allow_redirects=False, timeout=5)
    params = {"error": "access_denied", "error_description": "Call 555-0100 to unlock"}

    response = browser.get(
        f"{lab.web_url}/callback", params={**params, **({"state": state} if state else {})}
    )

    assert response.status_code == 400
    assert "555-0100" not in response.text
    assert "does not match any login started in this browser" in response.text


def test_a_callback_with_a_foreign_state_is_refused(lab: Any) -> None:
    browser = requests.Session()
    browser.get(f"{lab.web_url}/login", allow_redirects=False, timeout=5)

    response = browser.get(
        f"{lab.web_url}/callback", params={"code": "abc", "state": "not-mine"}, timeout=5
    )

    assert response.status_code == 400
    assert "state does not match" in response.text


def test_a_replayed_callback_does_not_log_in(lab: Any) -> None:
    browser = requests.Session()
    page = browser.get(f"{lab.web_url}/login", timeout=5)
    login = browser.post(
        page.url,
        data={**form_fields(page.text), "email": CUSTOMER[0], "password": CUSTOMER[1]},
        allow_redirects=False,
        timeout=5,
    )
    callback_url = login.headers["Location"]
    browser.get(callback_url, timeout=5)

    replay = requests.get(callback_url, timeout=5)  # another browser, same URL

    assert replay.status_code == 400


def test_callback_errors_and_missing_code_are_explained(lab: Any) -> None:
    browser = requests.Session()
    start = browser.get(f"{lab.web_url}/login", allow_redirects=False, timeout=5)
    state = parse_qs(urlparse(start.headers["Location"]).query)["state"][0]

    error = browser.get(
        f"{lab.web_url}/callback",
        timeout=5,
        params={"error": "server_error", "error_description": "boom", "state": state},
    )
    empty = requests.get(f"{lab.web_url}/callback", timeout=5)

    assert error.status_code == 400 and "server_error: boom" in error.text
    assert empty.status_code == 400 and "without a code" in empty.text


def test_an_unreachable_idp_gets_a_friendly_page() -> None:
    app = create_app({"TESTING": True}, environ={"LOCAL_IDP_URL": "http://127.0.0.1:9"})

    response = app.test_client().get("/login")

    assert response.status_code == 503
    assert "The identity provider is not reachable" in response.text
    assert "http://127.0.0.1:9/" in response.text


def test_unknown_pages_and_methods_get_plain_error_pages(lab: Any) -> None:
    missing = requests.get(f"{lab.web_url}/no-such-page", timeout=5)
    wrong_method = requests.delete(f"{lab.web_url}/login", timeout=5)

    assert missing.status_code == 404 and "Page not found" in missing.text
    assert wrong_method.status_code == 405


def test_security_headers_on_pages(lab: Any) -> None:
    headers = requests.get(f"{lab.web_url}/", timeout=5).headers

    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert not re.search(r"https?://(?!localhost|127\.0\.0\.1)", headers["Content-Security-Policy"])
