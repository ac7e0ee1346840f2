"""The decision log: one JSON line per decision, with a token fingerprint, never the token.

The line carries the reason code, `kid`, `iss`, `sub`, client, time to expiry, cache hit,
and duration. The same fields ride on the log record as `record.decision`, for a local
gateway that wants to explain an outcome without parsing text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from typing import Any

logger = logging.getLogger("authorizer")


def configure_logging() -> None:
    """Set the level from LOG_LEVEL; print bare JSON lines when nothing else handles them.

    On Lambda the runtime's root handler takes the records; run elsewhere (a script, the
    bench) the lines go to stdout.
    """
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def fingerprint(token: str) -> str:
    """Return a short, stable, non-reversible identifier of a token for correlating logs."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]


def log_decision(fields: dict[str, Any], level: int = logging.INFO) -> None:
    """Write one decision line (at INFO; cache hits at DEBUG)."""
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps(fields, separators=(",", ":"), default=str),
                   extra={"decision": fields})
