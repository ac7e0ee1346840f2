"""The Ping page's buttons are the routes of `template.yaml`, read from the gateway's catalogue:
a route added to a template becomes a button, labelled from its method and path, with no web
app change; against a deployed API (no catalogue) the page falls back to the lab's routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulators.gateway import create_gateway
from emulators.gateway import local_parameters
from emulators.gateway.template import load_model
from tests.conftest import LiveServer
from webapp import create_app
from webapp.api_client import FALLBACK_ROUTES

TEMPLATE = Path(__file__).with_name("ping_routes.yaml")
LAB_BUTTONS = [
    ("GET /public", "Call Public"),
    ("GET /private", "Call Private"),
    ("GET /admin", "Call Admin"),
    ("GET /notes", "List notes"),
    ("POST /notes", "Add note"),
]


def buttons(html: str) -> list[tuple[str, str]]:
    """Return the Ping form's route buttons as (route key, label), in page order."""
    return re.findall(
        r'<button type="submit" name="action" value="([^"]+)"[^>]*>([^<]+)</button>', html
    )


@pytest.fixture(scope="module")
def reports_app(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The web app in front of a gateway that serves `ping_routes.yaml`."""
    server = LiveServer()
    url = f"http://127.0.0.1:{server.port}"
    gateway = create_gateway(
        lab.issuer, url, template=TEMPLATE, notes_db=tmp_path_factory.mktemp("routes") / "n.db"
    )
    server.start(gateway)
    app = create_app(
        {"TESTING": True, "WTF_CSRF_ENABLED": False},
        environ={"LOCAL_IDP_URL": lab.idp_url, "API_BASE_URL": url},
    )
    yield app
    server.stop()
    gateway.close()


def test_the_lab_s_routes_keep_their_labels_and_order(lab: Any) -> None:
    page = requests.get(f"{lab.web_url}/ping", timeout=5)

    assert buttons(page.text) == LAB_BUTTONS


def test_a_route_added_to_the_template_becomes_a_button(reports_app: Any) -> None:
    page = reports_app.test_client().get("/ping")

    # GET lists what POST adds; the POST sits beside the text it sends, after the others
    assert buttons(page.text) == [
        ("GET /public", "Call Public"),
        ("GET /reports", "List reports"),
        ("POST /reports", "Add report"),
    ]
    assert "DELETE" not in page.text  # a path parameter has no field on the page
    assert "Call Admin" not in page.text  # nothing of the lab's own list remains


def test_the_added_route_answers_without_javascript(reports_app: Any) -> None:
    client = reports_app.test_client()

    listed = client.post(
        "/ping/call", data={"api": "rest-token", "action": "GET /reports", "token": "none"}
    )
    added = client.post(
        "/ping/call",
        data={"api": "rest-token", "action": "POST /reports", "token": "none", "text": "Q3"},
    )

    assert listed.status_code == 200 and "<html" in listed.text
    assert 'data-status="200"' in listed.text
    assert "/reports" in listed.text  # the echoed event's path
    assert 'data-status="200"' in added.text
    assert "Q3" in added.text  # the page's text went as the JSON body


def test_an_api_without_the_route_says_so(reports_app: Any) -> None:
    response = reports_app.test_client().post(
        "/ping/call",
        data={"api": "http-jwt", "action": "POST /reports", "token": "none"},
        headers={"X-Requested-With": "fetch"},
    )

    assert response.status_code == 400
    assert "has no route POST /reports" in response.text


def test_the_added_jwt_route_asks_for_its_scope(reports_app: Any) -> None:
    response = reports_app.test_client().post(
        "/ping/call",
        data={"api": "http-jwt", "action": "GET /reports", "token": "none"},
        headers={"X-Requested-With": "fetch"},
    )

    assert 'data-status="401"' in response.text  # the JWT authorizer guards it


def test_against_a_deployed_api_the_lab_s_routes_are_offered() -> None:
    app = create_app(
        {"TESTING": True},
        environ={
            "API_BASE_URL": "http://127.0.0.1:9",
            "API_URL_HTTP_JWT": "https://abc.execute-api.eu-west-1.amazonaws.com/dev",
        },
    )

    page = app.test_client().get("/ping")

    assert buttons(page.text) == LAB_BUTTONS


def test_every_fallback_route_is_served_by_every_api_of_the_template() -> None:
    model = load_model(local_parameters())

    for api in model.apis:
        served = {r.key: r for r in api.routes}
        for route in FALLBACK_ROUTES:
            assert route.key in served, f"{api.logical_id} no longer serves {route.key}"
            authorizer = served[route.key].authorizer
            assert (authorizer is not None) == route.guarded, route.key
            # (the JWT authorizer trusting the Cognito user pool has the pool's own scopes)
            trusts_auth0 = (
                authorizer is not None and authorizer.issuer == local_parameters()["TokenIssuer"]
            )
            if authorizer is not None and authorizer.kind == "JWT" and trusts_auth0:
                assert served[route.key].scopes == route.scopes, route.key
