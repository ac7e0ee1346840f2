"""AWS_IAM routes: real requests signed by botocore's SigV4 signer against the gateway on
loopback, with an IAM user's long-term key and identity-pool temporary credentials put in
the local account's credential store; every answer as AWS words it."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulators.aws.credentials import CognitoIdentity
from emulators.aws.credentials import Credential
from emulators.aws.credentials import Principal
from emulators.aws.credentials import unique_id
from emulators.gateway import create_gateway
from emulators.gateway import sigv4
from tests.gateway.conftest import ServedTemplate
from tests.gateway.conftest import serve_template

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ACCOUNT = "123456789012"
ISSUER = "http://127.0.0.1:9/"  # never contacted: IAM routes run no token authorizer
POOL = "us-east-1:0f4a3b2c-1d2e-4f50-8a9b-0c1d2e3f4a5b"
ITEMS = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:*/*/GET/items/*"

SERVICE_USER = Principal(
    arn=f"arn:aws:iam::{ACCOUNT}:user/service-client",
    caller_id=unique_id("AIDA"),
    account_id=ACCOUNT,
    policies=(
        (
            "InvokeItems",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "execute-api:Invoke",
                        "Resource": [ITEMS, ITEMS.replace("/GET/", "/POST/"), "*/GET/v1/*"],
                    },
                    # The lab's own test of a literal wildcard ARN across every API's v1 route.
                    {
                        "Effect": "Allow",
                        "Action": "EXECUTE-API:invoke",
                        "Resource": f"arn:aws:execute-api:*:{ACCOUNT}:*/*/GET/v1/*",
                    },
                ],
            },
        ),
        (
            "NoSecrets",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "execute-api:*",
                        "Resource": "arn:aws:execute-api:*:*:*/*/*/items/secret*",
                    }
                ],
            },
        ),
    ),
)


def identity_principal(identity_id: str) -> Principal:
    """An identity-pool user's role session: may call only items under its own identity id."""
    sub = "8f1c2a3b-0000-4000-8000-00000000000a"
    provider = "cognito-idp.us-east-1.amazonaws.com/us-east-1_LabPool"
    return Principal(
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/LabAuthenticatedRole/CognitoIdentityCredentials",
        caller_id=unique_id("AROA") + ":CognitoIdentityCredentials",
        account_id=ACCOUNT,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/LabAuthenticatedRole",
        policies=(
            (
                "OwnItems",
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "execute-api:Invoke",
                            "Resource": "arn:aws:execute-api:us-east-1:*:*/*/*/items/"
                            "${cognito-identity.amazonaws.com:sub}/*",
                        },
                        {
                            "Effect": "Allow",
                            "Action": "execute-api:Invoke",
                            "Resource": "arn:aws:execute-api:us-east-1:*:*/*/GET/items/shared",
                            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                        },
                    ],
                },
            ),
        ),
        cognito=CognitoIdentity(
            identity_id=identity_id,
            identity_pool_id=POOL,
            authentication_type="authenticated",
            authentication_provider=f"{provider},{provider}:CognitoSignIn:{sub}",
            amr=("authenticated", provider, f"{provider}:CognitoSignIn:{sub}"),
        ),
    )


class Lab:
    """The gateway serving the IAM test APIs, and the credentials of its account."""

    def __init__(self, served: ServedTemplate) -> None:
        self.served = served
        store = served.gateway.authorization.credentials
        self.user = Credential(unique_id("AKIA"), "user-secret-" + "x" * 28, SERVICE_USER)
        store.add(self.user)
        self.alice_id = "us-east-1:11111111-2222-4333-8444-555555555555"
        self.bob_id = "us-east-1:99999999-8888-4777-8666-555555555555"
        self.alice = store.issue(identity_principal(self.alice_id), 3600)
        self.bob = store.issue(identity_principal(self.bob_id), 3600)
        self.expired = store.issue(identity_principal(self.alice_id), -10)

    def url(self, api: str, path: str) -> str:
        return self.served.base(api) + path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    notes = tmp_path_factory.mktemp("iam") / "notes.sqlite3"
    with serve_template(ISSUER, HERE / "iam.yaml", notes) as served:
        yield Lab(served)


def keys(credential: Credential, token: str | None = "same") -> Credentials:
    return Credentials(
        credential.access_key_id,
        credential.secret_access_key,
        credential.session_token if token == "same" else token,
    )


def sign(
    method: str,
    url: str,
    creds: Credentials,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    when: float | None = None,
    region: str = "us-east-1",
    service: str = "execute-api",
) -> AWSRequest:
    """Sign a request with botocore's SigV4Auth (at `when`, else now)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer = SigV4Auth(creds, service, region)
    if when is None:
        signer.add_auth(request)
        return request
    # add_auth's own steps, with the clock at `when`.
    request.context["timestamp"] = time.strftime(sigv4.TIMESTAMP, time.gmtime(when))
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signer._inject_signature_to_request(request, signature)
    return request


def send(request: AWSRequest, **overrides: Any) -> requests.Response:
    """Send a signed request as it is, or with parts changed after signing."""
    headers = {**dict(request.headers), **overrides.get("headers", {})}
    return requests.request(
        request.method,
        overrides.get("url", request.url),
        headers=headers,
        data=overrides.get("body", request.body),
        timeout=10,
    )


def call(method: str, url: str, creds: Credentials, **kwargs: Any) -> requests.Response:
    return send(sign(method, url, creds, **kwargs))


def trace(lab: Lab, response: requests.Response) -> dict[str, Any]:
    return lab.served.trace(response)


APIS = ["EchoRestIam", "EchoHttpIam"]


# --- Allowed ------------------------------------------------------------------------------


def test_an_iam_user_signed_call_reaches_the_function_with_its_identity(lab: Lab) -> None:
    rest = call("GET", lab.url("EchoRestIam", "/items/42"), keys(lab.user))
    http = call("GET", lab.url("EchoHttpIam", "/items/42"), keys(lab.user))

    assert rest.status_code == 200, rest.text
    assert http.status_code == 200, http.text
    identity = rest.json()["event"]["requestContext"]["identity"]
    assert identity["userArn"] == SERVICE_USER.arn
    assert identity["caller"] == identity["user"] == SERVICE_USER.caller_id
    assert identity["accessKey"] == lab.user.access_key_id
    assert identity["accountId"] == ACCOUNT
    assert identity["cognitoIdentityId"] is None
    assert "authorizer" not in rest.json()["event"]["requestContext"]
    iam = http.json()["event"]["requestContext"]["authorizer"]["iam"]
    assert iam == {
        "accessKey": lab.user.access_key_id,
        "accountId": ACCOUNT,
        "callerId": SERVICE_USER.caller_id,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": SERVICE_USER.arn,
        "userId": SERVICE_USER.caller_id,
    }


def test_identity_pool_credentials_carry_the_cognito_identity_to_the_function(lab: Lab) -> None:
    path = f"/items/{lab.alice_id}/notes"
    rest = call("GET", lab.url("EchoRestIam", path), keys(lab.alice))
    http = call("GET", lab.url("EchoHttpIam", path), keys(lab.alice))
    v1 = call("GET", lab.url("EchoHttpIam", "/v1/x"), keys(lab.user))

    assert rest.status_code == 200, rest.text
    identity = rest.json()["event"]["requestContext"]["identity"]
    assert identity["cognitoIdentityId"] == lab.alice_id
    assert identity["cognitoIdentityPoolId"] == POOL
    assert identity["cognitoAuthenticationType"] == "authenticated"
    assert identity["cognitoAuthenticationProvider"].endswith(
        ":CognitoSignIn:8f1c2a3b-0000-4000-8000-00000000000a"
    )
    assert identity["userArn"].endswith(
        ":assumed-role/LabAuthenticatedRole/CognitoIdentityCredentials"
    )
    assert identity["accessKey"].startswith("ASIA")
    cognito = http.json()["event"]["requestContext"]["authorizer"]["iam"]["cognitoIdentity"]
    assert cognito["identityId"] == lab.alice_id
    assert cognito["identityPoolId"] == POOL
    assert cognito["amr"][0] == "authenticated"
    # HTTP payload 1.0 fills requestContext.identity as REST does.
    assert v1.status_code == 200, v1.text
    assert v1.json()["event"]["requestContext"]["identity"]["userArn"] == SERVICE_USER.arn


def test_a_policy_variable_keeps_each_identity_to_its_own_items(lab: Lab) -> None:
    own = call("GET", lab.url("EchoRestIam", f"/items/{lab.alice_id}/a"), keys(lab.alice))
    other = call("GET", lab.url("EchoRestIam", f"/items/{lab.bob_id}/a"), keys(lab.alice))

    assert own.status_code == 200
    assert other.status_code == 403
    assert other.headers["x-amzn-ErrorType"] == "AccessDeniedException"


def test_a_post_with_a_body_and_a_query_verifies(lab: Lab) -> None:
    body = json.dumps({"text": "é and spaces"}).encode()
    response = call(
        "POST",
        lab.url("EchoRestIam", "/items/42?b=2&a=1&a=0&empty="),
        keys(lab.user),
        body=body,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert json.loads(response.json()["event"]["body"]) == {"text": "é and spaces"}


def test_a_path_with_an_encoded_slash_is_double_encoded_as_aws_does(lab: Lab) -> None:
    response = call("GET", lab.url("EchoRestIam", "/items/a%2Fb/c"), keys(lab.user))
    wrong = call(
        "GET", lab.url("EchoRestIam", "/items/a%2Fb/c"), Credentials(lab.user.access_key_id, "x")
    )

    assert response.status_code == 200, response.text
    # What the gateway computed shows the second encoding (%2F -> %252F).
    assert "/items/a%252Fb/c\n" in wrong.json()["message"]


def test_a_presigned_url_verifies(lab: Lab) -> None:
    request = AWSRequest(method="GET", url=lab.url("EchoHttpIam", "/items/9"))
    SigV4QueryAuth(keys(lab.user), "execute-api", "us-east-1", expires=60).add_auth(request)
    response = requests.get(request.url, timeout=10)

    assert "X-Amz-Signature=" in request.url
    assert response.status_code == 200, response.text


# --- Not signed, or not SigV4 ------------------------------------------------------------


def test_an_unsigned_call_is_missing_authentication_token_on_rest_and_forbidden_on_http(
    lab: Lab,
) -> None:
    rest = requests.get(lab.url("EchoRestIam", "/items/1"), timeout=10)
    http = requests.get(lab.url("EchoHttpIam", "/items/1"), timeout=10)
    open_route = requests.get(lab.url("EchoRestIam", "/open"), timeout=10)

    assert (rest.status_code, rest.json()) == (403, {"message": "Missing Authentication Token"})
    assert rest.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert (http.status_code, http.json()) == (403, {"message": "Forbidden"})
    assert trace(lab, rest)["authorizer"]["reason"] == "sigv4_missing"
    # A route without IAM in the same API: every identity field null, as AWS sends them.
    assert open_route.status_code == 200
    assert open_route.json()["event"]["requestContext"]["identity"]["userArn"] is None


def test_a_bearer_token_is_an_incomplete_signature_and_is_not_echoed(lab: Lab) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln"
    bearer = requests.get(
        lab.url("EchoRestIam", "/items/1"), headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    bare = requests.get(
        lab.url("EchoRestIam", "/items/1"), headers={"Authorization": token}, timeout=10
    )

    assert bearer.status_code == 403
    assert bearer.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
    assert (
        "not a valid key=value pair (missing equal-sign) in Authorization header"
        in (bearer.json()["message"])
    )
    assert bare.json()["message"].startswith(
        "Authorization header requires 'Credential' parameter. Authorization header requires "
        "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )
    for response in (bearer, bare):
        assert token not in response.text
        assert token not in json.dumps(trace(lab, response))
        assert trace(lab, response)["authorizer"]["reason"] == "sigv4_malformed"


# --- Wrong credentials ---------------------------------------------------------------------


def test_an_unknown_access_key_is_an_unrecognized_client(lab: Lab) -> None:
    response = call("GET", lab.url("EchoRestIam", "/items/1"), Credentials("AKIA" + "Z" * 16, "s"))

    assert response.status_code == 403
    assert response.json() == {"message": "The security token included in the request is invalid."}
    assert response.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"


def test_a_wrong_secret_echoes_the_canonical_request_but_never_a_secret(lab: Lab) -> None:
    creds = Credentials(lab.user.access_key_id, "not-the-secret")
    response = call("GET", lab.url("EchoRestIam", "/items/7?z=1&a=2"), creds)
    seen = trace(lab, response)

    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    message = response.json()["message"]
    assert message.startswith(sigv4.MISMATCH + "\n\nThe Canonical String for this request")
    api_id = lab.served.base("EchoRestIam").split("/")[-2]
    assert f"'GET\n/{api_id}/dev/items/7\na=2&z=1\nhost:127.0.0.1:" in message
    assert "\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message
    iam = seen["authorizer"]["iam"]
    assert seen["authorizer"]["reason"] == "signature_mismatch"
    assert iam["canonical_request"] in message
    assert iam["string_to_sign"].split("\n")[2].endswith("/us-east-1/execute-api/aws4_request")
    assert iam["principal"]["arn"] == SERVICE_USER.arn
    signature = dict(response.request.headers)["Authorization"].rsplit("=", 1)[1]
    for secret in (lab.user.secret_access_key, signature):
        assert secret not in json.dumps(seen)
        assert secret not in response.text


@pytest.mark.parametrize(
    "change",
    [
        {"body": b'{"text": "changed"}'},
        {"path": "/items/43"},
        {"query": "?a=2"},
        {"headers": {"X-Lab-Tenant": "b"}},
    ],
    ids=["body", "path", "query", "signed header"],
)
def test_a_request_changed_after_signing_does_not_verify(lab: Lab, change: dict[str, Any]) -> None:
    url = lab.url("EchoRestIam", "/items/42?a=1")
    request = sign(
        "POST", url, keys(lab.user), body=b'{"text": "x"}', headers={"X-Lab-Tenant": "a"}
    )
    overrides: dict[str, Any] = {k: v for k, v in change.items() if k in ("body", "headers")}
    if "path" in change:
        overrides["url"] = url.replace("/items/42", change["path"])
    if "query" in change:
        overrides["url"] = url.split("?")[0] + change["query"]
    response = send(request, **overrides)

    assert response.status_code == 403, response.text
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert response.json()["message"].startswith(sigv4.MISMATCH)


def test_signatures_outside_the_five_minute_window_are_refused_with_aws_words(lab: Lab) -> None:
    url = lab.url("EchoRestIam", "/items/1")
    old = call("GET", url, keys(lab.user), when=time.time() - 400)
    future = call("GET", url, keys(lab.user), when=time.time() + 400)
    recent = call("GET", url, keys(lab.user), when=time.time() - 200)

    assert old.status_code == future.status_code == 403
    assert old.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert old.json()["message"].startswith("Signature expired: ")
    assert " - 5 min.)" in old.json()["message"]
    assert future.json()["message"].startswith("Signature not yet current: ")
    assert recent.status_code == 200


def test_temporary_credentials_need_their_own_unexpired_session_token(lab: Lab) -> None:
    url = lab.url("EchoRestIam", f"/items/{lab.alice_id}/x")
    missing = call("GET", url, keys(lab.alice, token=None))
    wrong = call("GET", url, keys(lab.alice, token=lab.bob.session_token))
    expired = call("GET", lab.url("EchoRestIam", f"/items/{lab.alice_id}/x"), keys(lab.expired))
    stray = call("GET", lab.url("EchoRestIam", "/items/1"), keys(lab.user, token="stray-token"))
    http_expired = call(
        "GET", lab.url("EchoHttpIam", f"/items/{lab.alice_id}/x"), keys(lab.expired)
    )

    invalid = {"message": "The security token included in the request is invalid."}
    assert (missing.status_code, missing.json()) == (403, invalid)
    assert (wrong.status_code, wrong.json()) == (403, invalid)
    assert (stray.status_code, stray.json()) == (403, invalid)
    assert [trace(lab, r)["authorizer"]["reason"] for r in (missing, wrong, stray)] == [
        "session_token_missing",
        "session_token_invalid",
        "unexpected_session_token",
    ]
    assert expired.status_code == 403
    assert expired.json() == {"message": "The security token included in the request is expired"}
    assert expired.headers["x-amzn-ErrorType"] == "ExpiredTokenException"
    assert http_expired.status_code == 403
    assert lab.bob.session_token not in json.dumps(trace(lab, wrong))


def test_a_signature_for_another_region_or_service_is_refused(lab: Lab) -> None:
    url = lab.url("EchoRestIam", "/items/1")
    region = call("GET", url, keys(lab.user), region="eu-west-1")
    service = call("GET", url, keys(lab.user), service="lambda")

    assert region.status_code == service.status_code == 403
    assert region.json()["message"] == (
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    )
    assert service.json()["message"] == (
        "Credential should be scoped to correct service: 'execute-api'. "
    )
    assert trace(lab, region)["authorizer"]["reason"] == "sigv4_wrong_region"


# --- Policies ------------------------------------------------------------------------------


def test_a_caller_no_policy_allows_gets_access_denied_with_its_arn(lab: Lab) -> None:
    rest = call("DELETE", lab.url("EchoRestIam", "/items/42"), keys(lab.user))
    http = call("DELETE", lab.url("EchoHttpIam", "/items/42"), keys(lab.user))
    seen = trace(lab, rest)

    api_id = lab.served.base("EchoRestIam").split("/")[-2]
    assert rest.status_code == 403
    assert rest.json() == {
        "Message": f"User: {SERVICE_USER.arn} is not authorized to perform: execute-api:Invoke "
        f"on resource: arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/dev/DELETE/items/42"
    }
    assert rest.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert (http.status_code, http.json()) == (403, {"message": "Forbidden"})
    assert seen["authorizer"]["reason"] == "iam_not_allowed"
    assert seen["policy"]["effect"] == "ImplicitDeny"


def test_an_explicit_deny_wins_over_an_allow_and_names_its_policy(lab: Lab) -> None:
    allowed = call("GET", lab.url("EchoRestIam", "/items/public"), keys(lab.user))
    denied = call("GET", lab.url("EchoRestIam", "/items/secret-plans"), keys(lab.user))

    assert allowed.status_code == 200
    assert trace(lab, allowed)["authorizer"]["iam"]["statement"] == {
        "policy": "InvokeItems",
        "effect": "Allow",
        "resource": ITEMS,
    }
    assert denied.status_code == 403
    assert denied.json()["Message"].endswith("/dev/GET/items/secret-plans with an explicit deny")
    seen = trace(lab, denied)
    assert seen["authorizer"]["reason"] == "iam_explicit_deny"
    assert seen["authorizer"]["iam"]["statement"]["policy"] == "NoSecrets"
    assert seen["policy"]["effect"] == "Deny"


def test_a_source_ip_condition_is_evaluated(lab: Lab) -> None:
    # The Allow for /items/shared holds only from 10.0.0.0/8; the test calls from 127.0.0.1.
    response = call("GET", lab.url("EchoRestIam", "/items/shared"), keys(lab.alice))

    assert response.status_code == 403
    assert trace(lab, response)["authorizer"]["reason"] == "iam_not_allowed"


# --- AWS's published SigV4 test vectors, through the same code path ------------------------


@pytest.mark.parametrize(
    ("query", "signature"),
    [
        ("", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        (
            "Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
    ],
    ids=["get-vanilla", "get-vanilla-query-order-key-case"],
)
def test_aws_sigv4_test_suite_vectors_verify(query: str, signature: str) -> None:
    headers = {"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"}
    authorization = (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}"
    )
    decoded = sigv4.decoded_query(query)
    signed = sigv4.parse(authorization, headers, decoded, "")
    assert signed is not None

    result = sigv4.expected(
        signed,
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        method="GET",
        raw_path="/",
        query=decoded,
        headers=list(headers.items()),
        body=b"",
    )

    assert result.matches
    assert result.canonical_request.startswith("GET\n/\n" + "&".join(sorted(query.split("&"))))


@pytest.mark.parametrize(
    "path",
    ["/items/a+b", "/items/a%2Bb", "/items/a%20b", "/items/caf%C3%A9", "/items/a:b@c!", "/items/9"],
)
def test_a_server_without_the_raw_path_still_verifies_what_clients_sign(
    lab: Lab, path: str
) -> None:
    # `make run`'s server (Granian) hands the WSGI app only the decoded path: the signature
    # must still verify for paths clients send literally (`+`, `:`) or encoded (`%2B`, `%20`).
    request = sign("GET", lab.url("EchoRestIam", path), keys(lab.user))
    split = urlsplit(request.url)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": unquote(split.path).encode("utf-8").decode("latin-1"),
        "QUERY_STRING": "",
        "SERVER_NAME": split.hostname,
        "SERVER_PORT": str(split.port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "REMOTE_ADDR": "127.0.0.1",
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in request.headers.items()},
    }
    environ["HTTP_HOST"] = split.netloc
    statuses: list[str] = []

    body = b"".join(lab.served.gateway(environ, lambda status, *_: statuses.append(status)))

    assert statuses[0].startswith("200"), body


def test_the_servers_own_http_variables_are_not_request_headers(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Granian copies the server's environment into every WSGI environ: a shell's HTTP_*
    # variable must not stand in for a header the client signed but never sent.
    monkeypatch.setenv("HTTP_X_INJECTED", "from-env")
    gateway = create_gateway(
        ISSUER, "http://127.0.0.1:9", template=HERE / "iam.yaml", notes_db=tmp_path / "n.db"
    )
    gateway.authorization.credentials.add(lab.user)
    api = next(a for a in gateway.model.apis if a.logical_id == "EchoRestIam")
    url = f"http://127.0.0.1:9/{api.api_id}{api.stage_path}/items/9"
    request = sign("GET", url, keys(lab.user), headers={"X-Injected": "from-env"})
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": urlsplit(url).path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "9",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:9",
        "HTTP_X_AMZ_DATE": request.headers["X-Amz-Date"],
        "HTTP_AUTHORIZATION": request.headers["Authorization"],
        "HTTP_X_INJECTED": "from-env",  # from the process, as Granian passes it
    }
    statuses: list[str] = []
    try:
        body = b"".join(gateway(environ, lambda status, *_: statuses.append(status)))
    finally:
        gateway.close()

    assert statuses[0].startswith("403"), body
    assert b"signature we calculated does not match" in body
