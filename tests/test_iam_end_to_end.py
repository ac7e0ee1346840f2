"""IAM end to end, as a developer runs it: a login's ID token exchanged at the local identity
pool with boto3, the credentials signing requests with botocore's SigV4 signer, and the
template's IAM APIs deciding by the role the pool chose; the service client's access key too.

The two halves are tested apart elsewhere (`test_identity_pool.py`, `gateway/test_iam.py`);
this checks they meet: the credentials the pool issues are the ones the gateway knows.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests import cognito_helpers
from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from tests.oauth_helpers import Authorization
from webapp.config import DEFAULT_SCOPE


@pytest.fixture(scope="module")
def catalogue(lab: Any) -> dict[str, Any]:
    return requests.get(lab.gateway_url + "/", timeout=5).json()


def api_url(catalogue: dict[str, Any], name: str) -> str:
    (api,) = [a for a in catalogue["apis"] if a["name"] == name]
    return api["base_url"].rstrip("/")


def pool_credentials(lab: Any, catalogue: dict[str, Any], provider: str, user: Any) -> Any:
    pool = catalogue["identity_pool"]
    host = lab.idp_url.removeprefix("http://")
    if provider == "auth0":
        key = host
        token = Authorization(lab).tokens(user, scope=DEFAULT_SCOPE)["id_token"]
    else:
        key = f"{host}/{cognito_helpers.POOL_ID}"
        token = cognito_helpers.user_tokens(lab.idp_url, user)["id_token"]
    client = boto3.client(
        "cognito-identity", region_name=pool["region"], endpoint_url=pool["endpoint_url"]
    )
    identity_id = client.get_id(IdentityPoolId=pool["pools"][0]["id"], Logins={key: token})[
        "IdentityId"
    ]
    answer = client.get_credentials_for_identity(IdentityId=identity_id, Logins={key: token})
    creds = answer["Credentials"]
    return identity_id, Credentials(creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"])


def signed(method: str, url: str, credentials: Any, body: bytes = b"") -> requests.Response:
    request = AWSRequest(method=method, url=url, data=body)
    if body:
        request.headers["Content-Type"] = "application/json"
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    return requests.request(method, url, headers=dict(request.headers), data=body, timeout=10)


@pytest.mark.parametrize("provider", ["auth0", "cognito"])
@pytest.mark.parametrize("api", ["RestIamApi", "HttpIamApi"])
def test_a_customers_pool_credentials_reach_private_and_not_admin(
    lab: Any, catalogue: dict[str, Any], provider: str, api: str
) -> None:
    identity_id, credentials = pool_credentials(lab, catalogue, provider, CUSTOMER)
    base = api_url(catalogue, api)

    private = signed("GET", f"{base}/private", credentials)
    admin = signed("GET", f"{base}/admin", credentials)

    assert private.status_code == 200, private.text
    assert identity_id in private.text  # the function knows the caller by identity id
    assert admin.status_code == 403
    if api == "RestIamApi":
        assert "is not authorized to perform: execute-api:Invoke" in admin.text
        assert "IdentityPoolAuthenticatedRole" in admin.text
    else:
        assert admin.json() == {"message": "Forbidden"}


@pytest.mark.parametrize("provider", ["auth0", "cognito"])
def test_an_admins_pool_credentials_reach_admin(
    lab: Any, catalogue: dict[str, Any], provider: str
) -> None:
    _, credentials = pool_credentials(lab, catalogue, provider, ADMIN)

    admin = signed("GET", f"{api_url(catalogue, 'RestIamApi')}/admin", credentials)

    assert admin.status_code == 200, admin.text


def test_notes_are_kept_per_identity_id(lab: Any, catalogue: dict[str, Any]) -> None:
    base = api_url(catalogue, "RestIamApi")
    _, customer = pool_credentials(lab, catalogue, "cognito", CUSTOMER)
    _, admin = pool_credentials(lab, catalogue, "cognito", ADMIN)
    text = b'{"text": "only mine, keyed by my identity id"}'

    written = signed("POST", f"{base}/notes", customer, text)
    mine = signed("GET", f"{base}/notes", customer)
    theirs = signed("GET", f"{base}/notes", admin)

    assert written.status_code == 201, written.text
    assert "only mine" in mine.text
    assert "only mine" not in theirs.text


def test_the_service_clients_access_key_signs_for_private(
    lab: Any, catalogue: dict[str, Any]
) -> None:
    (user,) = catalogue["iam_users"]
    key = lab.gateway.account.credentials.lookup(user["access_key_id"])
    credentials = Credentials(key.access_key_id, key.secret_access_key)

    answer = signed("GET", f"{api_url(catalogue, 'HttpIamApi')}/private", credentials)
    unsigned = requests.get(f"{api_url(catalogue, 'RestIamApi')}/private", timeout=5)

    assert answer.status_code == 200, answer.text
    assert user["arn"] in answer.text  # /private names the signer
    assert unsigned.status_code == 403
    assert unsigned.json() == {"message": "Missing Authentication Token"}
