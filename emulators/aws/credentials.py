"""Access keys and the principals behind them: what the gateway's IAM authorizer looks up.

An access key id names one credential: a long-term key of an IAM user (`AKIA…`, no session
token, no expiry) or a temporary credential from STS or a Cognito identity pool (`ASIA…`,
with a session token and an expiry). Behind each is a principal: its ARN, the caller id AWS
puts in `requestContext.identity.caller` (`AIDA…` for a user, `AROA…:<session>` for an
assumed role), and the identity-based policies IAM evaluates for `execute-api:Invoke`.
Credentials from an identity pool also carry the Cognito identity (identity id, pool id,
authentication type and provider) that API Gateway hands the backend.

Shapes follow the IAM User Guide's identifier page
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids)
and API Gateway's `$context.identity.*` variables
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html).
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

# Access key ids and unique ids: a four-letter prefix, then 16 characters of A-Z and 2-7
# (base32's alphabet), as AWS issues them.
_ID_ALPHABET = string.ascii_uppercase + "234567"
MAX_CREDENTIALS = 10_000  # temporary credentials kept; the oldest expired ones go first


def unique_id(prefix: str) -> str:
    """An id in AWS's shape: `AKIA`/`ASIA` (access keys), `AIDA` (users), `AROA` (roles)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


@dataclass(frozen=True)
class CognitoIdentity:
    """The Cognito identity behind identity-pool credentials.

    `identity_id` and `identity_pool_id` are `<region>:<uuid>`; `authentication_type` is
    `authenticated` or `unauthenticated`; `authentication_provider` is the string AWS puts in
    `cognitoAuthenticationProvider` (for a user pool:
    `cognito-idp.<region>.amazonaws.com/<poolId>,cognito-idp.<region>.amazonaws.com/<poolId>:CognitoSignIn:<sub>`);
    `amr` is the list HTTP APIs deliver at `authorizer.iam.cognitoIdentity.amr`.
    """

    identity_id: str
    identity_pool_id: str
    authentication_type: str
    authentication_provider: str | None
    amr: tuple[str, ...] = ()


@dataclass(frozen=True)
class Principal:
    """An IAM principal: a user or an assumed-role session.

    `arn` is the ARN IAM evaluates and AWS reports as `userArn`
    (`arn:aws:iam::<acct>:user/<name>` or `arn:aws:sts::<acct>:assumed-role/<role>/<session>`);
    `caller_id` is `caller`/`user` in REST events and `callerId`/`userId` in HTTP events;
    `policies` are the identity-based policy documents (each with a `Statement`), named by
    their `PolicyName` for explanations; `role_arn` is the role's own ARN for a session.
    """

    arn: str
    caller_id: str
    account_id: str
    policies: tuple[tuple[str, dict[str, Any]], ...] = ()
    role_arn: str | None = None
    cognito: CognitoIdentity | None = None


@dataclass(frozen=True)
class Credential:
    """One access key and what it stands for.

    `expiration` is epoch seconds (None for an IAM user's long-term key); `session_token` is
    set exactly for temporary credentials, which AWS requires in `X-Amz-Security-Token`.
    """

    access_key_id: str
    secret_access_key: str
    principal: Principal
    session_token: str | None = None
    expiration: float | None = None

    def expired(self, now: float | None = None) -> bool:
        return self.expiration is not None and (now or time.time()) >= self.expiration


@dataclass
class CredentialStore:
    """Every access key of the local account, thread-safe.

    Long-term keys come from the template (`AWS::IAM::AccessKey`) and never leave; temporary
    ones are issued by STS and the identity pool and are kept, expired or not, so an expired
    credential is answered "expired" rather than "unknown", until `MAX_CREDENTIALS` pushes
    the oldest out.
    """

    _by_key: dict[str, Credential] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, credential: Credential) -> None:
        with self._lock:
            self._by_key[credential.access_key_id] = credential
            if len(self._by_key) > MAX_CREDENTIALS:
                self._evict()

    def lookup(self, access_key_id: str) -> Credential | None:
        """The credential with this access key id, or None if AWS would not know it."""
        return self._by_key.get(access_key_id)

    def issue(self, principal: Principal, lifetime: float) -> Credential:
        """A new temporary credential (`ASIA…`, session token) for `principal`, valid for
        `lifetime` seconds from now."""
        credential = Credential(
            access_key_id=unique_id("ASIA"),
            secret_access_key=secrets.token_urlsafe(30)[:40],
            principal=principal,
            session_token=secrets.token_urlsafe(96),
            expiration=time.time() + lifetime,
        )
        self.add(credential)
        return credential

    def long_term(self) -> list[Credential]:
        """The IAM users' keys (no session token), for listing."""
        return [c for c in self._by_key.values() if c.session_token is None]

    def temporary(self) -> list[Credential]:
        """The credentials STS and the identity pool issued, oldest first."""
        return [c for c in self._by_key.values() if c.session_token is not None]

    def _evict(self) -> None:
        # Temporary credentials in issue order (dicts keep insertion order); users' keys stay.
        for key, credential in list(self._by_key.items()):
            if len(self._by_key) <= MAX_CREDENTIALS:
                return
            if credential.session_token is not None:
                del self._by_key[key]
