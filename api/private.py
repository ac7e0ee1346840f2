"""`GET /private`: any valid access token for the API; says who the caller is."""

from __future__ import annotations

from typing import Any

from .proxy import caller
from .proxy import json_response


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer a logged-in caller, naming them as the authorizer did."""
    return json_response(
        200, {"message": "Only logged in users can see this", "caller": caller(event)}
    )
