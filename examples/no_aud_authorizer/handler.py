"""An authorizer with a classic bug, to bring to the Compare grid: it never checks `aud`.

It looks careful: RS256 only, the issuer's JWKS, `iss` and `exp` checked by PyJWT. But
`options={"verify_aud": False}` (often added to silence "Invalid audience" while testing)
means any token this issuer signs passes: one minted for another API, and the ID token,
whose audience is the web app's client id (RFC 8725 §3.9, RFC 9068 §4). The Compare grid
shows it: the "Wrong aud" and "ID token" rows are 200 on this API and 401 on the lab's.

A REST API TOKEN authorizer (IAM policy output), configured like the lab's by `TOKEN_ISSUER`
and `JWKS_URI`:
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
"""

from __future__ import annotations

import os
from typing import Any

import jwt

_jwks = jwt.PyJWKClient(os.environ.get("JWKS_URI", ""), cache_keys=True)


def _policy(principal: str, effect: str, arn: str) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}],
        },
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scheme, _, token = str(event.get("authorizationToken") or "").partition(" ")
    if scheme != "Bearer" or not token:
        raise Exception("Unauthorized")  # the message API Gateway maps to 401
    try:
        key = _jwks.get_signing_key_from_jwt(token).key
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=os.environ["TOKEN_ISSUER"],
            options={"verify_aud": False},  # THE BUG: any audience is accepted
        )
    except jwt.PyJWTError:
        raise Exception("Unauthorized") from None
    return _policy(str(claims.get("sub")), "Allow", event["methodArn"])
