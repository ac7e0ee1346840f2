"""The IdP's state in SQLite: users, authorization codes, refresh and opaque tokens, signing keys.

Codes and tokens are stored by their SHA-256, never in clear, so a copy of the database
hands out nothing that could be replayed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from .tenant import Tenant

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    nickname TEXT NOT NULL,
    roles TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS codes (
    code_hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    code_hash TEXT,
    expires_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS opaque_tokens (
    token_hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    code_hash TEXT,
    expires_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY,
    private_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    published_until INTEGER
);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Hashing a dummy password for unknown emails keeps the login's timing from revealing
# which addresses have accounts.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def digest(value: str) -> str:
    """Return the SHA-256 hex digest under which a code or token is stored."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    """A user account, as Authlib's grants expect one."""

    user_id: str
    email: str
    name: str
    nickname: str
    roles: tuple[str, ...]
    updated_at: int

    def get_user_id(self) -> str:
        """Return the `sub` of this user."""
        return self.user_id


@dataclass(frozen=True)
class SigningKey:
    """One RSA signing key as stored: the private JWK and its publication window."""

    kid: str
    private_jwk: dict[str, Any]
    created_at: int
    retired_at: int | None
    published_until: int | None


class Store:
    """Thread-safe access to the IdP's SQLite database (one connection per thread)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if self.path != ":memory:":
            # The database holds the signing keys: readable by its owner only. SQLite gives
            # its -wal and -shm files the database file's permissions.
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(self.path, 0o600)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    # users -----------------------------------------------------------------------------

    def seed_users(self, tenant: Tenant) -> None:
        """Create the tenant's demo users that do not exist yet; existing ones are kept."""
        for demo in tenant.users:
            if self.get_user(demo.user_id) is None and self.find_user(demo.email) is None:
                self.add_user(
                    demo.user_id, demo.email, demo.password, demo.name, demo.nickname, demo.roles
                )

    def add_user(
        self,
        user_id: str,
        email: str,
        password: str,
        name: str,
        nickname: str,
        roles: tuple[str, ...] | list[str],
    ) -> User:
        """Create a user with a hashed password; raise ValueError if the email is taken."""
        now = int(time.time())
        try:
            with self._conn() as conn:
                conn.execute(
                    "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        user_id,
                        email,
                        generate_password_hash(password),
                        name,
                        nickname,
                        json.dumps(list(roles)),
                        now,
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"a user with email {email!r} or id {user_id!r} exists") from exc
        return User(user_id, email, name, nickname, tuple(roles), now)

    def remove_user(self, email: str) -> bool:
        """Delete the user with this email and the refresh tokens issued to them."""
        user = self.find_user(email)
        if user is None:
            return False
        with self._conn() as conn:
            conn.execute("DELETE FROM users WHERE user_id = ?", (user.user_id,))
            # Their refresh tokens die with the account: it cannot be refreshed back to life.
            conn.execute(
                "UPDATE refresh_tokens SET revoked = 1 WHERE json_extract(data, '$.user_id') = ?",
                (user.user_id,),
            )
        return True

    def set_roles(self, email: str, roles: tuple[str, ...] | list[str]) -> User | None:
        """Replace a user's roles; they apply to the next token the user gets."""
        with self._conn() as conn:
            changed = conn.execute(
                "UPDATE users SET roles = ?, updated_at = ? WHERE email = ?",
                (json.dumps(list(roles)), int(time.time()), email),
            )
        return self.find_user(email) if changed.rowcount else None

    def set_password(self, email: str, password: str) -> bool:
        """Replace a user's password (stored hashed)."""
        with self._conn() as conn:
            changed = conn.execute(
                "UPDATE users SET password_hash = ?, updated_at = ? WHERE email = ?",
                (generate_password_hash(password), int(time.time()), email),
            )
        return changed.rowcount > 0

    def _user(self, row: sqlite3.Row | None) -> User | None:
        if row is None:
            return None
        return User(
            row["user_id"],
            row["email"],
            row["name"],
            row["nickname"],
            tuple(json.loads(row["roles"])),
            row["updated_at"],
        )

    def get_user(self, user_id: str) -> User | None:
        """Return the user with this `sub`, or None."""
        row = self._conn().execute("SELECT * FROM users WHERE user_id = ?", (user_id,)).fetchone()
        return self._user(row)

    def find_user(self, email: str) -> User | None:
        """Return the user with this email (case-insensitive), or None."""
        row = self._conn().execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()
        return self._user(row)

    def list_users(self) -> list[User]:
        """Return every user, ordered by email."""
        rows = self._conn().execute("SELECT * FROM users ORDER BY email").fetchall()
        return [u for u in map(self._user, rows) if u is not None]

    def authenticate(self, email: str, password: str) -> User | None:
        """Return the user if the password matches, else None, in similar time either way."""
        row = self._conn().execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()
        if row is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(row["password_hash"], password):
            return None
        return self._user(row)

    # authorization codes ---------------------------------------------------------------

    def save_code(self, code: str, data: dict[str, Any], lifetime: int) -> None:
        """Store an authorization code's grant data for `lifetime` seconds."""
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO codes (code_hash, data, expires_at) VALUES (?, ?, ?)",
                (digest(code), json.dumps(data), int(time.time()) + lifetime),
            )

    def take_code(self, code: str) -> tuple[dict[str, Any] | None, bool]:
        """Spend a code and return (data, replayed): data only for a live, unused code.

        The code is marked used in the same statement that checks it, so two concurrent
        exchanges cannot both succeed; a code seen a second time is reported as a replay.
        """
        code_hash = digest(code)
        with self._conn() as conn:
            row = conn.execute("SELECT * FROM codes WHERE code_hash = ?", (code_hash,)).fetchone()
            if row is None:
                return None, False
            spent = conn.execute(
                "UPDATE codes SET used = 1 WHERE code_hash = ? AND used = 0", (code_hash,)
            )
            if spent.rowcount == 0:
                return None, True
            if row["expires_at"] <= time.time():
                return None, False
            return {**json.loads(row["data"]), "code_hash": code_hash}, False

    def revoke_issued_from(self, code: str) -> None:
        """Revoke every token issued from a code that has just been replayed."""
        code_hash = digest(code)
        with self._conn() as conn:
            conn.execute("UPDATE refresh_tokens SET revoked = 1 WHERE code_hash = ?", (code_hash,))
            conn.execute("UPDATE opaque_tokens SET revoked = 1 WHERE code_hash = ?", (code_hash,))

    # refresh and opaque tokens ---------------------------------------------------------

    def save_token(
        self,
        table: str,
        token: str,
        data: dict[str, Any],
        lifetime: int,
        code_hash: str | None = None,
    ) -> None:
        """Store a refresh or opaque access token's grant data for `lifetime` seconds."""
        if table not in ("refresh_tokens", "opaque_tokens"):
            raise ValueError(table)
        with self._conn() as conn:
            conn.execute(
                f"INSERT INTO {table} (token_hash, data, code_hash, expires_at) "  # noqa: S608
                "VALUES (?, ?, ?, ?)",
                (digest(token), json.dumps(data), code_hash, int(time.time()) + lifetime),
            )

    def get_token(self, table: str, token: str) -> dict[str, Any] | None:
        """Return a live, unrevoked token's grant data, or None."""
        if table not in ("refresh_tokens", "opaque_tokens"):
            raise ValueError(table)
        row = (
            self._conn()
            .execute(
                f"SELECT * FROM {table} WHERE token_hash = ?",  # noqa: S608
                (digest(token),),
            )
            .fetchone()
        )
        if row is None or row["revoked"] or row["expires_at"] <= time.time():
            return None
        return {
            **json.loads(row["data"]),
            "token_hash": row["token_hash"],
            "code_hash": row["code_hash"],
        }

    def revoke_refresh_token(self, token_hash: str) -> None:
        """Revoke a refresh token (rotation: each one is good for a single use)."""
        with self._conn() as conn:
            conn.execute(
                "UPDATE refresh_tokens SET revoked = 1 WHERE token_hash = ?", (token_hash,)
            )

    # signing keys -----------------------------------------------------------------------

    def signing_keys(self) -> list[SigningKey]:
        """Return all stored keys, newest first."""
        rows = (
            self._conn()
            .execute("SELECT * FROM signing_keys ORDER BY created_at DESC, rowid DESC")
            .fetchall()
        )
        return [
            SigningKey(
                r["kid"],
                json.loads(r["private_jwk"]),
                r["created_at"],
                r["retired_at"],
                r["published_until"],
            )
            for r in rows
        ]

    def add_signing_key(self, kid: str, private_jwk: dict[str, Any], publish_old_for: int) -> None:
        """Make a new key the active one; older keys stay published for `publish_old_for` s."""
        now = int(time.time())
        with self._conn() as conn:
            conn.execute(
                "UPDATE signing_keys SET retired_at = ?, published_until = ? "
                "WHERE retired_at IS NULL",
                (now, now + publish_old_for),
            )
            conn.execute(
                "INSERT INTO signing_keys (kid, private_jwk, created_at) VALUES (?, ?, ?)",
                (kid, json.dumps(private_jwk), now),
            )

    def secret(self, name: str) -> str:
        """Return a named random secret, created on first use and kept across restarts."""
        with self._conn() as conn:
            row = conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
            if row:
                return row["value"]
            value = secrets.token_hex(32)
            conn.execute("INSERT OR IGNORE INTO secrets VALUES (?, ?)", (name, value))
            return conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()[
                "value"
            ]
