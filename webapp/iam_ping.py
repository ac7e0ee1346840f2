"""The Ping page's IAM calls: sign with the chosen credentials, call, explain, and show what was
signed beside what API Gateway computed.

The page logic of IAM lives here so `ping.py` only dispatches to it; the credentials, the
signing and the snippets are `iam.py`'s. Follows
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask import g

from . import api_client
from . import iam
from .auth import session_provider
from .explain import Explanation
from .explain import explain

# "Unsigned" is one more choice of the IAM fieldset: it sends nothing, like "No token".
UNSIGNED = "iam-unsigned"
CHOICES = {**iam.CREDENTIAL_KINDS, UNSIGNED: "Unsigned (no signature)"}


def available(logged_in: bool, now: float | None = None) -> set[str]:
    """The credential choices this page can offer now."""
    kinds = {UNSIGNED}
    if logged_in and _pool_here():
        kinds |= {"iam-mine", "iam-stale", "iam-tampered"}
        if iam.expired_credentials(now) is not None:
            kinds.add("iam-expired")
    if iam.service_key() is not None:
        kinds.add("iam-service")
    return kinds


def why_unavailable(logged_in: bool) -> dict[str, str]:
    """Why each choice `available` leaves out is not offered, in words for the page."""
    pool = _pool_here()
    user = (
        "log in first: these are exchanged for your ID token"
        if not logged_in
        else "no identity pool is configured (IAM_IDENTITY_POOL_ID)"
        if not pool
        else ""
    )
    reasons = {kind: user for kind in ("iam-mine", "iam-stale", "iam-tampered") if user}
    reasons["iam-expired"] = user or (
        "offered once your identity-pool credentials have expired: they last an hour (start "
        "the gateway with --credentials-lifetime 60 to see it sooner), then call once more"
    )
    reasons["iam-service"] = (
        "the service client's key is not configured (IAM_SERVICE_ACCESS_KEY_ID and "
        "IAM_SERVICE_SECRET_ACCESS_KEY)"
    )
    return reasons


def _pool_here() -> bool:
    try:
        return iam.identity_pool() is not None
    except (KeyError, TypeError, ValueError):
        return False


@dataclass
class IamCall:
    """One IAM call, as the page shows it."""

    result: api_client.CallResult
    explanation: Explanation
    view: dict[str, Any]


def call(target: api_client.Target, action: api_client.Action, kind: str, text: str) -> IamCall:
    """Sign (or not) and call one route; explain the answer.

    :raise iam.IamError: the credentials could not be had (nothing was called).
    """
    region = iam.region_of(target.base_url, current_app.config.get("IAM_REGION") or "us-east-1")
    catalogue = current_app.extensions["api_directory"].catalogue()
    if catalogue and catalogue.get("region"):
        region = str(catalogue["region"])
    signer = None
    if kind != UNSIGNED:
        signer = iam.IamSigner(kind, region)
        signer.prepare()
    result = api_client.call(
        target, action, None, kind, text, current_app.config["HTTP_TIMEOUT"], signer=signer
    )
    explanation = explain(result, None, current_app.config["AUTH0_AUDIENCE"])
    if g.get("iam_exchanged"):
        explanation.hops.insert(1, "identity-pool")
    # The body api_client sent (the note), for the snippet to send the same.
    body = json.dumps({"text": text or ""}) if action.sends_body else None
    view = page_view(kind, region, body, result, explanation, signer)
    return IamCall(result, explanation, view)


def page_view(
    kind: str,
    region: str,
    body: str | None,
    result: api_client.CallResult,
    explanation: Explanation,
    signer: iam.IamSigner | None,
) -> dict[str, Any]:
    """What the page shows of an IAM call beyond the usual result."""
    signed = signer.signed if signer is not None else None
    pool = _pool_for_snippet() if kind in iam.USER_CREDENTIAL_KINDS else None
    return iam_view(
        kind,
        CHOICES.get(kind, kind),
        signed,
        explanation,
        result.method,
        result.url,
        body,
        region,
        pool,
    )


def iam_view(
    kind: str,
    label: str,
    signed: Any,
    explanation: Explanation,
    method: str,
    url: str,
    body: str | None,
    region: str,
    pool: Any,
) -> dict[str, Any]:
    """The IAM part of a call's view (the Ping page's result, a Compare cell): what was
    signed, the gateway's facts, both canonical requests when they differ, the snippets."""
    facts = explanation.iam or {}
    computed = facts.get("canonical_request")
    return {
        "kind": kind,
        "label": label,
        "signed": signed.view() if signed is not None else None,
        "comparison": (
            iam.compare_canonical(signed.canonical_request, computed)
            if signed is not None and computed
            else None
        ),
        "facts": facts,
        "curl_temporary": kind != "iam-service",
        "botocore": (
            iam.botocore_snippet(method, url, body, region, pool) if signed is not None else None
        ),
    }


def _pool_for_snippet() -> dict[str, str] | None:
    pool = iam.identity_pool()
    if pool is None or session_provider() not in pool.logins:
        return None
    return {
        "pool_id": pool.pool_id,
        "region": pool.region,
        "login_key": pool.logins[session_provider()],
        "endpoint_url": pool.endpoint_url or "",
    }
