"""Shared fixtures: the real servers on loopback ports, a login helper, and Chromium wiring."""

from __future__ import annotations

import copy
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from werkzeug.serving import make_server

from emulators.gateway import create_gateway
from emulators.idp import create_idp_app
from emulators.idp.cognito_pool import load_pool_data
from emulators.idp.tenant import load_tenant_data
from webapp import create_app

CUSTOMER = ("customer@example.com", "Customer-Passw0rd")
ADMIN = ("admin@example.com", "Admin-Passw0rd")
AUDIENCE = "https://api.authorizer-lab.local"

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class LiveServer:
    """A threaded WSGI server bound to a free loopback port before its app exists.

    Binding first lets each app know the others' URLs (the IdP's issuer, the callback).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._app: Any = None
        self.server = make_server(host, 0, self._dispatch, threaded=True)
        self.port = self.server.server_port
        self._thread: threading.Thread | None = None

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self._app(environ, start_response)

    def start(self, app: Any) -> None:
        self._app = app
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def tenant_for(web_url: str, **overrides: Any) -> dict[str, Any]:
    """Return the versioned tenant with the web app's URLs moved to the test's port."""
    tenant = copy.deepcopy(load_tenant_data())
    for app in tenant["applications"]:
        if app["client_id"] == "lab-webapp":
            app["callbacks"] = [f"{web_url}/callback"]
            app["allowed_logout_urls"] = [f"{web_url}/"]
    tenant.update(overrides)
    return tenant


def cognito_pool_for(web_url: str) -> dict[str, Any]:
    """Return the versioned user pool with the web app's client also at the test's port.

    The versioned URLs stay: tests of the pool itself use them.
    """
    pool = copy.deepcopy(load_pool_data())
    for client in pool["clients"]:
        if client.get("callback_urls"):
            client["callback_urls"] += [f"{web_url}/callback", f"{web_url}/callback/cognito"]
            client["logout_urls"] += [f"{web_url}/"]
    return pool


@dataclass
class Lab:
    """The running lab: URLs and the app objects behind them."""

    web_url: str
    idp_url: str
    gateway_url: str
    idp_app: Any
    web_app: Any
    gateway: Any
    tenant: dict[str, Any]

    def api_url(self, name: str) -> str:
        """Return the base URL of an API of the template, by logical id."""
        api = next(a for a in self.gateway.model.apis if a.logical_id == name)
        return f"{self.gateway_url}/{api.api_id}/{api.stage}"

    @property
    def issuer(self) -> str:
        return self.idp_url + "/"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Start the local IdP, the gateway and the web app on free loopback ports."""
    web, idp, gateway = LiveServer(), LiveServer(), LiveServer()
    web_url = f"http://localhost:{web.port}"
    idp_url = f"http://127.0.0.1:{idp.port}"
    gateway_url = f"http://127.0.0.1:{gateway.port}"
    state = tmp_path_factory.mktemp("lab")
    tenant = tenant_for(web_url)
    idp_app = create_idp_app(
        {
            "IDP_ISSUER": idp_url + "/",
            "IDP_DATABASE": str(state / "idp.sqlite3"),
            "IDP_TENANT": tenant,
            "IDP_COGNITO_POOL": cognito_pool_for(web_url),
        }
    )
    gateway_app = create_gateway(idp_url + "/", gateway_url, notes_db=state / "notes.sqlite3")
    web_app = create_app(
        {"TESTING": True, "INSTANCE_PATH": str(state / "web")},
        environ={"LOCAL_IDP_URL": idp_url, "API_BASE_URL": gateway_url, "APP_BASE_URL": web_url},
    )
    idp.start(idp_app)
    gateway.start(gateway_app)
    web.start(web_app)
    yield Lab(web_url, idp_url, gateway_url, idp_app, web_app, gateway_app, tenant)
    web.stop()
    gateway.stop()
    idp.stop()
    gateway_app.close()


@pytest.fixture
def idp(lab: Lab) -> Any:
    """The IdP's in-process state (keys, store, tenant) behind the live server."""
    return lab.idp_app.extensions["idp"]


def form_fields(html: str) -> dict[str, str]:
    """Return the hidden inputs of a page's form."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


class LabActions:
    """What a person does, over plain HTTP: log in through the IdP's form, log out."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def login(
        self, email: str, password: str, session: requests.Session | None = None
    ) -> requests.Session:
        """Log in at the web app through the IdP's login page; return the browser session."""
        session = session or requests.Session()
        page = session.get(f"{self.lab.web_url}/login", timeout=5)
        assert page.url.startswith(self.lab.idp_url + "/authorize"), page.url
        response = session.post(
            page.url,
            data={
                **form_fields(page.text),
                "email": email,
                "password": password,
                "action": "login",
            },
            timeout=5,
        )
        assert response.url.rstrip("/") == self.lab.web_url, response.text[:500]
        return session

    def logout(self, session: requests.Session) -> requests.Response:
        home = session.get(self.lab.web_url + "/", timeout=5)
        return session.post(
            urljoin(self.lab.web_url, "/logout"), data=form_fields(home.text), timeout=5
        )


@pytest.fixture
def actions(lab: Lab) -> LabActions:
    return LabActions(lab)


# Browser tests -------------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip browser tests without Chromium, except where they are required (CI)."""
    if Path(CHROMIUM).exists() or os.environ.get("LAB_REQUIRE_BROWSER"):
        return
    skip = pytest.mark.skip(reason="Debian chromium not installed (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
