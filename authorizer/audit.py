"""The decision log: one JSON line per decision on stdout, with a token fingerprint, never
the token.

The line carries the reason code, `kid`, `iss`, `sub`, client, time to expiry, cache hit,
and duration. On Lambda, stdout goes to CloudWatch Logs line by line. The line is written
directly rather than through `logging`, whose record-making (a stack walk for the caller)
cost more than the rest of a warm decision. Listeners get the same fields as a dict: the
local gateway uses one to explain an outcome without parsing text. Errors (a bad
configuration, a bug) go through the `authorizer` logger.

On Lambda the line is always JSON (CloudWatch Logs Insights reads its fields). A local
terminal may ask for a short line a person reads at a glance instead (`set_line_format`
with `human_line`; the gateway emulator does, unless `LOG_FORMAT=json`): nothing on Lambda
calls it, so the deployed contract is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("authorizer")
Listener = Callable[[dict[str, Any]], None]

LineFormat = Callable[[dict[str, Any]], str]

_listeners: list[Listener] = []
_line_format: LineFormat | None = None  # None: the JSON line (Lambda's, CloudWatch's)
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode
_level = logging.INFO


def configure_logging() -> None:
    """Take the level from LOG_LEVEL (INFO by default; DEBUG also logs decision-cache hits)."""
    global _level
    level = logging.getLevelName(os.environ.get("LOG_LEVEL", "INFO").upper())
    _level = level if isinstance(level, int) else logging.INFO


def fingerprint(credential: str) -> str:
    """Return a short, stable, non-reversible identifier of a token for correlating logs.

    For a JWT the signature segment is hashed: it is unique to the token and a third of its
    length. Anything else is hashed whole. BLAKE2b with an 8-byte digest (16 hex digits):
    CPython's own implementation, measurably cheaper per decision here than OpenSSL's SHA-256.
    """
    last_dot = credential.rfind(".")
    part = (
        credential[last_dot + 1 :]
        if last_dot > 0 and last_dot < len(credential) - 1
        else credential
    )
    return hashlib.blake2b(part.encode("utf-8", "replace"), digest_size=8).hexdigest()


def add_listener(listener: Listener) -> None:
    """Call `listener(fields)` for every decision from now on."""
    _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    """Stop calling a listener added with `add_listener`."""
    if listener in _listeners:
        _listeners.remove(listener)


def set_line_format(line_format: LineFormat | None) -> None:
    """Write each decision line with `line_format(fields)` instead of JSON (None: JSON again).

    For a local terminal only: the deployed authorizer never calls this.
    """
    global _line_format
    _line_format = line_format


def human_line(fields: dict[str, Any]) -> str:
    """A decision as one short line for a person at a terminal, e.g.
    `authorizer ALLOW GET /private · valid · sub auth0|abc · miss · 0.4 ms · token 1a2b3c4d`.

    The same fields as the JSON line, fewer of them: the token only by its fingerprint.
    """
    head = f"authorizer {str(fields.get('decision') or '?').upper()}"
    if fields.get("route"):
        head += f" {fields['route']}"
    reason = str(fields.get("reason") or "")
    if fields.get("detail"):
        # Details mark names as `code` for the pages; a terminal shows the backticks as is.
        reason += f" ({str(fields['detail']).replace('`', '')})"
    duration = fields.get("duration_us")
    parts = [
        head,
        reason,
        f"sub {fields['sub']}" if fields.get("sub") else "",
        str(fields.get("cache") or ""),
        f"{duration / 1000:.1f} ms" if isinstance(duration, int | float) else "",
        f"token {str(fields['fingerprint'])[:8]}" if fields.get("fingerprint") else "",
    ]
    return " · ".join(part for part in parts if part)


def enabled(level: int) -> bool:
    """Tell whether decisions at this level are logged."""
    return level >= _level


def has_listeners() -> bool:
    """Tell whether anyone wants decisions as dicts (building one costs a few µs)."""
    return bool(_listeners)


_QUOTE = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def _q(value: str | None) -> str:
    return "null" if value is None else _QUOTE(value)


def record_decision(
    kind: str,
    credential: str | None,
    summary: tuple[Any, ...],
    cache: str,
    duration_us: int,
    expires_in: int | None,
    level: int = logging.INFO,
    jwks: str | None = None,
) -> None:
    """Log one decision: a line on stdout if its level is on, a dict to each listener.

    `summary` is (outcome, reason, detail, route, kid, iss, sub, client, token kind, exp);
    the last five are None when no token verified. `jwks` says how the issuer's keys were had
    for this decision: "fetched" or "cached" (left out when no key was looked up). The line is
    written without building
    a dict first, as the warm path's budget is tight; it matches what `log_decision` writes
    for the same fields.
    """
    outcome, reason, detail, route, kid, iss, sub, client, token_kind, _ = summary
    token_fingerprint = fingerprint(credential) if credential else None
    if _listeners or _line_format is not None:
        fields: dict[str, Any] = {
            "event": "authorizer_decision",
            "decision": outcome,
            "reason": reason,
            "detail": detail,
            "kind": kind,
            "route": route,
            "cache": cache,
            "duration_us": duration_us,
            "fingerprint": token_fingerprint,
        }
        if jwks is not None:
            fields["jwks"] = jwks
        if token_kind is not None:
            fields.update(
                kid=kid,
                iss=iss,
                sub=sub,
                client=client,
                token_kind=token_kind,
                expires_in=expires_in,
            )
        log_decision(fields, level)
        return
    if level < _level:
        return
    # Outcome, reason, kind, cache and token kind are our own constants and the fingerprint
    # is hex: only what may come from a token or a request goes through the JSON escaper.
    keys = "" if jwks is None else f',"jwks":"{jwks}"'  # our own constant
    if token_kind is None:
        fingerprint_json = f'"{token_fingerprint}"' if token_fingerprint else "null"
        sys.stdout.write(
            f'{{"event":"authorizer_decision","decision":"{outcome}","reason":"{reason}",'
            f'"detail":{_QUOTE(detail)},"kind":"{kind}","route":{_q(route)},"cache":"{cache}",'
            f'"duration_us":{duration_us},"fingerprint":{fingerprint_json}{keys}}}\n'
        )
        return
    # A verified token has a kid, an iss and a sub (strings) and a route.
    sys.stdout.write(
        f'{{"event":"authorizer_decision","decision":"{outcome}","reason":"{reason}",'
        f'"detail":{_QUOTE(detail)},"kind":"{kind}","route":{_QUOTE(route)},"cache":"{cache}",'
        f'"duration_us":{duration_us},"fingerprint":"{token_fingerprint}"{keys},'
        f'"kid":{_QUOTE(kid)},"iss":{_QUOTE(iss)},"sub":{_QUOTE(sub)},"client":{_q(client)},'
        f'"token_kind":"{token_kind}","expires_in":{expires_in}}}\n'
    )


def log_decision(fields: dict[str, Any], level: int = logging.INFO) -> None:
    """Tell the listeners; write the line if its level is on (INFO; cache hits DEBUG)."""
    if level >= _level:
        sys.stdout.write((_line_format or _ENCODE)(fields) + "\n")
    for listener in _listeners:
        listener(fields)
