"""Authlib's authorization server, configured with Auth0's grants and rules.

Grants: authorization code with PKCE (S256 only) and OpenID Connect, refresh token (rotated on
use), client credentials (with `audience`). Authlib does not hand the request to the token
generator, so each grant records what it issues for in `flask.g.idp_issuance`.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import grants as oidc_grants
from flask import Flask
from flask import current_app
from flask import g

from .keys import ALGORITHM
from .tenant import Application
from .tokens import Issuance
from .tokens import TokenMinter
from .tokens import granted_user_scope
from .tokens import split_scope
from .validation import echo

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class AccessDeniedError(OAuth2Error):
    """Auth0's answer for an unknown API or a client without a grant for it (403)."""

    error = "access_denied"
    status_code = 403


class Client:
    """A tenant application seen through Authlib's ClientMixin interface."""

    def __init__(self, app: Application) -> None:
        self.app = app

    def get_client_id(self) -> str:
        return self.app.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.app.callbacks[0] if self.app.callbacks else None

    def get_allowed_scope(self, scope: str) -> str:
        # What a user is granted is decided per user and API (RBAC) when the code is saved.
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact match only: no prefix, no wildcard, no normalisation (RFC 9700 §4.1).
        return redirect_uri in self.app.callbacks

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.app.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in TOKEN_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.app.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.app.grant_types


@dataclass
class StoredGrant:
    """An authorization code or refresh token as read back from the store."""

    data: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    def get_redirect_uri(self) -> str:
        return self.data["redirect_uri"]

    def get_scope(self) -> str:
        return self.data["scope"]

    def get_nonce(self) -> str | None:
        return self.data.get("nonce")

    def get_auth_time(self) -> int | None:
        return self.data.get("auth_time")

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None

    def check_client(self, client: Client) -> bool:
        return self.data["client_id"] == client.get_client_id()


def _idp() -> Any:
    return current_app.extensions["idp"]


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """The code grant: codes are single use, short lived, and remember the audience."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        idp = _idp()
        payload = request.payload.data
        audience = payload.get("audience") or None
        user = request.user
        idp.store.save_code(
            code,
            {
                "client_id": request.client.get_client_id(),
                "user_id": user.get_user_id(),
                "redirect_uri": request.payload.redirect_uri,
                "scope": granted_user_scope(
                    idp.tenant, request.payload.scope, audience, user.roles
                ),
                "audience": audience,
                "nonce": payload.get("nonce"),
                "auth_time": g.get("idp_auth_time") or int(time.time()),
                "sid": g.get("idp_sid"),
                "code_challenge": payload.get("code_challenge"),
                "code_challenge_method": payload.get("code_challenge_method"),
            },
            idp.tenant.authorization_code_lifetime,
        )

    def query_authorization_code(self, code: str, client: Client) -> StoredGrant | None:
        store = _idp().store
        data, replayed = store.take_code(code)
        if replayed:
            # RFC 6749 §4.1.2: a code used twice revokes what the first use issued.
            store.revoke_issued_from(code)
            return None
        if data is None or data["client_id"] != client.get_client_id():
            return None
        return StoredGrant(data)

    def delete_authorization_code(self, authorization_code: StoredGrant) -> None:
        # Already spent atomically when it was looked up.
        return None

    def authenticate_user(self, authorization_code: StoredGrant) -> Any:
        g.idp_issuance = Issuance(
            audience=authorization_code.audience, code_hash=authorization_code.code_hash
        )
        return _idp().store.get_user(authorization_code.user_id)


class OpenIDCode(oidc_grants.OpenIDCode):
    """Adds the ID token: `aud` = client id, `nonce`, `sid`, profile claims per scope."""

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False

    def resolve_client_private_key(self, client: Client) -> Any:
        return _idp().keys.signing_key()

    def get_client_algorithm(self, client: Client) -> str:
        return ALGORITHM

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": ALGORITHM, "typ": "JWT", "kid": _idp().keys.signing_key().kid}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        idp = _idp()
        now = int(time.time())
        return {
            "iss": idp.issuer,
            "aud": client.get_client_id(),
            "iat": now,
            "exp": now + idp.tenant.id_token_lifetime,
        }

    def get_authorization_code_claims(self, authorization_code: StoredGrant) -> dict[str, Any]:
        claims = super().get_authorization_code_claims(authorization_code)
        if authorization_code.data.get("sid"):
            claims["sid"] = authorization_code.data["sid"]
        return claims

    def generate_user_info(self, user: Any, scope: str) -> dict[str, Any]:
        return _idp().minter.id_token_claims(user, scope)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Refresh tokens are rotated: each one works once and yields a new one."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> StoredGrant | None:
        data = _idp().store.get_token("refresh_tokens", refresh_token)
        return StoredGrant(data) if data else None

    def authenticate_user(self, credential: StoredGrant) -> Any:
        g.idp_issuance = Issuance(audience=credential.audience, code_hash=credential.code_hash)
        return _idp().store.get_user(credential.user_id)

    def revoke_old_credential(self, credential: StoredGrant) -> None:
        _idp().store.revoke_refresh_token(credential.token_hash)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Machine-to-machine tokens: `audience` required, scopes limited to the client grant."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        tenant = _idp().tenant
        audience = self.request.form.get("audience")
        if not audience:
            raise InvalidRequestError(
                "Missing 'audience': client credentials need the identifier of the API."
            )
        if audience not in tenant.apis:
            raise AccessDeniedError(f"Service not found: {echo(audience)}")
        granted = self.client.app.client_grants.get(audience)
        if granted is None:
            raise AccessDeniedError(
                # Auth0 quotes the API with ", which RFC 6749 §5.2 forbids in a description.
                f"Client is not authorized to access '{echo(audience)}'. "
                "You need to create a 'client-grant' associated to this API."
            )
        requested = split_scope(self.request.payload.scope)
        missing = [s for s in requested if s not in granted]
        if missing:
            raise InvalidScopeError(
                f"Client has not been granted scopes: {echo(' '.join(missing), 200)}"
            )
        g.idp_issuance = Issuance(audience=audience)
        g.idp_scope = " ".join(requested or granted)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=g.idp_scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only: `plain` gives no protection against a stolen code."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


def create_authorization_server(
    app: Flask, minter: TokenMinter, query_client: Any
) -> AuthorizationServer:
    """Build the authorization server for an IdP app, with every grant registered."""
    server = AuthorizationServer(
        app, query_client=query_client, save_token=lambda token, request: None
    )
    server.register_token_generator(
        "default", lambda **kwargs: minter(**kwargs, issuance=g.get("idp_issuance"))
    )
    server.register_grant(
        AuthorizationCodeGrant, [S256CodeChallenge(required=False), OpenIDCode(require_nonce=False)]
    )
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    return server
