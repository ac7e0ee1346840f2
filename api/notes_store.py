"""Where notes are kept: SQLite locally, the template's DynamoDB table on AWS.

Every operation takes the owner, and the owner is part of every key and query, so one caller
can never read or change another's notes. A store that cannot be used (no table, no endpoint,
no permission) raises `StoreUnavailable`, whose message says what to fix; the function answers
503 with it. The DynamoDB calls follow the Query and PutItem pages of the DynamoDB API
reference; the endpoint comes from boto3's own configuration (`AWS_ENDPOINT_URL_DYNAMODB`,
the SDKs' "service-specific endpoints" setting), which the tests point at moto's server.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from typing import Protocol

# The template's NotesFunction has a 5 s timeout; boto3's defaults (60 s to connect, 60 s to
# read, up to 10 tries for DynamoDB) would outlast it, and Lambda would end the function with
# no answer. Two tries of at most 1 s each, plus standard mode's backoff, fit (measured: a
# DynamoDB that never answers gets its 503 after about 3 s). DynamoDB answers in milliseconds.
CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 1.0
MAX_ATTEMPTS = 2


class StoreUnavailable(Exception):
    """The store cannot be used; the message tells a developer what to check."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause  # for the log: names, endpoints and the library's own error


class NotesStore(Protocol):
    """What the notes function needs from storage."""

    def list(self, owner: str) -> list[dict[str, Any]]: ...

    def add(self, owner: str, text: str) -> dict[str, Any]: ...


def _new_note(text: str) -> dict[str, Any]:
    # 32 hex digits like a UUID, but time first: ids sort in the order notes were written,
    # which is the order DynamoDB returns them under the `note_id` range key.
    note_id = f"{time.time_ns():016x}{secrets.token_hex(8)}"
    return {"id": note_id, "text": text, "createdAt": int(time.time())}


class SqliteNotes:
    """Notes in a SQLite file (the local gateway's backend).

    A file the gateway's user cannot write (a read-only file, folder or mount) is opened
    read-only: notes can still be listed, and adding one answers 503 saying why. A full disk
    (SQLite's SQLITE_FULL, "database or disk is full") answers 503 too. `max_bytes` caps the
    file (SQLite's `max_page_count` pragma), so a lab shared by many cannot fill the disk.
    """

    def __init__(self, path: str, max_bytes: int | None = None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.read_only = False
        self._local = threading.local()
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with self._conn() as conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS notes (owner TEXT NOT NULL, "
                    "note_id TEXT NOT NULL, text TEXT NOT NULL, created_at INTEGER NOT NULL,"
                    " PRIMARY KEY (owner, note_id))"
                )
        except (OSError, sqlite3.Error) as exc:
            if not (_cannot_write(exc) and Path(path).is_file()):
                raise self._unavailable(exc) from exc
            self._open_read_only()

    def _open_read_only(self) -> None:
        self.read_only = True
        self._local = threading.local()
        try:
            self._conn().execute("SELECT count(*) FROM notes").fetchone()
        except sqlite3.Error:
            # A WAL database in a folder nobody may write: SQLite cannot create its shared
            # memory file, so read the file as immutable (no one can change it there anyway).
            self._local = threading.local()
            self._immutable = True
            try:
                self._conn().execute("SELECT count(*) FROM notes").fetchone()
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc

    _immutable = False

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        cause = f"SQLite file {self.path}: {type(exc).__name__}: {exc}"
        if _is_full(exc):
            return StoreUnavailable(
                "The notes database is full (SQLite: database or disk is full): free space on "
                "the disk that holds NOTES_DB, or raise NOTES_DB_MAX_BYTES. Listing notes "
                "still works.",
                cause,
            )
        if _cannot_write(exc) or self.read_only:
            return StoreUnavailable(
                "The notes database is read-only: make the NOTES_DB file and its folder "
                "writable by the user running the gateway. Listing notes still works.",
                cause,
            )
        return StoreUnavailable(
            "The notes database cannot be used; check that NOTES_DB names a writable file.",
            cause,
        )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.read_only:
                mode = "ro&immutable=1" if self._immutable else "ro"
                uri = f"{Path(self.path).resolve().as_uri()}?mode={mode}"
                conn = sqlite3.connect(uri, uri=True, timeout=10)
            else:
                conn = sqlite3.connect(self.path, timeout=10)
                conn.execute("PRAGMA journal_mode=WAL")
                if self.max_bytes:
                    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                    conn.execute(f"PRAGMA max_page_count = {max(1, self.max_bytes // page_size)}")
            self._local.conn = conn
        return conn

    def list(self, owner: str) -> list[dict[str, Any]]:
        try:
            rows = (
                self._conn()
                .execute(
                    "SELECT note_id, text, created_at FROM notes WHERE owner = ? "
                    "ORDER BY created_at, rowid",
                    (owner,),
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        return [{"id": r[0], "text": r[1], "createdAt": r[2]} for r in rows]

    def add(self, owner: str, text: str) -> dict[str, Any]:
        if self.read_only:
            raise self._unavailable(sqlite3.OperationalError("opened read-only"))
        note = _new_note(text)
        try:
            with self._conn() as conn:
                conn.execute(
                    "INSERT INTO notes VALUES (?, ?, ?, ?)",
                    (owner, note["id"], text, note["createdAt"]),
                )
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        return note


def _error_name(exc: Exception) -> str:
    return str(getattr(exc, "sqlite_errorname", ""))


def _cannot_write(exc: Exception) -> bool:
    """SQLite's read-only errors, or the write that cannot open its file (read-only folder)."""
    name = _error_name(exc)
    return name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) or isinstance(
        exc, PermissionError
    )


def _is_full(exc: Exception) -> bool:
    return _error_name(exc) == "SQLITE_FULL" or "database or disk is full" in str(exc)


class DynamoNotes:
    """Notes in the template's DynamoDB table (hash key `owner`, range key `note_id`)."""

    def __init__(self, table_name: str) -> None:
        # boto3 is in the Lambda runtime; imported only where it is used, so the SQLite
        # store needs nothing beyond the standard library.
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        self.table_name = table_name
        config = Config(
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        )
        try:
            self.table = boto3.resource("dynamodb", config=config).Table(table_name)
        except BotoCoreError as exc:  # no region, a malformed endpoint URL
            raise StoreUnavailable(
                "DynamoDB is not configured: set AWS_DEFAULT_REGION (Lambda sets it) and, for "
                "a local DynamoDB, AWS_ENDPOINT_URL_DYNAMODB.",
                f"table {table_name}: {type(exc).__name__}: {exc}",
            ) from exc

    def _where(self) -> str:
        meta = self.table.meta.client.meta
        return f"table {self.table_name} at {meta.endpoint_url} ({meta.region_name})"

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        """Translate a boto3 failure into what a developer should check."""
        from botocore.exceptions import ClientError
        from botocore.exceptions import ConnectionError as EndpointUnreachable
        from botocore.exceptions import HTTPClientError
        from botocore.exceptions import NoCredentialsError

        cause = f"{self._where()}: {type(exc).__name__}: {exc}"
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                message = (
                    "The notes table does not exist: deploy the stack, or set NOTES_TABLE to "
                    "its NotesTableName output."
                )
            elif code in {"AccessDeniedException", "UnrecognizedClientException"}:
                message = (
                    f"DynamoDB refused the function's credentials ({code}): check its role "
                    "has the template's DynamoDBCrudPolicy on the notes table."
                )
            else:
                message = f"DynamoDB refused the request ({code or 'no error code'})."
        elif isinstance(exc, EndpointUnreachable | HTTPClientError):  # refused, timed out
            message = (
                "DynamoDB could not be reached or did not answer in time: check the network, "
                "the region and any AWS_ENDPOINT_URL_DYNAMODB."
            )
        elif isinstance(exc, NoCredentialsError):
            message = "No AWS credentials for DynamoDB (Lambda gives the function its role's)."
        else:
            message = f"DynamoDB failed ({type(exc).__name__})."
        return StoreUnavailable(
            message + " The function's log names the table and endpoint.", cause
        )

    def list(self, owner: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key
        from botocore.exceptions import BotoCoreError
        from botocore.exceptions import ClientError

        query: dict[str, Any] = {"KeyConditionExpression": Key("owner").eq(owner)}
        items: list[dict[str, Any]] = []
        try:
            # A query answers at most 1 MB; the rest comes page by page.
            while True:
                page = self.table.query(**query)
                items.extend(page["Items"])
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from exc
        # In `note_id` order, which is the order they were written (see _new_note).
        return [
            {"id": i["note_id"], "text": i["text"], "createdAt": int(i["created_at"])}
            for i in items
        ]

    def add(self, owner: str, text: str) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError
        from botocore.exceptions import ClientError

        note = _new_note(text)
        try:
            self.table.put_item(
                Item={
                    "owner": owner,
                    "note_id": note["id"],
                    "text": text,
                    "created_at": note["createdAt"],
                },
                # A new id never overwrites: should two ever collide, refuse rather than lose.
                ConditionExpression="attribute_not_exists(note_id)",
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from exc
        return note


def open_store(environ: dict[str, str] | None = None) -> NotesStore:
    """Open the store the environment names: NOTES_BACKEND=sqlite (NOTES_DB) or dynamodb."""
    env = os.environ if environ is None else environ
    backend = env.get("NOTES_BACKEND", "sqlite")
    if backend == "dynamodb":
        table = env.get("NOTES_TABLE")
        if not table:
            raise StoreUnavailable(
                "NOTES_TABLE is not set: it names the DynamoDB table (the template sets it).",
                "NOTES_BACKEND=dynamodb without NOTES_TABLE",
            )
        return DynamoNotes(table)
    if backend == "sqlite":
        max_bytes = env.get("NOTES_DB_MAX_BYTES", "")
        if max_bytes and not max_bytes.isdigit():
            raise StoreUnavailable(
                f"NOTES_DB_MAX_BYTES must be a number of bytes, not {max_bytes!r}.",
                f"NOTES_DB_MAX_BYTES={max_bytes!r}",
            )
        return SqliteNotes(env.get("NOTES_DB") or "instance/notes.sqlite3", int(max_bytes or 0))
    raise StoreUnavailable(
        f"NOTES_BACKEND must be sqlite or dynamodb, not {backend!r}.",
        f"NOTES_BACKEND={backend!r}",
    )
