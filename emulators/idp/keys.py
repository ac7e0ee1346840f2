"""Signing keys: the active RS256 key, rotation, and the public JWKS.

Rotation publishes the new key and keeps the old one in the JWKS until every token it
signed has expired, as an IdP must so that verifiers caching the JWKS keep working.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from .store import Store

ALGORITHM = "RS256"
KEY_SIZE = 2048


class KeyRing:
    """The IdP's RSA keys, read from the store so a rotation by the CLI is seen at once."""

    def __init__(self, store: Store, publish_old_for: int) -> None:
        self.store = store
        self.publish_old_for = publish_old_for
        self._parsed: dict[str, RSAKey] = {}
        self._lock = threading.Lock()
        with self._lock:
            if not any(k.retired_at is None for k in store.signing_keys()):
                self._create()

    def _create(self) -> str:
        kid = secrets.token_urlsafe(16)
        key = RSAKey.generate_key(
            KEY_SIZE, parameters={"kid": kid, "use": "sig", "alg": ALGORITHM}, private=True
        )
        self.store.add_signing_key(kid, key.as_dict(private=True), self.publish_old_for)
        return kid

    def rotate(self) -> str:
        """Make a fresh key the signing key and return its `kid`."""
        with self._lock:
            return self._create()

    def _parse(self, kid: str, jwk: dict[str, Any]) -> RSAKey:
        key = self._parsed.get(kid)
        if key is None:
            key = RSAKey.import_key(jwk)
            self._parsed[kid] = key
        return key

    def signing_key(self) -> RSAKey:
        """Return the active private key."""
        for stored in self.store.signing_keys():
            if stored.retired_at is None:
                return self._parse(stored.kid, stored.private_jwk)
        raise RuntimeError("no active signing key")

    def published(self) -> list[RSAKey]:
        """Return the keys in the JWKS: the active one and those still covering live tokens."""
        now = time.time()
        return [
            self._parse(k.kid, k.private_jwk)
            for k in self.store.signing_keys()
            if k.retired_at is None or (k.published_until or 0) > now
        ]

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """Return the public JWKS document (never a private member)."""
        return {"keys": [k.as_dict(private=False) for k in self.published()]}

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        """Sign claims as a compact RS256 JWT with the active key's `kid`."""
        key = self.signing_key()
        header = {"alg": ALGORITHM, "typ": typ, "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=[ALGORITHM])

    def verify(self, token: str) -> dict[str, Any] | None:
        """Return the claims of a token this IdP signed (expired or not), or None."""
        try:
            decoded = jwt.decode(token, KeySet(self.published()), algorithms=[ALGORITHM])
        except Exception:
            return None
        return dict(decoded.claims)
