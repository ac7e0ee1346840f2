"""`GET /admin`: needs `read:admin`, which only the admin role grants."""

from __future__ import annotations

from typing import Any

from .proxy import caller
from .proxy import json_response


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer an admin."""
    return json_response(
        200, {"message": "Welcome to the admin area: only admins see this", "caller": caller(event)}
    )
