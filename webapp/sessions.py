"""Server-side sessions through Flask-Session: on disk by default, Redis for several instances.

The browser holds only a random session id (WEB-02, WEB-03); the data, tokens included, lives
in a store Flask-Session manages:

- default: cachelib's file store under `instance/sessions/`, so a restart logs nobody out;
- `SESSION_REDIS_URL`: Redis, shared by every web app instance behind one origin;
- `SESSION_DYNAMODB_TABLE`: DynamoDB, for the web app on AWS.

What this module adds to Flask-Session (0.8, whose payload is not encrypted and whose save
writes the whole session back):

- The payload is encrypted (Fernet: AES-128-CBC plus HMAC-SHA256). On disk the key is
  `instance/session-encryption.key` (0600); in a shared store it is derived from
  `APP_SECRET_KEY` (HKDF), which every instance must share anyway.
- Saves write only the keys this request changed, onto what the store holds now: two requests
  of one session (six parallel Ping calls) no longer overwrite each other's changes.
- A lock per name that works across threads and, with Redis, across instances (redis-py's
  `Lock`); on disk an `flock` on one of 64 lock files, which also spans processes on a host.
- Idle and absolute timeouts (OWASP Session Management; ASVS 5.0 V7.3.1, V7.3.2), a new id at
  login (V7.2.4), and the `__Host-` cookie prefix with `Secure` over HTTPS (V3.3.1).
- A session that holds no login yet (the login transaction of `GET /login`) is kept for
  `LOGIN_TRANSACTION_TTL` only, and the file store holds at most `SESSION_FILE_THRESHOLD`
  files, evicting the soonest-to-expire first: a flood of anonymous requests cannot grow
  the store without limit, and it evicts login transactions before logged-in sessions.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from cachelib import FileSystemCache
from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask
from flask import Request
from flask import Response
from flask import has_request_context
from flask import request
from flask_session.base import MsgSpecSerializer
from flask_session.base import Serializer
from flask_session.base import ServerSideSession

log = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret-key"
ENCRYPTION_KEY_FILE = "session-encryption.key"
LOGIN_TRANSACTION_TTL = 600
SEEN_RESOLUTION = 60  # write "last seen" at most once a minute: idle timeouts are coarse anyway
LOCK_STRIPES = 64
KEY_PREFIX = "lab-session:"
SID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,128}")


class SessionStoreError(ValueError):
    """The session store is misconfigured; the message says how to fix it."""


def instance_secret(path: Path, make: bytes) -> bytes:
    """Return the secret kept in `path`, creating it (mode 0600) with `make` the first time.

    `O_EXCL` makes the first writer win when two processes start at once; the other reads.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the winner may not have written yet
            data = path.read_bytes().strip()
            if data:
                if path.stat().st_mode & 0o077:
                    os.chmod(path, 0o600)
                return data
            time.sleep(0.01)
        raise SessionStoreError(f"{path.name} in the instance folder is empty: delete it") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(make)
    return make


def derived_fernet_key(secret: str) -> bytes:
    """Derive the payload key from `APP_SECRET_KEY` (HKDF-SHA256), for stores shared by hosts."""
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"authorizer-lab session payload"
    ).derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


class EncryptingSerializer(Serializer):
    """Flask-Session's msgpack serializer, with the bytes encrypted and authenticated."""

    def __init__(self, app: Flask, key: bytes) -> None:
        self.inner = MsgSpecSerializer(app, format="msgpack")
        self.fernet = Fernet(key)

    def encode(self, session: Any) -> bytes:
        return self.fernet.encrypt(self.inner.encode(session))

    def decode(self, serialized_data: bytes) -> dict[str, Any]:
        # InvalidToken (another key, or tampered bytes) propagates: the caller starts afresh.
        return self.inner.decode(self.fernet.decrypt(serialized_data))


class LabSession(ServerSideSession):
    """A server-side session that remembers which keys this request changed."""

    def __init__(
        self,
        initial: Mapping[str, Any] | None = None,
        sid: str | None = None,
        permanent: bool | None = None,
    ) -> None:
        super().__init__(dict(initial or {}), sid=sid)
        self.changed: set[str] = set()
        self.cleared = False
        self.rotate_requested = False
        self.stored = initial is not None  # it was loaded from the store

    def __bool__(self) -> bool:
        return bool(dict(self))

    def __setitem__(self, key: str, value: Any) -> None:
        self.changed.add(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.changed.add(key)
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.changed.add(key)
        return super().pop(key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.changed.add(key)
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key in dict(*args, **kwargs):
            self.changed.add(key)
        super().update(*args, **kwargs)

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.changed.add(item[0])
        return item

    def clear(self) -> None:
        """Forget everything: the stored session is replaced (or deleted), not merged into."""
        dict.clear(self)
        self.changed.clear()
        self.cleared = True
        self.modified = True

    def rotate(self) -> None:
        """Ask for a new session id at the end of this request (at login: session fixation)."""
        self.rotate_requested = True
        self.modified = True

    def adopt(self, key: str, value: Any) -> None:
        """Take a value the store already holds (written by another request) without re-saving."""
        dict.__setitem__(self, key, value)
        self.changed.discard(key)


class LabSessionMixin:
    """Timeouts, merged saves, rotation, locks and the cookie, over a Flask-Session backend.

    Mixed in before a Flask-Session interface class, whose `_retrieve_session_data`,
    `_upsert_session` and `_delete_session` do the storing.
    """

    session_class = LabSession
    lock_dir: Path
    redis_client: Any = None
    idle_timeout: float
    absolute_timeout: float

    # -- the cookie: `__Host-` and Secure over HTTPS --------------------------------------------

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            has_request_context() and request.is_secure
        )

    def get_cookie_name(self, app: Flask) -> str:
        name = app.config["SESSION_COOKIE_NAME"]
        return f"__Host-{name}" if self.get_cookie_secure(app) else name

    # -- loading ----------------------------------------------------------------------------

    def load(self, sid: str) -> dict[str, Any] | None:
        """Return what the store holds for a session id now, or None (also if unreadable)."""
        try:
            data = self._retrieve_session_data(self._get_store_id(sid))  # type: ignore[attr-defined]
        except (InvalidToken, ValueError, TypeError, EOFError, OSError) as exc:
            # Another key (a new instance folder), or a damaged entry: start afresh.
            log.info("session store entry unreadable (%s): starting a new session", type(exc))
            return None
        return data if isinstance(data, dict) else None

    def _expired(self, data: Mapping[str, Any], now: float) -> bool:
        created = data.get("_created", 0)
        seen = data.get("_seen", 0)
        return now - seen > self.idle_timeout or now - created > self.absolute_timeout

    def open_session(self, app: Flask, request: Request) -> LabSession:
        sid = request.cookies.get(self.get_cookie_name(app), "")
        if SID_PATTERN.fullmatch(sid):
            data = self.load(sid)
            if data is not None and not self._expired(data, time.time()):
                return self.session_class(data, sid=sid)
            if data is not None:
                self._delete_session(self._get_store_id(sid))  # type: ignore[attr-defined]
        session = self.session_class(sid=self._generate_sid(self.sid_length))  # type: ignore[attr-defined]
        session.presented = bool(sid)  # type: ignore[attr-defined]
        return session

    # -- saving ------------------------------------------------------------------------------

    def _ttl(self, data: Mapping[str, Any], now: float) -> timedelta:
        if "user" not in data:
            return timedelta(seconds=LOGIN_TRANSACTION_TTL)
        left = min(self.idle_timeout, self.absolute_timeout - (now - data["_created"]))
        return timedelta(seconds=max(1, int(left)))

    def write(self, session: LabSession, keys: Mapping[str, Any]) -> bool:
        """Write these keys onto the stored session now; False if it has ended meanwhile."""
        with self.lock(f"save:{session.sid}"):
            current = self.load(session.sid)
            if current is None:
                return False
            current.update(keys)
            self._upsert_session(  # type: ignore[attr-defined]
                self._ttl(current, time.time()),
                current,
                self._get_store_id(session.sid),  # type: ignore[attr-defined]
            )
        for key in keys:
            session.adopt(key, keys[key])
        return True

    def end(self, session: LabSession) -> None:
        """Delete the stored session now (a refresh token was refused: the login is over)."""
        self._delete_session(self._get_store_id(session.sid))  # type: ignore[attr-defined]
        session.clear()

    def save_session(self, app: Flask, session: LabSession, response: Response) -> None:  # type: ignore[override]
        name = self.get_cookie_name(app)
        secure = self.get_cookie_secure(app)
        if session.accessed or session.modified:
            response.vary.add("Cookie")
        store_id = self._get_store_id(session.sid)  # type: ignore[attr-defined]
        now = time.time()
        if session.rotate_requested or (session.cleared and session.stored):
            self._delete_session(store_id)  # type: ignore[attr-defined]
            if session.rotate_requested:
                session.sid = self._generate_sid(self.sid_length)  # type: ignore[attr-defined]
                store_id = self._get_store_id(session.sid)  # type: ignore[attr-defined]
            session.stored = False
        if not session:
            if session.cleared or getattr(session, "presented", False):
                response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="Lax")
            return
        fresh = not session.stored
        if fresh:
            data = dict(session)
            data["_created"] = data["_seen"] = now
        else:
            stale = now - session.get("_seen", 0) > SEEN_RESOLUTION
            if not session.changed and not stale:
                return
            with self.lock(f"save:{session.sid}"):
                current = self.load(session.sid)
                if current is None:  # ended meanwhile (logout in another tab): stay ended
                    response.delete_cookie(
                        name, path="/", secure=secure, httponly=True, samesite="Lax"
                    )
                    return
                for key in session.changed:
                    if key in session:
                        current[key] = session[key]
                    else:
                        current.pop(key, None)
                current["_seen"] = now
                self._upsert_session(self._ttl(current, now), current, store_id)  # type: ignore[attr-defined]
            return
        self._upsert_session(self._ttl(data, now), data, store_id)  # type: ignore[attr-defined]
        response.set_cookie(
            name, session.sid, httponly=True, secure=secure, samesite="Lax", path="/"
        )

    # -- locks -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float = 10.0) -> Iterator[bool]:
        """Hold a lock shared by every thread (and, with Redis, every instance) for `name`.

        Yields False if it could not be had within `timeout` seconds.
        """
        if self.redis_client is not None:
            lock = self.redis_client.lock(
                f"{KEY_PREFIX}lock:{name}", timeout=timeout + 30, blocking_timeout=timeout
            )
            acquired = lock.acquire()
            try:
                yield acquired
            finally:
                if acquired:
                    with contextlib.suppress(Exception):
                        lock.release()
            return
        stripe = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4]) % LOCK_STRIPES
        # Each kind of lock ("refresh", "save") has its own stripes: a request that holds a
        # session's refresh lock and then takes its save lock must never find both names
        # on one file, which would block it on itself.
        kind = name.partition(":")[0]
        self.lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.lock_dir / f"{kind}-{stripe}.lock", "a+b") as handle:
            deadline = time.monotonic() + timeout
            acquired = False
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    acquired = True
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.005)
            try:
                yield acquired
            finally:
                if acquired:
                    fcntl.flock(handle, fcntl.LOCK_UN)


class BoundedFileSystemCache(FileSystemCache):
    """cachelib's file cache, held to its threshold under concurrent requests.

    cachelib counts its files in a counter file it reads, changes and writes back: threads
    of one server interleave those steps and the count drifts below the truth, so pruning
    starts late (measured: 6,903 session files under a 5,000 threshold after 10,000
    parallel anonymous logins). Here the counter's updates take a lock, and whenever the
    counter says the threshold is passed the files are counted again before pruning, which
    also corrects drift from other processes sharing the folder.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._count_lock = threading.RLock()  # before cachelib's __init__, which counts
        super().__init__(*args, **kwargs)

    def _update_count(self, delta: int | None = None, value: int | None = None) -> None:
        with self._count_lock:
            super()._update_count(delta, value)

    def _prune(self) -> None:
        with self._count_lock:
            if self._over_threshold():
                self._update_count(value=sum(1 for _ in self._list_dir()))
            super()._prune()


def _interface_class(base: type) -> type:
    return type(f"Lab{base.__name__}", (LabSessionMixin, base), {})


def init_sessions(app: Flask, environ: Mapping[str, str]) -> None:
    """Pick the store from the settings and install it as the app's session interface.

    :raise SessionStoreError: a shared store without `APP_SECRET_KEY`.
    """
    config = app.config
    instance = Path(app.instance_path)
    redis_url = environ.get("SESSION_REDIS_URL") or config.get("SESSION_REDIS_URL")
    dynamodb_table = environ.get("SESSION_DYNAMODB_TABLE") or config.get("SESSION_DYNAMODB_TABLE")
    secret = environ.get("APP_SECRET_KEY") or config.get("APP_SECRET_KEY")
    common: dict[str, Any] = {"key_prefix": KEY_PREFIX, "sid_length": 32}
    if redis_url or dynamodb_table:
        store = "SESSION_REDIS_URL" if redis_url else "SESSION_DYNAMODB_TABLE"
        if not secret:
            raise SessionStoreError(
                f"{store} is set, so several web app instances share sessions, and they must "
                "share one APP_SECRET_KEY too (it signs CSRF tokens and keys the session "
                "encryption). Set APP_SECRET_KEY in .env, e.g. to the output of `python -c "
                '"import secrets; print(secrets.token_hex(32))"`.'
            )
        key = derived_fernet_key(secret)
    if redis_url:
        from flask_session.redis import RedisSessionInterface
        from redis import Redis

        client = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        interface = _interface_class(RedisSessionInterface)(app, client=client, **common)
        interface.redis_client = client
        config["SESSION_STORE"] = "redis"
    elif dynamodb_table:
        import boto3
        from flask_session.dynamodb import DynamoDBSessionInterface

        interface = _interface_class(DynamoDBSessionInterface)(
            app, client=boto3.resource("dynamodb"), table_name=dynamodb_table, **common
        )
        config["SESSION_STORE"] = "dynamodb"
    else:
        from flask_session.cachelib import CacheLibSessionInterface

        directory = Path(config.get("SESSION_FILE_DIR") or instance / "sessions")
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        cache = BoundedFileSystemCache(
            str(directory), threshold=int(config["SESSION_FILE_THRESHOLD"]), mode=0o600
        )
        interface = _interface_class(CacheLibSessionInterface)(client=cache, **common)
        key = instance_secret(instance / ENCRYPTION_KEY_FILE, Fernet.generate_key())
        config["SESSION_STORE"] = "disk"
    interface.serializer = EncryptingSerializer(app, key)
    interface.lock_dir = instance / "session-locks"
    interface.idle_timeout = float(config["SESSION_IDLE_TIMEOUT"])
    interface.absolute_timeout = float(config["SESSION_ABSOLUTE_TIMEOUT"])
    if config["SESSION_STORE"] == "disk":
        _encrypt_cachelib(interface)
    app.session_interface = interface


def _encrypt_cachelib(interface: Any) -> None:
    """cachelib stores what it is given (pickled): give it the encrypted bytes, not the dict."""
    cache = interface.cache

    def retrieve(store_id: str) -> dict[str, Any] | None:
        blob = cache.get(store_id)
        return interface.serializer.decode(blob) if isinstance(blob, bytes) else None

    def upsert(lifetime: timedelta, session: Mapping[str, Any], store_id: str) -> None:
        cache.set(store_id, interface.serializer.encode(session), int(lifetime.total_seconds()))

    interface._retrieve_session_data = retrieve
    interface._upsert_session = upsert
