"""`GET /public`: anyone may call it."""

from __future__ import annotations

from typing import Any

from .proxy import json_response


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Greet whoever calls."""
    return json_response(200, {"message": "Welcome to our Public API!"})
