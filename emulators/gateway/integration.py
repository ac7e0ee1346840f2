"""The integration stage: the route's Lambda function, called with a proxy event.

The event is REST's payload 1.0 or an HTTP API's payload 1.0/2.0 (`events.py`), carrying
the authorizer's grant at `requestContext.authorizer`; the function's result becomes the
response (`responses.map_proxy_response`). A function that fails, times out or answers
something that is not a proxy response is REST's 502 `{"message": "Internal server error"}`
or HTTP's 500 `{"message": "Internal Server Error"}`.

Pages: https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html.
"""

from __future__ import annotations

from . import events
from .exchange import Answer
from .exchange import Exchange
from .exchange import Grant
from .exchange import Refusal
from .lambdas import LambdaRuntime
from .responses import map_proxy_response
from .responses import request_id_header
from .traces import TraceIntegration


class Integration:
    """Calls routes' functions through the emulated Lambda runtime."""

    def __init__(self, runtime: LambdaRuntime) -> None:
        self.runtime = runtime

    def call(self, exchange: Exchange, grant: Grant) -> Answer | Refusal:
        """Invoke the route's function; return its mapped response or the gateway's refusal."""
        api, route, request = exchange.api, exchange.route, exchange.request
        assert route is not None
        if api.kind == "REST":
            event = events.rest_proxy_event(api, route, request, grant.context, grant.identity)
        else:
            event = events.http_proxy_event(api, route, request, grant.context, grant.identity)
        invocation = self.runtime.invoke(route.function, event)
        block: TraceIntegration = {
            "function": route.function.logical_id,
            "cold_start": invocation.cold_start,
            "duration_ms": round(invocation.duration_ms, 3),
        }
        exchange.trace["integration"] = block
        status = 502 if api.kind == "REST" else 500
        if invocation.failed:
            block["error"] = {
                "type": invocation.error_type or "",
                "message": invocation.error_message,
            }
            return Refusal(
                "INTEGRATION_FAILURE",
                f"The function failed ({invocation.error_type}); API Gateway answers {status}.",
            )
        mapped = map_proxy_response(invocation.result, api, request.header("Accept"))
        if mapped is None:
            block["error"] = {
                "type": "MalformedProxyResponse",
                "message": "the function's response is not a proxy response",
            }
            return Refusal(
                "INTEGRATION_FAILURE",
                f"The function returned a malformed proxy response; API Gateway answers {status}.",
            )
        code, headers, body = mapped
        block["status"] = code
        headers.append(request_id_header(api, exchange.request_id))
        return Answer(code, body, headers)
