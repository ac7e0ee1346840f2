"""API Gateway's `AWS_IAM` authorization: who signed the request, and may they invoke the route.

In API Gateway's order for a method or route whose authorization type is `AWS_IAM`:
1. The signature (`sigv4.py`): none at all is REST's 403 `Missing Authentication Token`
   (HTTP: 403 `Forbidden`); a malformed one `IncompleteSignatureException`; a wrong scope,
   an out-of-window date or a wrong signature `InvalidSignatureException`.
2. The credential (`emulators.aws.credentials.CredentialStore`): an access key AWS does not
   know, a missing or wrong session token for temporary credentials, or a session token sent
   with a long-term key, is `UnrecognizedClientException` ("The security token included in
   the request is invalid."); expired temporary credentials are `ExpiredTokenException`.
3. The policies: the principal's identity policies are evaluated for `execute-api:Invoke`
   on the request's ARN (real verb, real path, stage included; `policy.statements_match`,
   shared with the Lambda authorizer's policies), with conditions and policy variables;
   an explicit Deny wins; no Allow is `AccessDeniedException` naming the caller's ARN
   (HTTP: `Forbidden`).

Pages: https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html,
`api-gateway-control-access-using-iam-policies-to-invoke-api.html`,
`http-api-access-control-iam.html`, `apigateway-authorization-flow.html` and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html.
Texts AWS is only seen to send (not documented) are marked unverified in the README's IAM
outcome table. A resource policy is not evaluated (HTTP APIs have none; REST ones are left
out: the lab's callers are of the API's own account, where an identity policy suffices).
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from emulators.aws.credentials import Credential
from emulators.aws.credentials import CredentialStore
from emulators.aws.credentials import Principal

from . import events
from . import sigv4
from .events import IncomingRequest
from .policy import INVOKE
from .policy import statements_match
from .template import REGION
from .traces import TraceIam
from .traces import redact_credential

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"


@dataclass
class IamOutcome:
    """The IAM check's answer: allowed with the caller's identity, or a refusal."""

    reason: str
    detail: str
    block: TraceIam = field(default_factory=dict)  # type: ignore[assignment]
    response: str | None = None  # the gateway response type when refused
    message: str | None = None  # AWS's text, when it words the refusal per request
    error_type: str | None = None  # x-amzn-ErrorType, when not the response type's default
    principal: Principal | None = None
    access_key_id: str = ""

    @property
    def allowed(self) -> bool:
        return self.response is None


def request_context(principal: Principal, request: IncomingRequest) -> dict[str, Any]:
    """The condition keys and policy variables of a request (lower-case keys)."""
    user = (
        principal.arn.split(":user/", 1)[1].rsplit("/", 1)[-1]
        if ":user/" in principal.arn
        else None
    )
    context: dict[str, Any] = {
        "aws:sourceip": request.source_ip,
        "aws:userid": principal.caller_id,
        "aws:principalarn": principal.role_arn or principal.arn,
        "aws:principalaccount": principal.account_id,
        "aws:principaltype": "User" if user else "AssumedRole",
        "aws:securetransport": "false",  # the emulator serves plain HTTP
        "aws:currenttime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "aws:epochtime": str(int(time.time())),
    }
    if user is not None:
        context["aws:username"] = user
    cognito = principal.cognito
    if cognito is not None:
        context["cognito-identity.amazonaws.com:sub"] = cognito.identity_id
        context["cognito-identity.amazonaws.com:aud"] = cognito.identity_pool_id
        context["cognito-identity.amazonaws.com:amr"] = list(cognito.amr)
    return context


def _describe_principal(principal: Principal) -> dict[str, Any]:
    described: dict[str, Any] = {
        "arn": principal.arn,
        "type": "user" if ":user/" in principal.arn else "assumed-role",
        "caller_id": principal.caller_id,
        "account_id": principal.account_id,
        "policies": [name for name, _ in principal.policies],
    }
    if principal.role_arn:
        described["role_arn"] = principal.role_arn
    if principal.cognito is not None:
        described["cognito_identity_id"] = principal.cognito.identity_id
    return described


class IamChecker:
    """Checks requests to `AWS_IAM` routes against the local account's credentials."""

    def __init__(self, credentials: CredentialStore, rest: bool, region: str = REGION) -> None:
        self.credentials = credentials
        self.rest = rest
        self.region = region

    def check(self, request: IncomingRequest, now: float | None = None) -> IamOutcome:
        headers = {name.lower(): value for name, value in request.headers}
        authorization = request.header("Authorization")
        query = sigv4.decoded_query(request.raw_query)
        try:
            signed = sigv4.parse(
                authorization,
                headers,
                query,
                redact_credential(authorization) or "",
            )
        except sigv4.SignatureProblem as problem:
            return self._bad_signature(problem, {})
        if signed is None:
            return IamOutcome(
                reason="sigv4_missing",
                detail="the request is not signed: no Authorization header and no "
                "X-Amz-Algorithm query parameter",
                response="MISSING_AUTHENTICATION_TOKEN" if self.rest else "ACCESS_DENIED",
            )
        block: TraceIam = {"signature": sigv4.describe(signed)}  # type: ignore[typeddict-item]
        try:
            sigv4.check_claims(signed, self.region, now)
        except sigv4.SignatureProblem as problem:
            return self._bad_signature(problem, block)
        credential = self.credentials.lookup(signed.access_key_id)
        refused = self._credential_problem(credential, signed, block)
        if refused is not None:
            return refused
        assert credential is not None
        block["principal"] = _describe_principal(credential.principal)  # type: ignore[typeddict-item]
        if credential.expired(now):
            expired_at = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(credential.expiration or 0)
            )
            return IamOutcome(
                reason="credentials_expired",
                detail=f"the temporary credentials expired at {expired_at}",
                block=block,
                response="EXPIRED_TOKEN",
                message=EXPIRED_TOKEN,
            )
        # The path as the client sent it, then any other spelling it may have had (a server
        # without the raw path); a mismatch echoes what the first spelling computed.
        results = (
            sigv4.expected(
                signed,
                credential.secret_access_key,
                method=request.method,
                raw_path=spelling,
                query=query,
                headers=request.headers,
                body=request.body,
            )
            for spelling in (request.raw_path, *request.raw_path_alternatives)
        )
        first = next(results)
        result = first if first.matches else next((r for r in results if r.matches), first)
        if not result.matches:
            # What AWS echoes, with the session token hidden (it is a credential).
            shown = sigv4.Expected(
                sigv4.redact_token_in(result.canonical_request, signed.session_token),
                result.string_to_sign,
                False,
            )
            block["canonical_request"] = shown.canonical_request
            block["string_to_sign"] = shown.string_to_sign
            return IamOutcome(
                reason="signature_mismatch",
                detail="the signature does not match what the gateway computed for this "
                "request (a different secret, or the request changed after signing)",
                block=block,
                response="INVALID_SIGNATURE",
                message=sigv4.mismatch_message(shown),
                error_type="InvalidSignatureException",
            )
        return self._policies(request, credential, block)

    def _credential_problem(
        self, credential: Credential | None, signed: sigv4.SignedRequest, block: TraceIam
    ) -> IamOutcome | None:
        """AWS's answer when the access key or the session token is not right: all alike."""

        def refuse(reason: str, detail: str) -> IamOutcome:
            return IamOutcome(
                reason=reason,
                detail=detail,
                block=block,
                response="INVALID_SIGNATURE",
                message=INVALID_TOKEN,
                error_type="UnrecognizedClientException",
            )

        if credential is None:
            return refuse(
                reason="unknown_access_key",
                detail="no credential has the access key id "
                f"{sigv4.masked_key_id(signed.access_key_id)}",
            )
        if credential.session_token is None:
            if signed.session_token:
                return refuse(
                    reason="unexpected_session_token",
                    detail="a session token came with a long-term access key, which has none",
                )
            return None
        if not signed.session_token:
            return refuse(
                reason="session_token_missing",
                detail="these are temporary credentials: the request must carry their "
                "session token in X-Amz-Security-Token",
            )
        if not hmac.compare_digest(
            credential.session_token.encode(), signed.session_token.encode()
        ):
            return refuse(
                reason="session_token_invalid",
                detail="the X-Amz-Security-Token is not the session token of these credentials",
            )
        return None

    def _bad_signature(self, problem: sigv4.SignatureProblem, block: TraceIam) -> IamOutcome:
        return IamOutcome(
            reason=problem.reason,
            detail=problem.message.strip(),
            block=block,
            response="INVALID_SIGNATURE",
            message=problem.message,
            error_type=problem.error_type,
        )

    def _policies(
        self, request: IncomingRequest, credential: Credential, block: TraceIam
    ) -> IamOutcome:
        principal = credential.principal
        arn = request.arn
        context = request_context(principal, request)
        allowed: tuple[str, str | None] | None = None
        for name, document in principal.policies:
            statements = document.get("Statement") if isinstance(document, dict) else None
            result = statements_match(statements, INVOKE, arn, context)
            if result.effect == "Deny":
                block["statement"] = {"policy": name, "effect": "Deny", "resource": result.resource}
                return IamOutcome(
                    reason="iam_explicit_deny",
                    detail=f"the policy {name} explicitly denies {INVOKE} on {arn}",
                    block=block,
                    response="ACCESS_DENIED",
                    message=(
                        f"User: {principal.arn} is not authorized to perform: {INVOKE} on "
                        f"resource: {arn} with an explicit deny"
                    )
                    if self.rest
                    else None,
                    principal=principal,
                )
            if result.effect == "Allow" and allowed is None:
                allowed = (name, result.resource)
        if allowed is None:
            block["statement"] = None
            return IamOutcome(
                reason="iam_not_allowed",
                detail=f"no statement of {principal.arn}'s policies allows {INVOKE} on {arn}",
                block=block,
                response="ACCESS_DENIED",
                message=(
                    f"User: {principal.arn} is not authorized to perform: {INVOKE} on "
                    f"resource: {arn}"
                )
                if self.rest
                else None,
                principal=principal,
            )
        block["statement"] = {"policy": allowed[0], "effect": "Allow", "resource": allowed[1]}
        return IamOutcome(
            reason="iam_allowed",
            detail=f"the policy {allowed[0]} allows {INVOKE} on {arn}",
            block=block,
            principal=principal,
            access_key_id=credential.access_key_id,
        )


def grant_fields(outcome: IamOutcome, rest: bool) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """What an allowed IAM caller gives the integration: `requestContext.authorizer` (HTTP
    APIs: `{"iam": ...}`; REST: none) and the `requestContext.identity` fields."""
    assert outcome.principal is not None
    identity = events.iam_identity(outcome.principal, outcome.access_key_id)
    if rest:
        return None, identity
    return events.iam_authorizer_context(outcome.principal, outcome.access_key_id), identity
