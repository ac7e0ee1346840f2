"""Route selection: which route of an API a request reaches, as API Gateway chooses it.

Follows https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html
("Routing API requests": a full match first, then path variables, then a greedy
`{proxy+}`, then `$default`) and, for REST APIs, the resource tree of
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-settings-method-request.html
(a literal resource beats a `{param}` sibling, which beats a greedy `{proxy+}`; a method
beats `ANY` on the same resource). Both come down to one order: compare routes segment by
segment, literal before variable before greedy, then a named method before `ANY`.

- Path variables match one non-empty segment (`/items/` does not match `/items/{id}`, as
  https://github.com/aws/chalice/pull/588 found of API Gateway); a greedy variable one or
  more segments. Values are decoded once, as UTF-8 (`%2541` is `%41`, `%C3%A9` is `é`).
- A trailing slash is ignored (`/public/` reaches `GET /public`), as API Gateway routes it
  (observed by aws-powertools-lambda-python#1577; the emulator applies it to both API types).
- No route: REST answers 403 Missing Authentication Token, HTTP 404 Not Found
  (`responses.py`).

The method ARN (REST) or route ARN (HTTP) of a request holds its real path
(`.../GET/items/123`), which is what an authorizer's policy is checked against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .template import Api
from .template import Route

_VARIABLE = re.compile(r"\{([A-Za-z0-9._-]+)(\+?)\}")
LITERAL, VARIABLE, GREEDY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The route a request reached, its path parameters and its method or route ARN."""

    route: Route
    path_parameters: dict[str, str] | None
    arn: str


def _segments_rank(path: str) -> tuple[int, ...]:
    """Each segment's kind (literal, variable, greedy) in order: smaller is more specific."""
    ranks = []
    for segment in path.strip("/").split("/"):
        match = _VARIABLE.fullmatch(segment)
        ranks.append(LITERAL if match is None else GREEDY if match.group(2) else VARIABLE)
    return tuple(ranks)


def _pattern(path: str) -> tuple[re.Pattern[str], dict[str, str]]:
    """Compile a route path with variables into a regex with one named group each; return it
    with the template's variable name of each group (group names allow no `.` or `-`)."""
    parts = []
    names: dict[str, str] = {}
    position = 0
    for match in _VARIABLE.finditer(path):
        parts.append(re.escape(path[position : match.start()]))
        name, greedy = match.group(1), match.group(2)
        group = re.sub(r"\W", "_", name)
        names[group] = name
        parts.append(f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)")
        position = match.end()
    parts.append(re.escape(path[position:]))
    return re.compile("".join(parts) + r"\Z"), names


class RouteTable:
    """The routes of one API, ready to match requests in AWS's order of precedence."""

    def __init__(self, api: Api) -> None:
        self.api = api
        # Literal routes answer with one dict lookup: the usual case stays cheap.
        self._exact: dict[tuple[str, str], RouteMatch] = {}
        self._patterned: list[tuple[re.Pattern[str], str, Route, dict[str, str]]] = []
        self._default: Route | None = None
        ordered: list[tuple[tuple[int, ...], int, Route]] = []
        for route in api.routes:
            if route.path == "$default":
                self._default = route
                continue
            ordered.append((_segments_rank(route.path), route.method == "ANY", route))
        ordered.sort(key=lambda item: (item[0], item[1]))
        for ranks, _, route in ordered:
            if all(rank == LITERAL for rank in ranks):
                key = (route.method, route.path.rstrip("/") or "/")
                self._exact.setdefault(key, RouteMatch(route, None, route.arn))
            else:
                pattern, names = _pattern(route.path)
                self._patterned.append((pattern, route.method, route, names))

    def match(self, method: str, path: str) -> RouteMatch | None:
        """Return the route a request reaches, or None (no route: 403 on REST, 404 on HTTP)."""
        exact = self._exact.get((method, path))
        if exact is not None:
            return exact
        trimmed = path.rstrip("/") or "/"
        exact = self._exact.get((method, trimmed))
        if exact is not None:
            return exact
        exact = self._exact.get(("ANY", trimmed))
        if exact is not None:  # the ARN names the method the client used, not ANY
            return RouteMatch(exact.route, None, self._arn(method, trimmed))
        # Patterned routes come in AWS's order, so the first that matches wins; a literal
        # route of the same path never reaches here.
        for pattern, route_method, route, names in self._patterned:
            if route_method != method and route_method != "ANY":
                continue
            found = pattern.match(trimmed)
            if found is None:
                continue
            # The server decoded the path once already, as AWS does: no second decoding.
            parameters = {names[g]: v for g, v in found.groupdict().items()}
            return RouteMatch(route, parameters, self._arn(method, trimmed))
        if self._default is not None:
            return RouteMatch(self._default, None, self._arn(method, trimmed))
        return None

    def _arn(self, method: str, path: str) -> str:
        return f"{self.api.arn_prefix()}/{method}{path}"
