"""The Ping page: call the API's routes with a chosen authorizer style and token, and see why.

The buttons are the routes the APIs serve, from the gateway's catalogue (so from
`template.yaml`), labelled from their method and path. Calls are POSTs from the page
(CSRF-protected) to the web app, which adds the bearer token server-side and calls the API;
the page never holds a token. Without JavaScript the form still works: the result comes back
as a whole page.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

import requests
from flask import Blueprint
from flask import current_app
from flask import render_template
from flask import request
from flask import session

from . import api_client
from . import iam_ping
from .auth import current_user
from .auth import fresh_tokens
from .auth import provider_client
from .auth import session_provider
from .explain import HOPS
from .explain import explain
from .tokens import decode
from .tokens import tampered

bp = Blueprint("ping", __name__)

TOKEN_KINDS = {
    "access": "My access token",
    "id": "My ID token (the classic mistake)",
    "tampered": "My access token with one signature character changed",
    "expired": "My access token, expired an hour ago (a copy the local IdP signs)",
    "m2m-reader": "M2M token of the notes reader (read:notes)",
    "m2m-writer": "M2M token of the notes writer (read:notes write:notes)",
    "cognito-reader": "Cognito M2M token of the notes reader (notes-api/read)",
    "cognito-writer": "Cognito M2M token of the notes writer (notes-api/read notes-api/write)",
    "none": "No token",
}
USER_TOKEN_KINDS = ("access", "id", "tampered", "expired")
LOCAL_ONLY_KINDS = ("expired",)  # only the local IdP signs variants; a real tenant never does
EXPIRED_AGO = 3600  # well past any authorizer's leeway (the lab's is at most 60 s)
MAX_NOTE_CHARS = 500


def directory() -> api_client.ApiDirectory:
    """Return this app's directory of APIs."""
    return current_app.extensions["api_directory"]


def chosen_token(kind: str) -> str | None:
    """Return the token of the chosen kind (the session's, or an M2M client's), or None.

    :raise RuntimeError: an M2M token could not be had from the identity provider.
    """
    if kind == "none":
        return None
    machines = m2m_of(kind)
    if machines is not None:
        if kind not in machines.clients:
            return None
        provider = machines.clients[kind].provider
        endpoint = provider_client(provider).load_server_metadata()["token_endpoint"]
        return machines.token(kind, endpoint)
    tokens = fresh_tokens()
    if tokens is None:
        return None
    if kind == "id":
        return tokens.get("id_token")
    access = tokens.get("access_token")
    if kind == "expired" and access:
        return expired_copy(access)
    return tampered(access) if kind == "tampered" and access else access


def m2m_of(kind: str) -> Any:
    """Return the M2M token store a token kind belongs to (Auth0's or Cognito's), or None."""
    if kind.startswith("m2m-"):
        return current_app.extensions["m2m"]
    if kind.startswith("cognito-"):
        return current_app.extensions["cognito_m2m"]
    return None


def m2m_clients() -> dict[str, Any]:
    """Every configured M2M client, Auth0's and Cognito's, by token kind."""
    return {
        **current_app.extensions["m2m"].clients,
        **current_app.extensions["cognito_m2m"].clients,
    }


def expired_copy(access_token: str) -> str:
    """Ask the local IdP for a copy of the access token that expired an hour ago.

    The copy keeps every claim but the times (its lifetime too), and is properly signed: an
    API refuses it for its `exp` alone.

    :raise RuntimeError: the IdP refused or could not be reached.
    """
    _, claims = decode(access_token)
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise RuntimeError("the access token has no exp or iat to move")
    new_exp = int(time.time()) - EXPIRED_AGO
    try:
        response = requests.post(
            current_app.config["AUTH0_ISSUER"] + "lab/token-variants",
            json={"exp": new_exp, "iat": min(iat, new_exp - (exp - iat))},
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=current_app.config["HTTP_TIMEOUT"],
        )
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise RuntimeError("the local identity provider could not be reached") from exc
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        reason = body.get("error_description") if isinstance(body, dict) else None
        raise RuntimeError(f"the local identity provider refused: {reason or response.status_code}")
    return str(body["access_token"])


def _page(
    result: Any = None,
    explanation: Any = None,
    status: int = 200,
    problem: str | None = None,
    token_curl: str | None = None,
    iam_view: dict[str, Any] | None = None,
) -> tuple[str, int]:
    targets = directory().targets()
    actions = directory().actions(targets)
    logged_in = current_user() is not None
    # After a call without JavaScript, the page shows what was just chosen and pressed (even
    # when the call was refused); otherwise the last call's choices.
    posted = request.form if request.method == "POST" else {}
    selected_api = _known(posted.get("api"), targets) or session.get("ping_api") or default_api()
    if selected_api not in targets and targets:
        selected_api = next(iter(targets))
    selected_token = (
        _known(posted.get("token"), {**TOKEN_KINDS, **iam_ping.CHOICES})
        or session.get("ping_token")
        or ("access" if logged_in else "none")
    )
    pressed = _known(posted.get("action"), actions)
    if not logged_in and selected_token in iam_ping.iam.USER_CREDENTIAL_KINDS:
        selected_token = "iam-unsigned"
    if not logged_in and selected_token in USER_TOKEN_KINDS:
        selected_token = "none"
    machines = m2m_clients()
    local = _expired_copies_possible()
    available = {
        kind
        for kind in TOKEN_KINDS
        if (kind == "none" or (kind in USER_TOKEN_KINDS and logged_in) or kind in machines)
        and (local or kind not in LOCAL_ONLY_KINDS)
    }
    return render_template(
        "ping.html",
        styles=api_client.STYLES,
        targets=targets,
        actions=actions,
        # The button to look at: the one just pressed, else the first guarded route.
        primary=pressed or next((a.key for a in actions.values() if a.route.guarded), None),
        pressed=pressed,
        token_kinds=TOKEN_KINDS,
        available=available,
        logged_in=logged_in,
        selected_api=selected_api,
        selected_token=selected_token,
        result=result,
        explanation=explanation,
        problem=problem,
        local=local,
        token_curl=token_curl,
        # The IAM APIs' credential choices (the same `token` field) and an IAM call's view.
        credential_kinds=iam_ping.CHOICES,
        credentials_available=iam_ping.available(logged_in),
        credentials_why=iam_ping.why_unavailable(logged_in),
        iam_view=iam_view,
        api_base=current_app.config["API_BASE_URL"],
        api_local=directory().local,
        note_text=request.form.get("text", "") if request.method == "POST" else "",
        last_call=session.get("last_call") if result is not None else None,
    ), status


def default_api() -> str:
    """The API a session starts on: one that trusts the provider the user logged in with."""
    return "rest-cognito" if session_provider() == "cognito" else "rest-token"


def _expired_copies_possible() -> bool:
    # Only the local IdP signs an expired copy: of its tenant's tokens, and of its own user
    # pool's (not of a real Auth0 tenant's or a real user pool's).
    if current_app.config["LAB_MODE"] != "local":
        return False
    return session_provider() == "auth0" or current_app.config.get("COGNITO_MODE") == "local"


def _known(value: str | None, choices: Any) -> str | None:
    return value if isinstance(value, str) and value in choices else None


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

    targets = directory().targets()
    chosen = directory().actions(targets).get(action)
    if chosen is None:
        return refuse(f"Unknown action {action[:40]!r}: choose one of the buttons.")
    if token_kind not in TOKEN_KINDS and token_kind not in iam_ping.CHOICES:
        return refuse(f"Unknown token choice {token_kind[:40]!r}.")
    target = targets.get(api_key)
    if target is None:
        if api_key not in api_client.STYLE_BY_KEY:
            return refuse(f"Unknown API {api_key[:40]!r}.")
        style = api_client.STYLE_BY_KEY[api_key]
        if not directory().local:
            return refuse(f"The {style.title} is not configured: set {style.setting}.", 503)
        return refuse(
            f"The {style.title} is not available: the gateway at "
            f"{current_app.config['API_BASE_URL']} is not reachable, and {style.setting} is "
            "not set.",
            503,
        )
    if chosen.key not in target.route_keys:
        return refuse(f"The {target.style.title} has no route {chosen.key}: choose another API.")
    if len(text) > MAX_NOTE_CHARS:
        return refuse(f"A note has at most {MAX_NOTE_CHARS} characters.")
    if token_kind in iam_ping.CHOICES:
        return _iam_call(target, chosen, api_key, token_kind, text, fragment, refuse)
    if token_kind in LOCAL_ONLY_KINDS and not _expired_copies_possible():
        return refuse(
            "An expired copy of your token needs the local identity provider (its tenant or its "
            "user pool): a real tenant signs nothing for the lab, nor does a real user pool."
        )
    if token_kind in USER_TOKEN_KINDS and current_user() is None:
        return refuse(
            "Log in first to send your token; logged out, choose “No token” or an M2M token.", 401
        )
    # Whether this call made the web app ask the identity provider for the token it sends:
    # an M2M token not cached yet (client credentials), or an expired copy.
    machines = m2m_of(token_kind)
    fetched_token = token_kind == "expired" or (
        machines is not None
        and token_kind in machines.clients
        and not machines.has_live_token(token_kind)
    )
    try:
        token = chosen_token(token_kind)
    except (RuntimeError, KeyError, ValueError) as exc:
        what = "No expired copy" if token_kind == "expired" else "No M2M token"
        return refuse(f"{what}: {exc}.", 502)
    if token_kind != "none" and token is None:
        if token_kind in USER_TOKEN_KINDS:
            # The identity provider refused the refresh (the user was removed, the refresh
            # token revoked): the login is over.
            return refuse("Your session ended: log in again.", 401)
        return refuse("There is no such M2M token here: configure the M2M client.", 401)

    session["ping_api"] = api_key
    session["ping_token"] = token_kind
    result = api_client.call(
        target, chosen, token, token_kind, text, current_app.config["HTTP_TIMEOUT"]
    )
    explanation = explain(result, token, current_app.config["AUTH0_AUDIENCE"])
    if fetched_token:
        explanation.hops.insert(1, "idp")
    session["last_call"] = last_call(explanation, result.status, target.style.title, chosen.label)
    if fragment:
        return render_template(
            "_call_result.html",
            result=result,
            explanation=explanation,
            logged_in=current_user() is not None,
            token_curl=m2m_token_curl(token_kind, result.placeholder),
            last_call=session["last_call"],
        )
    return _page(result, explanation, token_curl=m2m_token_curl(token_kind, result.placeholder))


def _iam_call(
    target: Any, chosen: Any, api_key: str, kind: str, text: str, fragment: bool, refuse: Any
) -> Any:
    """Call with AWS credentials (signed with SigV4) instead of a bearer token."""
    if kind in iam_ping.iam.USER_CREDENTIAL_KINDS and current_user() is None:
        return refuse(
            "Log in first: your identity-pool credentials are exchanged for your ID token.", 401
        )
    try:
        done = iam_ping.call(target, chosen, kind, text)
    except iam_ping.iam.IamError as exc:
        return refuse(f"No AWS credentials: {exc}.", 502)
    session["ping_api"] = api_key
    session["ping_token"] = kind
    session["last_call"] = last_call(
        done.explanation, done.result.status, target.style.title, chosen.label
    )
    if fragment:
        return render_template(
            "_call_result.html",
            result=done.result,
            explanation=done.explanation,
            logged_in=current_user() is not None,
            token_curl=None,
            iam_view=done.view,
            last_call=session["last_call"],
        )
    return _page(done.result, done.explanation, iam_view=done.view)


def last_call(explanation: Any, status: int | None, api: str, action: str) -> dict[str, Any]:
    """What the flow diagram shows of a call (kept in the session for the home page)."""
    return {
        "hops": explanation.hops,
        "happened": [HOPS[hop] for hop in explanation.hops if hop in HOPS],
        "status": status,
        "api": api,
        "action": action,
        "cache": explanation.cache,
    }


@bp.app_template_filter("pretty_json")
def pretty_json(value: Any) -> str:
    """JSON for people: indented, keys sorted, characters as they are (`<redacted>`, not
    `\\u003credacted\\u003e`). Jinja's autoescaping makes it safe in HTML, as with any text."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


# Where each M2M client's secret is kept, for the comment that explains `$CLIENT_SECRET`.
SECRET_HOMES = {
    ("auth0", "local"): "the local IdP's demo secret, in emulators/idp/tenant.json",
    ("auth0", "auth0"): "the application's Settings page in Auth0; this app reads it from "
    "{prefix}_CLIENT_SECRET in .env",
    ("cognito", "local"): "the local user pool's demo secret, in emulators/idp/cognito.json",
    ("cognito", "aws"): "the app client's page in the Cognito console; this app reads it from "
    "COGNITO_{prefix}_CLIENT_SECRET in .env",
}
# Pulls `access_token` out of the token endpoint's JSON with what every lab user has (Python),
# rather than assume jq is installed.
READ_ACCESS_TOKEN = "python3 -c 'import json, sys; print(json.load(sys.stdin)[\"access_token\"])'"


def m2m_token_curl(kind: str, placeholder: str | None = None) -> str | None:
    """Return how to get the M2M token of a call yourself: comment lines that explain
    `$CLIENT_SECRET` (never its value), then the client credentials request whose
    `access_token` lands in the shell variable the API call names (`placeholder`).

    Run before the call's own curl, the two commands are the call, chained.
    """
    client = m2m_clients().get(kind)
    if client is None:
        return None
    variable = (placeholder or api_client.token_placeholder(kind)).lstrip("$")
    prefix = "M2M_WRITER" if kind.endswith("writer") else "M2M_READER"
    if client.provider == "cognito":
        endpoint = current_app.config["COGNITO_DOMAIN_URL"] + "/oauth2/token"
        mode = "local" if current_app.config.get("COGNITO_MODE") == "local" else "aws"
        # Cognito takes no audience: without `scope` it grants all the client's custom scopes.
        request_ = ["curl", "-s", shlex.quote(endpoint), "-d", "grant_type=client_credentials"]
    else:
        endpoint = current_app.config["AUTH0_ISSUER"] + "oauth/token"
        mode = "local" if current_app.config["LAB_MODE"] == "local" else "auth0"
        request_ = [
            "curl",
            "-s",
            shlex.quote(endpoint),
            "-d",
            "grant_type=client_credentials",
            "-d",
            shlex.quote(f"audience={current_app.config['AUTH0_AUDIENCE']}"),
        ]
    request_ += ["-u", f'"{client.client_id}:$CLIENT_SECRET"']
    home = SECRET_HOMES[(client.provider, mode)].format(prefix=prefix)
    return "\n".join(
        [
            "# 1. Get the M2M token (client credentials). CLIENT_SECRET is the secret of the",
            f"#    client {client.client_id}: {home}.",
            "#    Set it without showing it: read -rs CLIENT_SECRET",
            f"{variable}=$({' '.join(request_)} | {READ_ACCESS_TOKEN})",
            "# 2. Call the API with it:",
        ]
    )
