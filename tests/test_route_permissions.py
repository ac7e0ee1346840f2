"""Every permission a route of `template.yaml` needs can be had: the local tenant declares it,
a role or client is granted it, and the web app asks for it at login.

The template is the one place a route is declared. A route guarded by the Lambda authorizers
needs an entry in the `RoutePermissions` parameter; the JWT API states the same permission as
the route's `AuthorizationScopes`. This test reads both through the gateway emulator's own
template reader and says, for anything missing, what to add where.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from authorizer.policy import RouteTable
from emulators.gateway import local_parameters
from emulators.gateway.template import Model
from emulators.gateway.template import load_model
from emulators.idp.tenant import load_tenant_data
from webapp.config import DEFAULT_SCOPE

TENANT_FILE = "emulators/idp/tenant.json"


def route_problems(model: Model, tenant: dict[str, Any], default_scope: str) -> list[str]:
    """Return, one sentence each, what is missing for the template's routes to be callable."""
    problems: list[str] = []
    needed: dict[str, str] = {}  # permission -> the first route that needs it
    lambda_needs: dict[str, str] = {}  # route key -> its RoutePermissions entry
    jwt_scopes: dict[str, tuple[str, ...]] = {}  # route key -> its AuthorizationScopes
    tables: dict[str, RouteTable] = {}
    unlisted: dict[str, list[str]] = {}  # route key -> the Lambda-guarded APIs that serve it
    for api in model.apis:
        for route in api.routes:
            authorizer = route.authorizer
            if authorizer is None:
                continue
            if authorizer.kind == "COGNITO_USER_POOLS" or (
                authorizer.kind == "JWT" and authorizer.issuer != model.parameters["TokenIssuer"]
            ):
                continue  # scopes of the user pool (tests/test_cognito_idp.py checks them)
            if authorizer.kind == "AWS_IAM":
                continue  # IAM policies decide, not token permissions (tests/gateway/test_iam.py)
            if authorizer.function is None:  # the built-in JWT authorizer
                jwt_scopes[route.key] = route.scopes
                for scope in route.scopes:
                    needed.setdefault(scope, f"{route.key} on {api.logical_id}")
                continue
            function = authorizer.function
            raw = function.environment.get("ROUTE_PERMISSIONS")
            if raw is None:
                continue  # an authorizer of its own (tests' variants): not ours to check
            table = tables.setdefault(function.logical_id, RouteTable.from_mapping(json.loads(raw)))
            entry = table.match(route.method, route.path)
            if entry is None:
                unlisted.setdefault(route.key, []).append(api.logical_id)
                continue
            lambda_needs[route.key] = entry.permission or ""
            if entry.permission:
                needed.setdefault(entry.permission, f"{route.key} on {api.logical_id}")

    for key, apis in unlisted.items():
        problems.append(
            f"{key} on {', '.join(apis)} is guarded by the Lambda authorizer, but the "
            f"RoutePermissions parameter of template.yaml has no entry for it, so the "
            f'authorizer denies it to everyone: add "{key}": "<permission>" to its Default '
            f'("" lets any valid token through).'
        )
    for key, permission in lambda_needs.items():
        if key in jwt_scopes and tuple(jwt_scopes[key]) != ((permission,) if permission else ()):
            want = f'Auth: {{AuthorizationScopes: ["{permission}"]}}' if permission else "no scopes"
            problems.append(
                f"{key} needs {permission or 'any valid token'} in RoutePermissions but "
                f"{list(jwt_scopes[key])} as AuthorizationScopes on the JWT API: give its "
                f"HttpApi event {want}, so every authorizer style asks the same."
            )

    audience = model.parameters["Audience"]
    api = next((a for a in tenant["apis"] if a["identifier"] == audience), None)
    if api is None:
        return [*problems, f'{TENANT_FILE} has no API with identifier "{audience}".']
    granted = {
        permission
        for holder in [*tenant.get("roles", {}).values(), *tenant.get("applications", [])]
        for permission in (
            holder.get("permissions", {}).get(audience, [])
            + holder.get("client_grants", {}).get(audience, [])
        )
    }
    asked = set(default_scope.split())
    for permission, route in sorted(needed.items()):
        if permission not in api["permissions"]:
            problems.append(
                f'{route} needs "{permission}", which the API "{audience}" in {TENANT_FILE} '
                f'does not declare: add "{permission}": "<what it allows>" to its '
                f'"permissions" (and to the API\'s permissions in a real Auth0 tenant).'
            )
        if permission not in granted:
            problems.append(
                f'{route} needs "{permission}", but no role or client in {TENANT_FILE} is '
                f"granted it: add it to a role's \"permissions\" or an M2M client's "
                f'"client_grants", or nobody can call the route.'
            )
        if permission not in asked:
            problems.append(
                f'{route} needs "{permission}", but the web app does not ask for it at login: '
                f"add it to DEFAULT_SCOPE in webapp/config.py (the JWT authorizer reads only "
                f"the token's `scope`)."
            )
    return problems


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(local_parameters())


def with_route(model: Model, path: str, scope: str) -> Model:
    """Return the model with `GET {path}` added to every API, as a new HttpApi/Api event would."""
    apis = []
    for api in model.apis:
        template_route = next(r for r in api.routes if r.path == "/admin")
        extra = dataclasses.replace(
            template_route,
            path=path,
            arn=template_route.arn.replace("/admin", path),
            scopes=(scope,) if template_route.scopes else (),
        )
        apis.append(dataclasses.replace(api, routes=[*api.routes, extra]))
    return dataclasses.replace(model, apis=apis)


def test_every_permission_the_routes_need_is_declared_granted_and_asked_for(
    model: Model,
) -> None:
    problems = route_problems(model, load_tenant_data(), DEFAULT_SCOPE)

    assert not problems, "\n".join(problems)


def test_a_route_added_without_its_permission_says_what_to_add_where(model: Model) -> None:
    # GIVEN a new route GET /reports; the JWT API asks for read:reports, nothing else knows it
    added = with_route(model, "/reports", "read:reports")

    problems = route_problems(added, load_tenant_data(), DEFAULT_SCOPE)

    text = "\n".join(problems)
    assert '"GET /reports": "<permission>"' in text  # the RoutePermissions entry
    assert 'add "read:reports": "<what it allows>"' in text and TENANT_FILE in text
    assert "add it to DEFAULT_SCOPE in webapp/config.py" in text


def test_a_permission_added_everywhere_passes(model: Model) -> None:
    # GIVEN the same route with its RoutePermissions entry (a deployer's override), the
    # permission in the tenant, granted to the admin role, and asked for at login
    permissions = json.loads(model.functions["AuthorizerFunction"].environment["ROUTE_PERMISSIONS"])
    overridden = load_model(
        {
            **local_parameters(),
            "RoutePermissions": json.dumps({**permissions, "GET /reports": "read:reports"}),
        }
    )
    tenant = load_tenant_data()
    tenant["apis"][0]["permissions"]["read:reports"] = "Read the reports"
    tenant["roles"]["admin"]["permissions"][tenant["apis"][0]["identifier"]].append("read:reports")

    problems = route_problems(
        with_route(overridden, "/reports", "read:reports"), tenant, DEFAULT_SCOPE + " read:reports"
    )

    assert problems == []


def test_jwt_scopes_that_disagree_with_route_permissions_are_named(model: Model) -> None:
    # GIVEN the JWT API's GET /reports asking read:reports, RoutePermissions asking read:admin
    permissions = json.loads(model.functions["AuthorizerFunction"].environment["ROUTE_PERMISSIONS"])
    overridden = load_model(
        {
            **local_parameters(),
            "RoutePermissions": json.dumps({**permissions, "GET /reports": "read:admin"}),
        }
    )

    problems = route_problems(
        with_route(overridden, "/reports", "read:reports"), load_tenant_data(), DEFAULT_SCOPE
    )

    assert any(
        p.startswith("GET /reports needs read:admin in RoutePermissions") for p in problems
    ), problems
