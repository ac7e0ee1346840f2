"""The local user pool's hosted UI answers a wrong password and a Cancel as a person needs:
the form again as a page (no failed load), and `access_denied` that says the user cancelled."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlparse

import requests

from tests.cognito_helpers import CALLBACK
from tests.cognito_helpers import WEBAPP
from tests.cognito_helpers import domain
from tests.conftest import CUSTOMER
from tests.conftest import form_fields


def hosted_ui(idp_url: str, **fields: str) -> requests.Response:
    browser = requests.Session()
    page = browser.get(
        f"{domain(idp_url)}/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": WEBAPP[0],
            "redirect_uri": CALLBACK,
            "scope": "openid email",
            "state": "st-9",
        },
        timeout=5,
    )
    return browser.post(
        page.url, data={**form_fields(page.text), **fields}, allow_redirects=False, timeout=5
    )


def test_a_wrong_password_shows_the_form_again_as_a_page(lab: Any) -> None:
    answer = hosted_ui(lab.idp_url, email=CUSTOMER[0], password="not-it", action="login")

    assert answer.status_code == 200
    assert "Incorrect username or password." in answer.text
    assert 'id="password"' in answer.text


def test_cancel_answers_access_denied_saying_the_user_cancelled(lab: Any) -> None:
    answer = hosted_ui(lab.idp_url, action="cancel")

    assert answer.status_code == 302
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    assert query == {
        "error": ["access_denied"],
        "error_description": ["The user cancelled the login"],
        "state": ["st-9"],
    }
