"""`GET /notes` lists and `POST /notes` creates the caller's own notes.

The owner is the `sub` the authorizer established, never anything in the request. Bodies
are validated (JSON object, size, fields) and refused with a 400 that says what to fix. A
store that cannot be used answers 503 (Service Unavailable, RFC 9110 section 15.6.4) with what
to check, and its cause goes to the function's log (CloudWatch Logs on AWS), not to the caller.
"""

from __future__ import annotations

import logging
from typing import Any

from .notes_store import NotesStore
from .notes_store import StoreUnavailable
from .notes_store import open_store
from .proxy import BadRequest
from .proxy import caller
from .proxy import json_body
from .proxy import json_response

MAX_BODY_BYTES = 4096
MAX_TEXT_CHARS = 500
_store: NotesStore | None = None
log = logging.getLogger(__name__)


def store() -> NotesStore:
    """Return the notes store, opened once per container."""
    global _store
    if _store is None:
        _store = open_store()
    return _store


def _method(event: dict[str, Any]) -> str:
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(event.get("httpMethod") or http.get("method") or "").upper()


def parse_note(event: dict[str, Any]) -> str:
    """Return the text of a note to create, or raise BadRequest."""
    body = json_body(event, MAX_BODY_BYTES)
    if not isinstance(body, dict):
        raise BadRequest('The body must be a JSON object such as {"text": "Buy milk"}.')
    unknown = sorted(set(body) - {"text"})
    if unknown:
        raise BadRequest(f'Unknown field(s) {", ".join(unknown)}; a note has only "text".')
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest('"text" must be a non-empty string.')
    if len(text) > MAX_TEXT_CHARS:
        raise BadRequest(f'"text" has {len(text)} characters; at most {MAX_TEXT_CHARS}.')
    return text.strip()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """List or create the caller's notes."""
    who = caller(event)
    if who is None:
        return json_response(403, {"message": "No caller identity from the authorizer."})
    method = _method(event)
    try:
        if method == "GET":
            return json_response(200, {"owner": who["sub"], "notes": store().list(who["sub"])})
        if method == "POST":
            try:
                text = parse_note(event)
            except BadRequest as exc:
                return json_response(400, {"message": str(exc)})
            note = store().add(who["sub"], text)
            return json_response(201, {"owner": who["sub"], "note": note})
    except StoreUnavailable as exc:
        log.error("notes store unavailable: %s (%s)", exc, exc.cause)
        return json_response(503, {"message": f"Notes are unavailable. {exc}"})
    return json_response(
        405, {"message": f"{method} is not supported on /notes."}, {"Allow": "GET, POST"}
    )
