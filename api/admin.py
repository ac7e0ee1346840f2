"""`GET /admin`: for admins only.

Behind the Lambda and JWT authorizers the authorizer checks `read:admin` (only the admin role
grants it). A Cognito user pool authorizer has no group check (it checks only the token and
the method's scopes), so behind it this function checks the `admins` group itself, from the
`cognito:groups` claim API Gateway passes in `requestContext.authorizer.claims`.
"""

from __future__ import annotations

from typing import Any

from .proxy import caller
from .proxy import cognito_groups
from .proxy import json_response

ADMIN_GROUP = "admins"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer an admin; refuse a Cognito caller outside the admins group."""
    groups = cognito_groups(event)
    if groups is not None and ADMIN_GROUP not in groups:
        return json_response(
            403,
            {
                "message": f"Only members of the Cognito group '{ADMIN_GROUP}' see this.",
                "groups": groups,
            },
        )
    return json_response(
        200, {"message": "Welcome to the admin area: only admins see this", "caller": caller(event)}
    )
