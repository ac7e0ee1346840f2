"""The token variants of the Compare grid: one row each, every one exactly what its label says.

A variant is a credential and where it travels (the `Authorization` header with `Bearer` or
`bearer`, the `access_token` query parameter of RFC 6750 §2.3, or nothing). They come from
three places:

- the user's own tokens as the identity provider issued them (access tokens of the customer
  and the admin, the ID token, the opaque token of a login without `audience`, the two
  machine-to-machine tokens), and simple edits of them (one signature character changed);
- copies with changed claims or header, still properly signed, minted by the local IdP at
  `POST /lab/token-variants` (local mode only, its own tokens only, a copy only less valid:
  see `emulators/idp/variants.py`). A real tenant never signs anything for the lab, so these
  rows say `needs_local_idp` and are skipped against one;
- forgeries made here: `alg: none` (RFC 8725 §2.1), HS256 keyed with the issuer's public key
  (algorithm confusion, RFC 8725 §2.1, §3.1) and RS256 with a throw-away attacker key
  generated for each build. These need only the issuer's public JWKS.

The credential rows (`IAM_ROWS`, the Ping page's IAM credential choices) carry no token: a
signer (`webapp.iam.RowSigner`, made where the credentials are) signs each of their calls with
SigV4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv4-create-signed-request.html).

Nothing here logs or renders a credential: a `Variant`'s repr leaves the token and signer out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa

from .tokens import decode
from .tokens import tampered

# How far outside every authorizer's leeway the time variants are (the issue: an hour).
TIME_SHIFT = 3600
FOREIGN_AUDIENCE = "https://another-api.example.com"
FOREIGN_ISSUER = "https://another-tenant.example.com/"
QUERY_PARAMETER = "access_token"  # RFC 6750 §2.3


@dataclass(frozen=True)
class Spec:
    """A row of the grid before it has a token: what it is and what it needs."""

    id: str
    label: str
    description: str
    needs_local_idp: bool = False


# The rows, in the grid's order: the real tokens, the copies the local IdP signs, the
# forgeries, then the ways of sending a good token wrongly.
SPECS = (
    Spec("access-customer", "Customer's access token", "the customer's access token as issued"),
    Spec("access-admin", "Admin's access token", "the admin's access token as issued"),
    Spec("id-token", "ID token", "the ID token of the login, sent to an API (aud = client id)"),
    Spec("m2m-reader", "M2M reader token", "client credentials token with read:notes"),
    Spec("m2m-writer", "M2M writer token", "client credentials token with write:notes"),
    Spec(
        "cognito-m2m-reader",
        "Cognito M2M reader token",
        "the local user pool's client credentials token with notes-api/read",
    ),
    Spec(
        "cognito-m2m-writer",
        "Cognito M2M writer token",
        "the local user pool's client credentials token with notes-api/read notes-api/write",
    ),
    Spec("opaque", "Opaque token", "the access token of a login without `audience`"),
    Spec(
        "expired",
        "Expired an hour ago",
        "a signed copy of the access token with `exp` an hour ago",
        True,
    ),
    Spec(
        "not-yet-valid",
        "Valid in an hour (nbf)",
        "a signed copy of the access token with `nbf` an hour ahead",
        True,
    ),
    Spec("wrong-aud", "Wrong aud", f"a signed copy with `aud` = {FOREIGN_AUDIENCE}", True),
    Spec("wrong-iss", "Wrong iss", f"a signed copy with `iss` = {FOREIGN_ISSUER}", True),
    Spec(
        "iss-no-slash",
        "iss without trailing slash",
        "a signed copy whose `iss` lacks the issuer's trailing slash",
        True,
    ),
    Spec("no-kid", "No kid", "a signed copy with no `kid` in its header", True),
    Spec("unknown-kid", "Unknown kid", "a signed copy naming a `kid` the JWKS lacks", True),
    Spec("tampered", "Tampered signature", "the access token with one signature character changed"),
    Spec("alg-none", "alg: none", "the access token's claims, `alg: none`, no signature"),
    Spec(
        "alg-hs256",
        "HS256 with the public key",
        "algorithm confusion: HS256 keyed with the issuer's RSA public key",
    ),
    Spec(
        "attacker-key",
        "Signed by an attacker key",
        "RS256 with a throw-away key, claiming the issuer's `kid`",
    ),
    Spec("query-string", "Token in the query string", "the access token as ?access_token="),
    Spec("lowercase-bearer", "`bearer` in lower case", "Authorization: bearer <access token>"),
    Spec(
        "no-token",
        "No token",
        "no Authorization header at all: no token, and for IAM routes no signature (unsigned)",
    ),
)
# The credential rows: SigV4 signatures (IAM), not tokens. Each call is signed for its own
# method and URL by `signer` (webapp.iam); in a token column the SigV4 `Authorization`
# header is what the token authorizer gets, and it is no bearer token.
IAM_SPECS = (
    Spec(
        "iam-mine",
        "My identity-pool credentials",
        "SigV4 with the temporary credentials your ID token was exchanged for at the identity pool",
    ),
    Spec(
        "iam-service",
        "Service client's key",
        "SigV4 with the service client's long-term access key (an IAM user)",
    ),
    Spec(
        "iam-stale",
        "Signed 10 minutes ago",
        "SigV4 with your credentials, dated 10 minutes ago (outside SigV4's 5-minute window)",
    ),
    Spec(
        "iam-expired",
        "Expired credentials",
        "SigV4 with your previous identity-pool credentials, after they expired",
    ),
    Spec(
        "iam-tampered",
        "Tampered SigV4 signature",
        "SigV4 with your credentials, one character of the signature changed",
    ),
)
# A build with credentials has them just before "No token", which is their unsigned call.
SPECS_WITH_IAM = (*SPECS[:-1], *IAM_SPECS, SPECS[-1])
SPEC_BY_ID = {spec.id: spec for spec in SPECS_WITH_IAM}
# The credential rows (SigV4-signed, by `webapp.iam`), by the Ping page's credential choice.
IAM_ROWS = tuple(spec.id for spec in IAM_SPECS)
# The rows of the logged-in user's own tokens, as issued.
USER_ROWS = ("access-customer", "access-admin", "id-token")

# The local user pool's two client-credentials clients (emulators/idp/cognito.json; demo
# secrets, local only), by row id: the Cognito APIs' columns then meet tokens they trust.
COGNITO_M2M_CLIENTS = {
    "cognito-m2m-reader": (
        "labcognitoreader0000000001",
        "lab-cognito-reader-secret-for-local-use-only",
    ),
    "cognito-m2m-writer": (
        "labcognitowriter0000000001",
        "lab-cognito-writer-secret-for-local-use-only",
    ),
}


def cognito_m2m_tokens(idp_origin: str, timeout: float = 10.0) -> dict[str, str]:
    """The local user pool's M2M tokens, by row id ({} when the IdP serves no pool).

    The pool's token endpoint is read from the IdP's `GET /` (its domain's `/oauth2/token`);
    the grant is client credentials with HTTP Basic, as Cognito takes it.
    """
    try:
        listing = requests.get(idp_origin.rstrip("/") + "/", timeout=timeout).json()
        endpoint = str(listing["cognito_user_pool"]["token"])
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return {}
    found = {}
    for row_id, (client_id, secret) in COGNITO_M2M_CLIENTS.items():
        try:
            response = requests.post(
                endpoint,
                data={"grant_type": "client_credentials"},
                auth=(client_id, secret),
                timeout=timeout,
            )
            token = response.json().get("access_token") if response.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError):
            token = None
        if isinstance(token, str):
            found[row_id] = token
    return found


class RequestSigner(Protocol):
    """Signs one call (`webapp.iam.RowSigner`): the headers to send, SigV4 ones added."""

    def sign(
        self, method: str, url: str, headers: dict[str, str], body: str | None
    ) -> dict[str, str]: ...


@dataclass(frozen=True)
class Variant:
    """One row: a credential (never in the repr) and how it is sent.

    A credential row has no token but a `signer`: its placement is "sigv4" and each call is
    signed for its own method, URL and body when it is made (`compare.call_cell`).
    """

    id: str
    label: str
    description: str
    token: str | None = field(default=None, repr=False)
    scheme: str = "Bearer"  # the Authorization scheme as sent
    placement: str = "header"  # "header", "query" or "none"
    needs_local_idp: bool = False
    signed_by: str = "identity provider"  # or "local IdP (copy)", "attacker key", ...
    signer: RequestSigner | None = field(default=None, repr=False, compare=False)

    @property
    def is_credential(self) -> bool:
        """A SigV4 credential row rather than a token row."""
        return self.signer is not None

    def request_parts(self) -> tuple[dict[str, str], dict[str, str]]:
        """Return the (headers, query parameters) that carry this variant."""
        if self.token is None or self.placement in ("none", "sigv4"):
            return {}, {}
        if self.placement == "query":
            return {}, {QUERY_PARAMETER: self.token}
        return {"Authorization": f"{self.scheme} {self.token}"}, {}

    def public(self) -> dict[str, Any]:
        """The row as the JSON run describes it (no credential)."""
        return {
            "id": self.id,
            "label": self.label,
            "description": self.description,
            "needs_local_idp": self.needs_local_idp,
            "placement": self.placement,
            "signed_by": self.signed_by,
        }


@dataclass(frozen=True)
class Skipped:
    """A row that could not be built, and why (a page shows it greyed out with the reason)."""

    id: str
    label: str
    reason: str
    needs_local_idp: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "reason": self.reason,
            "needs_local_idp": self.needs_local_idp,
        }


@dataclass
class SourceTokens:
    """The real tokens the variants start from. Any may be missing (its rows are skipped).

    `user` names whose access token the derived rows copy ("customer" or "admin"); the ID and
    opaque tokens are that user's too.
    """

    access: dict[str, str] = field(default_factory=dict, repr=False)  # by "customer"/"admin"
    id_token: str | None = field(default=None, repr=False)
    opaque: str | None = field(default=None, repr=False)
    m2m: dict[str, str] = field(default_factory=dict, repr=False)  # "m2m-reader"/"m2m-writer"
    # The credential rows' signers by row id (`IAM_ROWS`), and why a row has none: gathered
    # where the credentials are (the web app's session, the command line's exchange). Both
    # empty: no credential rows in the build at all.
    iam: dict[str, RequestSigner] = field(default_factory=dict, repr=False)
    iam_missing: dict[str, str] = field(default_factory=dict)
    user: str = "customer"
    # The issuer of the user's tokens when it is not the builder's (a Cognito user pool's),
    # and the provider's name for their rows' labels ("Cognito"; none for the tenant's).
    issuer: str | None = None
    provider: str = ""

    @property
    def base(self) -> str | None:
        return self.access.get(self.user)


@dataclass
class VariantSet:
    """The rows built, and those skipped with a reason, both in `SPECS` order."""

    variants: list[Variant]
    skipped: list[Skipped]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


class AttackerKey:
    """A throw-away RSA key: forgeries signed by someone who does not hold the issuer's key."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        signing_input = f"{_segment(header)}.{_segment(claims)}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


def alg_none(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """The unsecured JWT of RFC 7519 §6: `alg: none` and an empty signature."""
    return f"{_segment({**header, 'alg': 'none'})}.{_segment(claims)}."


def hs256_with(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """HS256 keyed with `secret` (the algorithm confusion attack uses the public key's PEM)."""
    signing_input = f"{_segment({**header, 'alg': 'HS256'})}.{_segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def public_key_pem(jwk: dict[str, Any]) -> bytes:
    """The PEM (SubjectPublicKeyInfo) of an RSA JWK: the bytes a confused verifier would use."""

    def number(name: str) -> int:
        raw = str(jwk[name])
        return int.from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), "big")

    key = rsa.RSAPublicNumbers(number("e"), number("n")).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def toggled_slash(issuer: str) -> str:
    """The issuer with its trailing slash dropped (Auth0's) or added (Cognito's has none): a
    string-exact `iss` check refuses either (RFC 7519 §4.1.1 compares strings)."""
    return issuer[:-1] if issuer.endswith("/") else issuer + "/"


# The `iss-no-slash` row for an issuer without a trailing slash (a Cognito user pool's).
ISS_WITH_SLASH = Spec(
    "iss-no-slash",
    "iss with a trailing slash",
    "a signed copy whose `iss` has a trailing slash the issuer lacks",
    True,
)


class VariantError(RuntimeError):
    """A row could not be built; the message says why in words (never the token)."""


class VariantBuilder:
    """Build the rows from the user's tokens.

    `issuer` is the identity provider's issuer (with its trailing slash); `local_idp` says it
    is the lab's own IdP, which signs copies at `/lab/token-variants`.
    """

    def __init__(self, issuer: str, local_idp: bool, timeout: float = 10.0) -> None:
        self.issuer = issuer.rstrip("/") + "/"
        self.local_idp = local_idp
        self.timeout = timeout
        self.attacker = AttackerKey()
        # The issuer of the tokens being varied: the tenant's unless a build says (a Cognito
        # user pool's, which has no trailing slash and publishes its JWKS under its path).
        self.token_issuer = self.issuer

    # The local IdP's copies ---------------------------------------------------------------

    def mint(self, token: str, changes: dict[str, Any]) -> str:
        """Ask the local IdP for a signed copy of `token` with `changes`.

        :raise VariantError: the IdP is not reachable or refused.
        """
        try:
            response = requests.post(
                self.issuer + "lab/token-variants",
                json=changes,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise VariantError(
                f"the local IdP could not be reached ({type(exc).__name__})"
            ) from exc
        if response.status_code != 200:
            try:
                said = response.json().get("error_description") or response.json()["error"]
            except (ValueError, KeyError, AttributeError):
                said = f"HTTP {response.status_code}"
            raise VariantError(f"the local IdP refused the copy: {said}")
        try:
            return str(response.json()["access_token"])
        except (ValueError, KeyError) as exc:
            raise VariantError("the local IdP answered without a token") from exc

    def _minted(self, base: str, now: int) -> dict[str, dict[str, Any]]:
        return {
            "expired": {"exp": now - TIME_SHIFT, "iat": now - 2 * TIME_SHIFT},
            "not-yet-valid": {"nbf": now + TIME_SHIFT},
            "wrong-aud": {"aud": FOREIGN_AUDIENCE},
            "wrong-iss": {"iss": FOREIGN_ISSUER},
            "iss-no-slash": {"iss": toggled_slash(self.token_issuer)},
            "no-kid": {"kid": None},
            "unknown-kid": {"kid": "unknown-" + secrets.token_urlsafe(12)},
        }

    # The forgeries -----------------------------------------------------------------------

    def jwks(self) -> list[dict[str, Any]]:
        """The issuer's published keys (public: any attacker can read them)."""
        try:
            response = requests.get(
                self.token_issuer.rstrip("/") + "/.well-known/jwks.json", timeout=self.timeout
            )
            keys = response.json().get("keys") if response.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError):
            keys = None
        if not isinstance(keys, list):
            raise VariantError("the issuer's JWKS could not be read")
        return [k for k in keys if isinstance(k, dict)]

    def _confused(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        keys = self.jwks()
        jwk = next((k for k in keys if k.get("kid") == header.get("kid")), None) or next(
            (k for k in keys if k.get("kty") == "RSA"), None
        )
        if jwk is None:
            raise VariantError("the issuer publishes no RSA key to confuse with")
        return hs256_with(public_key_pem(jwk), header, claims)

    # Building ----------------------------------------------------------------------------

    def build(self, sources: SourceTokens, only: Iterable[str] | None = None) -> VariantSet:
        """Build every row of `SPECS` (and the credential rows, `IAM_SPECS`, when `sources` has
        signers or reasons for them), or those in `only`; the IdP's copies in parallel."""
        # Nobody gathered credentials (a tokens-only build): the credential rows are not part
        # of it, rather than each skipped for the same non-reason.
        specs = SPECS_WITH_IAM if sources.iam or sources.iam_missing else SPECS
        wanted = [spec for spec in specs if only is None or spec.id in set(only)]
        self.token_issuer = sources.issuer or self.issuer
        if not self.token_issuer.endswith("/"):
            # Cognito's issuer has no trailing slash: the lesson is one added.
            wanted = [ISS_WITH_SLASH if spec.id == ISS_WITH_SLASH.id else spec for spec in wanted]
        base = sources.base
        header, claims = decode(base) if base else ({}, {})
        who = "admin" if sources.user == "admin" else "customer"
        built: dict[str, Variant | Skipped] = {}

        def skip(spec: Spec, reason: str) -> None:
            built[spec.id] = Skipped(spec.id, spec.label, reason, spec.needs_local_idp)

        def row(spec: Spec, token: str | None, **extra: Any) -> None:
            description = spec.description.replace("the access token", f"the {who}'s token")
            label = spec.label
            if sources.provider and spec.id in USER_ROWS:
                label = f"{label} ({sources.provider})"
            built[spec.id] = Variant(
                spec.id,
                label,
                description,
                token,
                needs_local_idp=spec.needs_local_idp,
                **extra,
            )

        minted = self._minted(base, int(time.time())) if base else {}
        copies = [spec for spec in wanted if spec.id in minted]
        if copies and not self.local_idp:
            for spec in copies:
                skip(spec, "needs the local IdP: a real tenant signs nothing for the lab")
            copies = []
        if copies and base:
            with ThreadPoolExecutor(max_workers=len(copies)) as pool:
                futures = {
                    spec.id: pool.submit(self.mint, base, minted[spec.id]) for spec in copies
                }
            for spec in copies:
                try:
                    row(spec, futures[spec.id].result(), signed_by="local IdP (a copy)")
                except VariantError as exc:
                    skip(spec, str(exc))

        for spec in wanted:
            if spec.id in built:
                continue
            if spec.id in ("access-customer", "access-admin"):
                user = spec.id.removeprefix("access-")
                token = sources.access.get(user)
                if token:
                    row(spec, token)
                else:
                    skip(spec, f"no {user} access token (log in as the {user})")
            elif spec.id == "id-token":
                if sources.id_token:
                    row(spec, sources.id_token)
                else:
                    skip(spec, "no ID token")
            elif spec.id == "opaque":
                if sources.opaque:
                    row(spec, sources.opaque)
                elif sources.provider:
                    skip(spec, f"{sources.provider} issues no opaque access token")
                else:
                    skip(spec, "no opaque token (a login without `audience`)")
            elif spec.id in ("m2m-reader", "m2m-writer"):
                token = sources.m2m.get(spec.id)
                if token:
                    row(spec, token)
                else:
                    skip(spec, "no machine-to-machine client configured")
            elif spec.id in COGNITO_M2M_CLIENTS:
                token = sources.m2m.get(spec.id)
                if token:
                    row(spec, token, signed_by="Cognito user pool")
                else:
                    skip(spec, "no Cognito user pool token (the local IdP's pool serves them)")
            elif spec.id in IAM_ROWS:
                signer = sources.iam.get(spec.id)
                if signer is not None:
                    row(spec, None, placement="sigv4", signed_by="SigV4 (botocore)", signer=signer)
                else:
                    skip(spec, sources.iam_missing.get(spec.id) or "no IAM credentials gathered")
            elif spec.id == "no-token":
                row(spec, None, placement="none", signed_by="nobody")
            elif not base or not header:
                skip(spec, f"needs the {who}'s access token as a JWT")
            elif spec.id in minted:
                pass  # skipped or built above
            elif spec.id == "tampered":
                row(spec, tampered(base), signed_by="identity provider, then altered")
            elif spec.id == "alg-none":
                row(spec, alg_none(header, claims), signed_by="nobody")
            elif spec.id == "alg-hs256":
                try:
                    row(spec, self._confused(header, claims), signed_by="the public key (HMAC)")
                except VariantError as exc:
                    skip(spec, str(exc))
            elif spec.id == "attacker-key":
                forged = self.attacker.sign({**header, "alg": "RS256"}, claims)
                row(spec, forged, signed_by="attacker key")
            elif spec.id == "query-string":
                row(spec, base, placement="query")
            elif spec.id == "lowercase-bearer":
                row(spec, base, scheme="bearer")
        ordered = [built[spec.id] for spec in wanted if spec.id in built]
        return VariantSet(
            [v for v in ordered if isinstance(v, Variant)],
            [s for s in ordered if isinstance(s, Skipped)],
        )
