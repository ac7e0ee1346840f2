"""Two web app processes sharing sessions in a real Redis, behind one origin.

`redis-server` (Debian's package) runs on a free loopback port; the two instances are
`waitress` processes running `wsgi:app`, as `make run` does, with `SESSION_REDIS_URL` and one
`APP_SECRET_KEY`. Both are addressed as the same origin (`Host: localhost:<A>`), as behind a
load balancer; the IdP and gateway run in this process. Access tokens live 11 seconds here, so
the parallel calls of the race test find them due for refresh.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulators.gateway import create_gateway
from emulators.idp import create_idp_app
from tests.conftest import CUSTOMER
from tests.conftest import LiveServer
from tests.conftest import form_fields
from tests.conftest import tenant_for
from tests.test_refresh import run_trials
from tests.test_refresh import short_lived

ROOT = Path(__file__).resolve().parents[1]
REDIS = shutil.which("redis-server")

pytestmark = pytest.mark.skipif(
    REDIS is None and not os.environ.get("LAB_REQUIRE_BROWSER"),
    reason="redis-server not installed (apt-get install redis-server)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the web app process exited"
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not start")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Redis, the IdP, the gateway and two web app processes using Redis for sessions."""
    state = tmp_path_factory.mktemp("redis")
    redis_port, port_a, port_b = free_port(), free_port(), free_port()
    redis = subprocess.Popen(
        [
            REDIS or "redis-server",
            *("--port", str(redis_port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(state)),
        ],
        stdout=subprocess.DEVNULL,
    )
    origin = f"http://localhost:{port_a}"
    idp, gateway = LiveServer(), LiveServer()
    idp_url = f"http://127.0.0.1:{idp.port}"
    gateway_url = f"http://127.0.0.1:{gateway.port}"
    idp.start(
        create_idp_app(
            {
                "IDP_ISSUER": idp_url + "/",
                "IDP_DATABASE": str(state / "idp.sqlite3"),
                "IDP_TENANT": short_lived(tenant_for(origin)),
            }
        )
    )
    gateway_app = create_gateway(idp_url + "/", gateway_url, notes_db=state / "notes.sqlite3")
    gateway.start(gateway_app)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUTH0_", "API_", "APP_"))},
        "SESSION_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "APP_SECRET_KEY": "test-only-shared-secret-" + "x" * 40,
        "LOCAL_IDP_URL": idp_url,
        "API_BASE_URL": gateway_url,
    }
    webs = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "waitress"),
                *(f"--listen=127.0.0.1:{port}", "--threads=8", "wsgi:app"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in (port_a, port_b)
    ]
    try:
        for port, process in zip((port_a, port_b), webs, strict=True):
            wait_for(f"http://127.0.0.1:{port}/", process)
        yield {
            "origin": origin,
            "host": f"localhost:{port_a}",
            "urls": [f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"],
            "idp_url": idp_url,
            "redis_port": redis_port,
        }
    finally:
        for process in [*webs, redis]:
            process.terminate()
        for process in [*webs, redis]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        gateway.stop()
        idp.stop()
        gateway_app.close()


def login(shared: dict[str, Any]) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{shared['origin']}/login", timeout=10)
    assert page.url.startswith(shared["idp_url"] + "/authorize"), page.url
    done = browser.post(
        page.url,
        data={
            **form_fields(page.text),
            "email": CUSTOMER[0],
            "password": CUSTOMER[1],
            "action": "login",
        },
        timeout=10,
    )
    assert done.url.rstrip("/") == shared["origin"], done.text[:300]
    return browser


def redis_keys(port: int) -> list[bytes]:
    import redis

    return redis.Redis(port=port).keys("lab-session:*")


def test_two_instances_serve_one_session_alternately(shared: dict[str, Any]) -> None:
    browser = login(shared)
    cookies = {"lab_session": browser.cookies["lab_session"]}
    headers = {"Host": shared["host"]}

    pages = [
        requests.get(f"{url}/profile", cookies=cookies, headers=headers, timeout=10)
        for url in shared["urls"] * 3
    ]

    assert [p.status_code for p in pages] == [200] * 6
    assert all("customer@example.com" in p.text for p in pages)
    keys = redis_keys(shared["redis_port"])
    assert f"lab-session:{cookies['lab_session']}".encode() in keys
    # A form served by one instance is accepted by the other (one APP_SECRET_KEY).
    home = requests.get(f"{shared['urls'][0]}/", cookies=cookies, headers=headers, timeout=10)
    out = requests.post(
        f"{shared['urls'][1]}/logout",
        data=form_fields(home.text),
        cookies=cookies,
        headers=headers,
        allow_redirects=False,
        timeout=10,
    )
    assert out.status_code == 302
    assert f"lab-session:{cookies['lab_session']}".encode() not in redis_keys(shared["redis_port"])


def test_parallel_calls_at_expiry_across_two_instances_all_succeed(
    shared: dict[str, Any],
) -> None:
    browser = login(shared)
    cookies = {"lab_session": browser.cookies["lab_session"]}
    ping = requests.get(
        f"{shared['urls'][1]}/ping", cookies=cookies, headers={"Host": shared["host"]}, timeout=10
    )
    csrf = form_fields(ping.text)["csrf_token"]

    failures = run_trials(shared["urls"], cookies, csrf, host=shared["host"])

    assert failures == []
    home = requests.get(
        f"{shared['urls'][0]}/", cookies=cookies, headers={"Host": shared["host"]}, timeout=10
    )
    assert "customer@example.com" in home.text
