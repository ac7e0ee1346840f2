"""`python -m emulators.gateway serve` refuses what it cannot serve, with a reason."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

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
