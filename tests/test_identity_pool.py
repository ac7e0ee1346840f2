"""The local AWS account through boto3's own clients: the identity pool's enhanced and basic
flows with real ID tokens of the local IdP (Auth0-compatible and Cognito), role choice,
AWS's errors, stable identity ids and expiring credentials."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
import requests
from botocore.exceptions import ClientError

from tests import cognito_helpers
from tests.conftest import ADMIN
from tests.conftest import CUSTOMER
from tests.gateway.conftest import serve_template
from tests.oauth_helpers import Authorization
from webapp.config import DEFAULT_SCOPE

ROOT = Path(__file__).resolve().parent.parent
AUTH_ROLE = "arn:aws:iam::123456789012:role/authorizer-lab-IdentityPoolAuthenticatedRole"
ADMIN_ROLE = "arn:aws:iam::123456789012:role/authorizer-lab-IdentityPoolAdminRole"


@pytest.fixture(scope="module")
def pool(lab: Any) -> dict[str, Any]:
    return requests.get(lab.gateway_url + "/", timeout=5).json()["identity_pool"]


@pytest.fixture(scope="module")
def identity(pool: dict[str, Any]) -> Any:
    return boto3.client(
        "cognito-identity", region_name=pool["region"], endpoint_url=pool["endpoint_url"]
    )


@pytest.fixture(scope="module")
def sts(pool: dict[str, Any]) -> Any:
    return boto3.client("sts", region_name=pool["region"], endpoint_url=pool["sts_endpoint_url"])


@pytest.fixture(scope="module")
def logins(lab: Any) -> dict[str, str]:
    host = lab.idp_url.removeprefix("http://")
    return {"auth0": host, "cognito": f"{host}/{cognito_helpers.POOL_ID}"}


@pytest.fixture(scope="module")
def id_tokens(lab: Any) -> dict[str, str]:
    return {
        "auth0-customer": Authorization(lab).tokens(scope=DEFAULT_SCOPE)["id_token"],
        "auth0-admin": Authorization(lab).tokens(ADMIN, scope=DEFAULT_SCOPE)["id_token"],
        "cognito-customer": cognito_helpers.user_tokens(lab.idp_url, CUSTOMER)["id_token"],
        "cognito-admin": cognito_helpers.user_tokens(lab.idp_url, ADMIN)["id_token"],
    }


def pool_id(pool: dict[str, Any]) -> str:
    return pool["pools"][0]["id"]


def enhanced(identity: Any, pool: dict[str, Any], key: str, token: str) -> dict[str, Any]:
    got = identity.get_id(IdentityPoolId=pool_id(pool), Logins={key: token})
    return identity.get_credentials_for_identity(IdentityId=got["IdentityId"], Logins={key: token})


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    return (
        error["Error"]["Code"],
        error["Error"]["Message"],
        error["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_the_catalogue_names_the_pool_its_logins_keys_and_the_service_key_id(
    lab: Any, pool: dict[str, Any], logins: dict[str, str]
) -> None:
    catalogue = requests.get(lab.gateway_url + "/", timeout=5).json()
    assert pool["endpoint_url"] == f"{lab.gateway_url}/_aws/cognito-identity"
    assert pool_id(pool).startswith("us-east-1:")
    assert set(pool["pools"][0]["logins"]) == set(logins.values())
    assert pool["pools"][0]["roles"] == {"authenticated": AUTH_ROLE}
    (user,) = catalogue["iam_users"]
    assert user["access_key_id"].startswith("AKIA")
    secret = lab.gateway.account.credentials.lookup(user["access_key_id"]).secret_access_key
    assert secret not in requests.get(lab.gateway_url + "/", timeout=5).text


@pytest.mark.parametrize(
    ("who", "provider", "role"),
    [
        ("auth0-customer", "auth0", AUTH_ROLE),
        ("auth0-admin", "auth0", ADMIN_ROLE),
        ("cognito-customer", "cognito", AUTH_ROLE),
        ("cognito-admin", "cognito", ADMIN_ROLE),
    ],
)
def test_enhanced_flow_gives_the_role_the_login_maps_to(
    lab: Any,
    identity: Any,
    pool: dict[str, Any],
    logins: dict[str, str],
    id_tokens: dict[str, str],
    who: str,
    provider: str,
    role: str,
) -> None:
    answer = enhanced(identity, pool, logins[provider], id_tokens[who])
    creds = answer["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["SecretKey"] and creds["SessionToken"]
    lifetime = creds["Expiration"].timestamp() - time.time()
    assert 3500 < lifetime <= 3600
    # What the gateway's IAM authorizer will find behind the key.
    stored = lab.gateway.account.credentials.lookup(creds["AccessKeyId"])
    principal = stored.principal
    role_name = role.rsplit("/", 1)[1]
    assert principal.role_arn == role
    assert principal.arn == (
        f"arn:aws:sts::123456789012:assumed-role/{role_name}/CognitoIdentityCredentials"
    )
    assert principal.caller_id.startswith("AROA")
    assert principal.caller_id.endswith(":CognitoIdentityCredentials")
    assert principal.cognito.identity_id == answer["IdentityId"]
    assert principal.cognito.authentication_type == "authenticated"
    sub = jwt.decode(id_tokens[who], options={"verify_signature": False})["sub"]
    key = logins[provider]
    signed_in = f"{key}:CognitoSignIn:{sub}" if provider == "cognito" else f"{key}:lab-webapp:{sub}"
    assert principal.cognito.authentication_provider == f"{key},{signed_in}"
    assert principal.cognito.amr == ("authenticated", key, signed_in)
    allowed = str(principal.policies)
    assert ("GET/admin" in allowed) == (role == ADMIN_ROLE)


def test_identity_ids_are_stable_per_user_and_differ_between_users(
    identity: Any, pool: dict[str, Any], logins: dict[str, str], id_tokens: dict[str, str]
) -> None:
    def get_id(who: str, provider: str) -> str:
        return identity.get_id(
            IdentityPoolId=pool_id(pool), Logins={logins[provider]: id_tokens[who]}
        )["IdentityId"]

    first = get_id("auth0-customer", "auth0")
    assert first == get_id("auth0-customer", "auth0")
    assert first.startswith("us-east-1:")
    assert len({first, get_id("auth0-admin", "auth0"), get_id("cognito-customer", "cognito")}) == 3


def test_the_shipped_pool_refuses_the_basic_flow(
    identity: Any, pool: dict[str, Any], logins: dict[str, str], id_tokens: dict[str, str]
) -> None:
    # AllowClassicFlow is off in template.yaml: see the next test for why.
    key, token = logins["cognito"], id_tokens["cognito-customer"]
    got = identity.get_id(IdentityPoolId=pool_id(pool), Logins={key: token})

    code, message, status = error_of(
        identity.get_open_id_token, IdentityId=got["IdentityId"], Logins={key: token}
    )

    assert (code, status) == ("InvalidParameterException", 400)
    assert "Basic (classic) flow is not enabled" in message


@pytest.fixture(scope="module")
def classic(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The template with the basic (classic) flow turned on, served by a second gateway."""
    folder = tmp_path_factory.mktemp("classic")
    template = folder / "template.yaml"
    text = (ROOT / "template.yaml").read_text()
    assert "AllowClassicFlow: false" in text
    template.write_text(text.replace("AllowClassicFlow: false", "AllowClassicFlow: true"))
    with serve_template(lab.idp_url + "/", template, folder / "notes.sqlite3") as served:
        catalogue = requests.get(served.url + "/", timeout=5).json()["identity_pool"]
        yield served, catalogue


def test_basic_flow_open_id_token_then_sts(
    classic: Any, logins: dict[str, str], id_tokens: dict[str, str]
) -> None:
    _, pool = classic
    identity = boto3.client(
        "cognito-identity", region_name="us-east-1", endpoint_url=pool["endpoint_url"]
    )
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=pool["sts_endpoint_url"])
    key, token = logins["cognito"], id_tokens["cognito-customer"]
    got = identity.get_id(IdentityPoolId=pool_id(pool), Logins={key: token})
    openid = identity.get_open_id_token(IdentityId=got["IdentityId"], Logins={key: token})
    jwks = requests.get(pool["endpoint_url"] + "/.well-known/jwks_uri", timeout=5).json()
    signing = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(openid["Token"], signing, algorithms=["RS256"], audience=pool_id(pool))
    assert claims["sub"] == got["IdentityId"]
    assert claims["amr"][0] == "authenticated"
    assert claims["exp"] - claims["iat"] == 600

    answer = sts.assume_role_with_web_identity(
        RoleArn=AUTH_ROLE, RoleSessionName="basic-flow", WebIdentityToken=openid["Token"]
    )
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert answer["AssumedRoleUser"]["Arn"] == (
        "arn:aws:sts::123456789012:assumed-role/"
        "authorizer-lab-IdentityPoolAuthenticatedRole/basic-flow"
    )
    assert answer["SubjectFromWebIdentityToken"] == got["IdentityId"]

    # Why the shipped pool keeps it off: the customer names the admin role and gets it, as
    # on AWS, since the trust policy checks only the pool and "authenticated".
    escalated = sts.assume_role_with_web_identity(
        RoleArn=ADMIN_ROLE, RoleSessionName="customer", WebIdentityToken=openid["Token"]
    )
    assert escalated["AssumedRoleUser"]["Arn"].startswith(
        "arn:aws:sts::123456789012:assumed-role/authorizer-lab-IdentityPoolAdminRole/"
    )


def test_sts_refuses_an_id_token_that_did_not_come_through_the_pool(
    sts: Any, id_tokens: dict[str, str]
) -> None:
    code, message, status = error_of(
        sts.assume_role_with_web_identity,
        RoleArn=AUTH_ROLE,
        RoleSessionName="direct",
        WebIdentityToken=id_tokens["auth0-customer"],
    )
    assert (code, status) == ("InvalidIdentityToken", 400)
    assert "No OpenIDConnect provider found" in message


def test_custom_role_arn_must_be_one_of_the_tokens_roles(
    identity: Any, pool: dict[str, Any], logins: dict[str, str], id_tokens: dict[str, str]
) -> None:
    key = logins["cognito"]
    admin = id_tokens["cognito-admin"]
    got = identity.get_id(IdentityPoolId=pool_id(pool), Logins={key: admin})
    answer = identity.get_credentials_for_identity(
        IdentityId=got["IdentityId"], Logins={key: admin}, CustomRoleArn=ADMIN_ROLE
    )
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")
    code, _message, _status = error_of(
        identity.get_credentials_for_identity,
        IdentityId=got["IdentityId"],
        Logins={key: admin},
        CustomRoleArn=AUTH_ROLE,
    )
    assert code == "NotAuthorizedException"


def _signed(lab: Any, kind: str, **changes: Any) -> str:
    """An ID token of the local IdP, signed by its real key, with some claims changed."""
    now = int(time.time())
    if kind == "auth0":
        idp = lab.idp_app.extensions["idp"]
        claims = {"iss": lab.idp_url + "/", "sub": "auth0|customer-0001", "aud": "lab-webapp"}
        claims.update({"iat": now, "exp": now + 600, **changes})
        return idp.keys.sign(claims)
    pool = lab.idp_app.extensions["cognito_pool"]
    claims = {
        "iss": f"{lab.idp_url}/{cognito_helpers.POOL_ID}",
        "sub": "99c7e16d-5d72-4470-9e76-3d6349e12620",
        "aud": cognito_helpers.WEBAPP[0],
        "token_use": "id",
    }
    claims.update(iat=now, exp=now + 600, **changes)
    return pool.id_keys.sign(claims)


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("expired", "NotAuthorizedException", "Invalid login token. Token expired: "),
        ("within skew", None, None),
        ("wrong aud (auth0)", "NotAuthorizedException", "Incorrect token audience"),
        ("wrong aud (pool client)", "NotAuthorizedException", "Token is not from a supported"),
        ("access token", "NotAuthorizedException", "Missing a required claim: aud"),
        ("unknown issuer", "NotAuthorizedException", "Token is not from a supported provider"),
        ("other pool", "NotAuthorizedException", "Issuer doesn't match providerName"),
        ("tampered", "NotAuthorizedException", "Couldn't verify signed token"),
        ("not a JWT", "NotAuthorizedException", "Not a valid OpenId Connect identity token"),
        ("unknown pool", "ResourceNotFoundException", "not found"),
        ("no logins", "NotAuthorizedException", "Unauthenticated access is not supported"),
    ],
)
def test_get_id_errors_as_aws_answers_them(
    lab: Any,
    identity: Any,
    pool: dict[str, Any],
    logins: dict[str, str],
    case: str,
    code: str | None,
    message: str | None,
) -> None:
    now = int(time.time())
    pool_key, auth0_key = logins["cognito"], logins["auth0"]
    request: dict[str, Any] = {"IdentityPoolId": pool_id(pool)}
    if case == "expired":  # beyond the 5-minute grace
        request["Logins"] = {auth0_key: _signed(lab, "auth0", exp=now - 301)}
    elif case == "within skew":
        request["Logins"] = {auth0_key: _signed(lab, "auth0", exp=now - 200)}
    elif case == "wrong aud (auth0)":
        request["Logins"] = {auth0_key: _signed(lab, "auth0", aud="someone-else")}
    elif case == "wrong aud (pool client)":
        request["Logins"] = {pool_key: _signed(lab, "cognito", aud=cognito_helpers.READER[0])}
    elif case == "access token":
        access = cognito_helpers.user_tokens(lab.idp_url, CUSTOMER)["access_token"]
        request["Logins"] = {pool_key: access}
    elif case == "unknown issuer":
        request["Logins"] = {"accounts.google.com": _signed(lab, "auth0")}
    elif case == "other pool":
        request["Logins"] = {
            pool_key: _signed(lab, "cognito", iss=f"{lab.idp_url}/us-east-1_OtherPool")
        }
    elif case == "tampered":
        # Another user's sub under the customer's signature.
        header, _payload, signature = _signed(lab, "auth0").split(".")
        _header, payload, _signature = _signed(lab, "auth0", sub="auth0|admin-0001").split(".")
        request["Logins"] = {auth0_key: f"{header}.{payload}.{signature}"}
    elif case == "not a JWT":
        request["Logins"] = {auth0_key: "not-a-token"}
    elif case == "unknown pool":
        request["IdentityPoolId"] = "us-east-1:00000000-0000-0000-0000-000000000000"
    if code is None:
        assert identity.get_id(**request)["IdentityId"].startswith("us-east-1:")
        return
    got_code, got_message, status = error_of(identity.get_id, **request)
    assert (got_code, status) == (code, 400)
    assert message in got_message


def test_malformed_requests_get_a_400_naming_the_problem(lab: Any, pool: dict[str, Any]) -> None:
    def post(target: str, body: Any) -> requests.Response:
        return requests.post(
            pool["endpoint_url"] + "/",
            data=body if isinstance(body, str) else None,
            json=None if isinstance(body, str) else body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"AWSCognitoIdentityService.{target}",
            },
            timeout=5,
        )

    answer = post("GetId", {"IdentityPoolId": pool_id(pool), "Logins": ["a", "b"]})
    assert answer.status_code == 400
    assert answer.json()["__type"] == "InvalidParameterException"
    assert "Logins" in answer.json()["message"]
    answer = post("GetId", {"IdentityPoolId": "no-colon"})
    assert answer.json()["__type"] == "InvalidParameterException"
    assert post("GetId", "{not json").json()["__type"] == "SerializationException"
    assert post("DeleteIdentityPool", {}).json()["__type"] == "UnknownOperationException"


def test_credentials_of_another_login_are_refused(
    identity: Any, pool: dict[str, Any], logins: dict[str, str], id_tokens: dict[str, str]
) -> None:
    key = logins["auth0"]
    customer = identity.get_id(
        IdentityPoolId=pool_id(pool), Logins={key: id_tokens["auth0-customer"]}
    )
    code, message, _status = error_of(
        identity.get_credentials_for_identity,
        IdentityId=customer["IdentityId"],
        Logins={key: id_tokens["auth0-admin"]},
    )
    assert code == "NotAuthorizedException"
    assert message.startswith("Logins don't match.")
    code, _message, _status = error_of(
        identity.get_credentials_for_identity,
        IdentityId="us-east-1:11111111-1111-1111-1111-111111111111",
    )
    assert code == "ResourceNotFoundException"


def test_credentials_expire_after_the_configured_lifetime(
    lab: Any, identity: Any, pool: dict[str, Any], logins: dict[str, str], id_tokens: dict[str, str]
) -> None:
    account = lab.gateway.account
    saved, account.lifetime = account.lifetime, 1
    try:
        answer = enhanced(identity, pool, logins["auth0"], id_tokens["auth0-customer"])
    finally:
        account.lifetime = saved
    stored = account.credentials.lookup(answer["Credentials"]["AccessKeyId"])
    assert not stored.expired()
    assert answer["Credentials"]["Expiration"].timestamp() - time.time() <= 1
    time.sleep(1.1)
    assert stored.expired()
    # Kept after expiry, so the IAM authorizer can answer "expired" rather than "unknown".
    assert account.credentials.lookup(stored.access_key_id) is stored


def test_list_credentials_prints_the_service_key_the_gateway_accepts(lab: Any) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "emulators.aws", "list-credentials"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    (user,) = requests.get(lab.gateway_url + "/", timeout=5).json()["iam_users"]
    key = lab.gateway.account.credentials.lookup(user["access_key_id"])
    assert f"AWS_ACCESS_KEY_ID={key.access_key_id}" in out
    assert f"AWS_SECRET_ACCESS_KEY={key.secret_access_key}" in out
    assert key.principal.arn.endswith(":user/authorizer-lab-ServiceClientUser")


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"[" * 1000 + b"]" * 1000, {}),
        (b'{"IdentityPoolId": "' + b"x" * 70_000 + b'"}', {"Transfer-Encoding": "chunked"}),
    ],
    ids=["deep-nesting", "chunked-over-limit"],
)
def test_a_body_the_service_cannot_read_is_a_serialization_error_not_a_500(
    pool: dict[str, Any], body: bytes, headers: dict[str, str]
) -> None:
    def chunks() -> Any:  # no Content-Length: requests sends it chunked
        yield body

    response = requests.post(
        pool["endpoint_url"],
        data=chunks() if headers else body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityService.GetId",
        },
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"
