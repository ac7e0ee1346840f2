"""A local identity provider that imitates Auth0: endpoints, token shapes, errors and logout.

`create_idp_app()` builds the Flask app; `python -m emulators.idp serve` runs it on
http://127.0.0.1:3001. The tenant (APIs, roles, applications, demo users) is `tenant.json`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask import render_template
from flask import request
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import CSRFProtect

from .cognito_pool import load_pool_data
from .keys import KeyRing
from .oauth import Client
from .oauth import create_authorization_server
from .store import Store
from .tenant import Tenant
from .tenant import load_tenant_data
from .tenant import parse_tenant
from .tokens import TokenMinter
from .validation import MAX_BODY_BYTES
from .validation import Refusal

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ISSUER = "http://127.0.0.1:3001/"
# The web app's origin the versioned tenant and pool files name in their callback and logout
# URLs; `IDP_APP_ORIGIN` (what `make run` passes from APP_BASE_URL) adds the same URLs at
# another origin, so moving the web app off port 3000 is one setting.
FILE_APP_ORIGIN = "http://localhost:3000"
URL_LISTS = ("callbacks", "allowed_logout_urls", "callback_urls", "logout_urls")


def with_app_origin(data: dict[str, Any], clients_key: str, origin: str | None) -> dict[str, Any]:
    """Return the file's data with each client's web app URLs also at `origin` (exact URLs, as
    Auth0 and Cognito compare them: `<origin>/callback` beside `http://localhost:3000/callback`)."""
    origin = (origin or "").rstrip("/")
    if not origin or origin == FILE_APP_ORIGIN or not isinstance(data.get(clients_key), list):
        return data
    clients = []
    for client in data[clients_key]:
        if isinstance(client, dict):
            client = dict(client)
            for key in URL_LISTS:
                urls = client.get(key)
                if isinstance(urls, list):
                    moved = [
                        origin + url[len(FILE_APP_ORIGIN) :]
                        for url in urls
                        if isinstance(url, str) and url.startswith(FILE_APP_ORIGIN + "/")
                    ]
                    client[key] = urls + [url for url in moved if url not in urls]
        clients.append(client)
    return {**data, clients_key: clients}


@dataclass
class IdentityProvider:
    """Everything one IdP app serves from: its issuer, tenant, state and keys."""

    issuer: str
    tenant: Tenant
    store: Store
    keys: KeyRing
    minter: TokenMinter
    server: Any = None


def open_provider(issuer: str, tenant: Tenant, database: Path | str) -> IdentityProvider:
    """Open (or create) the IdP state for a tenant: seed users, make a signing key."""
    store = Store(database)
    store.seed_users(tenant)
    keys = KeyRing(store, publish_old_for=tenant.max_token_lifetime)
    return IdentityProvider(issuer, tenant, store, keys, TokenMinter(issuer, tenant, store, keys))


def create_idp_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the IdP's Flask app.

    Settings: IDP_ISSUER (with the trailing slash, as Auth0's), IDP_DATABASE (SQLite file,
    default `instance/idp.sqlite3`), IDP_TENANT (a dict, or a path to a tenant JSON file),
    IDP_COGNITO_POOL (a dict, or a path to a user pool JSON file; default `cognito.json`),
    IDP_APP_ORIGIN (the web app's origin when not http://localhost:3000: its callback and
    logout URLs are allowed there too).
    """
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
    )
    app.config.from_mapping(
        IDP_ISSUER=DEFAULT_ISSUER,
        IDP_DATABASE=str(Path(app.instance_path) / "idp.sqlite3"),
        IDP_TENANT=None,
        IDP_COGNITO_POOL=None,
        IDP_APP_ORIGIN=None,
        SESSION_COOKIE_NAME="idp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        # No IdP request needs more; a bigger body is refused before it is read (413).
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    for name in ("IDP_ISSUER", "IDP_DATABASE", "IDP_TENANT", "IDP_COGNITO_POOL", "IDP_APP_ORIGIN"):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    if test_config:
        app.config.update(test_config)

    issuer = app.config["IDP_ISSUER"].rstrip("/") + "/"
    tenant_source = app.config["IDP_TENANT"]
    tenant_data = (
        tenant_source if isinstance(tenant_source, dict) else load_tenant_data(tenant_source)
    )
    app_origin = app.config["IDP_APP_ORIGIN"]
    tenant_data = with_app_origin(tenant_data, "applications", app_origin)
    provider = open_provider(issuer, parse_tenant(tenant_data), app.config["IDP_DATABASE"])
    app.secret_key = provider.store.secret("idp_session_key")
    app.extensions["idp"] = provider

    def query_client(client_id: str) -> Client | None:
        application = provider.tenant.applications.get(client_id)
        return Client(application) if application else None

    provider.server = create_authorization_server(app, provider.minter, query_client)

    from . import cognito
    from . import variants
    from . import views

    app.register_blueprint(views.bp)
    app.register_blueprint(variants.bp)
    # The Cognito-compatible user pool beside the tenant (its own file, state and keys).
    pool_source = app.config.get("IDP_COGNITO_POOL")
    pool_data = pool_source if isinstance(pool_source, dict) else load_pool_data(pool_source)
    cognito.install(
        app, issuer, app.config["IDP_DATABASE"], with_app_origin(pool_data, "clients", app_origin)
    )
    csrf = CSRFProtect(app)
    cognito.exempt_from_csrf(csrf)
    csrf.exempt(views.token)
    csrf.exempt(views.userinfo)
    csrf.exempt(variants.token_variant)  # a bearer-authenticated API, not a form

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> tuple[str, int]:
        return render_template(
            "idp/error.html",
            title="This form has expired",
            message="Go back to the application and start the login again.",
        ), 400

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return render_template(
            "idp/error.html", title="Not found", message="This identity provider has no such page."
        ), 404

    @app.errorhandler(413)
    def too_large(error: Exception) -> Any:
        if request.path == "/oauth/token":
            return Refusal(
                "invalid_request", "The request body is larger than 64 KiB.", 413
            ).response()
        return render_template(
            "idp/error.html",
            title="Request too large",
            message="This request is larger than the identity provider accepts.",
        ), 413

    @app.errorhandler(405)
    def method_not_allowed(error: Exception) -> tuple[str, int]:
        return render_template(
            "idp/error.html",
            title="Method not allowed",
            message="This endpoint does not take that HTTP method.",
        ), 405

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    logging.getLogger("emulators.idp").setLevel(logging.INFO)
    # Authlib logs whole token responses at DEBUG ("Issue token {...}"): never let them out.
    logging.getLogger("authlib").setLevel(logging.INFO)
    return app
