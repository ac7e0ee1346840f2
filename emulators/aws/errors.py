"""The error the local AWS services answer with: AWS's code, message and HTTP status.

Cognito Identity answers HTTP 400 with `{"__type": <code>, "message": <text>}` (JSON 1.1
protocol, https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/CommonErrors.html);
STS answers an `ErrorResponse` XML document (query protocol,
https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html). Each endpoint renders
the same `AwsError` in its own protocol.
"""

from __future__ import annotations


class AwsError(Exception):
    """An AWS service error: `code` (the `__type` or `<Code>`), `message` and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def not_authorized(message: str) -> AwsError:
    return AwsError("NotAuthorizedException", message)


def invalid_parameter(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)
