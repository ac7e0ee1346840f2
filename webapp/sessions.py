"""Server-side sessions: tokens stay on the server, the browser holds only a random session id.

Flask's default session is a signed, unencrypted cookie: putting tokens there would hand
them to the browser (WEB-02). Here the cookie carries 256 random bits and nothing else.
Sessions end after an idle period and after an absolute lifetime.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from flask import Flask
from flask import Request
from flask import Response
from flask import request
from flask.sessions import SessionInterface
from flask.sessions import SessionMixin
from werkzeug.datastructures import CallbackDict


class ServerSession(CallbackDict, SessionMixin):  # type: ignore[misc]
    """A session whose data lives in the server's store, under `sid`."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        sid: str | None = None,
        created: float | None = None,
    ) -> None:
        def on_update(session: ServerSession) -> None:
            session.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.created = created or time.time()
        self.new = sid is None
        self.modified = False
        self.rotate_requested = False

    def rotate(self) -> None:
        """Ask for a new session id at the end of this request (at login: session fixation)."""
        self.rotate_requested = True
        self.modified = True


class MemorySessionStore:
    """A thread-safe in-memory map of session id to (data, created, last seen)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[dict[str, Any], float, float]] = {}
        self._lock = threading.Lock()

    def load(
        self,
        sid: str,
        idle_timeout: float,
        absolute_timeout: float,
    ) -> tuple[dict[str, Any], float] | None:
        now = time.time()
        with self._lock:
            entry = self._data.get(sid)
            if entry is None:
                return None
            data, created, last_seen = entry
            if now - last_seen > idle_timeout or now - created > absolute_timeout:
                del self._data[sid]
                return None
            self._data[sid] = (data, created, now)
            return dict(data), created

    def save(self, sid: str, data: dict[str, Any], created: float) -> None:
        with self._lock:
            self._data[sid] = (dict(data), created, time.time())

    def delete(self, sid: str) -> None:
        with self._lock:
            self._data.pop(sid, None)

    def __len__(self) -> int:
        return len(self._data)


class ServerSideSessionInterface(SessionInterface):
    """Keep session data in a server-side store keyed by an unguessable cookie value."""

    def __init__(self, store: MemorySessionStore | None = None) -> None:
        self.store = store or MemorySessionStore()

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if sid and len(sid) <= 128:
            loaded = self.store.load(
                sid, app.config["SESSION_IDLE_TIMEOUT"], app.config["SESSION_ABSOLUTE_TIMEOUT"]
            )
            if loaded is not None:
                data, created = loaded
                return ServerSession(data, sid, created)
        return ServerSession()

    def save_session(
        self,
        app: Flask,
        session: ServerSession,  # type: ignore[override]
        response: Response,
    ) -> None:
        name = self.get_cookie_name(app)
        secure = app.config["SESSION_COOKIE_SECURE"] or request.is_secure
        if not session:
            if session.sid is not None:
                self.store.delete(session.sid)
                response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="Lax")
            return
        if not session.modified and not session.new:
            return
        if session.rotate_requested and session.sid is not None:
            self.store.delete(session.sid)
            session.sid = None
            session.created = time.time()
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)
        self.store.save(session.sid, dict(session), session.created)
        response.set_cookie(
            name, session.sid, httponly=True, secure=secure, samesite="Lax", path="/"
        )
        response.vary.add("Cookie")
