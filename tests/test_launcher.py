"""`make run`'s launcher: it checks the settings first, says where the app points, and Ctrl-C
leaves no server process and no listener behind (each server is a process group it stops)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from webapp import launcher

ROOT = Path(__file__).resolve().parents[1]
CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("AUTH0_", "API_", "APP_", "LOCAL_", "M2M_", "IDP_", "GATEWAY_"))
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc), zombies excluded."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def run_launcher(env: dict[str, str]) -> subprocess.Popen[str]:
    # A session of its own, as a terminal's foreground job: the test's Ctrl-C goes to it alone.
    return subprocess.Popen(
        [sys.executable, "-m", "webapp.launcher"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for_banner(process: subprocess.Popen[str], timeout: float = 60) -> str:
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Open "):
            return "".join(lines)
    process.kill()
    process.wait()
    process.stdout.close()
    raise AssertionError("the lab did not start:\n" + "".join(lines))


def test_ctrl_c_leaves_no_process_and_no_listener_ten_times(tmp_path: Path) -> None:
    web, idp, gateway = free_port(), free_port(), free_port()
    env = {
        **CLEAN_ENV,
        "APP_BASE_URL": f"http://localhost:{web}",
        "LOCAL_IDP_URL": f"http://127.0.0.1:{idp}",
        "LOCAL_GATEWAY_URL": f"http://127.0.0.1:{gateway}",
        "IDP_DATABASE": str(tmp_path / "idp.sqlite3"),
    }
    for trial in range(10):
        process = run_launcher(env)
        banner = wait_for_banner(process)
        ours = descendants(process.pid)
        assert len(ours) >= 3, banner
        # Calls over keep-alive connections that stay open while the lab stops.
        gateway_calls, web_calls = requests.Session(), requests.Session()
        catalogue = gateway_calls.get(f"http://127.0.0.1:{gateway}/", timeout=5).json()
        public = next(a for a in catalogue["apis"] if a["name"] == "RestTokenApi")["base_url"]
        for _ in range(5):
            assert gateway_calls.get(public + "/public", timeout=5).status_code == 200
            assert web_calls.get(f"http://localhost:{web}/ping", timeout=5).status_code == 200

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        status = process.wait(timeout=20)
        rest = process.stdout.read() if process.stdout else ""
        if process.stdout:
            process.stdout.close()
        assert status == 0, banner + rest
        left = {pid for pid in ours if alive(pid)}
        listeners = [port for port in (web, idp, gateway) if listening(port)]
        gateway_calls.close()
        web_calls.close()
        assert (left, listeners) == (set(), []), f"trial {trial}"


def test_a_second_sigterm_while_stopping_leaves_nothing_behind(tmp_path: Path) -> None:
    # `make run` forwards a SIGTERM to the launcher as well: two arrive, one mid-stop.
    web, idp, gateway = free_port(), free_port(), free_port()
    env = {
        **CLEAN_ENV,
        "APP_BASE_URL": f"http://localhost:{web}",
        "LOCAL_IDP_URL": f"http://127.0.0.1:{idp}",
        "LOCAL_GATEWAY_URL": f"http://127.0.0.1:{gateway}",
        "IDP_DATABASE": str(tmp_path / "idp.sqlite3"),
    }
    for trial in range(3):
        process = run_launcher(env)
        banner = wait_for_banner(process)
        ours = descendants(process.pid)

        process.send_signal(signal.SIGTERM)
        for _ in range(2000):  # keep signalling while it stops
            time.sleep(0.001)
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        if process.stdout:
            process.stdout.close()
        deadline = time.monotonic() + 10
        while {pid for pid in ours if alive(pid)} and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {pid for pid in ours if alive(pid)}
        listeners = [port for port in (web, idp, gateway) if listening(port)]
        assert (left, listeners) == (set(), []), f"trial {trial}: {banner}"


def test_a_partial_auth0_configuration_is_one_message_before_anything_starts() -> None:
    env = {**CLEAN_ENV, "AUTH0_DOMAIN": "lab-tenant.eu.auth0.com", "AUTH0_CLIENT_ID": "abc"}

    done = subprocess.run(
        [sys.executable, "-m", "webapp.launcher"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("Cannot start: AUTH0_DOMAIN is set")
    assert "AUTH0_CLIENT_SECRET, AUTH0_AUDIENCE are not set" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_a_bad_origin_is_refused_before_anything_starts() -> None:
    env = {**CLEAN_ENV, "APP_BASE_URL": "localhost:3000/app"}

    done = subprocess.run(
        [sys.executable, "-m", "webapp.launcher"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 2
    assert "APP_BASE_URL is 'localhost:3000/app'" in done.stderr


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {},
            [
                "local identity provider http://127.0.0.1:3001/",
                "local API gateway      http://127.0.0.1:3002/",
                "Open http://localhost:3000/ and log in.",
            ],
        ),
        (
            {
                "AUTH0_DOMAIN": "lab-tenant.eu.auth0.com",
                "AUTH0_CLIENT_ID": "abc",
                "AUTH0_CLIENT_SECRET": "not-shown",
                "AUTH0_AUDIENCE": "https://api.example.com",
                "API_BASE_URL": "https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
            },
            [
                "Auth0 tenant           https://lab-tenant.eu.auth0.com/ "
                "(audience https://api.example.com)",
                "deployed API           https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
            ],
        ),
    ],
    ids=["local", "auth0-and-aws"],
)
def test_the_banner_says_which_tenant_and_apis(
    settings: dict[str, str], expected: list[str]
) -> None:
    from webapp.config import settings_from_env

    servers = launcher.planned_servers(dict(settings))
    config = settings_from_env(settings)

    banner = launcher._banner(servers, dict(settings), config)

    for line in expected:
        assert line in banner
    assert "not-shown" not in banner


def test_shared_sessions_without_a_secret_key_are_refused_before_anything_starts() -> None:
    env = {**CLEAN_ENV, "SESSION_REDIS_URL": "redis://127.0.0.1:6399/0"}

    done = subprocess.run(
        [sys.executable, "-m", "webapp.launcher"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 2
    assert done.stderr.startswith("Cannot start:") and "APP_SECRET_KEY" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
