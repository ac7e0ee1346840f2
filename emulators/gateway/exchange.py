"""The one object that travels through the gateway's pipeline, and a stage's refusal.

A request enters as an `Exchange` (the API, the parsed request, its trace); each stage of
`app.Gateway.handle` either fills in what it found (the route, the authorizer's grant) or
returns a `Refusal`: the gateway response AWS would send instead of calling the next stage.
The names of refusals are API Gateway's gateway response types
(https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html);
`responses.py` turns them into each API type's status, body and headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from .events import IncomingRequest
    from .template import Api
    from .template import Route
    from .traces import Trace


@dataclass(slots=True)
class Exchange:
    """One request on its way through the pipeline: what each stage reads and adds to."""

    api: Api
    request: IncomingRequest
    trace: Trace
    route: Route | None = None

    @property
    def request_id(self) -> str:
        return self.request.request_id


@dataclass(frozen=True, slots=True)
class Refusal:
    """A stage's answer when the request goes no further.

    `response` is the gateway response type ("UNAUTHORIZED", "ACCESS_DENIED",
    "MISSING_AUTHENTICATION_TOKEN", ...), `summary` one sentence for the trace on why, and
    `headers` any extra headers AWS adds (the JWT authorizer's `www-authenticate`).
    `message` replaces the default body's text and `error_type` the `x-amzn-ErrorType` when
    AWS words one refusal per request (IAM: the signature it expected, the caller's ARN).
    """

    response: str
    summary: str
    headers: tuple[tuple[str, str], ...] = ()
    message: str | None = None
    error_type: str | None = None


@dataclass(slots=True)  # not frozen: a frozen init costs 3x, on every authorized request
class Grant:
    """The authorization stage's answer when the request may go on: what the integration
    receives as `requestContext.authorizer` (None when the route has no authorizer), and
    for IAM routes the caller's `requestContext.identity` fields (REST, HTTP payload 1.0)."""

    context: dict[str, Any] | None
    identity: dict[str, Any] | None = None


@dataclass(slots=True)
class Answer:
    """What the gateway sends back: status, body and headers (Content-Length added last)."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]
