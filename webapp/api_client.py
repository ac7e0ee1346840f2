"""Call the APIs on the user's behalf (the backend-for-frontend proxy) and build "copy as curl".

Only the configured APIs and the lab's own routes can be called (WEB-09): the browser names
an API style and an action, never a URL. The bearer token is added here, server-side. In
local mode the API URLs come from the gateway's catalogue and each call's trace from the
gateway; against AWS there is no trace, and the page says so.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import requests

TOKEN_PLACEHOLDER = "$ACCESS_TOKEN"
CATALOGUE_TTL = 30.0


@dataclass(frozen=True)
class ApiStyle:
    """One of the four ways the lab protects the same routes."""

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
)
STYLE_BY_KEY = {style.key: style for style in STYLES}

ACTIONS = {
    "public": ("GET", "/public", "Call Public"),
    "private": ("GET", "/private", "Call Private"),
    "admin": ("GET", "/admin", "Call Admin"),
    "list-notes": ("GET", "/notes", "List notes"),
    "add-note": ("POST", "/notes", "Add note"),
}
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
    """Where one API style is served, and where its traces can be read (local only)."""

    style: ApiStyle
    base_url: str
    trace_url: str | None


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


class ApiDirectory:
    """Find the four APIs: explicit URLs from settings, else the local gateway's catalogue."""

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

    def targets(self) -> dict[str, Target]:
        """Return the reachable API styles by key."""
        found: dict[str, Target] = {}
        catalogue = self._load_catalogue()
        if catalogue is not None:
            by_name = {api.get("name"): api for api in catalogue["apis"]}
            for style in STYLES:
                api = by_name.get(style.logical_id)
                if api:
                    found[style.key] = Target(
                        style,
                        api["base_url"].rstrip("/"),
                        self.config["API_BASE_URL"] + "/_lab/traces/",
                    )
        for style in STYLES:
            url = self.config.get(style.setting)
            if url:
                found[style.key] = Target(style, url.rstrip("/"), None)
        return found

    @property
    def gateway_reachable(self) -> bool:
        return self._load_catalogue() is not None


def build_curl(method: str, url: str, token_kind: str, body: str | None) -> str:
    """Return the call as a curl command, with the token as a shell variable."""
    parts = ["curl", "-i", "-X", method, shlex.quote(url)]
    if token_kind != "none":
        parts += ["-H", f'"Authorization: Bearer {TOKEN_PLACEHOLDER}"']
    if body is not None:
        parts += ["-H", shlex.quote("Content-Type: application/json"), "--data", shlex.quote(body)]
    return " ".join(parts)


def call(
    target: Target,
    action: str,
    token: str | None,
    token_kind: str,
    note_text: str | None,
    timeout: float,
) -> CallResult:
    """Call one route of one API with the given bearer token (or none)."""
    method, path, _ = ACTIONS[action]
    url = target.base_url + path
    body = json.dumps({"text": note_text or ""}) if action == "add-note" else None
    result = CallResult(
        target.style,
        action,
        method,
        url,
        token_kind,
        curl=build_curl(method, url, token_kind, body),
    )
    headers = {"Accept": "application/json", "User-Agent": "authorizer-lab-webapp"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    try:
        response = requests.request(
            method, url, headers=headers, data=body, timeout=timeout, allow_redirects=False
        )
    except requests.RequestException:
        result.error = (
            f"The API at {target.base_url} is not reachable. With `make run` the "
            "local gateway starts on its own."
        )
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
