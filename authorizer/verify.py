"""Strict verification of RS256 access tokens on `cryptography` primitives (RFC 8725).

Why not a JOSE library: measured in `bench/authorizer.py`, PyJWT ≥ 2.14 costs about 4–5× a raw
RSA verify per token and `PyJWKClient` refuses a key rotated in within 30 s of a cold start;
authlib and python-jose accept malleable base64. This module does only what an access-token
authorizer needs, and refuses everything else:

- the compact serialization only: bounded size, three non-empty segments, the base64url
  alphabet in canonical form (no padding, no stray bits), header and claims JSON objects
  without duplicate members or non-finite numbers;
- `alg` exactly "RS256" (never taken from the key or the token), a `kid` naming a key of the
  configured JWKS; `jku`, `x5u`, `x5c`, `jwk` and any `crit` refused; `typ` JWT or at+jwt;
- exact `iss`; `aud` (string or array) containing the API; `exp` and `iat` required,
  `nbf` honoured, a small explicit leeway; `sub` a non-empty string.
- in the Cognito profile, in place of `aud` (a user pool's access token has none):
  `token_use` exactly "access" (an ID token refused as such) and `client_id` one of the
  configured app clients, as AWS's "Verifying a JSON Web Token" asks
  (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html);
  the granted set is the `scope` values plus `group:<name>` for each of `cognito:groups`.

Every failure is a `Rejected` with a stable reason code; detailed reasons about claims are
only given once the signature has verified.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.hashes import SHA256

from .jwks import JwksCache
from .settings import Settings

ALGORITHM = "RS256"
_OPAQUE = re.compile(r"[A-Za-z0-9_~+/=-]+")
_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# A canonical last character leaves the unused low bits zero: 4 of them after two leftover
# characters, 2 after three.
_BASE64URL_AND_DOT = _BASE64URL + b"."
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
_URL_CHARACTER = bytes.maketrans(b"+/", b"-_")
_CANONICAL_LAST = {
    2: frozenset(c for i, c in enumerate(_BASE64URL) if i & 0x0F == 0),
    3: frozenset(c for i, c in enumerate(_BASE64URL) if i & 0x03 == 0),
}
_ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})
_KEY_REFERENCES = ("jku", "x5u", "x5c", "jwk")
# A refusal names a header value only when it is one of these registered names (RFC 7518
# §3.1, RFC 8037, RFC 8725 §3.11 and the media types of typed JWTs): then it quotes our
# vocabulary, never text an unverified token chose.
_KNOWN_ALGORITHMS = frozenset(
    {"none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}
    | {"ES256K", "PS256", "PS384", "PS512", "EdDSA", "Ed25519", "Ed448"}
)
_KNOWN_TYPES = frozenset(
    {"JOSE", "JOSE+JSON", "JWS", "JWE", "dpop+jwt", "logout+jwt", "secevent+jwt"}
    | {"id_token+jwt", "token-introspection+jwt", "kb+jwt", "vc+sd-jwt", "sd-jwt"}
)
# Member names a duplicate-member error may name: the registered header and claim names.
_REGISTERED_MEMBERS = frozenset(
    {"alg", "kid", "typ", "cty", "crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "b64"}
    | {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "scope", "permissions"}
    | {"client_id", "gty", "nonce", "at_hash", "token_use", "cognito:groups", "username"}
)
# A route needing `group:admins` is met by the group, never by a scope of that spelling.
GROUP_PREFIX = "group:"
_CHECKED_HEADERS = 64
_PADDING = PKCS1v15()
_SHA256 = SHA256()


class Rejected(Exception):
    """The token is refused: `code` is stable (for logs and tests), `detail` is for people."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class VerifiedToken:
    """What the authorizer needs from a token whose signature and claims checked out.

    Plain attributes, filled once by the verifier: the decision, its log line and the
    backend context all read them, and each property call would be paid three times.
    """

    __slots__ = (
        "claims",
        "client_id",
        "exp",
        "granted",
        "groups",
        "is_client",
        "kid",
        "permissions",
        "scope",
        "sub",
    )

    def __init__(self, claims: dict[str, Any], kid: str, cognito: bool = False) -> None:
        self.claims = claims
        self.kid = kid
        self.sub: str = claims["sub"]
        self.exp: float = claims["exp"]
        scope = claims.get("scope")
        self.scope: str = scope if isinstance(scope, str) else ""
        permissions = claims.get("permissions")
        self.permissions: list[str] = (
            [p for p in permissions if isinstance(p, str)] if isinstance(permissions, list) else []
        )
        self.granted = frozenset(self.scope.split()).union(self.permissions)
        client_id = claims.get("azp") or claims.get("client_id")
        self.client_id: str | None = client_id if isinstance(client_id, str) else None
        # Auth0 marks client-credentials tokens with gty and a `<client id>@clients` subject.
        self.is_client: bool = claims.get("gty") == "client-credentials" or self.sub.endswith(
            "@clients"
        )
        self.groups: list[str] = []
        if cognito:
            self._cognito(claims)

    def _cognito(self, claims: dict[str, Any]) -> None:
        """Read a Cognito access token: permissions are its scopes, plus its groups."""
        groups = claims.get("cognito:groups")
        self.groups = [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []
        self.permissions = []  # Cognito has no `permissions` claim; a stray one grants nothing
        self.granted = frozenset(
            s for s in self.scope.split() if not s.startswith(GROUP_PREFIX)
        ).union(GROUP_PREFIX + g for g in self.groups)
        client_id = claims.get("client_id")
        self.client_id = client_id if isinstance(client_id, str) else None
        # Cognito's client-credentials tokens have `sub` = `client_id` and no `username`.
        self.is_client = self.sub == self.client_id and "username" not in claims


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        if duplicate in _REGISTERED_MEMBERS:
            raise ValueError(f"duplicate member {duplicate!r}")
        raise ValueError("a duplicate member")
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("non-finite number")
    return value


def b64url_decode(segment: bytes) -> bytes:
    """Decode canonical, unpadded base64url (the alphabet is checked by the caller)."""
    return _standard_b64decode(segment.translate(_TO_STANDARD_ALPHABET), 0, len(segment))


def _standard_b64decode(text: bytes, start: int, end: int) -> bytes:
    """Decode `text[start:end]`: canonical, unpadded base64url already mapped to the standard
    alphabet (so one translation can serve several segments)."""
    leftover = (end - start) % 4
    if leftover == 1:
        raise ValueError("impossible base64url length")
    # Unused low bits in the last character make many strings decode to one value; each
    # variant would be a new cache key, so only the canonical form is accepted.
    if leftover and _URL_CHARACTER[text[end - 1]] not in _CANONICAL_LAST[leftover]:
        raise ValueError("non-canonical base64url")
    return binascii.a2b_base64(text[start:end] + b"==")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant, parse_float=_finite_float
)


_SCAN_VALUE = _DECODER.scan_once


def json_object(raw: bytes) -> dict[str, Any]:
    """Parse a UTF-8 JSON object strictly: no duplicates, NaN, Infinity or 1e400."""
    try:
        text = raw.decode("utf-8")
        if text[:1] == "{" and text[-1:] == "}":
            # The usual compact object goes straight to the C scanner, skipping the
            # decoder's two whitespace regex passes; `{}{}` still ends early and is refused.
            value, end = _SCAN_VALUE(text, 0)
            if end != len(text):
                raise ValueError(f"extra data after the object at offset {end}")
        else:
            value = _DECODER.decode(text)
    except StopIteration as stop:  # the scanner's way of saying "no value here"
        raise ValueError(f"expecting a value at offset {stop.value}") from None
    except RecursionError:
        raise ValueError("nesting too deep") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _numeric_date(claims: dict[str, Any], name: str, required: bool) -> float | None:
    value = claims.get(name)
    if type(value) is int:  # the usual case, and never a bool
        return value
    if value is None:
        if required:
            raise Rejected("missing_claim", f"the token has no `{name}` claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected(
            "invalid_claim", f"`{name}` must be a number of seconds, not {type(value).__name__}"
        )
    return value


def _ago(seconds: float) -> str:
    seconds = int(abs(seconds))
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 7200:
        return f"{seconds // 60} minutes"
    if seconds < 172800:
        return f"{seconds // 3600} hours"
    return f"{seconds // 86400} days"


class TokenVerifier:
    """Verify access tokens for one issuer and audience against its JWKS."""

    def __init__(self, settings: Settings, keys: JwksCache) -> None:
        self.settings = settings
        self.keys = keys
        # Every token of an issuer carries one of a few header segments: the checks on a
        # segment are a pure function of its bytes, so a passed segment maps to its kid.
        self._checked_headers: dict[bytes, str] = {}
        self._cognito = settings.profile == "cognito"

    def header_kid(self, segment: bytes) -> str:
        """Decode and check a protected header segment; return its `kid` or raise Rejected."""
        kid = self._checked_headers.get(segment)
        if kid is not None:
            return kid
        try:
            header = json_object(b64url_decode(segment))
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise Rejected("malformed_token", f"the token does not decode: {exc}") from None
        alg = header.get("alg")
        if alg != ALGORITHM:
            named = repr(alg) if type(alg) is str and alg in _KNOWN_ALGORITHMS else "in the header"
            raise Rejected("alg_not_allowed", f"the alg {named} is not allowed; only RS256 is")
        if "crit" in header:
            raise Rejected(
                "crit_unsupported",
                "the token has a `crit` header naming extensions this API does not implement",
            )
        for name in _KEY_REFERENCES:
            if name in header:
                raise Rejected(
                    "header_key_reference",
                    f"the header carries `{name}`: keys are only taken from the "
                    "issuer's configured JWKS",
                )
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCESS_TOKEN_TYPES):
            named = repr(typ) if type(typ) is str and typ in _KNOWN_TYPES else "in the header"
            raise Rejected(
                "wrong_token_type", f"the typ {named} is not an access token type (JWT or at+jwt)"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise Rejected("kid_missing", "the header has no usable `kid`")
        if len(self._checked_headers) >= _CHECKED_HEADERS:
            self._checked_headers.clear()
        self._checked_headers[segment] = kid
        return kid

    def verify_signature(self, token: str) -> tuple[str, bytes]:
        """Check the compact form, the header and the RS256 signature.

        Return the `kid` and the raw (still unparsed) payload bytes.
        """
        if len(token) > self.settings.max_token_bytes:
            raise Rejected(
                "token_too_large",
                f"the token is {len(token)} bytes; at most "
                f"{self.settings.max_token_bytes} are accepted",
            )
        dots = token.count(".")
        if dots == 0 and _OPAQUE.fullmatch(token):
            raise Rejected(
                "opaque_token",
                "this is an opaque token, not a JWT: it was issued without an "
                "`audience`, so only the identity provider's /userinfo accepts it",
            )
        if dots == 4:
            raise Rejected(
                "encrypted_token",
                "this is an encrypted token (JWE); the API accepts signed JWTs only",
            )
        raw = token.encode("ascii") if token.isascii() else b""
        first = raw.find(b".")
        second = raw.find(b".", first + 1)
        if (
            dots != 2
            or raw.translate(None, _BASE64URL_AND_DOT)
            or first < 1
            or second == first + 1
            or second == len(raw) - 1
        ):
            raise Rejected(
                "malformed_token",
                "not a compact JWS: expected three base64url segments joined by dots",
            )
        kid = self.header_kid(raw[:first])
        # Payload and signature in one pass through the alphabet translation.
        standard = raw.translate(_TO_STANDARD_ALPHABET)
        try:
            payload = _standard_b64decode(standard, first + 1, second)
            signature = _standard_b64decode(standard, second + 1, len(standard))
        except (ValueError, binascii.Error) as exc:
            raise Rejected("malformed_token", f"the token does not decode: {exc}") from None

        key = self.keys.get(kid)
        if key is None:
            if not self.keys.has_keys:
                raise Rejected(
                    "jwks_unavailable",
                    f"no signing keys could be fetched from {self.keys.uri}: "
                    f"{self.keys.last_error}",
                )
            raise Rejected(
                "unknown_kid",
                f"kid {kid!r} is not in the issuer's JWKS (a forged token, "
                "another tenant's, or a key removed after rotation)",
            )
        if not verify_rs256(key, raw[:second], signature):
            raise Rejected(
                "bad_signature",
                "the signature does not match: the token was altered or signed by another key",
            )
        return kid, payload

    def verify(self, token: str, now: float | None = None) -> VerifiedToken:
        """Verify a token completely; return what the authorizer needs or raise Rejected."""
        kid, payload = self.verify_signature(token)
        try:
            claims = json_object(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Rejected("malformed_token", f"the claims are not a JSON object: {exc}") from None
        self.check_claims(claims, time.time() if now is None else now)
        return VerifiedToken(claims, kid, self._cognito)

    def check_claims(self, claims: dict[str, Any], now: float) -> None:
        """Check iss, aud, exp, nbf, iat and sub; raise Rejected with the first problem."""
        settings = self.settings
        leeway = settings.leeway
        iss = claims.get("iss")
        if iss != settings.issuer:
            raise Rejected("wrong_issuer", f"issued by {iss!r}, not by {settings.issuer!r}")
        if self._cognito:
            self._check_cognito_use(claims)
        else:
            self._check_audience(claims)
        exp = _numeric_date(claims, "exp", required=True)
        assert exp is not None
        if now >= exp + leeway:
            raise Rejected("token_expired", f"the token expired {_ago(now - exp)} ago")
        nbf = _numeric_date(claims, "nbf", required=False)
        if nbf is not None and nbf > now + leeway:
            raise Rejected(
                "token_not_yet_valid", f"the token is not valid for another {_ago(nbf - now)}"
            )
        iat = _numeric_date(claims, "iat", required=True)
        assert iat is not None
        if iat > now + leeway:
            raise Rejected(
                "issued_in_future", f"the token claims to be issued {_ago(iat - now)} in the future"
            )
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Rejected("missing_claim", "the token has no `sub` (subject)")

    def _check_audience(self, claims: dict[str, Any]) -> None:
        """Check that `aud` (string or array) names this API; tell an ID token apart."""
        audience = self.settings.audience
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if audience not in audiences:
            if (
                "nonce" in claims
                or "at_hash" in claims
                or (isinstance(aud, str) and aud == claims.get("azp"))
            ):
                raise Rejected(
                    "id_token",
                    f"this is an ID token: its audience is the client id {aud!r}, "
                    f"not the API {audience!r}. Send the access token",
                )
            raise Rejected(
                "wrong_audience",
                f"the token is for {aud!r}, not for this API ({audience!r})",
            )

    def _check_cognito_use(self, claims: dict[str, Any]) -> None:
        """Check `token_use` and `client_id`, what a Cognito access token has instead of `aud`."""
        token_use = claims.get("token_use")
        if token_use == "id":
            raise Rejected(
                "id_token",
                "this is a Cognito ID token (`token_use` id): it says who signed in, "
                "not what the caller may do. Send the access token",
            )
        if token_use != "access":
            named = "no `token_use`" if token_use is None else "a `token_use` other than access"
            raise Rejected(
                "wrong_token_use", f"the token has {named}; only Cognito access tokens are accepted"
            )
        client_id = claims.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise Rejected("missing_claim", "the token has no `client_id`")
        if client_id not in self.settings.client_ids:
            raise Rejected(
                "wrong_client",
                f"the token was issued to the app client {client_id!r}, "
                "which this API does not accept",
            )


def verify_rs256(key: RSAPublicKey, signing_input: bytes, signature: bytes) -> bool:
    """Verify an RSASSA-PKCS1-v1_5 SHA-256 signature; False on any mismatch."""
    if len(signature) != (key.key_size + 7) // 8:
        return False
    try:
        key.verify(signature, signing_input, _PADDING, _SHA256)
    except InvalidSignature:
        return False
    return True
