"""The web app's one public origin: `APP_BASE_URL`, never the request's `Host` header.

The identity provider matches redirect and logout URLs exactly (RFC 9700 §4.1.3, Auth0's
Allowed Callback URLs), so they are built from the configured origin. A request under another
name of this machine for the same port (http://127.0.0.1:3000 for http://localhost:3000) is
redirected to the configured origin before anything else, so its login can work; any other
host is refused with 400 by Flask's `TRUSTED_HOSTS`
(https://flask.palletsprojects.com/en/stable/config/#TRUSTED_HOSTS). `X-Forwarded-Host` and
friends count only behind `APP_TRUSTED_PROXIES` proxies, through Werkzeug's ProxyFix
(https://werkzeug.palletsprojects.com/en/stable/middleware/proxy_fix/).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import current_app
from flask import redirect
from flask import request
from flask import url_for
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import is_loopback


def public_url(endpoint: str, **values: Any) -> str:
    """Return the absolute URL of an endpoint under the configured origin."""
    return current_app.config["APP_BASE_URL"] + url_for(endpoint, **values)


def _host_and_port(host_header: str, scheme: str) -> tuple[str, int]:
    parts = urlsplit(f"//{host_header}")
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or ""), port or (443 if scheme == "https" else 80)


def init_origin(app: Flask) -> None:
    """Trust the configured proxies, send loopback aliases to the origin, refuse other hosts.

    Call before other extensions register their `before_request` hooks: a wrong host is
    answered before a CSRF check or a session is looked at.
    """
    hops = app.config.get("APP_TRUSTED_PROXIES", 0)
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=0
        )
    origin = urlsplit(app.config["APP_BASE_URL"])
    origin_port = origin.port or (443 if origin.scheme == "https" else 80)

    @app.before_request
    def one_origin() -> Any:
        # Read from the raw header: Flask has refused a host outside TRUSTED_HOSTS (which
        # names only the origin's), and Werkzeug cannot list an IPv6 address there anyway.
        raw = request.environ.get("HTTP_HOST", "")
        host, port = _host_and_port(raw, request.scheme)  # host in lower case
        other_name = host != origin.hostname and is_loopback(host)
        # Host names are case-insensitive (RFC 9110 §4.2.3): LOCALHOST is this origin too.
        other_case = host == origin.hostname and raw != raw.lower()
        if (other_name or other_case) and port == origin_port:
            # Same server under another name: the tenant knows only the origin.
            target = app.config["APP_BASE_URL"] + request.full_path.rstrip("?")
            return redirect(target, 302 if request.method in ("GET", "HEAD") else 308)
        if isinstance(request.routing_exception, SecurityError):
            # Any other host: answer that, not a CSRF or login page.
            raise request.routing_exception
        return None

    @app.errorhandler(SecurityError)
    def untrusted_host(error: SecurityError) -> Response:
        # Plain text: no URL can be built for a host Flask refused, so no template either.
        return Response(
            "Bad request: this web app answers only at "
            f"{app.config['APP_BASE_URL']}/ (the Host header names another site).\n",
            400,
            mimetype="text/plain",
        )
