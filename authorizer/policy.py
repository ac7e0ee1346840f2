"""Routes, method ARNs and the IAM policies the authorizer returns.

The policy lists every route of the API the caller may call (Allow) and every route it may
not (Deny), so API Gateway's result cache can be on: a policy naming only the first method
ARN would be cached and then refuse the same token on every other route (the classic
"first call works, the next gets 403").
See https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_PARAM = re.compile(r"\{[^/{}]+\}")


@dataclass(frozen=True)
class Route:
    """One route of the API and the permission it needs (None: any valid token)."""

    method: str
    path: str
    permission: str | None

    def matches(self, method: str, path: str) -> bool:
        """Tell whether a request's method and resource path fall on this route."""
        if self.method != "ANY" and self.method != method:
            return False
        if "{" not in self.path:
            return self.path == path
        pattern = (
            "^"
            + _PARAM.sub("[^/]+", re.escape(self.path).replace(r"\{", "{").replace(r"\}", "}"))
            + "$"
        )
        return re.match(pattern, path) is not None

    @property
    def arn_method(self) -> str:
        return "*" if self.method == "ANY" else self.method

    @property
    def arn_path(self) -> str:
        return _PARAM.sub("*", self.path)


class RouteTable:
    """The API's routes, from `{"GET /admin": "read:admin", "GET /private": ""}`."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)
        self._exact = {
            (r.method, r.path): r
            for r in reversed(self.routes)
            if "{" not in r.path and r.method != "ANY"
        }

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> RouteTable:
        """Parse the ROUTE_PERMISSIONS mapping; raise ValueError on a malformed entry."""
        if not isinstance(mapping, Mapping) or not mapping:
            raise ValueError('expected a non-empty JSON object of "METHOD /path": permission')
        routes = []
        for key, permission in mapping.items():
            method, _, path = str(key).partition(" ")
            method = method.upper()
            if method not in HTTP_METHODS or not path.startswith("/"):
                raise ValueError(f'route {key!r} is not "METHOD /path"')
            if permission is not None and not isinstance(permission, str):
                raise ValueError(f"the permission of {key!r} must be a string")
            routes.append(Route(method, path, permission or None))
        return cls(routes)

    def match(self, method: str, path: str) -> Route | None:
        """Return the route a request falls on, or None."""
        route = self._exact.get((method, path))
        if route is not None:
            return route
        for route in self.routes:
            if route.matches(method, path):
                return route
        return None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.routes)


@dataclass(frozen=True)
class MethodArn:
    """A parsed method ARN (REST) or route ARN (HTTP API)."""

    prefix: str
    method: str
    path: str
    route: str = ""  # "GET /notes", as people write it; filled in by parse()

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        """Parse `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{VERB}/{path}`."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api":
            raise ValueError(f"not an execute-api ARN: {arn!r}")
        api_stage_rest = parts[5].split("/", 3)
        if len(api_stage_rest) < 3 or not all(api_stage_rest[:3]):
            raise ValueError(f"ARN lacks api id, stage or method: {arn!r}")
        api_id, stage, method = api_stage_rest[:3]
        path = "/" + (api_stage_rest[3] if len(api_stage_rest) == 4 else "")
        prefix = ":".join(parts[:5]) + f":{api_id}/{stage}"
        method = method.upper()
        return cls(prefix, method, path, f"{method} {path}")

    def resource(self, route: Route) -> str:
        """Return the policy resource ARN of one route of this API and stage."""
        return f"{self.prefix}/{route.arn_method}{route.arn_path}"


def granted_routes(
    routes: RouteTable,
    granted: frozenset[str],
) -> tuple[tuple[Route, ...], tuple[Route, ...]]:
    """Split the routes into those the granted permissions allow and those they do not."""
    allowed = tuple(r for r in routes if r.permission is None or r.permission in granted)
    denied = tuple(r for r in routes if not (r.permission is None or r.permission in granted))
    return allowed, denied


def build_policy(
    principal_id: str,
    arn: MethodArn,
    allowed: Iterable[Route],
    denied: Iterable[Route],
    extra_deny: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return an authorizer response whose policy covers every route of the API."""
    statements = []
    allow_resources = [arn.resource(r) for r in allowed]
    deny_resources = [arn.resource(r) for r in denied]
    if extra_deny:
        deny_resources.append(extra_deny)
    if allow_resources:
        statements.append(
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": allow_resources}
        )
    if deny_resources:
        statements.append(
            {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": deny_resources}
        )
    response: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
    }
    if context:
        response["context"] = dict(context)
    return response
