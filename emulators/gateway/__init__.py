"""A local API Gateway that serves the APIs of `template.yaml` and runs the real authorizer.

`create_gateway()` builds it; `python -m emulators.gateway serve` runs it on
http://127.0.0.1:3002. Template parameters get local values: the local IdP as the issuer,
SQLite for the notes.
"""

from __future__ import annotations

from pathlib import Path

from emulators.aws.account import LocalAccount

from .app import Gateway
from .template import REGION
from .template import ROOT
from .template import TEMPLATE
from .template import load_model

DEFAULT_ISSUER = "http://127.0.0.1:3001/"
DEFAULT_BASE_URL = "http://127.0.0.1:3002"
LOCAL_USER_POOL_ID = "us-east-1_AuthzLab1"  # emulators/idp/cognito.json's user_pool_id


def local_parameters(issuer: str = DEFAULT_ISSUER) -> dict[str, str]:
    """Return local values for the template's parameters."""
    issuer = issuer.rstrip("/") + "/"
    return {
        "TokenIssuer": issuer,
        "JwksUri": issuer + ".well-known/jwks.json",
        "NotesBackend": "sqlite",
        # The local IdP serves the Cognito user pool: its issuers live under the IdP's origin,
        # and the template's LabUserPool is its pool (what !Ref LabUserPool gives on AWS).
        "CognitoIdpOrigin": issuer.rstrip("/"),
        "LabUserPool": LOCAL_USER_POOL_ID,
        # ... and its app clients are the local pool's (what !Ref gives on AWS: the client id).
        "CognitoWebAppClient": "labcognitowebapp0000000001",
        "CognitoNotesReaderClient": "labcognitoreader0000000001",
        "CognitoNotesWriterClient": "labcognitowriter0000000001",
    }


def create_gateway(
    issuer: str = DEFAULT_ISSUER,
    base_url: str = DEFAULT_BASE_URL,
    notes_db: Path | str | None = None,
    template: Path = TEMPLATE,
    parameters: dict[str, str] | None = None,
) -> Gateway:
    """Build the emulator for the template, trusting tokens from `issuer`."""
    model = load_model({**local_parameters(issuer), **(parameters or {})}, template)
    local_env = {
        "NOTES_DB": str(notes_db or ROOT / "instance" / "notes.sqlite3"),
        # Lambda sets the region in every function's environment; boto3 reads it.
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    account = LocalAccount.from_template(template, model.parameters)
    return Gateway(model, base_url, local_env, account)


__all__ = ["Gateway", "create_gateway", "local_parameters"]
