"""The IdP's HTTP endpoints, named and shaped as Auth0's.

`/authorize` (the login page), `/oauth/token`, `/userinfo`, discovery, JWKS, `/v2/logout` and
`/oidc/logout`. Errors follow RFC 6749: JSON at the token endpoint, a redirect to the client at
`/authorize` only once the client and its redirect URI are known to be genuine.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.errors import AccessDeniedError
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session

from .tokens import split_scope
from .validation import CANCELLED
from .validation import check_authorize_request
from .validation import check_token_request
from .validation import echo
from .validation import reword

bp = Blueprint("idp", __name__)
log = logging.getLogger("emulators.idp")

MAX_FIELD_LENGTH = 512


def _idp() -> Any:
    return current_app.extensions["idp"]


def _error_page(title: str, message: str, status: int = 400) -> tuple[str, int]:
    return render_template("idp/error.html", title=title, message=message), status


def _sso_user() -> Any:
    user_id = session.get("user_id")
    return _idp().store.get_user(user_id) if user_id else None


def _oauth_error_response(error: OAuth2Error) -> Any:
    """Redirect the error to the client when that is safe, else show it to the person."""
    if error.redirect_uri:
        return _idp().server.handle_error_response(None, error)
    description = error.description or error.error
    return _error_page("This login request cannot be processed", f"{error.error}: {description}")


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    """Publish the OpenID Provider metadata, with every field OIDC Discovery requires."""
    issuer = _idp().issuer
    metadata = {
        "issuer": issuer,
        "authorization_endpoint": issuer + "authorize",
        "token_endpoint": issuer + "oauth/token",
        "userinfo_endpoint": issuer + "userinfo",
        "jwks_uri": issuer + ".well-known/jwks.json",
        "end_session_endpoint": issuer + "oidc/logout",
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "aud",
            "auth_time",
            "email",
            "email_verified",
            "exp",
            "iat",
            "iss",
            "name",
            "nickname",
            "nonce",
            "sid",
            "sub",
            "updated_at",
        ],
        "request_uri_parameter_supported": False,
    }
    response = jsonify(metadata)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    """Publish the public signing keys: the active one and any still covering live tokens."""
    response = jsonify(_idp().keys.jwks())
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=15"
    return response


def _check_audience(grant: Any) -> None:
    audience = grant.request.payload.data.get("audience")
    if audience and audience not in _idp().tenant.apis:
        raise AccessDeniedError(
            f"Service not found: {echo(audience)}",
            redirect_uri=grant.redirect_uri,
            state=grant.request.payload.state,
        )


def _issue_code(grant: Any, user: Any) -> Any:
    g.idp_auth_time = session.get("auth_time")
    g.idp_sid = session.get("sid")
    log.info(
        "authorization code issued: client=%s user=%s",
        grant.request.client.get_client_id(),
        user.user_id,
    )
    return _idp().server.create_authorization_response(grant=grant, grant_user=user)


def _login_page(
    grant: Any, error: str | None = None, email: str = "", status: int = 200
) -> tuple[str, int]:
    idp = _idp()
    demo_logins = list(idp.tenant.users) if idp.tenant.show_demo_logins else []
    return render_template(
        "idp/login.html",
        application=grant.request.client.app.name,
        error=error,
        email=email,
        demo_logins=demo_logins,
    ), status


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    """Show the login page, or issue a code at once when the person has a session here."""
    refusal = check_authorize_request(request)
    if refusal:
        # Never redirected: with a repeated or garbled parameter the redirect URI is not known.
        return _error_page(
            "This login request cannot be processed",
            f"{refusal.error}: {refusal.description}",
            refusal.status,
        )
    server = _idp().server
    user = _sso_user() if request.method == "GET" else None
    try:
        grant = server.get_consent_grant(end_user=user)
        _check_audience(grant)
    except OAuth2Error as error:
        return _oauth_error_response(error)

    if request.method == "GET":
        if user is not None and grant.prompt != "login":
            return _issue_code(grant, user)
        return _login_page(grant)

    if request.form.get("action") == "cancel":
        log.info("login cancelled: client=%s", grant.request.client.get_client_id())
        # RFC 6749 §4.1.2.1: `access_denied` back to the client, saying what happened (Authlib's
        # default, "denied the request", reads as if the IdP had refused).
        return _oauth_error_response(
            AccessDeniedError(
                CANCELLED,
                redirect_uri=grant.redirect_uri,
                state=grant.request.payload.state,
            )
        )

    email = request.form.get("email", "").strip()[:MAX_FIELD_LENGTH]
    password = request.form.get("password", "")[:MAX_FIELD_LENGTH]
    if not email or not password:
        return _login_page(grant, "Enter your email and password.", email)
    user = _idp().store.authenticate(email, password)
    if user is None:
        log.info("login failed: client=%s", grant.request.client.get_client_id())
        # The form again, with Auth0's words, as a 200 page: Universal Login re-renders its
        # form; a 4xx page would be logged by the browser as a failed load.
        return _login_page(grant, "Wrong email or password.", email)

    session.clear()
    session["user_id"] = user.user_id
    session["auth_time"] = int(time.time())
    session["sid"] = secrets.token_urlsafe(16)
    return _issue_code(grant, user)


@bp.post("/oauth/token")
def token() -> Response:
    """Exchange a code, a refresh token or client credentials for tokens."""
    refusal = check_token_request(request)
    if refusal:
        log.info("token request refused: %s (%s)", refusal.error, refusal.description)
        return refusal.response()
    grant_type = request.values.get("grant_type")
    return reword(_idp().server.create_token_response(), grant_type)


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _unauthorized(description: str) -> Response:
    response = Response("Unauthorized", status=401, mimetype="text/plain")
    response.headers["WWW-Authenticate"] = (
        f'Bearer error="invalid_token", error_description="{description}"'
    )
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """Return the profile of the user an access token was issued for.

    Takes an opaque token, or a JWT whose `aud` includes this issuer's `/userinfo`.
    """
    idp = _idp()
    token_value = _bearer_token()
    if token_value is None:
        return _unauthorized("Missing bearer token")
    if token_value.count(".") == 2:
        claims = idp.keys.verify(token_value)
        if claims is None or claims.get("iss") != idp.issuer:
            return _unauthorized("Token signature or issuer is invalid")
        if claims.get("exp", 0) <= time.time():
            return _unauthorized("Token has expired")
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else audiences or []
        if idp.issuer + "userinfo" not in audiences:
            return _unauthorized("Token audience does not include /userinfo")
        user_id, scope = claims.get("sub"), claims.get("scope", "")
    else:
        grant = idp.store.get_token("opaque_tokens", token_value)
        if grant is None:
            return _unauthorized("Token is unknown, expired or revoked")
        user_id, scope = grant["user_id"], grant["scope"]
    user = idp.store.get_user(user_id) if user_id else None
    if user is None or "openid" not in split_scope(scope):
        return _unauthorized("Token was not issued to a user with the openid scope")
    return jsonify(idp.minter.user_info(user, scope))


def _logged_out(return_to: str | None) -> Any:
    session.clear()
    if return_to:
        return redirect(return_to)
    return render_template("idp/logged_out.html")


def _refuse_logout_url(client_id: str | None, url: str, no_client: str) -> Any:
    """Return an error page unless `url` is an allowed logout URL of the client."""
    app = _idp().tenant.applications.get(client_id or "")
    if app is None:
        return _error_page("Logout URL not allowed", no_client)
    if url not in app.allowed_logout_urls:
        return _error_page(
            "Logout URL not allowed",
            f"{url!r} is not in the Allowed Logout URLs of application {app.name!r}.",
        )
    return None


@bp.get("/v2/logout")
def logout_v2() -> Any:
    """End the session here; `returnTo` must be on the application's allowed logout URLs."""
    return_to = request.args.get("returnTo")
    client_id = request.args.get("client_id")
    if return_to:
        refusal = _refuse_logout_url(
            client_id, return_to, "returnTo needs a client_id whose Allowed Logout URLs list it."
        )
        if refusal:
            return refusal
    return _logged_out(return_to)


@bp.get("/oidc/logout")
def logout_oidc() -> Any:
    """RP-initiated logout: `post_logout_redirect_uri` must be allowed for the hinted client."""
    idp = _idp()
    hint = request.args.get("id_token_hint")
    redirect_uri = request.args.get("post_logout_redirect_uri")
    client_id = request.args.get("client_id")
    if hint:
        claims = idp.keys.verify(hint)
        if claims is None or claims.get("iss") != idp.issuer:
            return _error_page(
                "Invalid logout request", "id_token_hint is not an ID token issued by this tenant."
            )
        if not isinstance(claims.get("aud"), str):
            return _error_page(
                "Invalid logout request", "id_token_hint is not an ID token issued by this tenant."
            )
        if client_id and claims.get("aud") != client_id:
            return _error_page(
                "Invalid logout request", "client_id does not match the audience of id_token_hint."
            )
        client_id = claims.get("aud")
    if redirect_uri:
        refusal = _refuse_logout_url(
            client_id, redirect_uri, "post_logout_redirect_uri needs id_token_hint or client_id."
        )
        if refusal:
            return refusal
        state = request.args.get("state")
        if state:
            separator = "&" if "?" in redirect_uri else "?"
            redirect_uri = f"{redirect_uri}{separator}{urlencode({'state': state})}"
    return _logged_out(redirect_uri)
