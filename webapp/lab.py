"""The token inspector: the ID token and the access token side by side, explained.

Raw tokens stay out of the page until the person asks to see their own (a CSRF-protected
POST); even then they are sent only to them, never logged or put in a URL.
"""

from __future__ import annotations

import time
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request

from .auth import fresh_tokens
from .auth import login_required
from .auth import provider_settings
from .auth import session_provider
from .tokens import compare
from .tokens import inspect
from .tokens import tampered
from .tokens import when

bp = Blueprint("lab", __name__)

REVEALABLE = ("access", "id", "tampered")


def _views(tokens: dict[str, Any]) -> tuple[Any, Any]:
    config = current_app.config
    provider = provider_settings(session_provider())  # Auth0's or the Cognito pool's
    id_view = inspect(
        tokens.get("id_token"),
        "ID token",
        config["AUTH0_AUDIENCE"],
        provider["issuer"],
        provider["client_id"],
    )
    access_view = inspect(
        tokens.get("access_token"),
        "Access token",
        config["AUTH0_AUDIENCE"],
        provider["issuer"],
        provider["client_id"],
    )
    if id_view.kind == access_view.kind == "JWT":
        compare(id_view, access_view)
    return id_view, access_view


@bp.get("/tokens")
@login_required
def tokens() -> str:
    """Show both tokens decoded, with what each is for and what is wrong with them."""
    stored = fresh_tokens() or {}
    id_view, access_view = _views(stored)
    return render_template(
        "tokens.html",
        id_view=id_view,
        access_view=access_view,
        revealed=None,
        lifecycle=lifecycle(stored),
        provider=session_provider(),
    )


def lifecycle(stored: dict[str, Any]) -> dict[str, Any]:
    """Say whether a refresh token is held and when the access token was got or refreshed.

    Only facts about the tokens, never a part of one.
    """
    now = time.time()
    refreshed = stored.get("refreshed_at")
    issued = stored.get("issued_at")
    expires = stored.get("expires_at")
    return {
        "refresh_held": bool(stored.get("refresh_token")),
        "refreshed_at": refreshed,
        "refreshed_ago": when(refreshed, now) if refreshed else None,
        "issued_ago": when(issued, now) if issued else None,
        "expires_in": when(expires, now) if expires else None,
        "refreshed_iso": datetime.fromtimestamp(refreshed, UTC).isoformat() if refreshed else None,
        "issued_iso": datetime.fromtimestamp(issued, UTC).isoformat() if issued else None,
        "expires_iso": datetime.fromtimestamp(expires, UTC).isoformat() if expires else None,
    }


@bp.post("/tokens/reveal")
@login_required
def reveal() -> Any:
    """Give the person one of their own raw tokens, because they asked."""
    which = request.form.get("which", "")
    if which not in REVEALABLE:
        return jsonify(error=f"which must be one of {', '.join(REVEALABLE)}"), 400
    stored = fresh_tokens() or {}
    raw = stored.get("id_token" if which == "id" else "access_token")
    if raw and which == "tampered":
        raw = tampered(raw)
    if request.headers.get("X-Requested-With") == "fetch":
        return jsonify(token=raw)
    id_view, access_view = _views(stored)
    return render_template(
        "tokens.html",
        id_view=id_view,
        access_view=access_view,
        revealed={"which": which, "token": raw},
        lifecycle=lifecycle(stored),
        provider=session_provider(),
    )
