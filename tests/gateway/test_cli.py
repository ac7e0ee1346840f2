"""`python -m emulators.gateway serve` refuses what it cannot serve, with a reason."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulators.gateway", "serve", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "No such file"),
        ("Resources: [\n", "expected the node content"),
        ("- a list\n", "not a SAM template"),
        ("Resources: 5\n", "not a SAM template"),
    ],
    ids=["missing", "bad-yaml", "not-a-mapping", "resources-not-a-mapping"],
)
def test_a_template_that_cannot_be_served_is_refused(
    tmp_path: Path, text: str | None, reason: str
) -> None:
    template = tmp_path / "template.yaml"
    if text is not None:
        template.write_text(text)

    finished = serve("--port", "0", "--template", str(template))

    assert finished.returncode == 2
    assert f"cannot serve {template}" in finished.stderr and reason in finished.stderr
    assert "Traceback" not in finished.stderr


def test_a_port_in_use_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        finished = serve("--port", str(port))

    assert finished.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port}" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_the_served_emulator_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulators.gateway",
            "serve",
            "--port",
            str(port),
            "--notes-db",
            str(tmp_path / "notes.db"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                catalogue = requests.get(base + "/", timeout=2).json()
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        rest = next(api for api in catalogue["apis"] if api["name"] == "RestTokenApi")

        public = requests.get(rest["base_url"] + "/public", timeout=5)
        private = requests.get(rest["base_url"] + "/private", timeout=5)

        assert public.status_code == 200
        assert public.json() == {"message": "Welcome to our Public API!"}
        assert public.headers["x-amzn-RequestId"]
        assert private.status_code == 401 and private.json() == {"message": "Unauthorized"}
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=15)
    assert f"API Gateway emulator on http://127.0.0.1:{port}/" in out
