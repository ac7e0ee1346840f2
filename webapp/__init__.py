"""The Authorizer Lab web app: a backend-for-frontend that logs people in and calls the API.

`create_app()` is the application factory (flaskr style): defaults, then settings from the
environment, then the test configuration; blueprints are registered here.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import CSRFProtect
from markupsafe import Markup
from markupsafe import escape

from .config import settings_from_env
from .origin import init_origin
from .sessions import SECRET_KEY_FILE
from .sessions import init_sessions
from .sessions import instance_secret

ROOT = Path(__file__).resolve().parents[1]


def create_app(
    test_config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Flask:
    """Create the web app.

    :param test_config: settings that override everything else (tests).
    :param environ: the environment to read settings from; `os.environ` when None.
    """
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_mapping(
        SESSION_COOKIE_NAME="lab_session",
        SESSION_COOKIE_SECURE=False,
        SESSION_IDLE_TIMEOUT=8 * 3600,
        SESSION_ABSOLUTE_TIMEOUT=24 * 3600,
        # The disk store's bound (files); the soonest to expire (login transactions) go first.
        SESSION_FILE_THRESHOLD=5000,
        WTF_CSRF_TIME_LIMIT=None,
        HTTP_TIMEOUT=5,
    )
    env = os.environ if environ is None else environ
    app.config.update(settings_from_env(environ))
    if test_config:
        app.config.update(test_config)
    # Tests (and a second instance on one host) may keep their state in another folder.
    app.instance_path = str(app.config.get("INSTANCE_PATH") or app.instance_path)
    if not env.get("APP_SECRET_KEY") and not (test_config and "SECRET_KEY" in test_config):
        # One key for the life of the instance folder, not one per start: CSRF tokens of a page
        # left open across a restart stay valid.
        app.config["SECRET_KEY"] = instance_secret(
            Path(app.instance_path) / SECRET_KEY_FILE, secrets.token_hex(32).encode()
        ).decode()
    init_origin(app)

    # Authlib logs token responses at DEBUG: tokens must never reach a log.
    logging.getLogger("authlib").setLevel(logging.INFO)
    init_sessions(app, env)
    CSRFProtect(app)
    oauth = OAuth(app)
    oauth.register(
        "auth0",
        client_id=app.config["AUTH0_CLIENT_ID"],
        client_secret=app.config["AUTH0_CLIENT_SECRET"],
        server_metadata_url=app.config["AUTH0_ISSUER"] + ".well-known/openid-configuration",
        client_kwargs={
            "scope": app.config["AUTH0_SCOPE"],
            "code_challenge_method": "S256",
            "default_timeout": app.config["HTTP_TIMEOUT"],
        },
        authorize_params={"audience": app.config["AUTH0_AUDIENCE"]},
    )
    if app.config.get("COGNITO_MODE"):
        # The same Authlib client code for the Cognito user pool (no `audience`: Cognito
        # has none; its access tokens carry the resource server's scopes instead).
        oauth.register(
            "cognito",
            client_id=app.config["COGNITO_CLIENT_ID"],
            client_secret=app.config["COGNITO_CLIENT_SECRET"],
            server_metadata_url=app.config["COGNITO_ISSUER"] + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": app.config["COGNITO_SCOPE"],
                "code_challenge_method": "S256",
                "default_timeout": app.config["HTTP_TIMEOUT"],
            },
        )

    from . import auth
    from . import compare_page
    from . import lab
    from . import pages
    from . import ping
    from . import tokens
    from . import workshop
    from .api_client import ApiDirectory
    from .m2m import M2MClient
    from .m2m import M2MTokens

    app.extensions["api_directory"] = ApiDirectory(app.config)
    app.extensions["m2m"] = M2MTokens(
        app.config,
        [
            M2MClient(key, f"{client_id} (client credentials)", client_id, secret)
            for key, (client_id, secret) in app.config["M2M_CLIENTS"].items()
        ],
    )
    app.extensions["cognito_m2m"] = M2MTokens(
        app.config,
        [
            M2MClient(
                key, f"{client_id} (Cognito client credentials)", client_id, secret, "cognito"
            )
            for key, (client_id, secret) in app.config["COGNITO_M2M_CLIENTS"].items()
        ],
    )
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(ping.bp)
    app.register_blueprint(lab.bp)
    app.register_blueprint(compare_page.bp)
    app.register_blueprint(workshop.bp)
    _register_error_pages(app)
    _register_security_headers(app)

    @app.template_filter("codespans")
    def codespans(text: str | None) -> Markup:
        """Show `this` as code: the text is escaped first, so only our tags are markup."""
        escaped = str(escape(text or ""))
        return Markup(re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped))  # noqa: S704

    @app.template_filter("name_breaks")
    def name_breaks(name: str | None) -> Markup:
        """A claim or header name that may wrap only after a `/` or `:` (a namespaced claim
        such as `https://authorizer-lab/roles`), never inside a word."""
        escaped = str(escape(name or ""))
        return Markup(re.sub(r"([/:])", r"\1<wbr>", escaped))  # noqa: S704

    # A claim's value as its JSON says it (`true`, not Python's `True`), wherever claims show.
    app.add_template_filter(tokens.display, "claim_value")
    app.add_template_filter(tokens.moment, "iso_moment")
    return app


def _register_error_pages(app: Flask) -> None:
    def page(title: str, message: str, status: int) -> tuple[str, int]:
        return render_template("error.html", title=title, message=message), status

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> tuple[str, int]:
        # Flask-WTF keeps the CSRF secret in the session: with no session behind the cookie the
        # session has ended (timeout, logout elsewhere, a new instance folder), which is what
        # the person needs to hear, not "the form came from another site".
        ended = "session token is missing" in (error.description or "")
        if ended:
            title = "Your session ended"
            message = "Your session ended: log in again, then repeat what you did."
        else:
            title = "This form has expired"
            message = (
                "The page was open too long or came from another site. "
                "Reload the page and try again."
            )
        if request.headers.get("X-Requested-With") == "fetch":
            # The page puts this answer into its result area: a sentence, not a whole page.
            return render_template(
                "_call_problem.html", message=message, login=ended
            ), 401 if ended else 400
        return render_template(
            "error.html",
            title=title,
            message=message,
            retry=url_for("auth.login") if ended else None,
        ), 401 if ended else 400

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return page("Page not found", f"There is no page at {request.path}.", 404)

    @app.errorhandler(405)
    def method_not_allowed(error: Exception) -> tuple[str, int]:
        return page(
            "Method not allowed", f"{request.path} does not accept {request.method} requests.", 405
        )

    @app.errorhandler(500)
    def internal_error(error: Exception) -> tuple[str, int]:
        return page(
            "Something went wrong",
            "The web app hit an unexpected error; the details are in its log.",
            500,
        )


def _register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'",
        )
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # The callback URL carries the code and state: never leak it in a Referer.
        headers.setdefault("Referrer-Policy", "no-referrer")
        # Pages and JSON carry tokens or personal data: no cache keeps them (static files may).
        if request.endpoint != "static":
            headers.setdefault("Cache-Control", "no-store")
        return response
