"""One origin for login: redirect and logout URLs come from `APP_BASE_URL`, never from the Host
header; loopback aliases are sent to the origin, other hosts refused; a token response without
an ID token is not a login; every response with a token or personal data is `no-store`."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask import jsonify

from emulators.idp import create_idp_app
from tests.conftest import CUSTOMER
from tests.conftest import LiveServer
from tests.conftest import form_fields
from tests.conftest import tenant_for
from webapp import create_app


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_login_from_127_0_0_1_is_sent_to_the_configured_origin_and_works(lab: Any) -> None:
    port = urlsplit(lab.web_url).port
    browser = requests.Session()

    authorize = browser.get(f"http://127.0.0.1:{port}/login", timeout=5)
    first_hop = authorize.history[0]
    done = browser.post(
        authorize.url,
        data={**form_fields(authorize.text), "email": CUSTOMER[0], "password": CUSTOMER[1]},
        timeout=5,
    )

    assert first_hop.status_code == 302
    assert first_hop.headers["Location"] == f"{lab.web_url}/login"
    assert query(authorize.url)["redirect_uri"] == f"{lab.web_url}/callback"
    assert done.url == f"{lab.web_url}/"
    assert CUSTOMER[0] in done.text


@pytest.mark.parametrize("alias", ["127.0.0.1", "[::1]", "LOCALHOST", "LocalHost"])
def test_loopback_aliases_keep_path_and_query(lab: Any, alias: str) -> None:
    port = urlsplit(lab.web_url).port
    client = lab.web_app.test_client()

    response = client.get("/ping?x=1", headers={"Host": f"{alias}:{port}"})

    assert response.status_code == 302
    assert response.headers["Location"] == f"{lab.web_url}/ping?x=1"


def test_another_host_is_refused_and_never_reaches_the_idp(lab: Any) -> None:
    login = requests.get(
        f"{lab.web_url}/login",
        headers={"Host": "evil.example"},
        allow_redirects=False,
        timeout=5,
    )
    logout = requests.post(
        f"{lab.web_url}/logout", headers={"Host": "evil.example"}, allow_redirects=False, timeout=5
    )

    for response in (login, logout):
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert f"answers only at {lab.web_url}/" in response.text
        assert "evil.example" not in response.text


def test_x_forwarded_host_is_ignored_without_the_proxy_setting(lab: Any) -> None:
    response = requests.get(
        f"{lab.web_url}/login",
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
        allow_redirects=False,
        timeout=5,
    )

    assert response.status_code == 302
    assert query(response.headers["Location"])["redirect_uri"] == f"{lab.web_url}/callback"


def test_behind_a_trusted_proxy_the_public_origin_is_used(lab: Any) -> None:
    app = create_app(
        {"TESTING": True, "WTF_CSRF_ENABLED": False},
        environ={
            "LOCAL_IDP_URL": lab.idp_url,
            "APP_BASE_URL": "https://lab.example.com",
            "APP_TRUSTED_PROXIES": "1",
        },
    )
    client = app.test_client()
    proxied = {"X-Forwarded-Host": "lab.example.com", "X-Forwarded-Proto": "https"}

    login = client.get("/login", headers=proxied)
    forged = client.get("/login", headers={**proxied, "X-Forwarded-Host": "evil.example"})
    direct = client.get("/login", headers={"Host": "localhost:3000"})

    assert login.status_code == 302
    assert query(login.headers["Location"])["redirect_uri"] == "https://lab.example.com/callback"
    assert forged.status_code == 400
    assert direct.status_code == 400


def test_logout_returns_to_the_configured_origin(lab: Any, actions: Any) -> None:
    browser = actions.login(*CUSTOMER)
    home = browser.get(lab.web_url + "/", timeout=5)

    response = browser.post(
        lab.web_url + "/logout",
        data=form_fields(home.text),
        headers={"X-Forwarded-Host": "evil.example"},
        allow_redirects=False,
        timeout=5,
    )

    assert response.status_code == 302
    assert query(response.headers["Location"])["post_logout_redirect_uri"] == f"{lab.web_url}/"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("localhost:3000", "public origin"),
        ("http://localhost:3000/app", "public origin"),
        ("ftp://localhost:3000", "public origin"),
    ],
)
def test_a_wrong_origin_setting_is_refused_clearly(value: str, words: str) -> None:
    from webapp.config import ConfigError

    with pytest.raises(ConfigError, match=words):
        create_app(environ={"APP_BASE_URL": value})


# A token response without an ID token --------------------------------------------------------


@pytest.fixture(scope="module")
def no_openid_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A web app that asks for no `openid` scope: the IdP then answers without an ID token."""
    web, idp = LiveServer(), LiveServer()
    web_url, idp_url = f"http://localhost:{web.port}", f"http://127.0.0.1:{idp.port}"
    idp.start(
        create_idp_app(
            {
                "IDP_ISSUER": idp_url + "/",
                "IDP_DATABASE": str(tmp_path_factory.mktemp("noid") / "idp.sqlite3"),
                "IDP_TENANT": tenant_for(web_url),
            }
        )
    )
    web.start(
        create_app(
            {"TESTING": True},
            environ={
                "LOCAL_IDP_URL": idp_url,
                "APP_BASE_URL": web_url,
                "API_BASE_URL": "http://127.0.0.1:9",
                "AUTH0_SCOPE": "profile email read:messages",
            },
        )
    )
    yield web_url, idp_url
    web.stop()
    idp.stop()


def test_a_token_response_without_an_id_token_is_not_a_login(
    no_openid_lab: tuple[str, str],
) -> None:
    web_url, _ = no_openid_lab
    browser = requests.Session()
    authorize = browser.get(f"{web_url}/login", timeout=5)

    callback = browser.post(
        authorize.url,
        data={**form_fields(authorize.text), "email": CUSTOMER[0], "password": CUSTOMER[1]},
        timeout=5,
    )
    profile = browser.get(f"{web_url}/profile", allow_redirects=False, timeout=5)
    tokens = browser.get(f"{web_url}/tokens", allow_redirects=False, timeout=5)
    home = browser.get(f"{web_url}/", timeout=5)

    assert callback.status_code == 502
    assert "has no ID token" in callback.text
    assert profile.status_code == 302 and profile.headers["Location"].endswith("/login")
    assert tokens.status_code == 302
    assert "Log out" not in home.text and "Log in" in home.text


# Cache-Control: no-store on everything that carries a token or personal data -----------------


def test_every_response_with_a_token_or_personal_data_is_no_store(lab: Any, actions: Any) -> None:
    browser = actions.login(*CUSTOMER)
    page = browser.get(lab.web_url + "/ping", timeout=5)
    csrf = form_fields(page.text)["csrf_token"]
    fetch = {"X-CSRFToken": csrf, "X-Requested-With": "fetch"}
    call = {"api": "rest-token", "action": "GET /private", "token": "access"}

    responses = {
        "home": browser.get(lab.web_url + "/", timeout=5),
        "profile": browser.get(lab.web_url + "/profile", timeout=5),
        "tokens": browser.get(lab.web_url + "/tokens", timeout=5),
        "ping": page,
        "reveal (JSON)": browser.post(
            lab.web_url + "/tokens/reveal", data={"which": "access"}, headers=fetch, timeout=5
        ),
        "reveal (page)": browser.post(
            lab.web_url + "/tokens/reveal",
            data={"which": "id", "csrf_token": csrf},
            timeout=5,
        ),
        "call (fragment)": browser.post(
            lab.web_url + "/ping/call", data=call, headers=fetch, timeout=5
        ),
        "call (page)": browser.post(
            lab.web_url + "/ping/call", data={**call, "csrf_token": csrf}, timeout=5
        ),
    }

    assert responses["reveal (JSON)"].json()["token"].count(".") == 2
    assert CUSTOMER[0] in responses["profile"].text
    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 200)
    assert {name: r.headers.get("Cache-Control") for name, r in responses.items()} == dict.fromkeys(
        responses, "no-store"
    )


# The discovery document is replaced, not merged ----------------------------------------------


class Tenant:
    """A real HTTP server publishing a discovery document the test can change."""

    def __init__(self) -> None:
        self.server = LiveServer()
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.document: dict[str, Any] = {}
        app = Flask("tenant")
        app.get("/.well-known/openid-configuration")(lambda: jsonify(self.document))
        self.server.start(app)


def test_a_tenant_that_stops_publishing_end_session_is_logged_out_the_v2_way() -> None:
    tenant = Tenant()
    issuer = tenant.url + "/"
    tenant.document = {
        "issuer": issuer,
        "authorization_endpoint": issuer + "authorize",
        "token_endpoint": issuer + "oauth/token",
        "end_session_endpoint": issuer + "oidc/logout",
    }
    app = create_app(
        {"TESTING": True, "WTF_CSRF_ENABLED": False}, environ={"LOCAL_IDP_URL": tenant.url}
    )
    client = app.test_client()
    try:
        before = client.post("/logout")
        del tenant.document["end_session_endpoint"]
        after = client.post("/logout")
    finally:
        tenant.server.stop()

    assert before.headers["Location"].startswith(issuer + "oidc/logout?")
    assert after.headers["Location"].startswith(issuer + "v2/logout?")
    assert query(after.headers["Location"])["returnTo"] == "http://localhost:3000/"


# The launcher and wsgi.py announce the origin, not the socket --------------------------------


def test_wsgi_announces_the_configured_origin(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "wsgi.py", "--listen", f"localhost:{port}"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "APP_BASE_URL": f"http://localhost:{port}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        for _ in range(100):
            try:
                requests.get(f"http://localhost:{port}/ping", timeout=1)
                break
            except requests.ConnectionError:
                threading.Event().wait(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=5)
        if process.stdout:
            process.stdout.close()

    output = "".join(lines)
    assert f"Web app on http://localhost:{port}/" in output
    assert not re.search(r"http://(127\.0\.0\.1|\[::1\])", output)


def test_the_shipped_server_passes_a_trusted_proxys_headers_on(lab: Any, tmp_path: Path) -> None:
    # waitress (what `make run` and wsgi.py serve with) drops X-Forwarded-* unless told not
    # to: behind APP_TRUSTED_PROXIES, an HTTPS origin must still get the __Host- cookie.
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUTH0_", "API_", "APP_"))},
        "LOCAL_IDP_URL": lab.idp_url,
        "API_BASE_URL": lab.gateway_url,
        "APP_BASE_URL": "https://lab.example.com",
        "APP_TRUSTED_PROXIES": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "wsgi.py", "--listen", f"127.0.0.1:{port}"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proxied = {
            "Host": "lab.example.com",
            "X-Forwarded-Host": "lab.example.com",
            "X-Forwarded-Proto": "https",
        }
        deadline = time.monotonic() + 30
        while True:
            try:
                login = requests.get(
                    f"http://127.0.0.1:{port}/login",
                    headers=proxied,
                    allow_redirects=False,
                    timeout=5,
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "wsgi.py did not start"
                time.sleep(0.2)
        forged = requests.get(
            f"http://127.0.0.1:{port}/login",
            headers={**proxied, "X-Forwarded-Host": "evil.example"},
            allow_redirects=False,
            timeout=5,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert login.status_code == 302
    assert query(login.headers["Location"])["redirect_uri"] == "https://lab.example.com/callback"
    cookie = login.headers["Set-Cookie"]
    assert cookie.startswith("__Host-") and "Secure" in cookie
    assert forged.status_code == 400
