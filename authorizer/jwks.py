"""The issuer's signing keys: fetched from the configured JWKS URI only, vetted, and cached.

Rules (security.md AZ-03, AZ-05, AZ-06):
- keys come only from the configured `jwks_uri`, never from a URL or key named in a token;
- only RSA keys of at least 2048 bits with an odd exponent ≥ 3 and no ROCA fingerprint,
  usable for RS256 signatures, without private members; a `kid` that appears twice is
  ambiguous and skipped;
- the set is cached; an unknown `kid` forces at most one refetch per cooldown (30 s), and
  the first one is allowed at once, so a key rotated in right after a cold start works;
- a failed fetch keeps the keys already cached; with none, the request is refused.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

MAX_JWKS_BYTES = 256 * 1024
MIN_RSA_BITS = 2048
MAX_KID_LENGTH = 256
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
FAILED_FETCH_RETRY_SECONDS = 5.0


class JwksError(Exception):
    """The key set could not be fetched or read."""


# ROCA (CVE-2017-15361): primes from the flawed Infineon generator are 65537^a mod M plus a
# multiple of M, a primorial; so n mod each small prime r lies in the subgroup 65537 spans.
# A genuine key does so for all these primes with negligible probability.
_ROCA_PRIMES = (
    3,
    5,
    7,
    11,
    13,
    17,
    19,
    23,
    29,
    31,
    37,
    41,
    43,
    47,
    53,
    59,
    61,
    67,
    71,
    73,
    79,
    83,
    89,
    97,
    101,
    103,
    107,
    109,
    113,
    127,
    131,
    137,
    139,
    149,
    151,
    157,
    163,
    167,
)


@functools.cache
def _roca_subgroups() -> tuple[tuple[int, frozenset[int]], ...]:
    groups = []
    for prime in _ROCA_PRIMES:
        members, value = set(), 1
        while value not in members:
            members.add(value)
            value = value * 65537 % prime
        groups.append((prime, frozenset(members)))
    return tuple(groups)


def has_roca_fingerprint(modulus: int) -> bool:
    """Tell whether an RSA modulus carries the ROCA fingerprint (a factorable key)."""
    return all(modulus % prime in members for prime, members in _roca_subgroups())


def _b64_int(value: Any) -> int:
    if not isinstance(value, str) or not value:
        raise ValueError("not a base64url string")
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return int.from_bytes(raw, "big")


def usable_rsa_key(jwk: Any) -> RSAPublicKey | None:
    """Return the public key of a JWK fit to verify RS256 signatures, else None."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
        return None
    if PRIVATE_MEMBERS & jwk.keys():
        return None
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    try:
        n, e = _b64_int(jwk.get("n")), _b64_int(jwk.get("e"))
    except (ValueError, TypeError):
        return None
    if n.bit_length() < MIN_RSA_BITS or e < 3 or e % 2 == 0 or has_roca_fingerprint(n):
        return None
    try:
        return RSAPublicNumbers(e, n).public_key()
    except ValueError:
        return None


def parse_jwks(document: Any) -> dict[str, RSAPublicKey]:
    """Return the usable keys of a JWKS document by `kid`; ambiguous kids are dropped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksError('the JWKS document has no "keys" array')
    keys: dict[str, RSAPublicKey] = {}
    seen: set[str] = set()
    for jwk in document["keys"]:
        kid = jwk.get("kid") if isinstance(jwk, dict) else None
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
            continue
        if kid in seen:
            keys.pop(kid, None)
            continue
        seen.add(kid)
        key = usable_rsa_key(jwk)
        if key is not None:
            keys[kid] = key
    return keys


def http_fetch(uri: str, timeout: float) -> bytes:
    """GET a JWKS document with a timeout, no redirects and a size cap."""
    import http.client  # deferred: only a cold start or a refresh pays for it

    parts = urlsplit(uri)
    if parts.scheme == "https":
        import ssl

        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    else:
        raise JwksError(f"unsupported JWKS URI scheme {parts.scheme!r}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(
            "GET", path, headers={"Accept": "application/json", "User-Agent": "authorizer-lab"}
        )
        response = conn.getresponse()
        if response.status != 200:
            raise JwksError(f"GET {uri} answered HTTP {response.status}")
        body = response.read(MAX_JWKS_BYTES + 1)
    except OSError as exc:
        raise JwksError(f"GET {uri} failed: {exc}") from None
    finally:
        conn.close()
    if len(body) > MAX_JWKS_BYTES:
        raise JwksError(f"the JWKS at {uri} is larger than {MAX_JWKS_BYTES} bytes")
    return body


class JwksCache:
    """The issuer's keys by `kid`, refreshed by age and, rate-limited, by unknown kids."""

    def __init__(
        self,
        uri: str,
        *,
        ttl: float = 600.0,
        cooldown: float = 30.0,
        timeout: float = 3.0,
        fetch: Callable[[str, float], bytes] = http_fetch,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uri = uri
        self.ttl = ttl
        self.cooldown = cooldown
        self.timeout = timeout
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._forced_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0
        self.lookups = 0  # with `fetches`: the decision line's `jwks` (fetched or cached)
        self.last_error: str | None = None

    def _refresh(self) -> None:
        self.fetches += 1
        try:
            keys = parse_jwks(json.loads(self._fetch(self.uri, self.timeout)))
        except (JwksError, ValueError) as exc:
            self._failed_at = self._clock()
            self.last_error = str(exc)
            return
        self._keys = keys
        self._fetched_at = self._clock()
        self._failed_at = None
        self.last_error = None

    def _stale(self, now: float) -> bool:
        if self._failed_at is not None and now - self._failed_at < FAILED_FETCH_RETRY_SECONDS:
            return False
        return self._fetched_at is None or now - self._fetched_at >= self.ttl

    def get(self, kid: str) -> RSAPublicKey | None:
        """Return the key for `kid`, fetching when the cache is stale or the kid is new."""
        self.lookups += 1
        now = self._clock()
        if self._stale(now):
            with self._lock:
                if self._stale(self._clock()):
                    self._refresh()
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            key = self._keys.get(kid)
            now = self._clock()
            if key is None and (self._forced_at is None or now - self._forced_at >= self.cooldown):
                self._forced_at = now
                self._refresh()
                key = self._keys.get(kid)
        return key

    @property
    def has_keys(self) -> bool:
        """Tell whether any key has ever been fetched."""
        return bool(self._keys)
