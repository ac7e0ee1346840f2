"""The authorizer's decision lines: JSON by default (Lambda, CloudWatch), a short human line
when a local terminal asks for one, and never any part of the token in either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from authorizer import audit

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA"
SUMMARY = ("Allow", "valid", "", "GET /private", "k1", "http://idp/", "auth0|abc", "web", "user", 0)


@pytest.fixture
def human() -> object:
    audit.set_line_format(audit.human_line)
    yield
    audit.set_line_format(None)


def test_the_default_line_is_json_as_cloudwatch_reads_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    audit.record_decision("TOKEN", TOKEN, SUMMARY, "miss", 420, 3600)

    fields = json.loads(capsys.readouterr().out)
    assert fields["event"] == "authorizer_decision" and fields["decision"] == "Allow"
    assert fields["sub"] == "auth0|abc" and fields["route"] == "GET /private"


def test_a_terminal_line_shows_no_markup(human: object, capsys: pytest.CaptureFixture[str]) -> None:
    refused = ("Deny", "missing_permission", "needs `read:admin`", "GET /admin", *([None] * 6))
    audit.record_decision("TOKEN", TOKEN, refused, "miss", 80, None)

    line = capsys.readouterr().out
    assert "(needs read:admin)" in line and "`" not in line


def test_a_terminal_gets_one_short_line(human: object, capsys: pytest.CaptureFixture[str]) -> None:
    audit.record_decision("TOKEN", TOKEN, SUMMARY, "miss", 420, 3600)
    audit.record_decision(
        "TOKEN", None, ("Deny", "no_token", "", "GET /private", *([None] * 6)), "none", 80, None
    )

    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("authorizer ALLOW GET /private · valid · sub auth0|abc · miss")
    assert "0.4 ms" in first and f"token {audit.fingerprint(TOKEN)[:8]}" in first
    assert len(first) < 120 and not first.startswith("{")
    assert second.startswith("authorizer DENY GET /private · no_token")
    assert "signature" not in first and TOKEN.split(".")[2] not in first


def test_the_gateway_prints_human_lines_unless_log_format_is_json(tmp_path: Path) -> None:
    # The gateway's worker builds itself from the environment: LOG_FORMAT picks the line.
    script = (
        "import os, sys\n"
        "from authorizer import audit\n"
        "from emulators.gateway.__main__ import gateway_from_environment\n"
        "gateway_from_environment()\n"
        "print('FORMAT', audit._line_format is not None)\n"
    )
    for log_format, human in (("", True), ("json", False), ("JSON", False)):
        env = {
            **os.environ,
            "LOG_FORMAT": log_format,
            "LAB_GATEWAY_ISSUER": "http://127.0.0.1:9/",
            "LAB_GATEWAY_BASE_URL": "http://127.0.0.1:9",
            "LAB_GATEWAY_TEMPLATE": str(ROOT / "template.yaml"),
            "LAB_GATEWAY_NOTES_DB": str(tmp_path / "notes.sqlite3"),
        }
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert f"FORMAT {human}" in done.stdout, done.stderr[-2000:]
