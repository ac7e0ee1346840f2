"""The local Cognito user pool's HTTP endpoints, beside the Auth0-compatible tenant.

Under the issuer `<origin>/<poolId>` (standing for `https://cognito-idp.<region>.amazonaws.com/<poolId>`):
`/.well-known/openid-configuration` and `/.well-known/jwks.json`. Under the domain
`<origin>/cognito/<domain prefix>` (standing for `https://<prefix>.auth.<region>.amazoncognito.com`):
`/oauth2/authorize`, `/oauth2/token`, `/oauth2/userInfo`, `/oauth2/revoke` and `/logout`, as
the Cognito developer guide's "user pool endpoints" pages describe them (`authorization-endpoint`,
`token-endpoint`, `userinfo-endpoint`, `revocation-endpoint`, `logout-endpoint`): token errors are
400 JSON `{"error": ...}`; scopes a client is not allowed are dropped; no `scope` on a
client-credentials request means all of the client's custom scopes. `GET /` lists both providers.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Blueprint
from flask import Flask
from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session

from .cognito_pool import AppClient
from .cognito_pool import LocalPool
from .cognito_pool import load_pool_data
from .cognito_pool import parse_pool
from .cognito_pool import pool_database
from .store import User
from .validation import CANCELLED

bp = Blueprint("cognito", __name__)
log = logging.getLogger("emulators.idp")

MAX_FIELD_LENGTH = 512
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_UTF8 = "application/json;charset=UTF-8"
GRANTS = {"authorization_code": "code", "refresh_token": "code", "client_credentials": None}


def install(app: Flask, origin: str, tenant_database: str, source: Any = None) -> LocalPool:
    """Open the pool (file `source`, a dict, or the default) and serve it from `app`."""
    data = source if isinstance(source, dict) else load_pool_data(source)
    local = LocalPool(parse_pool(data), origin, pool_database(tenant_database))
    app.extensions["cognito_pool"] = local
    app.register_blueprint(bp)
    return local


def exempt_from_csrf(csrf: Any) -> None:
    """The token, userInfo and revoke endpoints are APIs for clients, not forms."""
    for view in (token, userinfo, revoke):
        csrf.exempt(view)


def _pool() -> LocalPool:
    return current_app.extensions["cognito_pool"]


def _pool_or_404(pool_id: str) -> LocalPool:
    local = _pool()
    if pool_id != local.pool.pool_id:
        abort(404)
    return local


def _domain_or_404(prefix: str) -> LocalPool:
    local = _pool()
    if prefix != local.pool.domain_prefix:
        abort(404)
    return local


# The pool's pages say whose they are: the hosted UI of a user pool, whose users have groups.
EYEBROW = "Local identity provider · Cognito user pool (hosted UI)"


def _error_page(title: str, message: str, status: int = 400) -> tuple[str, int]:
    return render_template("idp/error.html", title=title, message=message, eyebrow=EYEBROW), status


# catalogue and discovery ----------------------------------------------------------------


def catalogue(local: LocalPool) -> dict[str, Any]:
    """Return what `GET /` and `list-clients` show of the pool: ids, endpoints, clients."""
    return {
        "user_pool_id": local.pool.pool_id,
        "region": local.pool.region,
        **local.endpoints(),
        "resource_servers": {
            rs: [f"{rs}/{name}" for name in scopes]
            for rs, scopes in local.pool.resource_servers.items()
        },
        "groups": list(local.pool.groups),
        "clients": [
            {
                "client_id": c.client_id,
                "name": c.name,
                "allowed_oauth_flows": list(c.flows),
                "allowed_oauth_scopes": list(c.scopes),
                "access_token_validity": c.access_token_validity,
                "id_token_validity": c.id_token_validity,
            }
            for c in local.pool.clients.values()
        ],
    }


@bp.get("/")
def root() -> Response:
    """List both providers: the Auth0-compatible tenant and the Cognito user pool."""
    idp = current_app.extensions["idp"]
    return jsonify(
        auth0_tenant={
            "issuer": idp.issuer,
            "openid_configuration": idp.issuer + ".well-known/openid-configuration",
            "clients": list(idp.tenant.applications),
        },
        cognito_user_pool=catalogue(_pool()),
    )


@bp.get("/<pool_id>/.well-known/openid-configuration")
def discovery(pool_id: str) -> Response:
    """The pool's OpenID Provider metadata: issuer under cognito-idp, endpoints on the domain."""
    local = _pool_or_404(pool_id)
    ends = local.endpoints()
    response = jsonify(
        issuer=local.issuer,
        authorization_endpoint=ends["authorize"],
        token_endpoint=ends["token"],
        userinfo_endpoint=ends["userinfo"],
        revocation_endpoint=ends["revoke"],
        end_session_endpoint=ends["logout"],
        jwks_uri=ends["jwks_uri"],
        scopes_supported=["openid", "email", "phone", "profile"],
        response_types_supported=["code", "token"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=["RS256"],
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        code_challenge_methods_supported=["S256"],
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/<pool_id>/.well-known/jwks.json")
def jwks(pool_id: str) -> Response:
    """Both key rings' public keys: one `kid` signs ID tokens, another access tokens."""
    response = jsonify(_pool_or_404(pool_id).jwks())
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=15"
    return response


# authorize and login ---------------------------------------------------------------------


def _redirect_error(
    redirect_uri: str, error: str, state: str | None, description: str | None = None
) -> Response:
    params = {
        "error": error,
        **({"error_description": description} if description else {}),
        **({"state": state} if state else {}),
    }
    return redirect(f"{redirect_uri}?{urlencode(params)}")


def _granted_user_scope(client: AppClient, requested: str | None) -> list[str]:
    """Requested scopes the client allows, all of them when none was asked (Cognito's rule)."""
    if not requested:
        return list(client.scopes)
    words: list[str] = []
    for word in requested.split():
        if word in client.scopes and word not in words:
            words.append(word)
    return words


def _issue_code(local: LocalPool, client: AppClient, user: User, scope: list[str]) -> Response:
    code = str(uuid.uuid4())
    args = request.args
    local.store.save_code(
        code,
        {
            "client_id": client.client_id,
            "user_id": user.user_id,
            "redirect_uri": args["redirect_uri"],
            "scope": " ".join(scope),
            "nonce": args.get("nonce"),
            "auth_time": session.get("cognito_auth_time") or int(time.time()),
            "origin_jti": str(uuid.uuid4()),
            "code_challenge": args.get("code_challenge"),
        },
        local.pool.authorization_code_lifetime,
    )
    params = {"code": code, **({"state": args["state"]} if args.get("state") else {})}
    log.info("cognito authorization code issued: client=%s", client.client_id)
    return redirect(f"{args['redirect_uri']}?{urlencode(params)}")


@bp.route("/cognito/<prefix>/oauth2/authorize", methods=["GET", "POST"])
def authorize(prefix: str) -> Any:
    """The hosted UI's sign-in: a code for a known client and one of its callback URLs."""
    local = _domain_or_404(prefix)
    args = request.args
    if any(len(v) > 1 for v in args.listvalues()):
        return _error_page("Invalid request", "A parameter is repeated.")
    client = local.pool.clients.get(args.get("client_id", ""))
    if client is None:
        return _error_page("Invalid request", "client_id is missing or not a client of this pool.")
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in client.callback_urls:
        # Cognito answers redirect_mismatch on its own error page, never at the unknown URL.
        return _error_page("redirect_mismatch", "redirect_uri is not a callback URL of the client.")
    state = args.get("state")
    if args.get("response_type") != "code" or "code" not in client.flows:
        return _redirect_error(redirect_uri, "unsupported_response_type", state)
    scope = _granted_user_scope(client, args.get("scope"))
    if not scope:
        return _redirect_error(redirect_uri, "invalid_scope", state)
    if args.get("code_challenge") and args.get("code_challenge_method") != "S256":
        return _redirect_error(redirect_uri, "invalid_request", state)

    user_id = session.get("cognito_user_id")
    if request.method == "GET":
        user = local.store.get_user(user_id) if user_id else None
        if user is not None:
            return _issue_code(local, client, user, scope)
        return _login_page(local, client)
    if request.form.get("action") == "cancel":
        return _redirect_error(redirect_uri, "access_denied", state, CANCELLED)
    email = request.form.get("email", "").strip()[:MAX_FIELD_LENGTH]
    password = request.form.get("password", "")[:MAX_FIELD_LENGTH]
    if not email or not password:
        return _login_page(local, client, "Enter your email and password.", email)
    user = local.store.authenticate(email, password)
    if user is None:
        # The form again as a 200 page, as the hosted UI shows it: a 4xx page would be logged
        # by the browser as a failed load.
        return _login_page(local, client, "Incorrect username or password.", email)
    session["cognito_user_id"] = user.user_id
    session["cognito_auth_time"] = int(time.time())
    return _issue_code(local, client, user, scope)


def _login_page(
    local: LocalPool,
    client: AppClient,
    error: str | None = None,
    email: str = "",
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "idp/login.html",
        application=f"{client.name} (Cognito user pool {local.pool.pool_id})",
        error=error,
        email=email,
        demo_logins=list(local.pool.users),
        eyebrow=EYEBROW,
        directory="user pool",
        membership="Groups",
    ), status


# token ---------------------------------------------------------------------------------


def _token_error(error: str, status: int = 400) -> Response:
    response = jsonify(error=error)
    response.status_code = status
    response.headers["Content-Type"] = JSON_UTF8
    return response


def _client_credentials(params: dict[str, str]) -> tuple[str, str | None] | None:
    """Return (client_id, secret) from Basic auth or the body; None when they are malformed."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, secret = decoded.partition(":")
        if not sep or ("client_id" in params and params["client_id"] != client_id):
            return None
        return client_id, secret
    if "client_id" not in params:
        return None
    return params["client_id"], params.get("client_secret")


def _authenticate(local: LocalPool, params: dict[str, str]) -> AppClient | None:
    found = _client_credentials(params)
    if found is None:
        return None
    client = local.pool.clients.get(found[0])
    if client is None:
        return None
    if client.client_secret is None:
        return client if found[1] is None else None
    given = (found[1] or "").encode()
    return client if hmac.compare_digest(given, client.client_secret.encode()) else None


def _user_for(local: LocalPool, user_id: str) -> User | None:
    return local.store.get_user(user_id)


@bp.post("/cognito/<prefix>/oauth2/token")
def token(prefix: str) -> Response:
    """Exchange a code, a refresh token or client credentials for tokens (Cognito's answers)."""
    local = _domain_or_404(prefix)
    if request.mimetype != FORM_TYPE:
        return _token_error("invalid_request")
    if any(len(v) > 1 for v in request.form.listvalues()):
        return _token_error("invalid_request")
    params = request.form.to_dict()
    grant_type = params.get("grant_type")
    if not grant_type:
        return _token_error("invalid_request")
    if grant_type not in GRANTS:
        return _token_error("unsupported_grant_type")
    client = _authenticate(local, params)
    if client is None:
        return _token_error("invalid_client")
    if grant_type == "client_credentials":
        return _client_credentials_grant(local, client, params)
    if "code" not in client.flows:
        return _token_error("unauthorized_client")
    if grant_type == "authorization_code":
        return _code_grant(local, client, params)
    return _refresh_grant(local, client, params)


def _client_credentials_grant(
    local: LocalPool, client: AppClient, params: dict[str, str]
) -> Response:
    if "client_credentials" not in client.flows or client.client_secret is None:
        return _token_error("unauthorized_client")
    allowed = client.custom_scopes
    requested = params.get("scope")
    if requested is None or not requested.strip():
        scope = list(allowed)
    else:
        # Scopes the client is not allowed (reserved ones included) are dropped, not refused.
        scope = [s for s in dict.fromkeys(requested.split()) if s in allowed]
    if not scope:
        return _token_error("invalid_scope")
    log.info("cognito client credentials: client=%s", client.client_id)
    return _json(local.client_credentials_token(client, " ".join(scope)))


def _code_grant(local: LocalPool, client: AppClient, params: dict[str, str]) -> Response:
    code = params.get("code")
    redirect_uri = params.get("redirect_uri")
    if not code or not redirect_uri:
        return _token_error("invalid_request")
    data, _replayed = local.store.take_code(code)
    if data is None or data["client_id"] != client.client_id:
        return _token_error("invalid_grant")
    if data["redirect_uri"] != redirect_uri:
        return _token_error("invalid_grant")
    challenge = data.get("code_challenge")
    if challenge:
        verifier = params.get("code_verifier") or ""
        expected = create_s256_code_challenge(verifier)
        if not verifier or not hmac.compare_digest(expected, challenge):
            return _token_error("invalid_grant")
    user = _user_for(local, data["user_id"])
    if user is None:
        return _token_error("invalid_grant")
    return _json(
        local.user_tokens(
            client,
            user,
            data["scope"],
            auth_time=data["auth_time"],
            origin_jti=data["origin_jti"],
            nonce=data.get("nonce"),
        )
    )


def _refresh_grant(local: LocalPool, client: AppClient, params: dict[str, str]) -> Response:
    refresh = params.get("refresh_token")
    if not refresh:
        return _token_error("invalid_request")
    data = local.store.get_token("refresh_tokens", refresh)
    if data is None or data["client_id"] != client.client_id:
        return _token_error("invalid_grant")
    user = _user_for(local, data["user_id"])
    if user is None:
        return _token_error("invalid_grant")
    # Cognito keeps the refresh token (no rotation unless configured): none in the answer.
    return _json(
        local.user_tokens(
            client,
            user,
            data["scope"],
            auth_time=data["auth_time"],
            origin_jti=data["origin_jti"],
            refresh=False,
        )
    )


def _json(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.headers["Content-Type"] = JSON_UTF8
    response.headers["Cache-Control"] = "no-store"
    return response


# userInfo, revoke, logout -----------------------------------------------------------------


def _userinfo_error(status: int, error: str, description: str) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["WWW-Authenticate"] = f'error="{error}", error_description="{description}"'
    return response


EXPIRED_OR_REVOKED = (
    "Access token is expired, disabled, or deleted, or the user has globally signed out."
)


@bp.route("/cognito/<prefix>/oauth2/userInfo", methods=["GET", "POST"])
def userinfo(prefix: str) -> Response:
    """The user's attributes for an access token issued to a user with `openid`."""
    local = _domain_or_404(prefix)
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return _userinfo_error(400, "invalid_request", "Bad OAuth2 request at UserInfo Endpoint")
    claims = local.access_keys.verify(value.strip())
    if (
        claims is None
        or claims.get("iss") != local.issuer
        or claims.get("token_use") != "access"
        or claims.get("exp", 0) <= time.time()
        or local.store.session_revoked(str(claims.get("origin_jti", "")))
    ):
        return _userinfo_error(401, "invalid_token", EXPIRED_OR_REVOKED)
    user = local.store.get_user(str(claims.get("sub", "")))
    scope = str(claims.get("scope", ""))
    if user is None or "openid" not in scope.split():
        # Client-credentials tokens and tokens without `openid` have no user to describe.
        return _userinfo_error(401, "invalid_token", EXPIRED_OR_REVOKED)
    return jsonify(local.user_info(user, scope))


@bp.post("/cognito/<prefix>/oauth2/revoke")
def revoke(prefix: str) -> Response:
    """Revoke a refresh token and every access token of its session (RFC 7009, Cognito)."""
    local = _domain_or_404(prefix)
    params = request.form.to_dict()
    if request.mimetype != FORM_TYPE or not params.get("token"):
        return _token_error("invalid_request")
    client = _authenticate(local, params)
    if client is None:
        return _token_error("invalid_client")
    data = local.store.get_token("refresh_tokens", params["token"])
    if data is not None:
        if data["client_id"] != client.client_id:
            return _token_error("unauthorized_client")
        local.store.revoke_session(data["origin_jti"])
    # RFC 7009 §2.2: an unknown or already revoked token is answered 200 as well.
    return Response(status=200)


@bp.get("/cognito/<prefix>/logout")
def logout(prefix: str) -> Any:
    """End the hosted-UI session and go to one of the client's sign-out URLs."""
    local = _domain_or_404(prefix)
    client = local.pool.clients.get(request.args.get("client_id", ""))
    logout_uri = request.args.get("logout_uri", "")
    if client is None:
        return _error_page("Invalid request", "client_id is missing or not a client of this pool.")
    if logout_uri not in client.logout_urls:
        return _error_page("Invalid request", "logout_uri is not a sign-out URL of the client.")
    session.pop("cognito_user_id", None)
    session.pop("cognito_auth_time", None)
    return redirect(logout_uri)
