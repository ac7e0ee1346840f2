"""Where notes are kept: SQLite locally, the template's DynamoDB table on AWS.

Every operation takes the owner, and the owner is part of every key and query, so one caller
can never read or change another's notes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from typing import Protocol


class NotesStore(Protocol):
    """What the notes function needs from storage."""

    def list(self, owner: str) -> list[dict[str, Any]]: ...

    def add(self, owner: str, text: str) -> dict[str, Any]: ...


def _new_note(text: str) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "text": text, "createdAt": int(time.time())}


class SqliteNotes:
    """Notes in a SQLite file (the local gateway's backend)."""

    def __init__(self, path: str) -> None:
        self.path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS notes (owner TEXT NOT NULL, "
                "note_id TEXT NOT NULL, text TEXT NOT NULL, created_at INTEGER NOT NULL,"
                " PRIMARY KEY (owner, note_id))"
            )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    def list(self, owner: str) -> list[dict[str, Any]]:
        rows = (
            self._conn()
            .execute(
                "SELECT note_id, text, created_at FROM notes WHERE owner = ? "
                "ORDER BY created_at, rowid",
                (owner,),
            )
            .fetchall()
        )
        return [{"id": r[0], "text": r[1], "createdAt": r[2]} for r in rows]

    def add(self, owner: str, text: str) -> dict[str, Any]:
        note = _new_note(text)
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO notes VALUES (?, ?, ?, ?)",
                (owner, note["id"], text, note["createdAt"]),
            )
        return note


class DynamoNotes:
    """Notes in the template's DynamoDB table (hash key `owner`, range key `note_id`)."""

    def __init__(self, table_name: str) -> None:
        import boto3  # present in the Lambda runtime; imported only where it is used

        self.table = boto3.resource("dynamodb").Table(table_name)

    def list(self, owner: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        items = self.table.query(KeyConditionExpression=Key("owner").eq(owner))["Items"]
        notes = [
            {"id": i["note_id"], "text": i["text"], "createdAt": int(i["created_at"])}
            for i in items
        ]
        return sorted(notes, key=lambda n: n["createdAt"])

    def add(self, owner: str, text: str) -> dict[str, Any]:
        note = _new_note(text)
        self.table.put_item(
            Item={
                "owner": owner,
                "note_id": note["id"],
                "text": text,
                "created_at": note["createdAt"],
            }
        )
        return note


def open_store(environ: dict[str, str] | None = None) -> NotesStore:
    """Open the store the environment names: NOTES_BACKEND=sqlite (NOTES_DB) or dynamodb."""
    env = os.environ if environ is None else environ
    backend = env.get("NOTES_BACKEND", "sqlite")
    if backend == "dynamodb":
        return DynamoNotes(env["NOTES_TABLE"])
    if backend == "sqlite":
        return SqliteNotes(env.get("NOTES_DB") or "instance/notes.sqlite3")
    raise ValueError(f"NOTES_BACKEND must be sqlite or dynamodb, not {backend!r}")
