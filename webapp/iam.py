"""IAM (SigV4) calls from the web app: identity-pool credentials, signing, and "copy as" snippets.

What it owns:
- The credential choices of the IAM APIs (`CREDENTIAL_KINDS`) and what each one signs with.
- The exchange of the user's ID token at a Cognito identity pool (enhanced flow: `GetId`, then
  `GetCredentialsForIdentity`, with the `Logins` key of the provider the user logged in
  with), through boto3's own `cognito-identity` client: the local gateway's `/_aws/`
  endpoint from its catalogue, or AWS's endpoint for a deployed stack. The credentials are
  kept in the server-side session until shortly before they expire and never reach the
  browser (https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html).
- Signing with botocore's `SigV4Auth` (service `execute-api`, the API's region), and what
  was signed, for the page: method, canonical URI, signed headers, credential scope and the
  canonical request, never the secret key, the session token or the signature
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv4-create-signed-request.html).
- "Copy as curl" (`curl --aws-sigv4`) and a botocore snippet, with the keys as variables.

The service client's key: locally the web app knows the lab's demo key from its configuration
(`config.LOCAL_SERVICE_KEY`, derived from `template.yaml` as the local account derives it; a
test keeps the two in step) and uses it only if the gateway's catalogue lists the same key id.
No endpoint hands a secret out. Against AWS it comes from `IAM_SERVICE_ACCESS_KEY_ID` and
`IAM_SERVICE_SECRET_ACCESS_KEY`, or the choice is not offered.
"""

from __future__ import annotations

import datetime
import hashlib
import shlex
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
from botocore import UNSIGNED
from botocore.auth import SIGV4_TIMESTAMP
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from flask import current_app
from flask import g
from flask import session

from .auth import fresh_tokens
from .auth import session_provider
from .tokens import decode

SERVICE = "execute-api"
CREDENTIAL_KINDS = {
    "iam-mine": "My identity-pool credentials (my ID token exchanged at the identity pool)",
    "iam-service": "The service client's access key (an IAM user)",
    "iam-stale": "My credentials, signed 10 minutes ago (outside SigV4's 5-minute window)",
    "iam-expired": "My previous identity-pool credentials, after they expired",
    "iam-tampered": "My credentials, with one signature character changed",
}
# The choices that sign with the user's own identity-pool credentials (so need a login).
USER_CREDENTIAL_KINDS = ("iam-mine", "iam-stale", "iam-expired", "iam-tampered")
STALE_BY = 600  # seconds: twice SigV4's 5-minute window, so clocks a little apart still fail
# Exchange again this long before the credentials expire (at most a fifth of their lifetime,
# so the lab's one-minute credentials are still used for most of their minute).
REFRESH_MARGIN = 60.0
REDACTED = "<redacted>"
CREDENTIALS_KEY = "iam_credentials"
EXPIRED_KEY = "iam_expired_credentials"


class IamError(RuntimeError):
    """Credentials could not be had; the message says why, in the page's words."""


# The identity pool ------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityPool:
    """Where the identity pool is and which `Logins` key each login provider has there."""

    pool_id: str
    region: str
    endpoint_url: str | None  # None: AWS's own endpoint for the region
    logins: dict[str, str]  # provider ("auth0", "cognito") -> Logins key


def identity_pool() -> IdentityPool | None:
    """The identity pool of this lab: the local gateway's (its catalogue), or the configured one."""
    config = current_app.config
    if config.get("IAM_IDENTITY_POOL_ID"):
        logins = {
            provider: config[name]
            for provider, name in (("auth0", "IAM_LOGINS_AUTH0"), ("cognito", "IAM_LOGINS_COGNITO"))
            if config.get(name)
        }
        return IdentityPool(config["IAM_IDENTITY_POOL_ID"], config["IAM_REGION"], None, logins)
    catalogue = current_app.extensions["api_directory"].catalogue()
    issuers = {
        "auth0": config.get("AUTH0_ISSUER", ""),
        "cognito": config.get("COGNITO_ISSUER") or "",
    }
    return pool_from_catalogue(catalogue, issuers)


def pool_from_catalogue(catalogue: Any, issuers: dict[str, str]) -> IdentityPool | None:
    """The identity pool the local gateway's catalogue lists, with the `Logins` key of each
    provider ("auth0", "cognito") whose issuer is in `issuers` (None: the catalogue has none).
    The web app and `python -m webapp.compare` both read it here."""
    entry = (catalogue or {}).get("identity_pool") if isinstance(catalogue, dict) else None
    if not isinstance(entry, dict) or not entry.get("pools"):
        return None
    pool = entry["pools"][0]
    # Each provider's key is the one whose issuer is the issuer this web app logs in at.
    issuers = {name: issuer.rstrip("/") for name, issuer in issuers.items()}
    logins = {}
    for key, provider in (pool.get("logins") or {}).items():
        issuer = str((provider or {}).get("issuer") or "").rstrip("/")
        for name, ours in issuers.items():
            if ours and issuer == ours:
                logins[name] = key
    return IdentityPool(
        str(pool["id"]), str(entry.get("region") or "us-east-1"), entry.get("endpoint_url"), logins
    )


def _client(pool: IdentityPool, timeout: float | None = None) -> Any:
    # GetId and GetCredentialsForIdentity are unsigned operations: no AWS credentials of the
    # web app's own are needed or used.
    if timeout is None:
        timeout = float(current_app.config["HTTP_TIMEOUT"])
    return boto3.client(
        "cognito-identity",
        region_name=pool.region,
        endpoint_url=pool.endpoint_url,
        config=Config(
            signature_version=UNSIGNED,
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 1},
        ),
    )


def exchange(
    pool: IdentityPool, login_key: str, id_token: str, timeout: float | None = None
) -> dict[str, Any]:
    """Exchange an ID token for temporary credentials (enhanced flow); return them as stored.

    `timeout` defaults to the web app's `HTTP_TIMEOUT` (the command line passes its own).

    :raise IamError: the pool refused the token or could not be reached.
    """
    client = _client(pool, timeout)
    logins = {login_key: id_token}
    try:
        identity_id = client.get_id(IdentityPoolId=pool.pool_id, Logins=logins)["IdentityId"]
        answer = client.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise IamError(
            f"the identity pool refused your ID token: {error.get('Code', 'error')}: "
            f"{error.get('Message', '')}".rstrip(": ")
        ) from exc
    except (botocore.exceptions.BotoCoreError, ValueError) as exc:
        where = pool.endpoint_url or f"cognito-identity.{pool.region}.amazonaws.com"
        raise IamError(f"the identity pool at {where} could not be reached") from exc
    creds = answer["Credentials"]
    expiration = creds["Expiration"]
    expires = expiration.timestamp() if hasattr(expiration, "timestamp") else float(expiration)
    return {
        "access_key_id": creds["AccessKeyId"],
        "secret_access_key": creds["SecretKey"],
        "session_token": creds["SessionToken"],
        "expiration": expires,
        "issued": time.time(),
        "identity_id": answer["IdentityId"],
    }


def _login_of_session() -> tuple[str, str]:
    """The provider the user logged in with and their ID token.

    :raise IamError: no login, or no ID token.
    """
    tokens = fresh_tokens()
    if not tokens:
        raise IamError("log in first: identity-pool credentials are exchanged for your ID token")
    id_token = tokens.get("id_token")
    if not id_token:
        raise IamError("your login has no ID token to exchange (was `openid` asked for?)")
    return session_provider(), id_token


def _owner(provider: str, id_token: str) -> str:
    # Whose credentials: a new login (another user, another provider) must not reuse them.
    try:
        sub = decode(id_token)[1].get("sub")
    except ValueError:
        sub = None
    return f"{provider}:{sub}"


def _live(creds: Any, now: float) -> bool:
    if not isinstance(creds, dict):
        return False
    lifetime = float(creds.get("expiration", 0)) - float(creds.get("issued", 0))
    margin = min(REFRESH_MARGIN, max(lifetime, 0) / 5)
    return now < float(creds.get("expiration", 0)) - margin


def my_credentials(now: float | None = None) -> dict[str, Any]:
    """The user's identity-pool credentials, from the session or a new exchange.

    A set that has expired is kept (as the "expired credentials" choice) when it is replaced.

    :raise IamError: no login, no identity pool, or the pool refused.
    """
    now = time.time() if now is None else now
    provider, id_token = _login_of_session()
    owner = _owner(provider, id_token)
    cached = session.get(CREDENTIALS_KEY)
    if isinstance(cached, dict) and cached.get("owner") == owner and _live(cached, now):
        return cached
    pool = identity_pool()
    if pool is None:
        raise IamError(
            "no identity pool is configured: set IAM_IDENTITY_POOL_ID (see .env.example)"
        )
    login_key = pool.logins.get(provider)
    if login_key is None:
        raise IamError(
            f"the identity pool {pool.pool_id} does not trust the {provider} login you used"
        )
    fresh = {**exchange(pool, login_key, id_token), "owner": owner}
    g.iam_exchanged = True  # this call went to the identity pool (the flow diagram says so)
    if (
        isinstance(cached, dict)
        and cached.get("owner") == owner
        and float(cached.get("expiration", 0)) <= now
    ):
        session[EXPIRED_KEY] = cached
    session[CREDENTIALS_KEY] = fresh
    return fresh


def expired_credentials(now: float | None = None) -> dict[str, Any] | None:
    """The user's last identity-pool credentials if they have expired (kept in the session)."""
    now = time.time() if now is None else now
    for key in (EXPIRED_KEY, CREDENTIALS_KEY):
        creds = session.get(key)
        if isinstance(creds, dict) and float(creds.get("expiration", 0)) <= now:
            try:
                _, id_token = _login_of_session()
            except IamError:
                return None
            if creds.get("owner") == _owner(session_provider(), id_token):
                return creds
    return None


def service_key() -> tuple[str, str] | None:
    """The service client's access key id and secret, if this web app may use them."""
    config = current_app.config
    key = config.get("IAM_SERVICE_KEY")
    if not key:
        return None
    if config.get("API_MODE", "local") == "local":
        # Only the key the running gateway lists: a changed template means a changed key.
        catalogue = current_app.extensions["api_directory"].catalogue() or {}
        listed = {u.get("access_key_id") for u in catalogue.get("iam_users") or ()}
        if key[0] not in listed:
            return None
    return key[0], key[1]


def credentials_for(kind: str) -> tuple[Credentials, dict[str, Any] | None]:
    """The credentials a choice signs with, and the identity-pool set they came from (if any).

    :raise IamError: they cannot be had; the message says why.
    """
    if kind == "iam-service":
        key = service_key()
        if key is None:
            raise IamError(
                "the service client's key is not configured: set IAM_SERVICE_ACCESS_KEY_ID "
                "and IAM_SERVICE_SECRET_ACCESS_KEY (see .env.example)"
            )
        return Credentials(*key), None
    if kind == "iam-expired":
        creds = expired_credentials()
        if creds is None:
            raise IamError(
                "you hold no expired identity-pool credentials yet: they last an hour; start "
                "the gateway with --credentials-lifetime 60, sign once with your credentials, "
                "and wait a minute"
            )
    else:
        creds = my_credentials()
    return (
        Credentials(creds["access_key_id"], creds["secret_access_key"], creds["session_token"]),
        creds,
    )


# Signing ------------------------------------------------------------------------------------


class _SigV4At(SigV4Auth):
    """botocore's SigV4 signer at a chosen time (botocore signs at "now" only)."""

    def __init__(self, credentials: Credentials, region: str, when: datetime.datetime) -> None:
        super().__init__(credentials, SERVICE, region)
        self._when = when
        self.canonical = ""
        self.signed_names = ""

    def add_auth(self, request: AWSRequest) -> None:
        # botocore's own add_auth, with its clock replaced: the timestamp is all that differs.
        # What was signed is kept before the Authorization header joins the request.
        request.context["timestamp"] = self._when.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        self.canonical = self.canonical_request(request)
        self.signed_names = self.signed_headers(self.headers_to_sign(request))
        string_to_sign = self.string_to_sign(request, self.canonical)
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


@dataclass
class Signed:
    """What was signed, as the page may show it: nothing secret, the signature as a fingerprint."""

    method: str
    canonical_uri: str
    canonical_query: str
    signed_headers: list[str]
    scope: str  # <yyyymmdd>/<region>/execute-api/aws4_request
    timestamp: str
    key_kind: str  # "temporary (ASIA…)" or "long-term (AKIA…)"
    canonical_request: str  # the session token redacted
    signature_fingerprint: str
    tampered: bool = False
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # what is sent

    def view(self) -> dict[str, Any]:
        """The page's view (no headers: they carry the signature and the session token)."""
        return {
            "method": self.method,
            "canonical_uri": self.canonical_uri,
            "canonical_query": self.canonical_query,
            "signed_headers": self.signed_headers,
            "scope": self.scope,
            "timestamp": self.timestamp,
            "key_kind": self.key_kind,
            "canonical_request": self.canonical_request,
            "signature_fingerprint": self.signature_fingerprint,
            "tampered": self.tampered,
        }


def fingerprint(value: str) -> str:
    """A short, one-way name for a signature: enough to tell two apart, useless to replay."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    body: str | None,
    credentials: Credentials,
    region: str,
    *,
    when: datetime.datetime | None = None,
    tamper: bool = False,
) -> Signed:
    """Sign a request with SigV4 for execute-api; return what was signed and the headers to send."""
    request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
    moment = when or datetime.datetime.now(datetime.UTC)
    signer = _SigV4At(credentials, region, moment)
    signer.add_auth(request)
    canonical = signer.canonical
    authorization = request.headers["Authorization"]
    head, _, signature = authorization.rpartition("Signature=")
    if tamper:
        # One hex digit changed: the canonical request still matches, the signature not.
        signature = ("0" if signature[0] != "0" else "1") + signature[1:]
        request.headers["Authorization"] = head + "Signature=" + signature
    sent = {name: str(value) for name, value in request.headers.items()}
    token = credentials.token
    parts = urlsplit(url)
    scope = signer.scope(request).split("/", 1)[1]
    return Signed(
        method=method,
        canonical_uri=canonical.split("\n")[1],
        canonical_query=parts.query,
        signed_headers=signer.signed_names.split(";"),
        scope=scope,
        timestamp=request.context["timestamp"],
        key_kind=(
            "temporary (ASIA…, with a session token)"
            if credentials.access_key.startswith("ASIA")
            else "long-term (AKIA…)"
        ),
        canonical_request=canonical.replace(token, REDACTED) if token else canonical,
        signature_fingerprint=fingerprint(signature),
        tampered=tamper,
        headers=sent,
    )


def sign_as(
    kind: str,
    method: str,
    url: str,
    headers: dict[str, str],
    body: str | None,
    credentials: Credentials,
    region: str,
) -> Signed:
    """Sign as a credential choice signs: "iam-stale" 10 minutes ago, "iam-tampered" with one
    signature character changed, every other choice now and as is (the Ping page's calls and
    the Compare grid's rows both sign here)."""
    when = None
    if kind == "iam-stale":
        when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=STALE_BY)
    return sign(
        method, url, headers, body, credentials, region, when=when, tamper=kind == "iam-tampered"
    )


class RowSigner:
    """Signs every call of one credential row of the Compare grid, each at its own moment.

    Made in a request (the credentials come from the session) and then used by the grid's
    worker threads, which need no request: several threads sign at once, so what each call
    signed is kept by (method, URL) under a lock, for the cell's view.
    """

    def __init__(self, kind: str, credentials: Credentials, region: str) -> None:
        self.kind = kind
        self.region = region
        self._credentials = credentials
        self._signed: dict[tuple[str, str], Signed] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the keys
        return f"RowSigner({self.kind!r}, region={self.region!r})"

    def sign(self, method: str, url: str, headers: dict[str, str], body: str | None) -> dict:
        """The headers to send: `headers` plus the SigV4 ones (signed for the URL's region)."""
        signed = sign_as(
            self.kind,
            method,
            url,
            headers,
            body,
            self._credentials,
            region_of(url, self.region),
        )
        with self._lock:
            self._signed[(method, url)] = signed
        return signed.headers

    def signed_for(self, method: str, url: str) -> Signed | None:
        """What the call to (method, URL) signed, if it was made."""
        with self._lock:
            return self._signed.get((method, url))

    @property
    def temporary(self) -> bool:
        return self._credentials.token is not None


def region_of(base_url: str, default: str) -> str:
    """The region an API is signed for: an execute-api host names it, else the lab's region."""
    host = urlsplit(base_url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[1] == "execute-api":
        return parts[2]
    return default


class IamSigner:
    """Signs one call for a credential choice (the `signer` of `api_client.call`)."""

    def __init__(self, kind: str, region: str, temporary: bool | None = None) -> None:
        self.kind = kind
        self.region = region
        self.signed: Signed | None = None
        self._credentials: Credentials | None = None
        self._temporary = temporary

    def prepare(self) -> None:
        """Get the credentials now, so a refusal is reported before any call.

        :raise IamError: they cannot be had.
        """
        self._credentials, _ = credentials_for(self.kind)

    def sign(self, method: str, url: str, headers: dict[str, str], body: str | None) -> dict:
        if self._credentials is None:
            self.prepare()
        assert self._credentials is not None
        self.signed = sign_as(self.kind, method, url, headers, body, self._credentials, self.region)
        return self.signed.headers

    def curl(self, method: str, url: str, body: str | None) -> str:
        temporary = self.kind != "iam-service"
        return curl_snippet(method, url, body, self.region, temporary)


# Snippets -----------------------------------------------------------------------------------


def curl_snippet(method: str, url: str, body: str | None, region: str, temporary: bool) -> str:
    """`curl --aws-sigv4` for this call, with the keys as shell variables (curl ≥ 7.75)."""
    parts = [
        "curl",
        "-i",
        "-X",
        method,
        "--aws-sigv4",
        shlex.quote(f"aws:amz:{region}:{SERVICE}"),
        "--user",
        '"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"',
    ]
    if temporary:
        parts += ["-H", '"x-amz-security-token: $AWS_SESSION_TOKEN"']
    if body is not None:
        parts += ["-H", shlex.quote("Content-Type: application/json"), "--data", shlex.quote(body)]
    parts.append(shlex.quote(url))
    return " ".join(parts)


def botocore_snippet(
    method: str, url: str, body: str | None, region: str, pool: dict[str, str] | None = None
) -> str:
    """A Python snippet signing this call with botocore, the keys read from the environment.

    With `pool` (`pool_id`, `region`, `login_key`, `endpoint_url`), it first exchanges
    `$ID_TOKEN` at the identity pool, as the web app does.
    """
    lines = [
        "import os",
        "",
        "import requests",
        "from botocore.auth import SigV4Auth",
        "from botocore.awsrequest import AWSRequest",
        "from botocore.credentials import Credentials",
        "",
    ]
    if pool:
        endpoint = f", endpoint_url={pool['endpoint_url']!r}" if pool.get("endpoint_url") else ""
        lines += [
            "import boto3",
            "from botocore import UNSIGNED",
            "from botocore.config import Config",
            "",
            "identity = boto3.client(",
            f'    "cognito-identity", region_name={pool["region"]!r}{endpoint},',
            "    config=Config(signature_version=UNSIGNED),",
            ")",
            f'logins = {{{pool["login_key"]!r}: os.environ["ID_TOKEN"]}}',
            f"identity_id = identity.get_id(IdentityPoolId={pool['pool_id']!r}, "
            'Logins=logins)["IdentityId"]',
            "creds = identity.get_credentials_for_identity(IdentityId=identity_id, "
            'Logins=logins)["Credentials"]',
            'credentials = Credentials(creds["AccessKeyId"], creds["SecretKey"], '
            'creds["SessionToken"])',
        ]
    else:
        lines += [
            "credentials = Credentials(",
            '    os.environ["AWS_ACCESS_KEY_ID"],',
            '    os.environ["AWS_SECRET_ACCESS_KEY"],',
            '    os.environ.get("AWS_SESSION_TOKEN"),',
            ")",
        ]
    data = repr(body.encode()) if body is not None else 'b""'
    headers = '{"Content-Type": "application/json"}' if body is not None else "{}"
    lines += [
        f"request = AWSRequest(method={method!r}, url={url!r}, data={data}, headers={headers})",
        f'SigV4Auth(credentials, "{SERVICE}", {region!r}).add_auth(request)',
        "response = requests.request(",
        "    request.method, request.url, headers=dict(request.headers), data=request.body",
        ")",
        "print(response.status_code, response.text)",
    ]
    return "\n".join(lines) + "\n"


def compare_canonical(signed: str, computed: str) -> list[dict[str, Any]]:
    """The canonical request the web app signed beside the gateway's, line by line."""
    ours, theirs = signed.split("\n"), computed.split("\n")
    rows = []
    for index in range(max(len(ours), len(theirs))):
        a = ours[index] if index < len(ours) else ""
        b = theirs[index] if index < len(theirs) else ""
        rows.append({"signed": a, "computed": b, "differs": a != b})
    return rows
