"""The tenant: the APIs, roles, applications and demo users the local IdP serves, read from JSON."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import ParamSpec
from typing import TypeVar

DEFAULT_TENANT_FILE = Path(__file__).with_name("tenant.json")


P = ParamSpec("P")
R = TypeVar("R")


class TenantError(ValueError):
    """The tenant file is missing a field or contradicts itself."""


@dataclass(frozen=True)
class Api:
    """An API (resource server): its identifier is the `audience` clients ask for."""

    identifier: str
    name: str
    token_lifetime: int
    allow_offline_access: bool
    permissions: dict[str, str]


@dataclass(frozen=True)
class Application:
    """A client application registered with the tenant."""

    client_id: str
    client_secret: str
    name: str
    app_type: str
    grant_types: tuple[str, ...]
    callbacks: tuple[str, ...] = ()
    allowed_logout_urls: tuple[str, ...] = ()
    client_grants: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoUser:
    """A user seeded into the user store on first start."""

    user_id: str
    email: str
    password: str
    name: str
    nickname: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Tenant:
    """Everything the IdP knows about its tenant, validated."""

    name: str
    id_token_lifetime: int
    authorization_code_lifetime: int
    refresh_token_lifetime: int
    show_demo_logins: bool
    apis: dict[str, Api]
    roles: dict[str, dict[str, tuple[str, ...]]]
    applications: dict[str, Application]
    users: tuple[DemoUser, ...]

    @property
    def max_token_lifetime(self) -> int:
        """Return the longest lifetime of any token this tenant signs."""
        return max([self.id_token_lifetime, *(api.token_lifetime for api in self.apis.values())])

    def permissions_for(self, roles: list[str] | tuple[str, ...], audience: str) -> list[str]:
        """Return the permissions the given roles grant on one API, in a stable order."""
        granted: list[str] = []
        for role in roles:
            for permission in self.roles.get(role, {}).get(audience, ()):
                if permission not in granted:
                    granted.append(permission)
        return granted


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise TenantError(f"{where}: missing field {key!r}")
    return data[key]


def wrong_types_as(error: type[ValueError]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a file parser raise `error` for a value of the wrong type too (a string where a
    list or an object belongs), not an AttributeError or TypeError from deep inside."""

    def decorate(parse: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(parse)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return parse(*args, **kwargs)
            except (AttributeError, TypeError, ValueError) as exc:
                if isinstance(exc, error):
                    raise
                raise error(
                    f"a value has the wrong type ({exc}); compare with the shipped file"
                ) from exc

        return checked

    return decorate


@wrong_types_as(TenantError)
def parse_tenant(data: dict[str, Any]) -> Tenant:
    """Build a Tenant from its JSON form, refusing contradictions (unknown roles, APIs)."""
    apis = {}
    for raw in _require(data, "apis", "tenant"):
        api = Api(
            identifier=_require(raw, "identifier", "api"),
            name=raw.get("name", raw["identifier"]),
            token_lifetime=int(raw.get("token_lifetime", 86400)),
            allow_offline_access=bool(raw.get("allow_offline_access", False)),
            permissions=dict(raw.get("permissions", {})),
        )
        apis[api.identifier] = api

    roles: dict[str, dict[str, tuple[str, ...]]] = {}
    for role_name, raw in _require(data, "roles", "tenant").items():
        per_api = {}
        for audience, permissions in raw.get("permissions", {}).items():
            if audience not in apis:
                raise TenantError(f"role {role_name!r}: unknown API {audience!r}")
            unknown = set(permissions) - set(apis[audience].permissions)
            if unknown:
                raise TenantError(f"role {role_name!r}: unknown permissions {sorted(unknown)}")
            per_api[audience] = tuple(permissions)
        roles[role_name] = per_api

    applications = {}
    for raw in _require(data, "applications", "tenant"):
        where = f"application {raw.get('client_id')!r}"
        grants = {}
        for audience, scopes in raw.get("client_grants", {}).items():
            if audience not in apis:
                raise TenantError(f"{where}: client grant for unknown API {audience!r}")
            grants[audience] = tuple(scopes)
        app = Application(
            client_id=_require(raw, "client_id", where),
            client_secret=_require(raw, "client_secret", where),
            name=raw.get("name", raw["client_id"]),
            app_type=raw.get("app_type", "regular_web"),
            grant_types=tuple(_require(raw, "grant_types", where)),
            callbacks=tuple(raw.get("callbacks", ())),
            allowed_logout_urls=tuple(raw.get("allowed_logout_urls", ())),
            client_grants=grants,
        )
        applications[app.client_id] = app

    users = []
    for raw in data.get("users", ()):
        where = f"user {raw.get('email')!r}"
        unknown_roles = set(raw.get("roles", ())) - set(roles)
        if unknown_roles:
            raise TenantError(f"{where}: unknown roles {sorted(unknown_roles)}")
        users.append(
            DemoUser(
                user_id=_require(raw, "user_id", where),
                email=_require(raw, "email", where),
                password=_require(raw, "password", where),
                name=raw.get("name", raw["email"]),
                nickname=raw.get("nickname", raw["email"].split("@")[0]),
                roles=tuple(raw.get("roles", ())),
            )
        )

    return Tenant(
        name=data.get("name", "local"),
        id_token_lifetime=int(data.get("id_token_lifetime", 36000)),
        authorization_code_lifetime=int(data.get("authorization_code_lifetime", 60)),
        refresh_token_lifetime=int(data.get("refresh_token_lifetime", 2592000)),
        show_demo_logins=bool(data.get("show_demo_logins", False)),
        apis=apis,
        roles=roles,
        applications=applications,
        users=tuple(users),
    )


def load_tenant_data(path: Path | str | None = None) -> dict[str, Any]:
    """Read the tenant file as JSON (the versioned default when no path is given)."""
    with open(path or DEFAULT_TENANT_FILE, encoding="utf-8") as fh:
        return json.load(fh)
