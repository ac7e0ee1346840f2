"""Call the APIs on the user's behalf (the backend-for-frontend proxy) and build "copy as curl".

Only the configured APIs and the routes they serve can be called (WEB-09): the browser names
an API style and a route ("GET /notes"), never a URL. The bearer token is added here,
server-side. In local mode the API URLs, their routes and each call's trace come from the
gateway, which reads `template.yaml`: a route added there becomes a Ping button with no change
here. Against AWS there is no catalogue and no trace, and the page says so: the catalogue is
asked for only in local mode (`API_MODE`), and a deployed `API_BASE_URL` without the
`API_URL_*` settings is one API, of the style `API_BASE_STYLE` names (default REST TOKEN).
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

import requests

from .reach import unreachable

TOKEN_PLACEHOLDER = "$ACCESS_TOKEN"
CATALOGUE_TTL = 30.0


@dataclass(frozen=True)
class ApiStyle:
    """One of the ways the lab protects the same routes (four for Auth0, three for Cognito)."""

    key: str
    title: str
    logical_id: str
    setting: str
    kind: str  # "REST" or "HTTP"


STYLES = (
    ApiStyle(
        "rest-token",
        "REST API · Lambda TOKEN authorizer",
        "RestTokenApi",
        "API_URL_REST_TOKEN",
        "REST",
    ),
    ApiStyle(
        "rest-request",
        "REST API · Lambda REQUEST authorizer",
        "RestRequestApi",
        "API_URL_REST_REQUEST",
        "REST",
    ),
    ApiStyle(
        "http-lambda",
        "HTTP API · Lambda authorizer, simple responses",
        "HttpLambdaApi",
        "API_URL_HTTP_LAMBDA",
        "HTTP",
    ),
    ApiStyle(
        "http-jwt", "HTTP API · built-in JWT authorizer", "HttpJwtApi", "API_URL_HTTP_JWT", "HTTP"
    ),
    # The same routes behind the Cognito user pool: API Gateway's own COGNITO_USER_POOLS
    # authorizer, and the HTTP API's JWT authorizer pointed at the pool.
    ApiStyle(
        "rest-cognito",
        "REST API · Cognito user pool authorizer",
        "RestCognitoApi",
        "API_URL_REST_COGNITO",
        "REST",
    ),
    ApiStyle(
        "http-cognito-jwt",
        "HTTP API · JWT authorizer for the Cognito pool",
        "HttpCognitoJwtApi",
        "API_URL_HTTP_COGNITO_JWT",
        "HTTP",
    ),
    # And our own Lambda TOKEN authorizer in its Cognito profile (access tokens only).
    ApiStyle(
        "rest-cognito-lambda",
        "REST API · Lambda TOKEN authorizer for the Cognito pool",
        "RestCognitoLambdaApi",
        "API_URL_REST_COGNITO_LAMBDA",
        "REST",
    ),
    # The same routes behind IAM (SigV4): the caller signs each request with AWS credentials
    # (identity-pool credentials of a login, or an IAM user's access key).
    ApiStyle("rest-iam", "REST API · IAM (SigV4)", "RestIamApi", "API_URL_REST_IAM", "REST"),
    ApiStyle("http-iam", "HTTP API · IAM (SigV4)", "HttpIamApi", "API_URL_HTTP_IAM", "HTTP"),
)
COGNITO_STYLES = frozenset(("rest-cognito", "http-cognito-jwt", "rest-cognito-lambda"))
IAM_STYLES = frozenset(("rest-iam", "http-iam"))
STYLE_BY_KEY = {style.key: style for style in STYLES}

# Methods the Ping page can call, in the order their buttons appear on a path; the first three
# carry the page's text field as a JSON body `{"text": …}` (what the notes function takes).
CALLABLE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")
VERBS = {"PUT": "Replace", "PATCH": "Update", "DELETE": "Delete"}


@dataclass(frozen=True)
class Route:
    """One route of an API, as the gateway's catalogue describes it."""

    method: str
    path: str
    guarded: bool = True  # an authorizer stands in front of it
    scopes: tuple[str, ...] = ()  # what the JWT API asks for (the catalogue's `scopes`)

    @property
    def key(self) -> str:
        """The route key, as API Gateway and the authorizer's RoutePermissions write it."""
        return f"{self.method} {self.path}"


# Why a list of routes here at all: a deployed API Gateway has no catalogue, and the web app
# may run where `template.yaml` is not (any WSGI host), so against the `API_URL_*` of a
# deployed stack the page offers the routes every stack of this template has. A route added
# to the template since shows up locally at once; to call it on AWS, add it here too.
# tests/test_ping_routes.py checks each of these is still served by every API of the template.
FALLBACK_ROUTES = (
    Route("GET", "/public", guarded=False),
    Route("GET", "/private"),
    Route("GET", "/admin", scopes=("read:admin",)),
    Route("GET", "/notes", scopes=("read:notes",)),
    Route("POST", "/notes", scopes=("write:notes",)),
)


@dataclass(frozen=True)
class Action:
    """A button of the Ping page: a route and its label."""

    route: Route
    label: str

    @property
    def key(self) -> str:
        return self.route.key

    @property
    def method(self) -> str:
        return self.route.method

    @property
    def path(self) -> str:
        return self.route.path

    @property
    def sends_body(self) -> bool:
        return self.route.method in BODY_METHODS


def route_label(method: str, path: str, collection: bool) -> str:
    """Name a route for its button: "Call Public", "List notes", "Add note".

    `collection` says the path also takes a POST, so its GET lists what the POST adds.
    """
    name = " ".join(path.replace("-", " ").replace("_", " ").split("/")).strip() or "root"
    one = name[:-1] if name.endswith("s") and not name.endswith("ss") else name
    if method == "GET":
        return f"List {name}" if collection else f"Call {name[:1].upper()}{name[1:]}"
    if method == "POST":
        return f"Add {one}"
    return f"{VERBS.get(method, method.title())} {name}"


def route_actions(routes: Iterable[Route]) -> dict[str, Action]:
    """Return the Ping page's buttons for these routes, by route key, in the page's order.

    Routes with path parameters, or methods such as ANY and OPTIONS, are left out: the page
    has no field for a path parameter and nothing to learn from a preflight. The same route
    on several APIs is one button. The order goes from open to most restricted (no
    authorizer, any valid token, a permission), then by path, so the buttons read as a lesson.
    """
    merged: dict[str, Route] = {}
    for route in routes:
        if "{" in route.path or route.method not in CALLABLE_METHODS:
            continue
        seen = merged.get(route.key)
        if seen is not None:
            route = Route(
                route.method,
                route.path,
                seen.guarded or route.guarded,
                tuple(dict.fromkeys(seen.scopes + route.scopes)),
            )
        merged[route.key] = route
    posted = {route.path for route in merged.values() if route.method == "POST"}
    ordered = sorted(
        merged.values(),
        key=lambda r: (
            (1 + bool(r.scopes)) if r.guarded else 0,
            r.path,
            CALLABLE_METHODS.index(r.method),
        ),
    )
    actions: dict[str, Action] = {}
    labels: set[str] = set()
    for route in ordered:
        label = route_label(route.method, route.path, route.path in posted)
        if label in labels:  # two paths that read the same ("/a-b", "/a_b"): say which
            label = route.key
        labels.add(label)
        actions[route.key] = Action(route, label)
    return actions


SHOWN_HEADERS = (
    "content-type",
    "x-amzn-requestid",
    "apigw-requestid",
    "x-amzn-errortype",
    "www-authenticate",
    "x-amz-apigw-id",
    "content-length",
)


@dataclass
class Target:
    """Where one API style is served, its routes, and where its traces can be read (local only)."""

    style: ApiStyle
    base_url: str
    trace_url: str | None
    routes: tuple[Route, ...] = FALLBACK_ROUTES

    @property
    def route_keys(self) -> frozenset[str]:
        return frozenset(route.key for route in self.routes)


@dataclass
class CallResult:
    """What one call returned, as the Ping page shows it."""

    style: ApiStyle
    action: str
    method: str
    url: str
    token_kind: str
    status: int | None = None
    reason: str = ""
    body: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    elapsed_ms: float = 0.0
    request_id: str | None = None
    trace: dict[str, Any] | None = None
    trace_available: bool = False
    error: str | None = None
    curl: str = ""
    json_body: Any = None
    placeholder: str = TOKEN_PLACEHOLDER  # the shell variable `curl` names for the token
    # What the route needs (one of these scopes or permissions), as the catalogue or the
    # fallback routes say: it explains a 403 when there is no trace.
    required: tuple[str, ...] = ()


class ApiDirectory:
    """Find the APIs: explicit URLs from settings, else the local gateway's catalogue."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self._catalogue: dict[str, Any] | None = None
        self._fetched = 0.0

    def _load_catalogue(self) -> dict[str, Any] | None:
        # A catalogue is kept 30 s; a failure only 2 s, so a gateway started late is found.
        ttl = CATALOGUE_TTL if self._catalogue is not None else 2.0
        if self._fetched and time.monotonic() - self._fetched < ttl:
            return self._catalogue
        try:
            response = requests.get(
                self.config["API_BASE_URL"] + "/", timeout=self.config["HTTP_TIMEOUT"]
            )
            document = response.json() if response.status_code == 200 else None
        except (requests.RequestException, ValueError):
            document = None
        self._catalogue = document if isinstance(document, dict) and "apis" in document else None
        self._fetched = time.monotonic()
        return self._catalogue

    def catalogue(self) -> dict[str, Any] | None:
        """The local gateway's catalogue (None against a deployed API, or when unreachable)."""
        return self._load_catalogue() if self.local else None

    @property
    def local(self) -> bool:
        """The APIs are the local gateway's, which has a catalogue and traces."""
        return self.config.get("API_MODE", "local") == "local"

    def targets(self) -> dict[str, Target]:
        """Return the reachable API styles by key."""
        found: dict[str, Target] = {}
        catalogue = self._load_catalogue() if self.local else None
        if catalogue is not None:
            by_name = {api.get("name"): api for api in catalogue["apis"]}
            for style in STYLES:
                api = by_name.get(style.logical_id)
                if api:
                    found[style.key] = Target(
                        style,
                        api["base_url"].rstrip("/"),
                        self.config["API_BASE_URL"] + "/_lab/traces/",
                        catalogue_routes(api),
                    )
        for style in STYLES:
            url = self.config.get(style.setting)
            if url:
                found[style.key] = Target(style, url.rstrip("/"), None)
        if not found and not self.local:
            style = STYLE_BY_KEY.get(self.config.get("API_BASE_STYLE") or "", STYLES[0])
            found[style.key] = Target(style, self.config["API_BASE_URL"], None)
        return found

    def actions(self, targets: dict[str, Target] | None = None) -> dict[str, Action]:
        """Return the Ping page's buttons: every route of the reachable APIs (or the fallback)."""
        targets = self.targets() if targets is None else targets
        routes = [route for target in targets.values() for route in target.routes]
        return route_actions(routes or FALLBACK_ROUTES)

    @property
    def gateway_reachable(self) -> bool:
        return self.local and self._load_catalogue() is not None


def catalogue_routes(api: dict[str, Any]) -> tuple[Route, ...]:
    """Read an API's routes from the gateway's catalogue; skip an entry it cannot use."""
    routes = []
    for entry in api.get("routes") or ():
        if not isinstance(entry, dict):
            continue
        method, path = entry.get("method"), entry.get("path")
        if not isinstance(method, str) or not isinstance(path, str) or not path.startswith("/"):
            continue
        scopes = entry.get("scopes") or ()
        routes.append(
            Route(
                method.upper(),
                path,
                guarded=entry.get("auth", "NONE") != "NONE",
                scopes=tuple(s for s in scopes if isinstance(s, str)),
            )
        )
    return tuple(routes)


# The shell variable "copy as curl" names for each kind of token sent, so the command says which
# token it needs (`$ID_TOKEN` when the ID token was sent); never the token itself.
PLACEHOLDERS = {
    "access": "$ACCESS_TOKEN",
    "workshop": "$ACCESS_TOKEN",  # the workshop's edited copy of the access token
    "query-string": "$ACCESS_TOKEN",
    "lowercase-bearer": "$ACCESS_TOKEN",
    "id": "$ID_TOKEN",
    "id-token": "$ID_TOKEN",
    "tampered": "$TAMPERED_ACCESS_TOKEN",
    "expired": "$EXPIRED_ACCESS_TOKEN",
    "access-customer": "$CUSTOMER_ACCESS_TOKEN",
    "access-admin": "$ADMIN_ACCESS_TOKEN",
    "opaque": "$OPAQUE_ACCESS_TOKEN",
}


def token_placeholder(token_kind: str) -> str:
    """The shell variable that stands for a token of this kind in "copy as curl".

    M2M kinds and the Compare grid's variants get a name from their key (`m2m-writer` is
    `$M2M_WRITER_TOKEN`, `wrong-aud` is `$WRONG_AUD_TOKEN`).
    """
    if token_kind in PLACEHOLDERS:
        return PLACEHOLDERS[token_kind]
    name = re.sub(r"[^A-Z0-9]+", "_", token_kind.upper()).strip("_") or "ACCESS"
    return f"${name}" if name.endswith("TOKEN") else f"${name}_TOKEN"


def build_curl(method: str, url: str, token_kind: str, body: str | None) -> str:
    """Return the call as a curl command, with the token as a shell variable named for its kind."""
    parts = ["curl", "-i", "-X", method, shlex.quote(url)]
    # Nothing to send for "no token" and an unsigned IAM call: no Authorization header at all.
    if token_kind not in ("none", "iam-unsigned"):
        parts += ["-H", f'"Authorization: Bearer {token_placeholder(token_kind)}"']
    if body is not None:
        parts += ["-H", shlex.quote("Content-Type: application/json"), "--data", shlex.quote(body)]
    return " ".join(parts)


class Signer(Protocol):
    """Signs a call instead of a bearer token (the IAM APIs; see `iam.IamSigner`)."""

    def sign(
        self, method: str, url: str, headers: dict[str, str], body: str | None
    ) -> dict[str, str]: ...

    def curl(self, method: str, url: str, body: str | None) -> str: ...


def call(
    target: Target,
    action: Action,
    token: str | None,
    token_kind: str,
    note_text: str | None,
    timeout: float,
    signer: Signer | None = None,
) -> CallResult:
    """Call one route of one API with the given bearer token (or none), or signed by `signer`."""
    method = action.method
    url = target.base_url + action.path
    body = json.dumps({"text": note_text or ""}) if action.sends_body else None
    result = CallResult(
        target.style,
        action.key,
        method,
        url,
        token_kind,
        curl=build_curl(method, url, token_kind, body),
        placeholder=token_placeholder(token_kind),
        required=action.route.scopes,
    )
    headers = {"Accept": "application/json", "User-Agent": "authorizer-lab-webapp"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    if signer is not None:
        headers = signer.sign(method, url, headers, body)
        result.curl = signer.curl(method, url, body)
    started = time.perf_counter()
    try:
        response = requests.request(
            method, url, headers=headers, data=body, timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as exc:
        # A trace URL means the local gateway; without one the API is deployed.
        result.error = unreachable(exc, target.base_url, "API", target.trace_url is not None)
        return result
    result.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    result.status = response.status_code
    result.reason = response.reason or ""
    result.body = response.text[:20000]
    try:
        result.json_body = response.json()
    except ValueError:
        result.json_body = None
    result.headers = [(k, v) for k, v in response.headers.items() if k.lower() in SHOWN_HEADERS]
    result.request_id = response.headers.get("x-amzn-RequestId") or response.headers.get(
        "apigw-requestid"
    )
    if target.trace_url and result.request_id:
        try:
            traced = requests.get(target.trace_url + result.request_id, timeout=timeout)
            if traced.status_code == 200:
                result.trace = traced.json()
                result.trace_available = True
        except (requests.RequestException, ValueError):
            result.trace = None
    return result
