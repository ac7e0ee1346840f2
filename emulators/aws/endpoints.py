"""The local AWS account's HTTP endpoints, served by the gateway process under `/_aws/`.

- `POST /_aws/cognito-identity/`: Cognito Identity in the JSON 1.1 protocol
  (`Content-Type: application/x-amz-json-1.1`, `X-Amz-Target:
  AWSCognitoIdentityService.<Operation>`; errors HTTP 400 `{"__type", "message"}`), as
  botocore's `cognito-identity` service model describes it. `GetId`,
  `GetCredentialsForIdentity` and `GetOpenIdToken` are public (unsigned) operations.
- `GET /_aws/cognito-identity/.well-known/jwks_uri` (and `openid-configuration`): the keys
  of the identity pool's OpenID tokens.
- `POST /_aws/sts/`: STS in the query protocol (form `Action=AssumeRoleWithWebIdentity`,
  XML answers), https://docs.aws.amazon.com/STS/latest/APIReference/.

So boto3 works unchanged with `endpoint_url=<gateway>/_aws/cognito-identity` or
`<gateway>/_aws/sts`. Tokens and credentials are never logged.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .account import LocalAccount
from .errors import AwsError
from .identity_pool import IdentityPoolService
from .sts import SecurityTokenService
from .sts import render
from .sts import render_error

PREFIX = "/_aws"
IDENTITY_PATH = "/_aws/cognito-identity"
STS_PATH = "/_aws/sts"
JSON_11 = "application/x-amz-json-1.1"
TARGET_PREFIX = "AWSCognitoIdentityService."
MAX_BODY = 64 * 1024


class AwsEndpoints:
    """Routes `/_aws/...` requests to the identity pool service and STS."""

    def __init__(self, account: LocalAccount, base_url: str) -> None:
        self.account = account
        self.identity_url = base_url.rstrip("/") + IDENTITY_PATH
        self.sts_url = base_url.rstrip("/") + STS_PATH
        self.pools = IdentityPoolService(account, self.identity_url)
        self.sts = SecurityTokenService(self.pools)
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "GetId": self.pools.get_id,
            "GetCredentialsForIdentity": self.pools.get_credentials_for_identity,
            "GetOpenIdToken": self.pools.get_open_id_token,
        }

    def dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == IDENTITY_PATH + "/.well-known/jwks_uri":
            return _json(200, self.pools.key.jwks(), "application/json")
        if path == IDENTITY_PATH + "/.well-known/openid-configuration":
            return _json(
                200,
                {
                    "issuer": self.identity_url,
                    "jwks_uri": self.identity_url + "/.well-known/jwks_uri",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "subject_types_supported": ["public"],
                    "response_types_supported": ["id_token"],
                },
                "application/json",
            )
        if path == IDENTITY_PATH:
            return self._identity(request)
        if path == STS_PATH:
            return self._sts(request)
        return _json(
            404,
            {"message": "Not Found", "hint": f"{IDENTITY_PATH}/ or {STS_PATH}/"},
            "application/json",
        )

    def _identity(self, request: Request) -> Response:
        if request.method != "POST":
            return _error(AwsError("UnknownOperationException", "Use POST with X-Amz-Target."), 405)
        target = request.headers.get("X-Amz-Target", "")
        operation = (
            self._operations.get(target.removeprefix(TARGET_PREFIX))
            if target.startswith(TARGET_PREFIX)
            else None
        )
        if operation is None:
            return _error(
                AwsError(
                    "UnknownOperationException",
                    f"Unknown operation {target[:80]!r}; this endpoint serves GetId, "
                    "GetCredentialsForIdentity and GetOpenIdToken.",
                )
            )
        if (request.content_length or 0) > MAX_BODY:
            return _error(AwsError("SerializationException", "The request body is too large."))
        data = request.stream.read(MAX_BODY + 1)  # a chunked body has no length to check
        if len(data) > MAX_BODY:
            return _error(AwsError("SerializationException", "The request body is too large."))
        try:
            body = json.loads(data or b"{}")
        except (ValueError, RecursionError):  # nesting deeper than the parser goes is bad JSON
            return _error(AwsError("SerializationException", "The request body is not JSON."))
        if not isinstance(body, dict):
            return _error(
                AwsError("SerializationException", "The request body must be a JSON object.")
            )
        try:
            return _json(200, operation(body), JSON_11)
        except AwsError as error:
            return _error(error)

    def _sts(self, request: Request) -> Response:
        if request.method != "POST":
            return _xml(405, render_error(AwsError("InvalidAction", "STS is called with POST.")))
        form = {k: v for k, v in request.form.items()}
        action = form.get("Action", "")
        if action != "AssumeRoleWithWebIdentity":
            error = AwsError(
                "InvalidAction",
                f"Could not find operation {action[:60]} for version {form.get('Version', '')[:20]}"
                " (the local STS serves AssumeRoleWithWebIdentity).",
            )
            return _xml(400, render_error(error))
        try:
            return _xml(200, render(self.sts.assume_role_with_web_identity(form)))
        except AwsError as error:
            return _xml(error.status, render_error(error))

    def describe(self) -> dict[str, Any]:
        """The catalogue's `identity_pool` entry: endpoints, pools, their Logins keys, roles."""
        pools = []
        for pool in self.account.pools.values():
            pools.append(
                {
                    "id": pool.pool_id,
                    "name": pool.name,
                    "logins": {
                        p.key: {
                            "kind": p.kind,
                            "issuer": p.issuer,
                            "client_ids": list(p.client_ids),
                        }
                        for p in pool.providers.values()
                    },
                    "roles": dict(pool.roles),
                    "role_mappings": {
                        key: {
                            "type": m.kind,
                            "ambiguous_role_resolution": m.ambiguous,
                            "rules": [
                                {
                                    "claim": r.claim,
                                    "match_type": r.match_type,
                                    "value": r.value,
                                    "role_arn": r.role_arn,
                                }
                                for r in m.rules
                            ],
                        }
                        for key, m in pool.role_mappings.items()
                    },
                    "allow_unauthenticated": pool.allow_unauthenticated,
                    "allow_classic_flow": pool.allow_classic_flow,
                }
            )
        return {
            "endpoint_url": self.identity_url,
            "sts_endpoint_url": self.sts_url,
            "region": self.account.region,
            "account_id": self.account.account_id,
            "credentials_lifetime": self.account.lifetime,
            "pools": pools,
        }


def _json(status: int, body: Any, mimetype: str) -> Response:
    response = Response(json.dumps(body), status=status, mimetype=mimetype)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


def _error(error: AwsError, status: int | None = None) -> Response:
    response = _json(
        status or error.status, {"__type": error.code, "message": error.message}, JSON_11
    )
    response.headers["x-amzn-ErrorType"] = error.code
    return response


def _xml(status: int, document: str) -> Response:
    response = Response(document, status=status, mimetype="text/xml")
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response
