"""The Cognito identity pool service: `GetId`, `GetCredentialsForIdentity`, `GetOpenIdToken`.

Operations as the API reference describes them
(https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/), flows as
https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html does:
enhanced (`GetId` then `GetCredentialsForIdentity`: the pool picks a role and returns its
credentials) and basic (`GetId`, `GetOpenIdToken`, then STS `AssumeRoleWithWebIdentity`,
`sts.py`). Requests and answers are the JSON documents of the wire protocol; `endpoints.py`
carries them over HTTP.

Identity ids are `<region>:<uuid>`, a uuid5 of (pool, provider, sub): the same login gets
the same identity across calls and restarts. Identities made by `GetId` are remembered with
their logins; one the emulator has not seen (say, after a restart) is recognised when a
login of the request derives it. Linking several providers into one identity keeps the
first login's identity; merging two existing identities is left out.

The OpenID token of `GetOpenIdToken` is an RS256 JWT signed by the account's own key
(its JWKS is served at `<endpoint>/.well-known/jwks_uri`, as
https://cognito-identity.amazonaws.com/.well-known/jwks_uri serves AWS's): `iss` the
endpoint, `sub` the identity id, `aud` the pool id, `amr` the authentication methods, valid
ten minutes.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .account import IdentityPool
from .account import LocalAccount
from .account import TrustedProvider
from .credentials import CognitoIdentity
from .credentials import Principal
from .errors import AwsError
from .errors import invalid_parameter
from .errors import not_authorized
from .roles import NO_ROLE
from .roles import choose_role
from .roles import trusts
from .web_identity import NOT_SUPPORTED
from .web_identity import LoginVerifier

_ID = re.compile(r"[\w-]+:[0-9a-f-]+")
MAX_LOGINS = 10
OPENID_TOKEN_LIFETIME = 600  # "valid for 10 minutes" (GetOpenIdToken)
SESSION_NAME = "CognitoIdentityCredentials"
FEDERATED = "cognito-identity.amazonaws.com"
_NAMESPACE = uuid.UUID("0d6b3f3e-58a4-4e2f-9a54-4bd7b2f1c6a2")


@dataclass(frozen=True)
class Login:
    """One verified login: the provider and the token's claims."""

    provider: TrustedProvider
    claims: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def signed_in(self) -> str:
        """The provider's half of `amr` and `cognitoAuthenticationProvider`: for a user
        pool `<provider>:CognitoSignIn:<sub>` (API Gateway's mapping template reference);
        for an OIDC provider the lab writes `<provider>:<aud>:<sub>` (no capture found)."""
        if self.provider.kind == "userpool":
            return f"{self.provider.key}:CognitoSignIn:{self.subject}"
        aud = self.claims.get("azp") or self.claims.get("aud")
        aud = aud[0] if isinstance(aud, list) and aud else aud
        return f"{self.provider.key}:{aud}:{self.subject}"


@dataclass
class Identity:
    identity_id: str
    pool_id: str
    logins: set[tuple[str, str]] = field(default_factory=set)  # (provider key, sub)


class OpenIdKey:
    """The account's own signing key for the OpenID tokens of `GetOpenIdToken`."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "lab-cognito-identity-" + secrets.token_hex(4)

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid})

    def verify(self, token: str, issuer: str) -> dict[str, Any]:
        """The claims of one of our own tokens; jwt.PyJWTError when it is not."""
        if jwt.get_unverified_header(token).get("kid") != self.kid:
            raise jwt.InvalidTokenError("not signed by the account's key")
        return jwt.decode(
            token,
            self.private.public_key(),
            algorithms=["RS256"],
            issuer=issuer,
            options={"verify_aud": False, "require": ["exp", "iat", "sub", "aud"]},
        )


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise invalid_parameter(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
            "Member must not be null"
        )
    return value


def _identifier(body: dict[str, Any], name: str) -> str:
    value = _text(body, name)
    assert value is not None
    if len(value) > 55 or not _ID.fullmatch(value):
        raise invalid_parameter(
            f"1 validation error detected: Value '{value[:60]}' at '{name[0].lower() + name[1:]}' "
            r"failed to satisfy constraint: Member must satisfy regular expression pattern: "
            r"[\w-]+:[0-9a-f-]+"
        )
    return value


class IdentityPoolService:
    """The identity pools of one account, with their identities."""

    def __init__(
        self, account: LocalAccount, issuer: str, verifier: LoginVerifier | None = None
    ) -> None:
        self.account = account
        self.issuer = issuer  # the `iss` of our OpenID tokens: the endpoint's URL
        self.verifier = verifier or LoginVerifier()
        self.key = OpenIdKey()
        self._identities: dict[str, Identity] = {}
        self._lock = threading.Lock()

    # Operations ----------------------------------------------------------------------------

    def get_id(self, body: dict[str, Any]) -> dict[str, Any]:
        pool = self._pool(_identifier(body, "IdentityPoolId"))
        account_id = body.get("AccountId")
        if account_id is not None and account_id != self.account.account_id:
            raise not_authorized(
                f"Identity pool {pool.pool_id} does not belong to account {account_id}."
            )
        logins = self._logins(pool, body)
        if not logins:
            if not pool.allow_unauthenticated:
                raise not_authorized(
                    "Unauthenticated access is not supported for this identity pool."
                )
            identity = Identity(f"{self.account.region}:{uuid.uuid4()}", pool.pool_id)
        else:
            identity = self._identity_for(pool, logins)
        with self._lock:
            known = self._identities.setdefault(identity.identity_id, identity)
            known.logins |= identity.logins
        return {"IdentityId": identity.identity_id}

    def get_credentials_for_identity(self, body: dict[str, Any]) -> dict[str, Any]:
        identity, pool, logins = self._resolve(body)
        custom = _text(body, "CustomRoleArn", required=False)
        if not logins:
            role_arn = pool.roles.get("unauthenticated")
            if not role_arn:
                raise AwsError("InvalidIdentityPoolConfigurationException", NO_ROLE)
            login = None
        else:
            login = logins[0]
            role_arn, _why = choose_role(pool, login.provider, login.claims, custom)
        amr = self._amr(logins)
        role = self.account.role(role_arn)
        if role is None or not trusts(
            role,
            FEDERATED,
            {
                f"{FEDERATED}:aud": [pool.pool_id],
                f"{FEDERATED}:sub": [identity.identity_id],
                f"{FEDERATED}:amr": amr,
            },
        ):
            raise AwsError("InvalidIdentityPoolConfigurationException", NO_ROLE)
        principal = self.session_principal(
            role_arn, SESSION_NAME, self._cognito(identity, pool, login, amr)
        )
        credential = self.account.credentials.issue(principal, self.account.lifetime)
        return {
            "IdentityId": identity.identity_id,
            "Credentials": {
                "AccessKeyId": credential.access_key_id,
                "SecretKey": credential.secret_access_key,
                "SessionToken": credential.session_token,
                "Expiration": int(credential.expiration or 0),
            },
        }

    def get_open_id_token(self, body: dict[str, Any]) -> dict[str, Any]:
        identity, pool, logins = self._resolve(body)
        if not pool.allow_classic_flow:
            raise invalid_parameter(
                "Basic (classic) flow is not enabled, please use enhanced flow."
            )
        now = int(time.time())
        token = self.key.sign(
            {
                "iss": self.issuer,
                "sub": identity.identity_id,
                "aud": pool.pool_id,
                "amr": self._amr(logins),
                "iat": now,
                "exp": now + OPENID_TOKEN_LIFETIME,
                "https://cognito-identity.amazonaws.com/identity-pool-arn": (
                    f"arn:aws:cognito-identity:{self.account.region}:{self.account.account_id}:"
                    f"identitypool/{pool.pool_id}"
                ),
            }
        )
        return {"IdentityId": identity.identity_id, "Token": token}

    # Shared steps --------------------------------------------------------------------------

    def session_principal(
        self, role_arn: str, session: str, cognito: CognitoIdentity | None
    ) -> Principal:
        role = self.account.role(role_arn)
        if role is None:
            raise AwsError("InvalidIdentityPoolConfigurationException", NO_ROLE)
        return Principal(
            f"arn:aws:sts::{self.account.account_id}:assumed-role/{role.name}/{session}",
            f"{role.role_id}:{session}",
            self.account.account_id,
            role.policies,
            role.arn,
            cognito,
        )

    def _pool(self, pool_id: str) -> IdentityPool:
        pool = self.account.pools.get(pool_id)
        if pool is None:
            raise AwsError("ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")
        return pool

    def _logins(self, pool: IdentityPool, body: dict[str, Any]) -> list[Login]:
        raw = body.get("Logins")
        if raw is None:
            return []
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise invalid_parameter("Logins must be a map of provider names to token strings.")
        if len(raw) > MAX_LOGINS:
            raise invalid_parameter(f"Logins may name at most {MAX_LOGINS} providers.")
        logins = []
        for key in sorted(raw):
            provider = pool.providers.get(key)
            if provider is None:
                raise not_authorized(NOT_SUPPORTED)
            logins.append(Login(provider, self.verifier.verify(provider, raw[key])))
        return logins

    def _identity_for(self, pool: IdentityPool, logins: list[Login]) -> Identity:
        with self._lock:
            for login in logins:
                for identity in self._identities.values():
                    if (
                        identity.pool_id == pool.pool_id
                        and (login.provider.key, login.subject) in identity.logins
                    ):
                        return Identity(
                            identity.identity_id,
                            pool.pool_id,
                            {(x.provider.key, x.subject) for x in logins},
                        )
        first = logins[0]
        derived = uuid.uuid5(_NAMESPACE, f"{pool.pool_id}|{first.provider.key}|{first.subject}")
        return Identity(
            f"{self.account.region}:{derived}",
            pool.pool_id,
            {(x.provider.key, x.subject) for x in logins},
        )

    def _resolve(self, body: dict[str, Any]) -> tuple[Identity, IdentityPool, list[Login]]:
        """The identity a request names, its pool and the request's verified logins, which
        must include one of the identity's own (an authenticated identity needs them)."""
        identity_id = _identifier(body, "IdentityId")
        with self._lock:
            identity = self._identities.get(identity_id)
        if identity is not None:
            pool = self._pool(identity.pool_id)
            logins = self._logins(pool, body)
            if identity.logins and not any(
                (x.provider.key, x.subject) in identity.logins for x in logins
            ):
                raise not_authorized(
                    "Logins don't match. Please include at least one valid login for this "
                    "identity or identity pool."
                )
            return identity, pool, logins
        # Not seen: an identity derived from one of the request's logins (after a restart).
        not_found = AwsError("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
        if not isinstance(body.get("Logins"), dict) or not body["Logins"]:
            raise not_found
        for pool in self.account.pools.values():
            if not set(body["Logins"]) <= set(pool.providers):
                continue
            logins = self._logins(pool, body)
            candidate = self._identity_for(pool, logins)
            if candidate.identity_id == identity_id:
                with self._lock:
                    self._identities.setdefault(identity_id, candidate)
                return candidate, pool, logins
        raise not_found

    @staticmethod
    def _amr(logins: list[Login]) -> list[str]:
        if not logins:
            return ["unauthenticated"]
        amr = ["authenticated"]
        for login in logins:
            amr += [login.provider.key, login.signed_in]
        return amr

    @staticmethod
    def _cognito(
        identity: Identity, pool: IdentityPool, login: Login | None, amr: list[str]
    ) -> CognitoIdentity:
        return CognitoIdentity(
            identity.identity_id,
            pool.pool_id,
            "authenticated" if login else "unauthenticated",
            f"{login.provider.key},{login.signed_in}" if login else None,
            tuple(amr),
        )
