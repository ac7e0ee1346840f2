"""The Ping page: call the API's routes with a chosen authorizer style and token, and see why.

Calls are POSTs from the page (CSRF-protected) to the web app, which adds the bearer token
server-side and calls the API; the page never holds a token. Without JavaScript the form
still works: the result comes back as a whole page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import current_app
from flask import render_template
from flask import request
from flask import session

from . import api_client
from .auth import current_user
from .auth import fresh_tokens
from .explain import explain
from .tokens import tampered

bp = Blueprint("ping", __name__)

TOKEN_KINDS = {
    "access": "My access token",
    "id": "My ID token (the classic mistake)",
    "tampered": "My access token with one signature character changed",
    "none": "No token",
}
MAX_NOTE_CHARS = 500


def directory() -> api_client.ApiDirectory:
    """Return this app's directory of APIs."""
    return current_app.extensions["api_directory"]


def chosen_token(kind: str) -> str | None:
    """Return the token of the chosen kind from the server-side session, or None."""
    if kind == "none":
        return None
    tokens = fresh_tokens()
    if tokens is None:
        return None
    if kind == "id":
        return tokens.get("id_token")
    access = tokens.get("access_token")
    return tampered(access) if kind == "tampered" and access else access


def _page(result: Any = None, explanation: Any = None, status: int = 200,
          problem: str | None = None) -> tuple[str, int]:
    targets = directory().targets()
    logged_in = current_user() is not None
    selected_api = session.get("ping_api") or "rest-token"
    selected_token = session.get("ping_token") or ("access" if logged_in else "none")
    if not logged_in:
        selected_token = "none"
    return render_template(
        "ping.html", styles=api_client.STYLES, targets=targets, actions=api_client.ACTIONS,
        token_kinds=TOKEN_KINDS, logged_in=logged_in, selected_api=selected_api,
        selected_token=selected_token, result=result, explanation=explanation,
        problem=problem, local=current_app.config["LAB_MODE"] == "local",
        api_base=current_app.config["API_BASE_URL"],
        note_text=request.form.get("text", "") if request.method == "POST" else "",
    ), status


@bp.get("/ping")
def page() -> tuple[str, int]:
    """Show the Ping page."""
    return _page()


@bp.post("/ping/call")
def call() -> Any:
    """Call one route of one API with the chosen token; answer a fragment or the whole page."""
    fragment = request.headers.get("X-Requested-With") == "fetch"
    api_key = request.form.get("api", "")
    action = request.form.get("action", "")
    token_kind = request.form.get("token", "none")
    text = request.form.get("text", "")

    def refuse(message: str, status: int = 400) -> Any:
        if fragment:
            return render_template("_call_problem.html", message=message), status
        return _page(problem=message, status=status)

    if action not in api_client.ACTIONS:
        return refuse(f"Unknown action {action[:40]!r}: choose one of the buttons.")
    if token_kind not in TOKEN_KINDS:
        return refuse(f"Unknown token choice {token_kind[:40]!r}.")
    target = directory().targets().get(api_key)
    if target is None:
        if api_key not in api_client.STYLE_BY_KEY:
            return refuse(f"Unknown API {api_key[:40]!r}.")
        return refuse(f"The {api_client.STYLE_BY_KEY[api_key].title} is not available: the "
                      f"gateway at {current_app.config['API_BASE_URL']} is not reachable, and "
                      f"{api_client.STYLE_BY_KEY[api_key].setting} is not set.", 503)
    if len(text) > MAX_NOTE_CHARS:
        return refuse(f"A note has at most {MAX_NOTE_CHARS} characters.")
    if token_kind != "none" and current_user() is None:
        return refuse("Log in first to send a token; logged out, choose “No token”.", 401)
    token = chosen_token(token_kind)
    if token_kind != "none" and token is None:
        return refuse("Your session has no such token (log in again).", 401)

    session["ping_api"] = api_key
    session["ping_token"] = token_kind
    result = api_client.call(target, action, token, token_kind, text,
                             current_app.config["HTTP_TIMEOUT"])
    explanation = explain(result, token, current_app.config["AUTH0_AUDIENCE"])
    session["last_call"] = {"hops": explanation.hops, "status": result.status,
                            "api": target.style.title,
                            "action": api_client.ACTIONS[action][2],
                            "cache": explanation.cache}
    if fragment:
        return render_template("_call_result.html", result=result, explanation=explanation,
                               logged_in=current_user() is not None)
    return _page(result, explanation)
