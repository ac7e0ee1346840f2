"""Login, callback and logout: OIDC authorization code flow with PKCE, `state`, `nonce`, `audience`.

The same code path serves two providers, each local or real: Auth0 (the local IdP's tenant or a
real tenant) and a Cognito user pool (the local IdP's pool or a real one, whose hosted UI's
`/oauth2/*` endpoints its discovery document names); they differ by configuration only. The
session remembers which one logged the user in (`provider`): refresh and logout go there.
Tokens are kept in the server-side session, never sent to the browser. Redirect and logout
URLs are built from the configured origin (`origin.public_url`), never from the Host header.
A login is an ID token: a token response without one is refused (OIDC Core §3.1.3.3, "the
Token Response … MUST include an ID Token").
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client.errors import MismatchingStateError
from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from joserfc.errors import JoseError

from .origin import public_url
from .reach import unreachable

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


PROVIDERS = {"auth0": "Auth0", "cognito": "Cognito"}


def provider_enabled(provider: str) -> bool:
    """Say whether this provider is configured (Auth0 always; Cognito when a pool is)."""
    return provider == "auth0" or (
        provider == "cognito" and bool(current_app.config.get("COGNITO_MODE"))
    )


def session_provider() -> str:
    """Return the provider the session's user logged in with (Auth0 when none says)."""
    provider = session.get("provider")
    return provider if provider in PROVIDERS and provider_enabled(provider) else "auth0"


def provider_client(provider: str) -> Any:
    """Return this app's Authlib client for one provider."""
    return getattr(current_app.extensions["authlib.integrations.flask_client"], provider)


def idp_client() -> Any:
    """Return the Authlib client of the provider the session's user logged in with."""
    return provider_client(session_provider())


def provider_settings(provider: str) -> dict[str, str]:
    """Return one provider's issuer, discovery URL, client credentials and mode."""
    config = current_app.config
    if provider == "cognito":
        issuer = config["COGNITO_ISSUER"]
        return {
            "issuer": issuer,
            "discovery": issuer + "/.well-known/openid-configuration",
            "client_id": config["COGNITO_CLIENT_ID"],
            "client_secret": config["COGNITO_CLIENT_SECRET"],
            "setting": "COGNITO_DOMAIN and COGNITO_USER_POOL_ID",
            "local": config["COGNITO_MODE"] == "local",
        }
    issuer = config["AUTH0_ISSUER"]
    return {
        "issuer": issuer,
        "discovery": issuer + ".well-known/openid-configuration",
        "client_id": config["AUTH0_CLIENT_ID"],
        "client_secret": config["AUTH0_CLIENT_SECRET"],
        "setting": "AUTH0_DOMAIN",
        "local": config["LAB_MODE"] == "local",
    }


def login_choices() -> list[dict[str, str]]:
    """The home page's login buttons: one per configured provider, saying which is local."""
    choices = []
    for provider, name in PROVIDERS.items():
        if provider_enabled(provider):
            local = provider_settings(provider)["local"]
            choices.append(
                {
                    "provider": provider,
                    "label": f"Log in with {name} ({'local' if local else 'real'})",
                    "url": url_for("auth.login" if provider == "auth0" else "auth.login_cognito"),
                    "issuer": provider_settings(provider)["issuer"],
                }
            )
    return choices


def current_user() -> dict[str, Any] | None:
    """Return the logged-in user's ID token claims, or None.

    Logged in means: a user with a subject and tokens in the session. The navigation, the
    pages and `login_required` all ask this function, so they agree.
    """
    user = session.get("user")
    has_subject = isinstance(user, dict) and isinstance(user.get("sub"), str) and user["sub"]
    return user if has_subject and session.get("tokens") else None


@bp.app_context_processor
def _user_in_templates() -> dict[str, Any]:
    return {
        "current_user": current_user,
        "login_choices": login_choices,
        "session_provider": lambda: PROVIDERS[session_provider()],
    }


REFRESH_MARGIN = 10  # refresh this many seconds before `exp`, so a call never leaves expired
REFRESH_WAIT = 15.0  # how long a request waits for another one's refresh of the same session


def _expiring(tokens: dict[str, Any]) -> bool:
    return tokens.get("expires_at", 0) <= time.time() + REFRESH_MARGIN


def fresh_tokens() -> dict[str, Any] | None:
    """Return the session's tokens, refreshing an expired access token when possible.

    Single-flight per session: refresh tokens are single-use (the IdP rotates them), so of
    several requests that find the token expired, one refreshes under the session's lock and
    the others, once they have the lock, re-read the store and take its new tokens. The new
    tokens are written to the store before the lock is released, and only the `tokens` key.
    A refresh token the identity provider rejects ends the session (WEB-10).
    """
    tokens = session.get("tokens")
    if not tokens:
        return None
    if not _expiring(tokens) or not tokens.get("refresh_token"):
        return tokens
    store = current_app.session_interface
    with store.lock(f"refresh:{session.sid}", timeout=REFRESH_WAIT) as acquired:
        if not acquired:
            log.warning("refresh: another request held the session's lock too long")
            return tokens  # keep what we have; the API will say the token expired
        stored = store.load(session.sid)
        if stored is None:  # the session ended meanwhile (logout, or a refused refresh)
            session.clear()
            return None
        latest = stored.get("tokens") or tokens
        if not _expiring(latest) or not latest.get("refresh_token"):
            session.adopt("tokens", latest)  # another request refreshed while this one waited
            return latest
        refreshed = _refresh(latest)
        if refreshed is None:
            return latest
        if not refreshed:
            log.info("refresh token rejected: session ended")
            store.end(session)
            return None
        if not store.write(session, {"tokens": refreshed}):
            session.clear()
            return None
        return refreshed


def _refresh(tokens: dict[str, Any]) -> dict[str, Any] | None:
    """Spend the refresh token once; return the new tokens, {} if refused, None if unreachable."""
    client = idp_client()
    settings = provider_settings(session_provider())
    try:
        endpoint = client.load_server_metadata()["token_endpoint"]
        response = requests.post(
            endpoint,
            timeout=current_app.config["HTTP_TIMEOUT"],
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(settings["client_id"], settings["client_secret"]),
        )
        if response.status_code >= 500:
            return None  # the IdP's trouble, not a verdict on the refresh token
        fresh = response.json() if response.status_code == 200 else {}
    except (requests.RequestException, KeyError, ValueError):
        return None
    if not isinstance(fresh, dict) or not fresh.get("access_token"):
        return {}
    now = int(time.time())
    new = {
        **tokens,
        "access_token": fresh["access_token"],
        # With rotation the IdP sends a new refresh token; without, the old one stays good.
        "refresh_token": fresh.get("refresh_token") or tokens.get("refresh_token"),
        "expires_at": now + int(fresh.get("expires_in") or 0),
        "refreshed_at": now,
    }
    if fresh.get("id_token"):
        new["id_token"] = fresh["id_token"]
    return new


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send a logged-out visitor to the login, then back to this page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            session["next"] = request.path
            return redirect(url_for("auth.login"))
        return view(*args, **kwargs)

    return wrapped


def _failure(title: str, message: str, status: int) -> tuple[str, int]:
    return render_template(
        "error.html", title=title, message=message, retry=url_for("auth.login")
    ), status


def _load_metadata(client: Any, provider: str = "auth0") -> dict[str, Any]:
    """Fetch the discovery document afresh: it doubles as a check that the IdP is up.

    The new document replaces the old one (Authlib's own loader merges them, so an endpoint
    the tenant stopped publishing, such as `end_session_endpoint`, would linger).
    """
    settings = provider_settings(provider)
    expected = settings["issuer"]
    response = requests.get(settings["discovery"], timeout=current_app.config["HTTP_TIMEOUT"])
    response.raise_for_status()
    metadata = response.json()
    if not isinstance(metadata, dict):
        raise ValueError("the discovery document is not a JSON object")
    if metadata.get("issuer") != expected:
        raise ValueError(
            f"the discovery document names issuer {metadata.get('issuer')!r}, not {expected!r}"
        )
    metadata["_loaded_at"] = time.time()
    client.server_metadata = metadata  # one assignment: other threads see old or new, whole
    return metadata


def _idp_unreachable(exc: BaseException, provider: str = "auth0") -> str:
    settings = provider_settings(provider)
    return unreachable(exc, settings["issuer"], "identity provider", bool(settings["local"]))


CALLBACKS = {"auth0": "auth.callback", "cognito": "auth.cognito_callback"}


@bp.get("/login")
def login() -> Any:
    """Start the authorization code flow at Auth0 (the local tenant or a real one)."""
    return _start_login("auth0")


@bp.get("/login/cognito")
def login_cognito() -> Any:
    """Start the authorization code flow at the Cognito user pool's hosted UI."""
    return _start_login("cognito")


def _start_login(provider: str) -> Any:
    if not provider_enabled(provider):
        return _failure(
            f"{PROVIDERS[provider]} is not configured",
            "This lab has no Cognito user pool: set COGNITO_DOMAIN, COGNITO_USER_POOL_ID, "
            "COGNITO_REGION, COGNITO_CLIENT_ID and COGNITO_CLIENT_SECRET (see the README).",
            404,
        )
    client = provider_client(provider)
    settings = provider_settings(provider)
    try:
        _load_metadata(client, provider)
    except requests.HTTPError as exc:
        return _failure(
            "The identity provider is misconfigured",
            f"Refusing to log in: {settings['issuer']} answered {exc.response.status_code} for "
            f"its discovery document (check {settings['setting']}).",
            502,
        )
    except requests.RequestException as exc:
        return _failure(
            "The identity provider is not reachable", _idp_unreachable(exc, provider), 503
        )
    except ValueError as exc:
        return _failure(
            "The identity provider is misconfigured", f"Refusing to log in: {exc}.", 502
        )
    return client.authorize_redirect(public_url(CALLBACKS[provider]))


@bp.get("/callback")
def callback() -> Any:
    """Finish an Auth0 login: check `state`, exchange the code, validate the ID token."""
    return _finish_login("auth0")


@bp.get("/callback/cognito")
def cognito_callback() -> Any:
    """Finish a Cognito login, the same way."""
    if not provider_enabled("cognito"):
        return _failure("Cognito is not configured", "This lab has no Cognito user pool.", 404)
    return _finish_login("cognito")


def _finish_login(provider: str) -> Any:
    error = request.args.get("error")
    if error:
        # An error answer is shown only for a login this browser started (its `state`, RFC
        # 6749 §4.1.2.1): anyone can link to /callback?error=…&error_description=<any text>,
        # and the page must not lend that text the lab's voice.
        state = request.args.get("state") or ""
        framework = provider_client(provider).framework
        if not state or framework.get_state_data(session, state) is None:
            return _failure(
                "This login cannot be finished",
                "The identity provider's error answer does not match any login started in "
                "this browser session (no or unknown state), so its message is not shown. "
                "Start again from Log in.",
                400,
            )
        framework.clear_state_data(session, state)
        description = request.args.get("error_description") or "no description given"
        if error == "access_denied":
            # The IdP's access_denied is a Cancel on its login page or its refusal (an unknown
            # API, a rule): say which, in the IdP's words, and that nothing was shared.
            cancelled = "cancel" in description.lower()
            return _failure(
                "Login cancelled" if cancelled else "The identity provider denied the login",
                f"The identity provider answered access_denied: {description.rstrip('.')}. "
                "Nothing was shared with this app; log in again when you are ready.",
                # A cancelled login is the user's choice, not a failed request: a 4xx here
                # would be logged by the browser as an error the user did not make.
                200 if cancelled else 403,
            )
        return _failure("The identity provider returned an error", f"{error}: {description}", 400)
    if not request.args.get("code"):
        return _failure(
            "Nothing to log in with",
            "This page is where the identity provider sends you back after a "
            "login; it was opened without a code.",
            400,
        )
    client = provider_client(provider)
    try:
        token = client.authorize_access_token()
    except MismatchingStateError:
        return _failure(
            "This login cannot be finished",
            "Its state does not match any login started in this browser session: "
            "it was already used, started in another browser, or the session "
            "expired.",
            400,
        )
    except OAuthError as exc:
        return _failure(
            "The identity provider refused the login",
            f"{exc.error}: {exc.description or 'no description given'}",
            502,
        )
    except JoseError as exc:
        return _failure(
            "The ID token is not valid", f"Refusing the login: {exc.error}: {exc.description}", 502
        )
    except requests.RequestException as exc:
        return _failure(
            "The identity provider is not reachable",
            "The code could not be exchanged for tokens. " + _idp_unreachable(exc, provider),
            503,
        )
    refusal = _not_a_login(token)
    if refusal:
        log.warning("login refused: %s", refusal)
        return _failure("The identity provider did not log you in", refusal, 502)

    next_path = session.get("next")
    session.clear()
    session.rotate()
    session["provider"] = provider
    session["user"] = dict(token.get("userinfo") or {})
    session["tokens"] = {
        "access_token": token.get("access_token"),
        "id_token": token.get("id_token"),
        "refresh_token": token.get("refresh_token"),
        "token_type": token.get("token_type"),
        "scope": token.get("scope"),
        "expires_at": token.get("expires_at")
        or int(time.time()) + int(token.get("expires_in") or 0),
        "issued_at": int(time.time()),
        "refreshed_at": None,
    }
    log.info("login: provider=%s sub=%s", provider, session["user"].get("sub"))
    if (
        isinstance(next_path, str)
        and next_path.startswith("/")
        and not next_path.startswith(("//", "/\\"))
    ):
        return redirect(next_path)
    return redirect(url_for("pages.home"))


def _not_a_login(token: dict[str, Any]) -> str | None:
    """Say why a token response is not a login (OIDC Core §3.1.3.3), or None if it is one.

    Authlib validates an ID token when one comes back, but lets a response without one
    through: then there is no authenticated user, only an access token.
    """
    if not token.get("id_token"):
        return (
            "Its token response has no ID token, so it says nothing about who you are. "
            "Ask for the `openid` scope (AUTH0_SCOPE) and check the application is an OIDC client."
        )
    user = token.get("userinfo")
    if not isinstance(user, dict) or not isinstance(user.get("sub"), str) or not user["sub"]:
        return "Its ID token names no user (`sub`)."
    if not token.get("access_token"):
        return "Its token response has no access token."
    return None


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Any:
    """End the session here and at the identity provider (POST only: GET asks first)."""
    if request.method == "GET":
        return render_template("logout.html")
    provider = session_provider()
    session.clear()
    return_to = public_url("pages.home")
    config = current_app.config
    if provider == "cognito":
        # Cognito's discovery document names no end_session_endpoint: its hosted UI's
        # /logout takes the client id and one of the client's sign-out URLs (AWS: "Logout
        # endpoint").
        query = {"client_id": config["COGNITO_CLIENT_ID"], "logout_uri": return_to}
        return redirect(f"{config['COGNITO_DOMAIN_URL']}/logout?{urlencode(query)}")
    client = idp_client()
    try:
        metadata = _load_metadata(client)
    except (requests.RequestException, ValueError):
        return render_template(
            "error.html",
            title="Logged out of the lab",
            message="Your session here has ended, but the identity provider could not be "
            "reached to end its own session.",
            retry=None,
        ), 503
    # client_id rather than id_token_hint: no token ever goes into a URL.
    if metadata.get("end_session_endpoint"):
        query = {"client_id": config["AUTH0_CLIENT_ID"], "post_logout_redirect_uri": return_to}
        return redirect(f"{metadata['end_session_endpoint']}?{urlencode(query)}")
    query = {"client_id": config["AUTH0_CLIENT_ID"], "returnTo": return_to}
    return redirect(f"{config['AUTH0_ISSUER']}v2/logout?{urlencode(query)}")
