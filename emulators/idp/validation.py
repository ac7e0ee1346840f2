"""Checks on raw OAuth requests before Authlib sees them, and Auth0's wording for refusals.

Authlib trusts its input more than an IdP facing the network may: a Basic header that is not
UTF-8, a repeated parameter or a control character in an echoed value made it answer 500.
This module refuses such requests with the error RFC 6749 names for them (§2.3.1 client
authentication, §3.1 and §3.2 "parameters MUST NOT be included more than once", §5.2 error
responses, whose `error_description` allows only %x20-21 / %x23-5B / %x5D-7E), and rewords
Authlib's own descriptions to those Auth0 gives (`invalid_grant` "Invalid authorization code",
"Unknown or invalid refresh token.", "Failed to verify code verifier"). The HTTP status stays
RFC 6749's (400) where Auth0 answers 403. A client that fails to authenticate (unknown
`client_id`, wrong `client_secret`) gets what Auth0 answers: 401
`{"error": "access_denied", "error_description": "Unauthorized"}` (as Auth0's own SDK issues
quote it, e.g. auth0/node-auth0#682); a malformed Basic header keeps RFC 6749's `invalid_client`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import unquote

from flask import Request
from flask import Response
from werkzeug.datastructures import ImmutableMultiDict

MAX_BODY_BYTES = 64 * 1024
MAX_PARAMETER_CHARS = 4096
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
# Fields of the IdP's own login form: typed by a person, so any Unicode text is fine there.
LOGIN_FORM_FIELDS = frozenset({"csrf_token", "email", "password", "action"})
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_NAME = re.compile(r"[A-Za-z0-9_.:/-]+")
_UNSAFE_IN_DESCRIPTION = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
# RFC 3986's characters; Authlib quotes a refused redirect_uri in its error description.
_URI = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
# RFC 6749 §3.3: scope tokens are NQCHAR (no quote, no backslash), separated by spaces.
_SCOPE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
_GRAMMAR = {
    "grant_type": _NAME,
    "response_type": re.compile(r"[A-Za-z0-9_ ]+"),
    "code_challenge_method": _NAME,
    "redirect_uri": _URI,
    "audience": _URI,
    "scope": _SCOPE,
}


@dataclass
class Refusal:
    """Why a request is refused, as an OAuth error (RFC 6749 §5.2)."""

    error: str
    description: str
    status: int = 400

    def response(self) -> Response:
        """Return the JSON error response the token endpoint sends."""
        response = Response(
            json.dumps({"error": self.error, "error_description": self.description}),
            status=self.status,
            mimetype="application/json",
        )
        if self.status == 401:
            # RFC 6749 §5.2: a 401 names the authentication scheme the client may use.
            response.headers["WWW-Authenticate"] = 'Basic realm="oauth/token"'
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response


def echo(value: Any, limit: int = 80) -> str:
    """Return request input made safe to quote in an `error_description` (short, RFC charset)."""
    text = _UNSAFE_IN_DESCRIPTION.sub("?", str(value))
    return text if len(text) <= limit else text[:limit] + "..."


def _pairs_from_urlencoded(raw: bytes | str, where: str) -> list[tuple[str, str]] | Refusal:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        return Refusal("invalid_request", f"The {where} is not valid UTF-8 once URL-decoded.")


def _check_pairs(pairs: list[tuple[str, str]], free_text: frozenset[str]) -> Refusal | None:
    seen: set[str] = set()
    for name, value in pairs:
        if not _PRINTABLE_ASCII.fullmatch(name) or len(name) > 64:
            return Refusal("invalid_request", "A parameter name is not a short ASCII word.")
        if name in seen:
            return Refusal(
                "invalid_request", f"Parameter '{echo(name)}' is included more than once."
            )
        seen.add(name)
        if len(value) > MAX_PARAMETER_CHARS:
            return Refusal(
                "invalid_request",
                f"Parameter '{echo(name)}' is longer than {MAX_PARAMETER_CHARS} characters.",
            )
        if name not in free_text and not _PRINTABLE_ASCII.fullmatch(value):
            return Refusal(
                "invalid_request",
                f"Parameter '{echo(name)}' may contain only printable ASCII characters.",
            )
    for name, value in pairs:
        grammar = _GRAMMAR.get(name)
        if grammar and value and not grammar.fullmatch(value):
            return Refusal("invalid_request", f"Parameter '{name}' is malformed.")
    return None


def request_parameters(request: Request) -> list[tuple[str, str]] | Refusal:
    """Return every parameter of the query string and an urlencoded body, strictly decoded."""
    query = _pairs_from_urlencoded(request.query_string, "query string")
    if isinstance(query, Refusal):
        return query
    body: list[tuple[str, str]] | Refusal = []
    if request.mimetype == FORM_TYPE:
        body = _pairs_from_urlencoded(request.get_data(cache=True), "request body")
    if isinstance(body, Refusal):
        return body
    return query + body


def check_authorize_request(request: Request) -> Refusal | None:
    """Refuse an `/authorize` request whose parameters cannot be trusted to mean one thing."""
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        return Refusal("invalid_request", "The request body is too large.", 413)
    if request.method == "POST" and request.mimetype != FORM_TYPE:
        return Refusal("invalid_request", "The login form must be sent as a form.")
    pairs = request_parameters(request)
    if isinstance(pairs, Refusal):
        return pairs
    return _check_pairs(pairs, LOGIN_FORM_FIELDS if request.method == "POST" else frozenset())


def _basic_credentials(header: str) -> tuple[str, str] | Refusal | None:
    """Decode `Authorization: Basic` as RFC 6749 §2.3.1 says (form-encoded id and secret)."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    malformed = Refusal(
        "invalid_client",
        "The Authorization header is not Basic base64(client_id:client_secret) in UTF-8.",
        401,
    )
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return malformed
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        return malformed
    try:
        return unquote(client_id, errors="strict"), unquote(secret, errors="strict")
    except UnicodeDecodeError:
        return malformed


def _json_pairs(request: Request) -> list[tuple[str, str]] | Refusal:
    """Auth0 also takes the token request as a JSON object of strings; read it as one."""
    try:
        data = json.loads(request.get_data(cache=True).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Refusal("invalid_request", "The request body is not valid JSON in UTF-8.")
    except RecursionError:  # thousands of nested brackets: no parameter object nests
        return Refusal("invalid_request", "The JSON body nests too deeply; send a flat object.")
    if not isinstance(data, dict):
        return Refusal("invalid_request", "The JSON body must be an object of parameters.")
    pairs = []
    for name, value in data.items():
        if not isinstance(value, str):
            return Refusal("invalid_request", f"Parameter '{echo(name)}' must be a string.")
        pairs.append((name, value))
    return pairs


def check_token_request(request: Request) -> Refusal | None:
    """Refuse a malformed `/oauth/token` request; turn a JSON body into the form Authlib reads."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return Refusal("invalid_request", "The request body is larger than 64 KiB.", 413)
    if request.query_string:
        # RFC 6749 §3.2: the token request is a POST body; a secret in a URL ends up in logs.
        return Refusal(
            "invalid_request", "Send the token request in the POST body, not in the query string."
        )
    if request.mimetype == FORM_TYPE:
        pairs = request_parameters(request)
    elif request.mimetype == JSON_TYPE:
        pairs = _json_pairs(request)
    else:
        return Refusal(
            "invalid_request",
            f"Content-Type must be {FORM_TYPE} (or {JSON_TYPE}), not "
            f"'{echo(request.mimetype or 'none')}'.",
        )
    if isinstance(pairs, Refusal):
        return pairs
    refusal = _check_pairs(pairs, frozenset())
    if refusal:
        return refusal
    params = dict(pairs)
    basic = _basic_credentials(request.headers.get("Authorization", ""))
    if isinstance(basic, Refusal):
        return basic
    if basic and "client_secret" in params:
        return Refusal(
            "invalid_request",
            "Authenticate the client once: Basic header or client_secret, not both.",
        )
    if basic and params.get("client_id", basic[0]) != basic[0]:
        return Refusal("invalid_request", "client_id differs from the Basic header's.")
    if not params.get("grant_type"):
        return Refusal("invalid_request", "Missing required parameter: grant_type")
    if request.mimetype == JSON_TYPE:
        # Authlib reads request.values; hand it the JSON parameters as the form it expects.
        form = ImmutableMultiDict(pairs)
        request.__dict__["form"] = form
        request.__dict__["values"] = form
    return None


# Authlib's descriptions, reworded as Auth0 words them (or, where Auth0's wording is not known,
# so that a developer knows what to fix).
_AUTH0_WORDING = {
    ("invalid_grant", "Invalid 'code' in request."): "Invalid authorization code",
    ("invalid_grant", "Code challenge failed."): "Failed to verify code verifier",
    (
        "invalid_grant",
        "Invalid 'redirect_uri' in request.",
    ): "redirect_uri does not match the one the authorization code was issued for.",
    ("invalid_request", "Missing 'code_verifier'"): "Missing required parameter: code_verifier",
    ("invalid_request", "Invalid 'code_verifier'"): (
        "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)."
    ),
    ("invalid_request", "Missing 'refresh_token' in request."): (
        "Missing required parameter: refresh_token"
    ),
    ("invalid_request", "Missing 'code' in request."): "Missing required parameter: code",
}
# Why `/authorize` answers `access_denied` when the person pressed Cancel on the login page.
CANCELLED = "The user cancelled the login"
# Auth0's answer to a client it cannot authenticate: it does not say which half was wrong.
CLIENT_AUTH_FAILED = Refusal("access_denied", "Unauthorized", 401)


def reword(response: Response, grant_type: str | None) -> Response:
    """Give a token endpoint refusal Auth0's wording, and a failed client authentication
    Auth0's 401 `access_denied`."""
    if response.status_code < 400 or response.mimetype != JSON_TYPE:
        return response
    try:
        body = json.loads(response.get_data(as_text=True))
    except ValueError:
        return response
    error = body.get("error")
    description = body.get("error_description")
    if error == "invalid_client":
        return CLIENT_AUTH_FAILED.response()
    if error == "unsupported_grant_type":
        description = f"Unsupported grant type: {echo(grant_type)}"
    elif error == "invalid_grant" and description is None and grant_type == "refresh_token":
        description = "Unknown or invalid refresh token."
    else:
        description = _AUTH0_WORDING.get((error, description), description)
    if description is None:
        return response
    body["error_description"] = description
    response.set_data(json.dumps(body))
    return response
