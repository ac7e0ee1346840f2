"""AWS Signature Version 4 as API Gateway checks it for `AWS_IAM` routes (service `execute-api`).

Owns reading a request's signature (the `Authorization` header, or the presigned query
form) and checking it: the credential scope (date, the emulator's region, `execute-api`,
`aws4_request`), the signed headers (`host` must be among them; the date, from
`X-Amz-Date` or `Date`, is part of the string to sign whether or not it is listed), the
5-minute clock window, and the signature itself. The expected signature is computed by botocore's
own signer (`botocore.auth.SigV4Auth`), fed the request as it arrived, with the client's
timestamp and exactly the headers the client says it signed: the algorithm is not written
again here. botocore normalises the path and encodes it a second time, as AWS does for
every service but S3, so `/dev/a%2Fb` is canonical as `/dev/a%252Fb`.

Pages: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
(canonical request, string to sign, scope), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-signing.html
("within five minutes of the time stamp"), `reference_sigv-authentication-methods.html`
(header and query string forms). AWS's error texts are quoted from real answers; the README's
IAM outcome table says which are unverified.

Who the credential belongs to, and whether its session token and expiry hold, is
`iam_authorizer.py`'s part; this module knows only signatures.
"""

from __future__ import annotations

import calendar
import email.utils
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.auth import UNSIGNED_PAYLOAD
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.awsrequest import HTTPHeaders
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
TERMINATOR = "aws4_request"
WINDOW_SECONDS = 300  # "must reach AWS within five minutes of the time stamp"
TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_PRESIGNED_EXPIRES = 604800  # 7 days, SigV4's longest presigned URL

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)


class SignatureProblem(Exception):
    """A request that is not validly signed, as AWS words it.

    `error_type` is AWS's `x-amzn-ErrorType` (`IncompleteSignatureException`,
    `InvalidSignatureException`); `reason` a reason code for the trace; `message` the text
    AWS answers with (credentials in it already redacted by the caller's choice of text).
    """

    def __init__(self, reason: str, error_type: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class SignedRequest:
    """What a request claims about its signature, parsed but not yet checked."""

    placement: str  # "header" or "query"
    access_key_id: str
    scope_date: str  # yyyymmdd
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]  # lower-case, as listed
    signature: str
    timestamp: str  # yyyymmddThhmmssZ: X-Amz-Date, or the Date header converted
    session_token: str | None  # X-Amz-Security-Token (header or query)
    expires: int | None = None  # presigned URLs: X-Amz-Expires

    @property
    def scope(self) -> str:
        return f"{self.scope_date}/{self.region}/{self.service}/{self.terminator}"


@dataclass(frozen=True)
class Expected:
    """What the gateway computed for a request: never the secret or either signature."""

    canonical_request: str
    string_to_sign: str
    matches: bool


def _incomplete(message: str, reason: str) -> SignatureProblem:
    return SignatureProblem(
        reason=reason, error_type="IncompleteSignatureException", message=message
    )


def _timestamp(headers: dict[str, str], amz_date: str | None) -> str | None:
    """The signing time: X-Amz-Date as sent, or a `Date` header in SigV4's format."""
    if amz_date:
        return amz_date
    date = headers.get("date")
    if not date:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return "invalid"
    return time.strftime(TIMESTAMP, time.gmtime(parsed.timestamp()))


def _credential(value: str) -> tuple[str, str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5 or not parts[0]:
        # AWS's wording for a credential without its four scope parts (unverified).
        raise _incomplete(
            f"Credential should be scoped to a valid date, region, service and terminator "
            f"('<access key id>/<yyyymmdd>/<region>/{SERVICE}/{TERMINATOR}'), not "
            f"'{'/'.join(['<access key id>', *parts[1:]])}'. ",
            reason="sigv4_bad_credential",
        )
    key, date, region, service, terminator = parts
    return key, date, region, service, terminator


def parse(
    authorization: str | None,
    headers: dict[str, str],
    query: list[tuple[str, str]],
    shown_authorization: str,
) -> SignedRequest | None:
    """Read a request's signature; None when it carries none at all.

    `headers` maps lower-case names to values; `query` is the decoded query pairs;
    `shown_authorization` is what an error message may say in place of the header's value
    (AWS echoes the whole header; the lab never renders a credential).
    """
    params = dict(query)
    if authorization is None or not authorization.strip():
        if "X-Amz-Algorithm" not in params:
            return None
        return _parse_query(params, headers)
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        name, equals, field_value = part.partition("=")
        if not equals:
            # AWS echoes the pair and the header; both may be a credential (a bearer token).
            raise _incomplete(
                f"'<redacted>' not a valid key=value pair (missing equal-sign) in "
                f"Authorization header: '{shown_authorization}'.",
                reason="sigv4_malformed",
            )
        fields[name.strip()] = field_value.strip()
    timestamp = _timestamp(headers, headers.get("x-amz-date"))
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if name not in fields
    ]
    if timestamp is None:
        missing.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if missing:
        raise _incomplete(
            " ".join(missing) + f" Authorization={shown_authorization}", reason="sigv4_malformed"
        )
    if scheme != ALGORITHM:
        # SigV4a (AWS4-ECDSA-P256-SHA256) or another scheme: not served (text unverified).
        raise _incomplete(
            f"Unsupported AWS 'algorithm': '{scheme}'; the emulator verifies {ALGORITHM}.",
            reason="sigv4_unsupported_algorithm",
        )
    key, date, region, service, terminator = _credential(fields["Credential"])
    return SignedRequest(
        "header",
        key,
        date,
        region,
        service,
        terminator,
        tuple(h.strip().lower() for h in fields["SignedHeaders"].split(";") if h.strip()),
        fields["Signature"],
        timestamp or "",
        headers.get("x-amz-security-token"),
    )


def _parse_query(params: dict[str, str], headers: dict[str, str]) -> SignedRequest:
    """The presigned form: X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders,
    -Signature (and -Security-Token) in the query string."""
    missing = [
        f"AWS query-string parameters must include '{name}'."
        for name in (
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Signature",
            "X-Amz-SignedHeaders",
            "X-Amz-Date",
        )
        if not params.get(name)
    ]
    if missing:
        raise _incomplete(
            " ".join(missing) + " Re-examine the query-string parameters.",
            reason="sigv4_malformed",
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _incomplete(
            f"Unsupported AWS 'algorithm': '{params['X-Amz-Algorithm']}'; the emulator "
            f"verifies {ALGORITHM}.",
            reason="sigv4_unsupported_algorithm",
        )
    expires: int | None = None
    if "X-Amz-Expires" in params:
        raw = params["X-Amz-Expires"]
        if not raw.isdigit() or not 0 < int(raw) <= MAX_PRESIGNED_EXPIRES:
            raise _incomplete(
                f"X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGNED_EXPIRES}.",
                reason="sigv4_malformed",
            )
        expires = int(raw)
    key, date, region, service, terminator = _credential(params["X-Amz-Credential"])
    return SignedRequest(
        "query",
        key,
        date,
        region,
        service,
        terminator,
        tuple(h.strip().lower() for h in params["X-Amz-SignedHeaders"].split(";") if h.strip()),
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
        params.get("X-Amz-Security-Token") or headers.get("x-amz-security-token"),
        expires,
    )


def _epoch(timestamp: str) -> float | None:
    try:
        return calendar.timegm(time.strptime(timestamp, TIMESTAMP))
    except ValueError:
        return None


def check_claims(signed: SignedRequest, region: str, now: float | None = None) -> None:
    """Check what needs no secret: the scope, the signed headers and the clock window.

    Raises SignatureProblem; the texts are AWS's (see the README's table for which are
    unverified).
    """
    if signed.service != SERVICE:
        raise SignatureProblem(
            reason="sigv4_wrong_service",
            error_type="InvalidSignatureException",
            message=f"Credential should be scoped to correct service: '{SERVICE}'. ",
        )
    if signed.region != region:
        raise SignatureProblem(
            reason="sigv4_wrong_region",
            error_type="InvalidSignatureException",
            message=f"Credential should be scoped to a valid region, not '{signed.region}'. ",
        )
    if signed.terminator != TERMINATOR:
        raise SignatureProblem(
            reason="sigv4_bad_credential",
            error_type="InvalidSignatureException",
            message=f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{signed.terminator}'. ",
        )
    if "host" not in signed.signed_headers:
        raise _incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            reason="sigv4_host_not_signed",
        )
    signed_at = _epoch(signed.timestamp)
    if signed_at is None:
        raise _incomplete(
            f"Date must be in ISO-8601 'basic format'. Got '{signed.timestamp}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601",
            reason="sigv4_bad_date",
        )
    if signed.scope_date != signed.timestamp[:8]:
        raise SignatureProblem(
            reason="sigv4_scope_date",
            error_type="InvalidSignatureException",
            message="Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
            f"of date from HTTP: '{signed.scope_date}' != '{signed.timestamp[:8]}', from "
            f"'{signed.timestamp}'.",
        )
    now = time.time() if now is None else now
    stamp = time.strftime(TIMESTAMP, time.gmtime(now))
    if signed_at > now + WINDOW_SECONDS:  # both placements: a date from the future
        raise _not_yet(signed.timestamp, now)
    if signed.expires is not None:
        # A presigned URL is good from its date for X-Amz-Expires seconds (AWS's text for
        # execute-api is unverified; this is S3's).
        if now > signed_at + signed.expires:
            raise SignatureProblem(
                reason="sigv4_expired",
                error_type="InvalidSignatureException",
                message=f"Request has expired: signed {signed.timestamp} for {signed.expires} "
                f"seconds, now {stamp}.",
            )
        return
    if signed_at < now - WINDOW_SECONDS:
        earliest = time.strftime(TIMESTAMP, time.gmtime(now - WINDOW_SECONDS))
        raise SignatureProblem(
            reason="sigv4_expired",
            error_type="InvalidSignatureException",
            message=f"Signature expired: {signed.timestamp} is now earlier than {earliest} "
            f"({stamp} - 5 min.)",
        )


def _not_yet(timestamp: str, now: float) -> SignatureProblem:
    latest = time.strftime(TIMESTAMP, time.gmtime(now + WINDOW_SECONDS))
    stamp = time.strftime(TIMESTAMP, time.gmtime(now))
    return SignatureProblem(
        reason="sigv4_not_yet_current",
        error_type="InvalidSignatureException",
        message=f"Signature not yet current: {timestamp} is still later than {latest} "
        f"({stamp} + 5 min.)",
    )


class _ExpectedSigner(SigV4Auth):
    """botocore's SigV4 signer, told which headers the client signed and how the payload
    counts: everything else (canonical URI with double encoding, query, header values,
    string to sign, key derivation) is botocore's own."""

    def __init__(
        self,
        credentials: Credentials,
        region: str,
        service: str,
        signed: HTTPHeaders,
        unsigned_payload: bool,
    ) -> None:
        super().__init__(credentials, service, region)
        self._signed = signed
        self._unsigned_payload = unsigned_payload

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        # Exactly the client's list: botocore alone would add `host` and skip the few
        # headers it never signs (`expect`, `user-agent`, ...), which other clients may sign.
        return self._signed

    def payload(self, request: AWSRequest) -> str:
        if self._unsigned_payload:
            return UNSIGNED_PAYLOAD
        return str(super().payload(request))


def expected(
    signed: SignedRequest,
    secret_access_key: str,
    *,
    method: str,
    raw_path: str,
    query: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    body: bytes,
) -> Expected:
    """Compute the canonical request, string to sign and signature AWS would expect.

    `raw_path` is the path as the client sent it (still percent-encoded), `query` the
    decoded query pairs, `headers` every header as received (only the signed ones count).
    """
    signed_map = HTTPHeaders()
    names = set(signed.signed_headers)
    for name, value in headers:
        if name.lower() in names:
            signed_map[name.lower()] = value
    for name in signed.signed_headers:
        if name not in signed_map:
            signed_map[name] = ""  # signed but not sent: the canonical line is empty
    pairs = query
    if signed.placement == "query":
        pairs = [(k, v) for k, v in query if k != "X-Amz-Signature"]
    lowered = {name.lower(): value for name, value in headers}
    # The body counts as UNSIGNED-PAYLOAD only when the client declared it so; any other
    # declared hash is not trusted: the body's own hash is what the signature must cover.
    # (botocore's SigV4QueryAuth hashes the body too; only S3's presigned URLs are unsigned.)
    unsigned = lowered.get("x-amz-content-sha256", "").strip() == UNSIGNED_PAYLOAD
    signer = _ExpectedSigner(
        Credentials(signed.access_key_id, secret_access_key),
        signed.region,
        signed.service,  # execute-api once `check_claims` passed
        signed_map,
        unsigned,
    )
    # The URL's host is not used (the signed headers say it); http:// makes botocore hash
    # the body whatever the context says.
    request = AWSRequest(method=method.upper(), url="http://gateway" + raw_path, data=body)
    request.params = pairs  # type: ignore[assignment]
    request.context["timestamp"] = signed.timestamp
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    signature = signer.signature(string_to_sign, request)
    matches = hmac.compare_digest(signature.encode(), signed.signature.lower().encode())
    return Expected(canonical, string_to_sign, matches)


def mismatch_message(result: Expected) -> str:
    """AWS's answer to a wrong signature: what it computed, for the client to compare."""
    return (
        f"{MISMATCH}\n\nThe Canonical String for this request should have been\n"
        f"'{result.canonical_request}'\n\nThe String-to-Sign should have been\n"
        f"'{result.string_to_sign}'\n"
    )


def decoded_query(raw_query: str) -> list[tuple[str, str]]:
    """The query's pairs decoded once (`+` stays `+`: SigV4 clients encode spaces as %20)."""
    pairs: list[tuple[str, str]] = []
    for pair in raw_query.split("&") if raw_query else []:
        name, _, value = pair.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def redact_token_in(text: str, token: str | None) -> str:
    """Hide a session token wherever a canonical request repeats it."""
    if token:
        return text.replace(token, "<redacted>")
    return text


def masked_key_id(access_key_id: str) -> str:
    """An access key id as traces and pages show it: its kind and last four characters
    (`ASIA…WXYZ`), enough to tell keys apart without rendering a credential."""
    if len(access_key_id) <= 8:
        return "…"
    return f"{access_key_id[:4]}…{access_key_id[-4:]}"


def describe(signed: SignedRequest) -> dict[str, Any]:
    """The parts of a signature a trace may show: never the signature or a token."""
    return {
        "placement": signed.placement,
        "access_key_id": masked_key_id(signed.access_key_id),
        "scope": signed.scope,
        "signed_headers": list(signed.signed_headers),
        "timestamp": signed.timestamp,
        "session_token": signed.session_token is not None,
    }
