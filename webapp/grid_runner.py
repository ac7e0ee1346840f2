"""Run a Compare grid for the page: every token variant against every API style and route.

The page's side of the engine: it takes tokens the request already gathered (the session's,
the M2M clients', the local IdP's variants), calls each API through `api_client.call` (the
real gateway and authorizer) in a thread pool, and hands each finished cell to a callback so
the page can show it at once. Each cell comes with its details (the explanation's steps and
the gateway's trace, already redacted by the gateway) for the click-through; the cells
themselves are the run's documented JSON.

Calls of one token to one API run in route order on one worker, so which of them meets API
Gateway's result cache (a hit or a miss) is the same from run to run; different tokens and
APIs run side by side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from . import api_client
from .explain import Explanation
from .explain import explain

WORKERS = 16
NOTE_TEXT = "written by a Compare run"


@dataclass
class Variant:
    """One row: a token (never shown, never stored) and what it is."""

    id: str
    label: str
    token: str | None
    # How it is sent: "header" (Authorization: Bearer), and whatever else an engine adds.
    sent: str = "header"


@dataclass
class Column:
    target: api_client.Target
    action: api_client.Action

    def as_json(self) -> dict[str, Any]:
        return {
            "api": self.target.style.key,
            "style": self.target.style.title,
            "method": self.action.method,
            "path": self.action.path,
        }


def columns_of(
    targets: dict[str, api_client.Target], actions: dict[str, api_client.Action]
) -> list[Column]:
    """Every guarded route of every reachable API style (the gateway's catalogue), in order."""
    columns = []
    for action in actions.values():
        if not action.route.guarded:
            continue  # a public route answers everyone alike: nothing to compare
        for target in targets.values():
            if action.key in target.route_keys:
                columns.append(Column(target, action))
    return columns


def decided_by(result: api_client.CallResult, explanation: Explanation) -> str:
    """Who decided: the trace's stage, else what the status and headers suggest."""
    if result.trace and isinstance(result.trace.get("decided_by"), str):
        return str(result.trace["decided_by"])
    if result.status is None:
        return "webapp"
    if result.status < 300:
        return "integration"
    if explanation.reason_code == "missing_token":
        return "identity_source"
    return "authorizer" if result.status in (401, 403) else "integration"


def cell_of(
    variant: Variant, column: Column, result: api_client.CallResult, explanation: Explanation
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cell (documented JSON) and its details (for the click-through)."""
    cell = {
        "variant": variant.id,
        "api": column.target.style.key,
        "method": column.action.method,
        "path": column.action.path,
        "status": result.status,
        "decided_by": decided_by(result, explanation),
        "reason": explanation.reason_code or ("allowed" if (result.status or 0) < 300 else None),
        "cache": explanation.cache,
    }
    detail = {
        "headline": explanation.headline,
        "steps": [s for s in explanation.steps if s],
        "reason_code": explanation.reason_code,
        "status": result.status,
        "status_reason": result.reason,
        "method": result.method,
        "url": result.url,
        "style": column.target.style.title,
        "elapsed_ms": result.elapsed_ms,
        "error": result.error,
        "body": result.body[:4000],
        "json_body": result.json_body,
        "headers": result.headers,
        "curl": result.curl,
        "request_id": result.request_id,
        "trace": result.trace,
        "variant_label": variant.label,
    }
    return cell, detail


def run_grid(
    variants: list[Variant],
    columns: list[Column],
    audience: str,
    timeout: float,
    on_cell: Callable[[dict[str, Any], dict[str, Any]], None],
    cancelled: threading.Event | None = None,
) -> float:
    """Call every column with every variant; `on_cell` gets each cell as it finishes.

    Returns the time taken in seconds.
    """
    started = time.perf_counter()
    by_api: dict[str, list[Column]] = {}
    for column in columns:
        by_api.setdefault(column.target.style.key, []).append(column)

    def one_lane(variant: Variant, lane: list[Column]) -> None:
        for column in lane:
            if cancelled is not None and cancelled.is_set():
                return
            result = api_client.call(
                column.target, column.action, variant.token, variant.id, NOTE_TEXT, timeout
            )
            on_cell(*cell_of(variant, column, result, explain(result, variant.token, audience)))

    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="compare") as pool:
        futures = [
            pool.submit(one_lane, variant, lane) for variant in variants for lane in by_api.values()
        ]
        for future in futures:
            future.result()
    return time.perf_counter() - started
