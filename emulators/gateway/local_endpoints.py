"""The emulator's own endpoints beside the APIs (no AWS counterpart except the cache flush).

- `GET /`: the catalogue of the APIs served (id, type, stage, base URL, authorizers, routes).
- `GET /_lab/traces`: the newest requests; `GET /_lab/traces/{request id}`: one trace
  (`traces.py` documents its shape).
- `DELETE /restapis/{id}/stages/{stage}/cache/authorizers` (REST, `FlushStageAuthorizersCache`)
  and `DELETE /v2/apis/{id}/stages/{stage}/cache/authorizers` (HTTP, `ResetAuthorizersCache`:
  https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-stages-stagename-cache-authorizers.html).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING
from typing import Any

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .template import REGION
from .traces import TRACE_LIMIT

if TYPE_CHECKING:
    from .app import Gateway

_FLUSH = re.compile(r"/(v2/apis|restapis)/([^/]+)/stages/([^/]+)/cache/authorizers")
_ALLOW_GET = ("Allow", "GET, HEAD")
_ALLOW_DELETE = ("Allow", "DELETE")


def json_response(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for name, value in headers or []:
        response.headers.add(name, value)
    return response


class LocalEndpoints:
    """Answers the requests that are not for an API's stage."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/":
            if request.method not in ("GET", "HEAD"):
                return json_response(
                    405, {"message": "The catalogue is read with GET"}, [_ALLOW_GET]
                )
            return json_response(200, self.catalogue())
        if path.startswith("/_aws/"):
            return self.gateway.aws.dispatch(request)
        if path == "/_lab/traces" or path.startswith("/_lab/traces/"):
            if request.method not in ("GET", "HEAD"):
                return json_response(405, {"message": "Traces are read with GET"}, [_ALLOW_GET])
            return self._traces(path)
        match = _FLUSH.fullmatch(path)
        if match:
            return self._flush(request.method, match.group(1), match.group(2), match.group(3))
        return json_response(
            404,
            {"message": "Not Found", "hint": f"no API at this path; see {self.gateway.base_url}/"},
        )

    def _traces(self, path: str) -> Response:
        if path == "/_lab/traces":
            recent = self.gateway.traces.recent()
            return json_response(200, {"traces": [_listing(t) for t in recent]})
        trace_id = path.removeprefix("/_lab/traces/")
        trace = self.gateway.traces.get(trace_id)
        if trace is None:
            return json_response(
                404,
                {"message": f"No trace {trace_id!r}; the emulator keeps the last {TRACE_LIMIT}"},
            )
        return json_response(200, trace)

    def _flush(self, method: str, family: str, api_id: str, stage: str) -> Response:
        """FlushStageAuthorizersCache (REST: 202) or ResetAuthorizersCache (HTTP: 204), with
        AWS's NotFoundException for an API of the other family or an unknown stage."""
        rest = family == "restapis"
        not_found = [("x-amzn-ErrorType", "NotFoundException")] if rest else []
        if method != "DELETE":
            return json_response(405, {"message": "Use DELETE to flush the cache"}, [_ALLOW_DELETE])
        stages = self.gateway.stages_of(api_id)
        if not stages or next(iter(stages.values())).kind != ("REST" if rest else "HTTP"):
            return json_response(404, {"message": "Invalid API identifier specified"}, not_found)
        api = stages.get(stage)
        if api is None:
            return json_response(404, {"message": "Invalid stage identifier specified"}, not_found)
        flushed = self.gateway.authorization.cache.flush(api.api_id)
        # AWS answers with no body; how many entries went is the emulator's own header.
        response = Response(status=202 if rest else 204)
        response.headers["x-lab-flushed"] = str(flushed)
        return response

    def catalogue(self) -> dict[str, Any]:
        """Describe every API: id, type, stage, base URL, routes and their authorization."""
        gateway = self.gateway
        apis = []
        for api in gateway.model.apis:
            apis.append(
                {
                    "id": api.api_id,
                    "name": api.logical_id,
                    "title": api.name,
                    "type": api.kind,
                    "stage": api.stage,
                    "base_url": f"{gateway.base_url}/{api.api_id}{api.stage_path}",
                    "stage_variables": dict(api.stage_variables),
                    "authorizers": [
                        self._describe_authorizer(api, name) for name in api.authorizers
                    ],
                    "routes": [
                        {
                            "method": r.method,
                            "path": r.path,
                            "function": r.function.logical_id,
                            "auth": r.authorizer.name if r.authorizer else "NONE",
                            "scopes": list(r.scopes),
                        }
                        for r in api.routes
                    ],
                }
            )
        return {
            "region": REGION,
            "apis": apis,
            "traces": f"{gateway.base_url}/_lab/traces/{{request id}}",
            "identity_pool": gateway.aws.describe(),
            # Key ids only: `python -m emulators.aws list-credentials` prints the secrets.
            "iam_users": [
                {"user": user.name, "arn": user.arn, "access_key_id": key.access_key_id}
                for user, key in gateway.account.service_keys()
            ],
        }

    def _describe_authorizer(self, api: Any, name: str) -> dict[str, Any]:
        config = api.authorizers[name]
        described = dict(self.gateway.authorization.describe(api, name).trace_fields)
        if config.function:
            described["function"] = config.function.logical_id
            described["handler"] = config.function.handler
            # The lab's Lambda authorizer trusts the issuer its environment names (the
            # Cognito profile reads COGNITO_-prefixed names): listed so a client can tell
            # which tokens each API can accept at all.
            environment = config.function.environment
            token_issuer = environment.get("TOKEN_ISSUER") or environment.get(
                "COGNITO_TOKEN_ISSUER"
            )
            if token_issuer:
                described["issuer"] = token_issuer
        if config.validation_expression:
            described["validation_expression"] = config.validation_expression
        if config.kind == "JWT":
            described.update(issuer=config.issuer, audience=list(config.audience))
        if config.kind == "COGNITO_USER_POOLS":
            described["user_pool_issuers"] = list(config.user_pool_issuers)
        return described


def _listing(trace: Any) -> dict[str, Any]:
    return {
        "id": trace["id"],
        "time": trace["time"],
        "api": trace["api"]["name"],
        "request": f"{trace['request']['method']} {trace['request']['path']}",
        "status": trace["status"],
    }
