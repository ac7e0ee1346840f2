"""Fixtures for the authorizer: real RSA keys, a real JWKS served over loopback HTTP, tokens."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from authorizer.handler import Authorizer
from authorizer.settings import load_settings

ISSUER = "https://lab.test.auth0.com/"
AUDIENCE = "https://api.authorizer-lab.local"
ROUTES = {
    "GET /private": "",
    "GET /admin": "read:admin",
    "GET /notes": "read:notes",
    "POST /notes": "write:notes",
}
ARN_PREFIX = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/dev"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return {
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": b64url(n),
        "e": b64url(e),
        **extra,
    }


class JwksServer:
    """A JWKS endpoint on loopback whose key set, failures and fetch count a test controls."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps(outer.document).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, rsa.RSAPrivateKey]:
    """Three real 2048-bit keys: the issuer's, its next one after rotation, an attacker's."""
    return {
        name: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for name in ("k1", "k2", "attacker")
    }


@pytest.fixture
def jwks_server(signing_keys: dict[str, rsa.RSAPrivateKey]) -> Any:
    server = JwksServer()
    server.document = {"keys": [public_jwk(signing_keys["k1"], "k1")]}
    yield server
    server.close()


class Minter:
    """Sign real RS256 tokens with `cryptography`, whatever their header and claims say."""

    def __init__(self, keys: dict[str, rsa.RSAPrivateKey]) -> None:
        self.keys = keys

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": "auth0|customer-0001",
            "aud": [AUDIENCE, ISSUER + "userinfo"],
            "iat": now,
            "exp": now + 3600,
            "azp": "lab-webapp",
            "scope": "openid profile read:notes",
            "permissions": ["read:messages", "read:notes", "write:notes"],
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        kid: str = "k1",
        key: str | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": kid, **(headers or {})}
        return self.raw(header, self.claims(**claims), key=key or kid)

    def raw(
        self, header: dict[str, Any] | str, payload: dict[str, Any] | str, key: str = "k1"
    ) -> str:
        """Sign arbitrary header and payload text with RS256, as an attacker with the key."""
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
        from cryptography.hazmat.primitives.hashes import SHA256

        head = header if isinstance(header, str) else json.dumps(header)
        body = payload if isinstance(payload, str) else json.dumps(payload)
        signing_input = f"{b64url(head.encode())}.{b64url(body.encode())}"
        signature = self.keys[key].sign(signing_input.encode(), PKCS1v15(), SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def public_pem(self, kid: str = "k1") -> bytes:
        return (
            self.keys[kid]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


@pytest.fixture
def mint(signing_keys: dict[str, rsa.RSAPrivateKey]) -> Minter:
    return Minter(signing_keys)


class FakeClock:
    """A clock a test moves by hand (seconds since the epoch)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_authorizer(jwks_server: JwksServer) -> Callable[..., Authorizer]:
    """Build an authorizer on the JWKS server, with settings and clock a test may change."""

    def make(clock: Callable[[], float] = time.time, **env: str) -> Authorizer:
        settings = load_settings(
            {
                "TOKEN_ISSUER": ISSUER,
                "AUDIENCE": AUDIENCE,
                "JWKS_URI": jwks_server.url,
                "ROUTE_PERMISSIONS": json.dumps(ROUTES),
                **env,
            }
        )
        return Authorizer(settings, clock=clock)

    return make


@pytest.fixture
def authorizer(make_authorizer: Callable[..., Authorizer]) -> Authorizer:
    return make_authorizer()


def token_event(
    token: str | None, method: str = "GET", path: str = "private", scheme: str = "Bearer "
) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "TOKEN", "methodArn": f"{ARN_PREFIX}/{method}/{path}"}
    if token is not None:
        event["authorizationToken"] = f"{scheme}{token}"
    return event
