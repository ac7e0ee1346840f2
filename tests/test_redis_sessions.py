"""Two web app processes sharing sessions in a real Redis, behind one origin.

`redis-server` (Debian's package) runs on a free loopback port; the two instances are
`waitress` processes running `wsgi:app`, as `make run` does, with `SESSION_REDIS_URL` and one
`APP_SECRET_KEY`. Both are addressed as the same origin (`Host: localhost:<A>`), as behind a
load balancer; the lab's IdP and gateway serve them. Access tokens live 11 seconds here, so
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

from tests.conftest import CUSTOMER
from tests.conftest import Lab
from tests.conftest import form_fields
from tests.test_refresh import run_trials
from tests.test_refresh import short_tokens  # noqa: F401 (a fixture)

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
def shared(
    short_tokens: Lab,  # noqa: F811 (the fixture imported above)
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """Redis and two web app processes using it for sessions, with the lab's IdP and gateway.

    Both instances are addressed with the lab's web origin as `Host`, the callback the IdP
    allows: as behind a load balancer, neither knows its own port.
    """
    lab = short_tokens
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
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUTH0_", "API_", "APP_"))},
        "SESSION_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "APP_SECRET_KEY": "test-only-shared-secret-" + "x" * 40,
        "LOCAL_IDP_URL": lab.idp_url,
        "API_BASE_URL": lab.gateway_url,
        # The origin both instances answer for (the login's redirect_uri is built from it).
        "APP_BASE_URL": lab.web_url,
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
            "origin": lab.web_url,
            "host": lab.web_url.removeprefix("http://"),
            "urls": [f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"],
            "idp_url": lab.idp_url,
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


def login(shared: dict[str, Any]) -> dict[str, str]:
    """Log in through instance A, as the origin; return the session cookie."""
    host = {"Host": shared["host"]}
    start = requests.get(
        f"{shared['urls'][0]}/login", headers=host, allow_redirects=False, timeout=10
    )
    cookies = {"lab_session": start.cookies["lab_session"]}
    idp = requests.Session()
    page = idp.get(start.headers["Location"], timeout=10)
    back = idp.post(
        page.url,
        data={
            **form_fields(page.text),
            "email": CUSTOMER[0],
            "password": CUSTOMER[1],
            "action": "login",
        },
        allow_redirects=False,
        timeout=10,
    )
    location = back.headers["Location"]
    assert location.startswith(shared["origin"] + "/callback?"), location
    done = requests.get(
        shared["urls"][0] + location.removeprefix(shared["origin"]),
        headers=host,
        cookies=cookies,
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 302, done.text[:300]
    return {"lab_session": done.cookies["lab_session"]}


def redis_keys(port: int) -> list[bytes]:
    import redis

    return redis.Redis(port=port).keys("lab-session:*")


def test_two_instances_serve_one_session_alternately(shared: dict[str, Any]) -> None:
    cookies = login(shared)
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
    cookies = login(shared)
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
