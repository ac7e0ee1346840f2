"""The local AWS account read from `template.yaml`: IAM roles, users and their access keys,
IAM OIDC providers and Cognito identity pools, as CloudFormation would create them.

Resources read (CloudFormation resource reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/):
`AWS::IAM::Role` (`Policies`, `AssumeRolePolicyDocument`, `MaxSessionDuration`),
`AWS::IAM::User` (`Policies`) with `AWS::IAM::AccessKey`, `AWS::IAM::OIDCProvider`
(`Url`, `ClientIdList`), `AWS::Cognito::IdentityPool` (`CognitoIdentityProviders`,
`OpenIdConnectProviderARNs`, `AllowUnauthenticatedIdentities`, `AllowClassicFlow`) and
`AWS::Cognito::IdentityPoolRoleAttachment` (`Roles`, `RoleMappings`).

Intrinsics are resolved by the gateway's template reader (`emulators/gateway/template.py`);
this module only finishes what that reader leaves for resources it does not model: the
`!Ref` and `!GetAtt` values of the resources above (an identity pool's id, a role's ARN, a
user pool's `ProviderName`) and `Fn::Join`/`Fn::Select`/`Fn::Split`, which CloudFormation
needs to spell a role mapping's provider name.

Names and ids are deterministic, so they survive restarts and the README and CLI can name
them: a resource without an explicit name is `<stack>-<LogicalId>` (CloudFormation adds a
random suffix), identity pool ids are `<region>:<uuid5 of the logical id>`, and the IAM
users' access keys are derived from the account, user and key's logical id. They are
local-only demo keys: AWS never accepts them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from emulators.gateway.template import ACCOUNT
from emulators.gateway.template import PSEUDO_PARAMETERS
from emulators.gateway.template import REGION
from emulators.gateway.template import TemplateError
from emulators.gateway.template import _Loader
from emulators.gateway.template import _Resolver

from .credentials import Credential
from .credentials import CredentialStore
from .credentials import Principal

# Credentials from STS and the identity pool "are valid for one hour"
# (https://docs.aws.amazon.com/cognito/latest/developerguide/accessing-aws-services.html);
# shorter lifetimes let the lab show expiry.
LIFETIME_ENV = "LAB_AWS_CREDENTIALS_LIFETIME"
DEFAULT_LIFETIME = 3600
_NAMESPACE = uuid.UUID("6f1c4e0a-3b55-4c55-9a53-2f1d8f0b7a11")  # the lab's, for uuid5


def _b32(label: str, length: int = 16) -> str:
    digest = hashlib.sha256(f"authorizer-lab/{ACCOUNT}/{label}".encode()).digest()
    return base64.b32encode(digest).decode()[:length]


def issuer_key(url: str) -> str:
    """The `Logins` key of an issuer: its URL without the scheme and trailing slash
    (`https://tenant.auth0.com/` -> `tenant.auth0.com`), as Cognito names OIDC providers
    (https://docs.aws.amazon.com/cognito/latest/developerguide/open-id.html)."""
    parts = urlsplit(url)
    return (parts.netloc + parts.path).rstrip("/")


def lifetime_from_environment() -> float:
    """The lifetime of issued credentials: `LAB_AWS_CREDENTIALS_LIFETIME` seconds, or 3600."""
    raw = os.environ.get(LIFETIME_ENV, "").strip()
    if not raw:
        return DEFAULT_LIFETIME
    try:
        value = float(raw)
    except ValueError:
        raise TemplateError(f"{LIFETIME_ENV} must be a number of seconds, not {raw!r}") from None
    if not 1 <= value <= 43200:
        raise TemplateError(f"{LIFETIME_ENV} must be between 1 and 43200 seconds, not {raw}")
    return value


@dataclass(frozen=True)
class Role:
    """An IAM role: its ARN, unique id (`AROA…`), inline policies and trust policy."""

    logical_id: str
    name: str
    arn: str
    role_id: str
    policies: tuple[tuple[str, dict[str, Any]], ...]
    trust_policy: dict[str, Any]
    max_session_duration: int = 3600


@dataclass(frozen=True)
class User:
    """An IAM user with its inline policies."""

    logical_id: str
    name: str
    arn: str
    user_id: str
    policies: tuple[tuple[str, dict[str, Any]], ...]


@dataclass(frozen=True)
class TrustedProvider:
    """A login provider an identity pool trusts, under its `Logins` key.

    `kind` is "userpool" (a Cognito user pool: `aud` must be one of `client_ids`) or
    "oidc" (an IAM OIDC provider: `azp`, or else `aud`, must be one of `client_ids`).
    `issuer` is the exact `iss` its tokens carry; `jwks_uri` is None for OIDC providers,
    whose keys are found through their discovery document.
    """

    key: str
    kind: str
    issuer: str
    client_ids: tuple[str, ...]
    jwks_uri: str | None = None


@dataclass(frozen=True)
class MappingRule:
    claim: str
    match_type: str  # Equals, NotEqual, StartsWith, Contains
    value: str
    role_arn: str


@dataclass(frozen=True)
class RoleMapping:
    """`RoleMappings[<provider>]`: Token or Rules, and what an ambiguous case gets."""

    provider: str
    kind: str  # "Token" or "Rules"
    ambiguous: str  # "AuthenticatedRole" or "Deny"
    rules: tuple[MappingRule, ...] = ()


@dataclass
class IdentityPool:
    """A Cognito identity pool with its providers, roles and role mappings."""

    logical_id: str
    pool_id: str
    name: str
    allow_unauthenticated: bool
    allow_classic_flow: bool
    providers: dict[str, TrustedProvider] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # "authenticated"/"unauthenticated"
    role_mappings: dict[str, RoleMapping] = field(default_factory=dict)

    def mapping_for(self, provider: TrustedProvider, client_id: str | None) -> RoleMapping | None:
        """The role mapping of a provider: a user pool's is keyed `<provider>:<client id>`."""
        if provider.kind == "userpool":
            return self.role_mappings.get(f"{provider.key}:{client_id}")
        return self.role_mappings.get(provider.key)


@dataclass
class LocalAccount:
    """Everything IAM, STS and the identity pool need, with the account's credentials."""

    account_id: str = ACCOUNT
    region: str = REGION
    roles: dict[str, Role] = field(default_factory=dict)  # by ARN
    users: dict[str, User] = field(default_factory=dict)  # by logical id
    pools: dict[str, IdentityPool] = field(default_factory=dict)  # by pool id
    credentials: CredentialStore = field(default_factory=CredentialStore)
    lifetime: float = DEFAULT_LIFETIME

    @classmethod
    def from_template(
        cls, path: Path, parameters: dict[str, str], lifetime: float | None = None
    ) -> LocalAccount:
        """Read the account's resources from a template with these parameter values (all of
        them, defaults included: `Model.parameters`)."""
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
        except (OSError, yaml.YAMLError) as error:
            raise TemplateError(f"{path.name} cannot be read: {error}") from None
        resources = (document or {}).get("Resources") or {}
        account = cls(lifetime=lifetime if lifetime is not None else lifetime_from_environment())
        _Reader(account, resources, parameters).read()
        return account

    def role(self, arn: str) -> Role | None:
        return self.roles.get(arn)

    def service_keys(self) -> list[tuple[User, Credential]]:
        """Each IAM user's long-term access key with its user, for listing."""
        by_arn = {u.arn: u for u in self.users.values()}
        return [
            (by_arn[c.principal.arn], c)
            for c in self.credentials.long_term()
            if c.principal.arn in by_arn
        ]

    def pool_by_logical_id(self, logical_id: str) -> IdentityPool | None:
        return next((p for p in self.pools.values() if p.logical_id == logical_id), None)


class _Reader:
    """Fills a `LocalAccount` from the template's resources, in dependency order."""

    def __init__(
        self, account: LocalAccount, resources: dict[str, Any], parameters: dict[str, str]
    ) -> None:
        self.account = account
        self.resources = resources
        self.parameters = parameters
        self.resolve = _Resolver(parameters, resources)
        self.stack = PSEUDO_PARAMETERS["AWS::StackName"]
        # What `!Ref <resource>` and `!GetAtt <resource>.<attr>` give, for the resources the
        # gateway's reader does not model (it writes `local-<LogicalId>` for a !Ref).
        self.refs: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}

    def of_type(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (lid, r.get("Properties") or {})
            for lid, r in self.resources.items()
            if isinstance(r, dict) and r.get("Type") == kind
        ]

    def read(self) -> None:
        account = self.account
        acct = account.account_id
        for lid, props in self.of_type("AWS::IAM::Role"):
            name = str(self.finish(props.get("RoleName")) or f"{self.stack}-{lid}")
            arn = f"arn:aws:iam::{acct}:role/{name}"
            self.refs[lid] = name
            self.attributes[(lid, "Arn")] = arn
            self.attributes[(lid, "RoleId")] = "AROA" + _b32(f"role/{name}")
        for lid, props in self.of_type("AWS::IAM::User"):
            name = str(self.finish(props.get("UserName")) or f"{self.stack}-{lid}")
            self.refs[lid] = name
            self.attributes[(lid, "Arn")] = f"arn:aws:iam::{acct}:user/{name}"
        for lid, props in self.of_type("AWS::IAM::OIDCProvider"):
            url = str(self.finish(props.get("Url")) or "")
            self.refs[lid] = f"arn:aws:iam::{acct}:oidc-provider/{issuer_key(url)}"
            self.attributes[(lid, "Arn")] = self.refs[lid]
        for lid, _props in self.of_type("AWS::Cognito::IdentityPool"):
            pool_id = f"{account.region}:{uuid.uuid5(_NAMESPACE, lid)}"
            self.refs[lid] = pool_id
            self.attributes[(lid, "Name")] = lid
        for lid, _props in self.of_type("AWS::Cognito::UserPool"):
            # The local gateway passes the pool's id (and the origin of its issuer) as
            # template parameters: `local_parameters()` in emulators/gateway.
            pool = self.parameters.get(lid, lid)
            origin = self.parameters.get(
                "CognitoIdpOrigin", f"https://cognito-idp.{REGION}.amazonaws.com"
            )
            self.refs[lid] = pool
            self.attributes[(lid, "ProviderName")] = issuer_key(f"{origin}/{pool}")
            self.attributes[(lid, "ProviderURL")] = f"{origin}/{pool}"
            self.attributes[(lid, "Arn")] = f"arn:aws:cognito-idp:{REGION}:{acct}:userpool/{pool}"

        for lid, props in self.of_type("AWS::IAM::Role"):
            props = self.finish(props)
            arn = self.attributes[(lid, "Arn")]
            account.roles[arn] = Role(
                lid,
                self.refs[lid],
                arn,
                self.attributes[(lid, "RoleId")],
                _policies(props.get("Policies"), lid),
                props.get("AssumeRolePolicyDocument") or {},
                int(props.get("MaxSessionDuration", 3600)),
            )
        users: dict[str, User] = {}
        for lid, props in self.of_type("AWS::IAM::User"):
            props = self.finish(props)
            users[self.refs[lid]] = account.users[lid] = User(
                lid,
                self.refs[lid],
                self.attributes[(lid, "Arn")],
                "AIDA" + _b32(f"user/{self.refs[lid]}"),
                _policies(props.get("Policies"), lid),
            )
        for lid, props in self.of_type("AWS::IAM::AccessKey"):
            props = self.finish(props)
            user = users.get(str(props.get("UserName")))
            if user is None:
                raise TemplateError(f"{lid}: UserName must be !Ref of an AWS::IAM::User")
            if str(props.get("Status", "Active")) != "Active":
                continue
            label = f"key/{user.name}/{lid}/{props.get('Serial', 0)}"
            secret = base64.b64encode(
                hashlib.sha512(f"authorizer-lab/{ACCOUNT}/secret/{label}".encode()).digest()
            ).decode()[:40]
            account.credentials.add(
                Credential(
                    "AKIA" + _b32(label),
                    secret,
                    Principal(user.arn, user.user_id, account.account_id, user.policies),
                )
            )
        oidc: dict[str, TrustedProvider] = {}
        for lid, props in self.of_type("AWS::IAM::OIDCProvider"):
            props = self.finish(props)
            url = str(props.get("Url") or "")
            oidc[self.refs[lid]] = TrustedProvider(
                issuer_key(url),
                "oidc",
                url,
                tuple(str(c) for c in props.get("ClientIdList") or ()),
            )
        for lid, props in self.of_type("AWS::Cognito::IdentityPool"):
            props = self.finish(props)
            pool = IdentityPool(
                lid,
                self.refs[lid],
                str(props.get("IdentityPoolName") or lid),
                _bool(props.get("AllowUnauthenticatedIdentities", False)),
                _bool(props.get("AllowClassicFlow", False)),
            )
            for entry in props.get("CognitoIdentityProviders") or ():
                key = str(entry.get("ProviderName"))
                issuer = self._user_pool_issuer(key)
                known = pool.providers.get(key)
                clients = (known.client_ids if known else ()) + (str(entry.get("ClientId")),)
                pool.providers[key] = TrustedProvider(
                    key, "userpool", issuer, clients, issuer + "/.well-known/jwks.json"
                )
            for arn in props.get("OpenIdConnectProviderARNs") or ():
                if str(arn) not in oidc:
                    raise TemplateError(f"{lid}: {arn} is not an AWS::IAM::OIDCProvider")
                provider = oidc[str(arn)]
                pool.providers[provider.key] = provider
            account.pools[pool.pool_id] = pool
        for lid, props in self.of_type("AWS::Cognito::IdentityPoolRoleAttachment"):
            props = self.finish(props)
            pool = account.pools.get(str(props.get("IdentityPoolId")))
            if pool is None:
                raise TemplateError(f"{lid}: IdentityPoolId must be !Ref of an identity pool")
            pool.roles = {str(k): str(v) for k, v in (props.get("Roles") or {}).items()}
            for name, mapping in (props.get("RoleMappings") or {}).items():
                pool.role_mappings[str(mapping.get("IdentityProvider") or name)] = _mapping(
                    mapping, f"{lid}.RoleMappings.{name}"
                )
            for arn in pool.roles.values():
                if arn not in account.roles:
                    raise TemplateError(
                        f"{lid}: role {arn} is not an AWS::IAM::Role of the template"
                    )

    def _user_pool_issuer(self, key: str) -> str:
        """The issuer URL of a user pool named by its provider name (scheme restored)."""
        for (_lid, attribute), value in self.attributes.items():
            if attribute == "ProviderName" and value == key:
                return self.attributes[(_lid, "ProviderURL")]
        return f"https://{key}"  # a real pool outside the template

    def finish(self, value: Any) -> Any:
        """Resolve with the gateway's resolver, then complete what it leaves for these
        resources: `local-<LogicalId>` refs, GetAtt, Join, Select and Split."""
        return self._complete(self.resolve(value))

    def _complete(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("local-"):
            return self.refs.get(value.removeprefix("local-"), value)
        if isinstance(value, list):
            return [self._complete(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, arg),) = value.items()
            if name == "GetAtt":
                found = self.attributes.get((arg[0], arg[-1]))
                if found is None:
                    raise TemplateError(f"!GetAtt {'.'.join(arg)}: not known to the local account")
                return found
            if name == "Fn::Join":
                separator, items = self._complete(arg)
                return str(separator).join(str(i) for i in items)
            if name == "Fn::Split":
                separator, text = self._complete(arg)
                return str(text).split(str(separator))
            if name == "Fn::Select":
                index, items = self._complete(arg)
                return items[int(index)]
        return {k: self._complete(v) for k, v in value.items()}


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _policies(value: Any, where: str) -> tuple[tuple[str, dict[str, Any]], ...]:
    policies = []
    for policy in value or ():
        if not isinstance(policy, dict) or not isinstance(policy.get("PolicyDocument"), dict):
            raise TemplateError(f"{where}: each of Policies needs PolicyName and PolicyDocument")
        policies.append((str(policy.get("PolicyName")), policy["PolicyDocument"]))
    return tuple(policies)


def _mapping(value: dict[str, Any], where: str) -> RoleMapping:
    kind = str(value.get("Type"))
    if kind not in ("Token", "Rules"):
        raise TemplateError(f"{where}: Type must be Token or Rules, not {kind!r}")
    ambiguous = str(value.get("AmbiguousRoleResolution") or "AuthenticatedRole")
    rules = tuple(
        MappingRule(str(r["Claim"]), str(r["MatchType"]), str(r["Value"]), str(r["RoleARN"]))
        for r in ((value.get("RulesConfiguration") or {}).get("Rules") or ())
    )
    if kind == "Rules" and not rules:
        raise TemplateError(f"{where}: a Rules mapping needs RulesConfiguration.Rules")
    return RoleMapping(str(value.get("IdentityProvider")), kind, ambiguous, rules)
