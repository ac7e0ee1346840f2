"""Machine-to-machine tokens for the Ping page: the client credentials grant, done server-side.

Locally the two demo clients of the IdP's tenant are used (a notes reader and a notes
writer); against Auth0, the clients named by M2M_READER_* and M2M_WRITER_* settings. The
Cognito user pool's reader and writer work the same way at the pool's `/oauth2/token`, without
an `audience` (Cognito has none: no `scope` asks for all the client's custom scopes; AWS:
"Token endpoint"). Tokens
are kept until shortly before they expire; secrets never leave the server.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests


@dataclass(frozen=True)
class M2MClient:
    """A client-credentials application the web app may get tokens for."""

    key: str
    label: str
    client_id: str
    client_secret: str
    provider: str = "auth0"  # or "cognito"


class M2MTokens:
    """Get and cache client-credentials tokens for the configured M2M clients."""

    def __init__(self, config: dict[str, Any], clients: list[M2MClient]) -> None:
        self.config = config
        self.clients = {client.key: client for client in clients}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def has_live_token(self, key: str) -> bool:
        """Tell whether `token` would answer from the cache (no request to the provider)."""
        with self._lock:
            cached = self._tokens.get(key)
        return bool(cached and cached[1] > time.time() + 60)

    def token(self, key: str, token_endpoint: str) -> str:
        """Return a live token for one client, fetching one when needed.

        :raise LookupError: the client is not configured.
        :raise RuntimeError: the identity provider refused or could not be reached.
        """
        client = self.clients.get(key)
        if client is None:
            raise LookupError(key)
        with self._lock:
            cached = self._tokens.get(key)
            if cached and cached[1] > time.time() + 60:
                return cached[0]
        try:
            response = requests.post(
                token_endpoint,
                timeout=self.config["HTTP_TIMEOUT"],
                auth=(client.client_id, client.client_secret),
                data={"grant_type": "client_credentials"}
                if client.provider == "cognito"
                else {
                    "grant_type": "client_credentials",
                    "audience": self.config["AUTH0_AUDIENCE"],
                },
            )
        except requests.RequestException as exc:
            raise RuntimeError("the identity provider could not be reached") from exc
        if response.status_code != 200:
            try:
                error = response.json().get("error_description") or response.json()["error"]
            except (ValueError, KeyError, AttributeError):
                error = f"HTTP {response.status_code}"
            raise RuntimeError(f"the identity provider refused {client.client_id}: {error}")
        body = response.json()
        with self._lock:
            self._tokens[key] = (
                body["access_token"],
                time.time() + int(body.get("expires_in") or 0),
            )
        return body["access_token"]
