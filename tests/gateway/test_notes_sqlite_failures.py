"""The notes function on a SQLite store it cannot write: a full disk, a read-only file or folder.

Each answers 503 with what to do, the cause reaches the log, and a read-only store still lists
notes. A full disk is SQLite's own SQLITE_FULL, reached through the `max_page_count` cap that
NOTES_DB_MAX_BYTES sets. Read-only is a file and folder without write permission; root ignores
permissions, so under root the function runs in a process of an unprivileged user.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

from emulators.gateway import create_gateway
from tests.conftest import LiveServer
from tests.gateway.conftest import Tokens

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


def test_a_full_notes_database_answers_503_and_logs_why(
    lab: Any,
    tokens: Tokens,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 3 pages of 4 KiB: the table and one page of notes; a few long notes fill it.
    monkeypatch.setenv("NOTES_DB_MAX_BYTES", str(3 * 4096))
    server = LiveServer()
    url = f"http://127.0.0.1:{server.port}"
    gateway = create_gateway(lab.issuer, url, notes_db=tmp_path / "notes.sqlite3")
    server.start(gateway)
    api = next(a for a in gateway.model.apis if a.logical_id == "RestTokenApi")
    notes_url = f"{url}/{api.api_id}/{api.stage}/notes"
    headers = {"Authorization": f"Bearer {tokens.customer}"}
    caplog.set_level(logging.INFO)
    try:
        answers = [
            requests.post(notes_url, json={"text": "x" * 500}, headers=headers, timeout=10)
            for _ in range(20)
        ]
        listed = requests.get(notes_url, headers=headers, timeout=10)
    finally:
        server.stop()
        gateway.close()
        importlib.reload(sys.modules["api.notes"])  # the session's gateway opens its own again

    statuses = [a.status_code for a in answers]
    assert statuses[0] == 201 and statuses[-1] == 503, statuses
    assert 502 not in statuses and 500 not in statuses
    full = answers[-1].json()["message"]
    assert "full" in full and "NOTES_DB_MAX_BYTES" in full
    assert "database or disk is full" in caplog.text  # the cause, for whoever runs the lab
    assert listed.status_code == 200
    assert len(listed.json()["notes"]) == statuses.count(201)


CALL_AS_LAMBDA = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from api import notes
context = {"authorizer": {"principalId": "auth0|reader", "sub": "auth0|reader"}}
get = notes.handler({"httpMethod": "GET", "requestContext": context}, None)
post = notes.handler(
    {"httpMethod": "POST", "body": json.dumps({"text": "new"}), "requestContext": context}, None
)
print(json.dumps({"get": get, "post": post}))
"""


def test_a_read_only_notes_database_still_lists_and_refuses_writes_with_503() -> None:
    # Not under pytest's tmp_path: its parents are private to the user running the tests.
    with tempfile.TemporaryDirectory() as top:
        Path(top).chmod(0o755)
        # The function's code too: the checkout may sit in a folder that user cannot read.
        code = Path(top) / "code"
        shutil.copytree(ROOT / "api", code / "api", ignore=shutil.ignore_patterns("__pycache__"))
        for path in (code, *code.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        _check_read_only_store(Path(top) / "store", code)


def _check_read_only_store(folder: Path, code: Path) -> None:
    folder.mkdir()
    database = folder / "notes.sqlite3"
    from api.notes_store import SqliteNotes

    SqliteNotes(str(database)).add("auth0|reader", "written before the disk went read-only")
    database.chmod(0o444)
    folder.chmod(0o555)
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    try:
        finished = subprocess.run(
            [*as_user, sys.executable, "-c", CALL_AS_LAMBDA],
            cwd=code,
            env={**os.environ, "NOTES_BACKEND": "sqlite", "NOTES_DB": str(database)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        folder.chmod(0o755)
        database.chmod(0o644)

    assert finished.returncode == 0, finished.stderr
    answers = json.loads(finished.stdout)
    assert answers["get"]["statusCode"] == 200
    listed = json.loads(answers["get"]["body"])["notes"]
    assert [n["text"] for n in listed] == ["written before the disk went read-only"]
    assert answers["post"]["statusCode"] == 503
    message = json.loads(answers["post"]["body"])["message"]
    assert "read-only" in message and "Listing notes still works" in message
    assert "notes store unavailable" in finished.stderr  # the cause is logged
    assert str(database) in finished.stderr  # with the file, for whoever fixes it
