"""The local Cognito user pool: its file (`cognito.json`), its state, its two key rings, its tokens.

Follows the Cognito developer guide: token shapes from "Understanding the access token" and
"Understanding the identity token" (`amazon-cognito-user-pools-using-the-access-token`,
`...-using-the-id-token`), the token endpoint's scope rules from `token-endpoint`, app client
token validity from `CreateUserPoolClient`. ID and access tokens are signed with different keys
(two `kid`s in one JWKS), as Cognito does. The pool's state (users, codes, refresh tokens, keys)
lives in its own SQLite file beside the Auth0 tenant's, so the two providers never share a user.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import sqlite3
import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from .keys import KeyRing
from .store import SigningKey
from .store import Store
from .store import User
from .tenant import wrong_types_as

DEFAULT_POOL_FILE = Path(__file__).with_name("cognito.json")
# AWS's shapes: `<region>_<9 letters and digits>`; app client ids are letters and digits.
POOL_ID = re.compile(r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)_[0-9A-Za-z]{9}")
CLIENT_ID = re.compile(r"[0-9A-Za-z]{1,128}")
DOMAIN_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
RESERVED_SCOPES = ("openid", "email", "phone", "profile", "aws.cognito.signin.user.admin")
FLOWS = ("code", "implicit", "client_credentials")
# Cognito's bounds for access and ID token validity: 5 minutes to 1 day; default one hour.
MIN_VALIDITY, MAX_VALIDITY, DEFAULT_VALIDITY = 300, 86400, 3600
LOCAL_MIN_VALIDITY = 1  # the local pool also takes shorter ones, so expiry can be shown live
DEFAULT_REFRESH_VALIDITY = 30 * 86400

POOL_SCHEMA = """
CREATE TABLE IF NOT EXISTS pool_signing_keys (
    purpose TEXT NOT NULL,
    kid TEXT PRIMARY KEY,
    private_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    published_until INTEGER
);
CREATE TABLE IF NOT EXISTS revoked_sessions (
    origin_jti TEXT PRIMARY KEY,
    revoked_at INTEGER NOT NULL
);
"""


class PoolError(ValueError):
    """The pool file is missing a field or contradicts itself."""


@dataclass(frozen=True)
class AppClient:
    """A user pool app client (`AWS::Cognito::UserPoolClient`)."""

    client_id: str
    client_secret: str | None
    name: str
    flows: tuple[str, ...]
    scopes: tuple[str, ...]
    callback_urls: tuple[str, ...] = ()
    logout_urls: tuple[str, ...] = ()
    access_token_validity: int = DEFAULT_VALIDITY
    id_token_validity: int = DEFAULT_VALIDITY
    refresh_token_validity: int = DEFAULT_REFRESH_VALIDITY

    @property
    def custom_scopes(self) -> tuple[str, ...]:
        """Return the resource-server scopes the client may ask for (client credentials)."""
        return tuple(s for s in self.scopes if s not in RESERVED_SCOPES)


@dataclass(frozen=True)
class PoolUser:
    """A demo user seeded into the pool on first start."""

    username: str
    sub: str
    email: str
    password: str
    name: str
    groups: tuple[str, ...]

    @property
    def roles(self) -> tuple[str, ...]:
        """The login page's demo table reads `roles`; in the pool they are groups (and its
        column is headed so)."""
        return self.groups


@dataclass(frozen=True)
class UserPool:
    """Everything the pool file declares, validated."""

    region: str
    pool_id: str
    domain_prefix: str
    authorization_code_lifetime: int
    resource_servers: dict[str, dict[str, str]]
    groups: dict[str, dict[str, Any]]
    clients: dict[str, AppClient]
    users: tuple[PoolUser, ...] = field(default=())

    @property
    def all_scopes(self) -> tuple[str, ...]:
        """Return every custom scope of every resource server, `<identifier>/<name>`."""
        return tuple(
            f"{rs}/{name}" for rs, scopes in self.resource_servers.items() for name in scopes
        )

    @property
    def max_token_lifetime(self) -> int:
        """Return the longest lifetime of any token the pool signs (keeps old keys published)."""
        lifetimes = [DEFAULT_VALIDITY]
        for c in self.clients.values():
            lifetimes += [c.access_token_validity, c.id_token_validity]
        return max(lifetimes)


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise PoolError(f"{where}: missing field {key!r}")
    return data[key]


def _validity(raw: dict[str, Any], key: str, where: str, default: int, upper: int) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or not LOCAL_MIN_VALIDITY <= value <= upper:
        raise PoolError(f"{where}: {key} must be whole seconds from 1 to {upper}")
    return value


@wrong_types_as(PoolError)
def parse_pool(data: dict[str, Any]) -> UserPool:
    """Build a UserPool from its JSON form, refusing AWS-impossible values and contradictions."""
    pool_id = _require(data, "user_pool_id", "pool")
    match = POOL_ID.fullmatch(str(pool_id))
    if not match:
        raise PoolError(f"pool: user_pool_id {pool_id!r} is not in AWS's shape us-east-1_XXXXXXXXX")
    region = data.get("region", match["region"])
    if region != match["region"]:
        raise PoolError(f"pool: region {region!r} differs from the pool id's {match['region']!r}")
    prefix = _require(data, "domain_prefix", "pool")
    if not DOMAIN_PREFIX.fullmatch(str(prefix)):
        raise PoolError(f"pool: domain_prefix {prefix!r} must be lower-case letters, digits, -")
    servers: dict[str, dict[str, str]] = {}
    for raw in data.get("resource_servers", ()):
        identifier = _require(raw, "identifier", "resource server")
        servers[identifier] = dict(raw.get("scopes", {}))
    groups = dict(data.get("groups", {}))
    known_scopes = {f"{rs}/{s}" for rs, scopes in servers.items() for s in scopes}
    clients: dict[str, AppClient] = {}
    for raw in _require(data, "clients", "pool"):
        where = f"client {raw.get('client_id')!r}"
        client_id = str(_require(raw, "client_id", where))
        if not CLIENT_ID.fullmatch(client_id):
            raise PoolError(f"{where}: a client id is letters and digits only")
        flows = tuple(raw.get("allowed_oauth_flows", ()))
        scopes = tuple(raw.get("allowed_oauth_scopes", ()))
        unknown = [s for s in scopes if s not in RESERVED_SCOPES and s not in known_scopes]
        if unknown or set(flows) - set(FLOWS):
            raise PoolError(f"{where}: unknown scopes {unknown} or flows {list(flows)}")
        if "client_credentials" in flows and not raw.get("client_secret"):
            raise PoolError(f"{where}: client credentials need a client secret")
        clients[client_id] = AppClient(
            client_id=client_id,
            client_secret=raw.get("client_secret"),
            name=raw.get("client_name", client_id),
            flows=flows,
            scopes=scopes,
            callback_urls=tuple(raw.get("callback_urls", ())),
            logout_urls=tuple(raw.get("logout_urls", ())),
            access_token_validity=_validity(
                raw, "access_token_validity", where, DEFAULT_VALIDITY, MAX_VALIDITY
            ),
            id_token_validity=_validity(
                raw, "id_token_validity", where, DEFAULT_VALIDITY, MAX_VALIDITY
            ),
            refresh_token_validity=_validity(
                raw, "refresh_token_validity", where, DEFAULT_REFRESH_VALIDITY, 3650 * 86400
            ),
        )
    users = []
    for raw in data.get("users", ()):
        where = f"user {raw.get('username')!r}"
        unknown_groups = set(raw.get("groups", ())) - set(groups)
        if unknown_groups:
            raise PoolError(f"{where}: unknown groups {sorted(unknown_groups)}")
        users.append(
            PoolUser(
                username=_require(raw, "username", where),
                sub=raw.get("sub") or str(uuid.uuid4()),
                email=_require(raw, "email", where),
                password=_require(raw, "password", where),
                name=raw.get("name", raw["username"]),
                groups=tuple(raw.get("groups", ())),
            )
        )
    return UserPool(
        region=region,
        pool_id=pool_id,
        domain_prefix=prefix,
        authorization_code_lifetime=int(data.get("authorization_code_lifetime", 300)),
        resource_servers=servers,
        groups=groups,
        clients=clients,
        users=tuple(users),
    )


def load_pool_data(path: Path | str | None = None) -> dict[str, Any]:
    """Read the pool file as JSON (the versioned default when no path is given)."""
    with open(path or DEFAULT_POOL_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def pool_database(tenant_database: Path | str) -> Path:
    """Return the pool's SQLite file: beside the tenant's, `<name>-cognito.sqlite3`."""
    path = Path(tenant_database)
    return path.with_name(f"{path.stem}-cognito{path.suffix or '.sqlite3'}")


class PoolStore(Store):
    """The tenant store's tables (users, codes, refresh tokens) plus keys by purpose."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        with self._conn() as conn:
            conn.executescript(POOL_SCHEMA)

    def purpose_keys(self, purpose: str) -> list[SigningKey]:
        """Return the stored keys of one purpose (`id` or `access`), newest first."""
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM pool_signing_keys WHERE purpose = ? "
                "ORDER BY created_at DESC, rowid DESC",
                (purpose,),
            )
            .fetchall()
        )
        return [
            SigningKey(
                r["kid"],
                json.loads(r["private_jwk"]),
                r["created_at"],
                r["retired_at"],
                r["published_until"],
            )
            for r in rows
        ]

    def add_purpose_key(
        self, purpose: str, kid: str, private_jwk: dict[str, Any], publish_old_for: int
    ) -> None:
        """Make a new key the active one of its purpose; older ones stay published a while."""
        now = int(time.time())
        with self._conn() as conn:
            conn.execute(
                "UPDATE pool_signing_keys SET retired_at = ?, published_until = ? "
                "WHERE retired_at IS NULL AND purpose = ?",
                (now, now + publish_old_for, purpose),
            )
            conn.execute(
                "INSERT INTO pool_signing_keys (purpose, kid, private_jwk, created_at) "
                "VALUES (?, ?, ?, ?)",
                (purpose, kid, json.dumps(private_jwk), now),
            )

    def revoke_session(self, origin_jti: str) -> None:
        """Mark every token of one authentication session revoked (`/oauth2/revoke`)."""
        with self._conn() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO revoked_sessions VALUES (?, ?)",
                (origin_jti, int(time.time())),
            )
            conn.execute(
                "UPDATE refresh_tokens SET revoked = 1 "
                "WHERE json_extract(data, '$.origin_jti') = ?",
                (origin_jti,),
            )

    def session_revoked(self, origin_jti: str) -> bool:
        """Return whether the session a token came from was revoked."""
        row = (
            self._conn()
            .execute("SELECT 1 FROM revoked_sessions WHERE origin_jti = ?", (origin_jti,))
            .fetchone()
        )
        return row is not None

    def find_username(self, username: str) -> User | None:
        """Return the user with this username (kept in the `nickname` column), or None."""
        try:
            row = (
                self._conn()
                .execute("SELECT * FROM users WHERE nickname = ?", (username,))
                .fetchone()
            )
        except sqlite3.Error:
            return None
        return self._user(row)


class _KeyTable:
    """One purpose's keys seen through the two methods a KeyRing calls on its store."""

    def __init__(self, store: PoolStore, purpose: str) -> None:
        self.store = store
        self.purpose = purpose

    def signing_keys(self) -> list[SigningKey]:
        return self.store.purpose_keys(self.purpose)

    def add_signing_key(self, kid: str, private_jwk: dict[str, Any], publish_old_for: int) -> None:
        self.store.add_purpose_key(self.purpose, kid, private_jwk, publish_old_for)


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: the left half of SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


class LocalPool:
    """The running pool: its declaration, issuer, domain base URL, state and key rings."""

    def __init__(self, pool: UserPool, origin: str, database: Path | str) -> None:
        self.pool = pool
        self.issuer = f"{origin.rstrip('/')}/{pool.pool_id}"
        # Stands for https://<prefix>.auth.<region>.amazoncognito.com on the IdP's own port.
        self.domain = f"{origin.rstrip('/')}/cognito/{pool.domain_prefix}"
        self.store = PoolStore(database)
        self.seed_users()
        keep = pool.max_token_lifetime
        self.id_keys = KeyRing(_KeyTable(self.store, "id"), publish_old_for=keep)  # type: ignore[arg-type]
        self.access_keys = KeyRing(_KeyTable(self.store, "access"), publish_old_for=keep)  # type: ignore[arg-type]

    def seed_users(self) -> None:
        """Create the file's demo users that do not exist yet; existing ones are kept."""
        for demo in self.pool.users:
            if self.store.get_user(demo.sub) is None and self.store.find_user(demo.email) is None:
                self.store.add_user(
                    demo.sub, demo.email, demo.password, demo.name, demo.username, demo.groups
                )

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """Return both rings' public keys in one JWKS, as Cognito publishes them."""
        return {"keys": self.id_keys.jwks()["keys"] + self.access_keys.jwks()["keys"]}

    def endpoints(self) -> dict[str, str]:
        """Return the pool's discovery and domain endpoints."""
        return {
            "issuer": self.issuer,
            "openid_configuration": self.issuer + "/.well-known/openid-configuration",
            "jwks_uri": self.issuer + "/.well-known/jwks.json",
            "domain": self.domain,
            "authorize": self.domain + "/oauth2/authorize",
            "token": self.domain + "/oauth2/token",
            "userinfo": self.domain + "/oauth2/userInfo",
            "revoke": self.domain + "/oauth2/revoke",
            "logout": self.domain + "/logout",
        }

    # tokens ---------------------------------------------------------------------------

    def _base(self, lifetime: int, now: int) -> dict[str, Any]:
        return {"iss": self.issuer, "iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4())}

    def client_credentials_token(self, client: AppClient, scope: str) -> dict[str, Any]:
        """Return the token response of the client-credentials grant: an access token only."""
        now = int(time.time())
        claims = {
            "sub": client.client_id,
            "token_use": "access",
            "scope": scope,
            "auth_time": now,
            **self._base(client.access_token_validity, now),
            "version": 2,
            "client_id": client.client_id,
        }
        return {
            "access_token": self.access_keys.sign(claims),
            "expires_in": client.access_token_validity,
            "token_type": "Bearer",
        }

    def user_tokens(
        self,
        client: AppClient,
        user: User,
        scope: str,
        *,
        auth_time: int,
        origin_jti: str,
        nonce: str | None = None,
        refresh: bool = True,
    ) -> dict[str, Any]:
        """Return the token response for a user: access, ID (with `openid`), refresh token."""
        now = int(time.time())
        groups = list(user.roles)
        access: dict[str, Any] = {"sub": user.user_id}
        if groups:
            access["cognito:groups"] = groups
        access.update(
            {
                "token_use": "access",
                "scope": scope,
                "auth_time": auth_time,
                **self._base(client.access_token_validity, now),
                "origin_jti": origin_jti,
                "version": 2,
                "client_id": client.client_id,
                "username": user.nickname,
            }
        )
        access_token = self.access_keys.sign(access)
        body: dict[str, Any] = {"access_token": access_token}
        if "openid" in scope.split():
            id_claims: dict[str, Any] = {"at_hash": at_hash(access_token), "sub": user.user_id}
            if groups:
                id_claims["cognito:groups"] = groups
                id_claims.update(self._group_roles(groups))
            id_claims.update(
                {
                    "email_verified": True,
                    "cognito:username": user.nickname,
                    "origin_jti": origin_jti,
                    "aud": client.client_id,
                    "token_use": "id",
                    "auth_time": auth_time,
                    "name": user.name,
                    "email": user.email,
                    **self._base(client.id_token_validity, now),
                }
            )
            if nonce:
                id_claims["nonce"] = nonce
            body["id_token"] = self.id_keys.sign(id_claims)
        if refresh:
            token = secrets.token_urlsafe(48)
            self.store.save_token(
                "refresh_tokens",
                token,
                {
                    "client_id": client.client_id,
                    "user_id": user.user_id,
                    "scope": scope,
                    "auth_time": auth_time,
                    "origin_jti": origin_jti,
                },
                client.refresh_token_validity,
            )
            body["refresh_token"] = token
        body["expires_in"] = client.access_token_validity
        body["token_type"] = "Bearer"
        return body

    def _group_roles(self, groups: list[str]) -> dict[str, Any]:
        """`cognito:roles` (the IAM roles of the user's groups) and `cognito:preferred_role`
        (the role of the group with the lowest precedence), as user pools put them in ID
        tokens (https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-user-groups.html)."""
        ranked = sorted(
            (g for g in groups if self.pool.groups.get(g, {}).get("role_arn")),
            key=lambda g: self.pool.groups[g].get("precedence", 2**31),
        )
        if not ranked:
            return {}
        roles = [str(self.pool.groups[g]["role_arn"]) for g in ranked]
        return {"cognito:roles": roles, "cognito:preferred_role": roles[0]}

    def user_info(self, user: User, scope: str) -> dict[str, Any]:
        """Return the attributes `/oauth2/userInfo` gives for the token's scopes."""
        words = scope.split()
        info: dict[str, Any] = {"sub": user.user_id}
        if "email" in words:
            info.update(email=user.email, email_verified="true")
        if "profile" in words:
            info.update(name=user.name)
        info["username"] = user.nickname
        return info
