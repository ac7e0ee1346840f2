"""The lab's own IAM APIs (template.yaml's RestIamApi and HttpIamApi): notes kept per Cognito
identity, or per IAM user ARN, and /private naming the signer; requests signed by botocore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.aws.credentials import Credential
from emulators.aws.credentials import Principal
from emulators.aws.credentials import unique_id
from tests.gateway.conftest import ServedTemplate
from tests.gateway.conftest import serve_template
from tests.gateway.test_iam import ACCOUNT
from tests.gateway.test_iam import ISSUER
from tests.gateway.test_iam import call
from tests.gateway.test_iam import identity_principal
from tests.gateway.test_iam import keys

ROOT = Path(__file__).resolve().parents[2]
ANY_ROUTE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}],
}
NO_ADMIN = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*/*/*/notes"},
        {
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": "arn:aws:execute-api:*:*:*/*/GET/private",
        },
    ],
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedTemplate]:
    notes = tmp_path_factory.mktemp("iam-notes") / "notes.sqlite3"
    with serve_template(ISSUER, ROOT / "template.yaml", notes) as served:
        yield served


def issue(served: ServedTemplate, identity_id: str, policy: dict[str, object]) -> Credential:
    base = identity_principal(identity_id)
    principal = Principal(
        base.arn, base.caller_id, ACCOUNT, (("Authenticated", policy),), base.role_arn, base.cognito
    )
    return served.gateway.authorization.credentials.issue(principal, 3600)


@pytest.mark.parametrize("api", ["RestIamApi", "HttpIamApi"])
def test_notes_are_kept_per_identity_and_per_iam_user(served: ServedTemplate, api: str) -> None:
    alice_id = f"us-east-1:aaaaaaaa-0000-4000-8000-{api[:4].lower()}00000001"
    bob_id = f"us-east-1:bbbbbbbb-0000-4000-8000-{api[:4].lower()}00000002"
    alice = keys(issue(served, alice_id, NO_ADMIN))
    bob = keys(issue(served, bob_id, NO_ADMIN))
    user = Credential(
        unique_id("AKIA"),
        "s" * 40,
        Principal(
            f"arn:aws:iam::{ACCOUNT}:user/{api}-svc",
            unique_id("AIDA"),
            ACCOUNT,
            (("All", ANY_ROUTE),),
        ),
    )
    served.gateway.authorization.credentials.add(user)
    notes = served.base(api) + "/notes"
    body = b'{"text": "from alice"}'
    headers = {"Content-Type": "application/json"}

    created = call("POST", notes, alice, body=body, headers=headers)
    call("POST", notes, keys(user), body=b'{"text": "from the service"}', headers=headers)
    alices = call("GET", notes, alice).json()
    bobs = call("GET", notes, bob).json()
    users = call("GET", notes, keys(user)).json()

    assert created.status_code == 201, created.text
    assert alices["owner"] == alice_id
    assert [n["text"] for n in alices["notes"]] == ["from alice"]
    assert (bobs["owner"], bobs["notes"]) == (bob_id, [])
    assert users["owner"] == f"arn:aws:iam::{ACCOUNT}:user/{api}-svc"
    assert [n["text"] for n in users["notes"]] == ["from the service"]


@pytest.mark.parametrize("api", ["RestIamApi", "HttpIamApi"])
def test_private_names_the_signer_and_admin_needs_a_policy_that_allows_it(
    served: ServedTemplate, api: str
) -> None:
    identity_id = "us-east-1:cccccccc-0000-4000-8000-000000000003"
    alice = keys(issue(served, identity_id, NO_ADMIN))
    admin = keys(issue(served, identity_id, ANY_ROUTE))

    private = call("GET", served.base(api) + "/private", alice)
    refused = call("GET", served.base(api) + "/admin", alice)
    allowed = call("GET", served.base(api) + "/admin", admin)
    public = served.call(api, "GET", "/public")

    assert private.status_code == 200, private.text
    caller = private.json()["caller"]
    assert caller["sub"] == caller["identityId"] == identity_id
    assert caller["authorizer"] == "iam"
    assert caller["userArn"].endswith(
        ":assumed-role/LabAuthenticatedRole/CognitoIdentityCredentials"
    )
    assert refused.status_code == 403
    assert allowed.status_code == 200, allowed.text
    assert public.status_code == 200
