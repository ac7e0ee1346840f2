"""STS `AssumeRoleWithWebIdentity` for the identity pool's basic flow, in STS's query protocol.

https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html:
form parameters `RoleArn`, `RoleSessionName`, `WebIdentityToken`, `DurationSeconds`
(900 s up to the role's `MaxSessionDuration`); the answer is an
`AssumeRoleWithWebIdentityResponse` XML document, errors an `ErrorResponse`
(`InvalidIdentityToken`, `ExpiredTokenException`, `AccessDenied`, `ValidationError`).

The token accepted is the identity pool's OpenID token (`GetOpenIdToken`), signed by the
account's own key, and the role's trust policy must let `cognito-identity.amazonaws.com`
in with the token's `aud` and `amr`, as AWS checks. Tokens of other OIDC providers straight
to STS (without the identity pool) are left out: they get `InvalidIdentityToken`.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import jwt

from .account import issuer_key
from .credentials import CognitoIdentity
from .errors import AwsError
from .identity_pool import FEDERATED
from .identity_pool import IdentityPoolService
from .roles import trusts

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
COULD_NOT_VALIDATE = (
    "The web identity token that was passed could not be validated by AWS. Get a new "
    "identity token from the identity provider and then retry the request."
)


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", f"1 validation error detected: {message}")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SecurityTokenService:
    """`AssumeRoleWithWebIdentity` against the account the identity pool service serves."""

    def __init__(self, pools: IdentityPoolService) -> None:
        self.pools = pools
        self.account = pools.account

    def assume_role_with_web_identity(self, form: dict[str, str]) -> dict[str, Any]:
        role_arn = form.get("RoleArn") or ""
        session = form.get("RoleSessionName") or ""
        token = form.get("WebIdentityToken") or ""
        if len(role_arn) < 20:
            raise _validation(
                "Value at 'roleArn' failed to satisfy constraint: Member must have length "
                "greater than or equal to 20"
            )
        if not _SESSION_NAME.fullmatch(session):
            raise _validation(
                f"Value '{session[:64]}' at 'roleSessionName' failed to satisfy constraint: "
                r"Member must satisfy regular expression pattern: [\w+=,.@-]*"
            )
        if len(token) < 4:
            raise _validation(
                "Value at 'webIdentityToken' failed to satisfy constraint: Member must have "
                "length greater than or equal to 4"
            )
        if "Policy" in form or "PolicyArns.member.1" in form:
            raise AwsError(
                "ValidationError", "Session policies are not supported by the local STS."
            )
        role = self.account.role(role_arn)
        duration = self._duration(
            form.get("DurationSeconds"), role.max_session_duration if role else 3600
        )
        claims = self._claims(token)
        amr = [str(a) for a in claims.get("amr") or []]
        context = {
            f"{FEDERATED}:aud": [str(claims["aud"])],
            f"{FEDERATED}:sub": [str(claims["sub"])],
            f"{FEDERATED}:amr": amr,
        }
        if role is None or not trusts(role, FEDERATED, context):
            raise AwsError(
                "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403
            )
        authenticated = "authenticated" in amr
        cognito = CognitoIdentity(
            str(claims["sub"]),
            str(claims["aud"]),
            "authenticated" if authenticated else "unauthenticated",
            ",".join(amr[1:]) if authenticated and len(amr) > 1 else None,
            tuple(amr),
        )
        principal = self.pools.session_principal(role.arn, session, cognito)
        credential = self.account.credentials.issue(principal, duration)
        return {
            "SubjectFromWebIdentityToken": str(claims["sub"]),
            "Audience": str(claims["aud"]),
            "Provider": issuer_key(self.pools.issuer),
            "AssumedRoleUser": {"Arn": principal.arn, "AssumedRoleId": principal.caller_id},
            "Credentials": {
                "AccessKeyId": credential.access_key_id,
                "SecretAccessKey": credential.secret_access_key,
                "SessionToken": credential.session_token,
                "Expiration": _iso(credential.expiration or 0),
            },
        }

    def _duration(self, raw: str | None, maximum: int) -> float:
        if raw is None or raw == "":
            return min(self.account.lifetime, maximum)
        try:
            value = int(raw)
        except ValueError:
            raise _validation(
                f"Value '{raw[:20]}' at 'durationSeconds' failed to satisfy constraint: "
                "Member must be a number"
            ) from None
        if not 900 <= value <= 43200:
            raise _validation(
                f"Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member "
                "must have value between 900 and 43200"
            )
        if value > maximum:
            raise AwsError(
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            )
        return value

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AwsError("InvalidIdentityToken", COULD_NOT_VALIDATE) from None
        issuer = unverified.get("iss")
        if issuer != self.pools.issuer:
            raise AwsError(
                "InvalidIdentityToken",
                f"No OpenIDConnect provider found in your account for {str(issuer)[:200]}",
            )
        try:
            return self.pools.key.verify(token, self.pools.issuer)
        except jwt.ExpiredSignatureError:
            exp = unverified.get("exp")
            raise AwsError(
                "ExpiredTokenException",
                f"Token expired: current date/time {_iso(time.time())} must be before the "
                f"expiration date/time {_iso(exp) if isinstance(exp, int | float) else exp}",
            ) from None
        except jwt.PyJWTError:
            raise AwsError("InvalidIdentityToken", COULD_NOT_VALIDATE) from None


def render(result: dict[str, Any]) -> str:
    """The `AssumeRoleWithWebIdentityResponse` document boto3's sts client parses."""
    user = result["AssumedRoleUser"]
    creds = result["Credentials"]
    return (
        f'<AssumeRoleWithWebIdentityResponse xmlns="{NAMESPACE}">'
        "<AssumeRoleWithWebIdentityResult>"
        f"<SubjectFromWebIdentityToken>{escape(result['SubjectFromWebIdentityToken'])}</SubjectFromWebIdentityToken>"
        f"<Audience>{escape(result['Audience'])}</Audience>"
        "<AssumedRoleUser>"
        f"<Arn>{escape(user['Arn'])}</Arn><AssumedRoleId>{escape(user['AssumedRoleId'])}</AssumedRoleId>"
        "</AssumedRoleUser>"
        "<Credentials>"
        f"<SessionToken>{escape(creds['SessionToken'])}</SessionToken>"
        f"<SecretAccessKey>{escape(creds['SecretAccessKey'])}</SecretAccessKey>"
        f"<Expiration>{creds['Expiration']}</Expiration>"
        f"<AccessKeyId>{creds['AccessKeyId']}</AccessKeyId>"
        "</Credentials>"
        f"<Provider>{escape(result['Provider'])}</Provider>"
        "</AssumeRoleWithWebIdentityResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</AssumeRoleWithWebIdentityResponse>"
    )


def render_error(error: AwsError) -> str:
    kind = "Receiver" if error.status >= 500 else "Sender"
    return (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
