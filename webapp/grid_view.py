"""The Compare grid as the page shows it: cells in words, disagreements between styles, diffs.

Reads only the run's documented JSON (`webapp.runs`). A cell's `decided_by` is the gateway
trace's stage (`request`, `routing`, `identity_source`, `authorizer`, `integration`) or the
grid's own word for it (`gateway`, `authorizer`, `function`); both read the same here. Why
styles disagree follows AWS's documented answers: a REST API Lambda authorizer that raises
`Unauthorized` is 401 and a Deny policy 403; an HTTP API Lambda authorizer with simple
responses answers `isAuthorized: false` with 403; the HTTP API JWT authorizer refuses a bad
token with 401 itself
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from .explain import REASONS
from .runs import CellChange
from .runs import CellKey
from .runs import cell_key
from .runs import key_text

DECIDERS = {
    "request": "gateway",
    "routing": "gateway",
    "identity_source": "gateway",
    "gateway": "gateway",
    "authorizer": "authorizer",
    "cache": "authorizer",
    "integration": "function",
    "function": "function",
}
DECIDER_WORDS = {
    "gateway": "API Gateway, before the authorizer",
    "authorizer": "the authorizer",
    "function": "the function",
}
SHORT_STYLES = {
    "rest-token": "REST TOKEN",
    "rest-request": "REST REQUEST",
    "http-lambda": "HTTP Lambda (simple)",
    "http-jwt": "HTTP JWT",
}
SIMPLE_STYLES = ("http-lambda",)  # simple responses: a refusal is 403, never 401


def decider(cell: dict[str, Any]) -> str:
    """Who decided, in the grid's three words."""
    decided = cell.get("decided_by")
    if not decided:
        return "unknown (no trace)"
    return DECIDERS.get(str(decided), str(decided))


def verdict(status: Any) -> tuple[str, str, str]:
    """(css class, symbol, word) for a status: the word and symbol carry it without colour."""
    if not isinstance(status, int) or status <= 0:
        return "bad", "!", "no answer"
    if status < 300:
        return "ok", "✓", "allowed"
    if status in (401, 403):
        return "warn", "✗", "refused"
    if status < 500:
        return "warn", "✗", "rejected"
    return "bad", "!", "failed"


def reason_text(code: Any) -> str:
    """A reason code in words (the Ping page's words)."""
    if not code:
        return "no reason recorded"
    return REASONS.get(str(code), str(code).replace("_", " "))


def cache_text(cache: Any, decided: str | None = None, builtin: bool = False) -> str:
    """Cached or invoked, in words; API Gateway's own refusals invoke nothing, and its
    built-in checks (JWT, Cognito user pool, IAM) invoke no Lambda: "built-in"."""
    if decided == "gateway":
        return "not invoked"
    if not cache:
        return "no authorizer" if decided == "function" else "cache unknown"
    if builtin and cache != "hit":
        return "built-in"
    return {"hit": "cached", "miss": "invoked", "off": "invoked"}.get(str(cache), str(cache))


def is_builtin_style(style: Any) -> bool:
    """A column whose authorizer is API Gateway's own (JWT, Cognito user pool, IAM), not a
    Lambda function: its styles as compare.style_name writes them."""
    text = str(style or "")
    return bool(text) and not any(word in text for word in ("TOKEN", "REQUEST", "Lambda"))


@dataclass
class GridCell:
    """One cell, ready for the template."""

    key: str
    cell: dict[str, Any] | None
    css: str = "pending"
    symbol: str = "…"
    word: str = "waiting"
    decider: str = ""
    reason: str = ""
    cache: str = ""
    change: CellChange | None = None
    before: str = ""  # the other run's cell, in one line, when it differs


@dataclass
class GridRow:
    variant: dict[str, Any]
    cells: list[GridCell]
    disagreements: dict[str, str] = field(default_factory=dict)  # "GET /admin" -> why


@dataclass
class Grid:
    """Rows of cells, columns grouped by route, and the disagreement notes."""

    columns: list[dict[str, Any]]
    routes: list[tuple[str, str]]  # (method, path), in column order, each once
    rows: list[GridRow]
    filled: int
    total: int
    # (variant label, routes, why): one line per variant and reason, listing its routes
    notes: list[tuple[str, list[str], str]] = field(default_factory=list)


def build(
    document: dict[str, Any],
    changes: dict[CellKey, CellChange] | None = None,
    previous: dict[str, Any] | None = None,
) -> Grid:
    """Lay a run (complete or filling) out for the page."""
    columns = [dict(c) for c in document.get("columns", ())]
    # Two APIs of one style (two JWT APIs, say) are told apart by their API's name.
    apis: dict[str, set[str]] = {}
    for column in columns:
        apis.setdefault(str(column.get("style") or ""), set()).add(str(column.get("api")))
    for column in columns:
        style = str(column.get("style") or "")
        column["heading"] = (
            f"{column['api']} ({style})"
            if style and len(apis[style]) > 1
            else style or short_style(column.get("api"))
        )
    # Columns grouped by route, then by style, so styles sit side by side for one route.
    routes = list(dict.fromkeys((c["method"], c["path"]) for c in columns))
    columns.sort(key=lambda c: routes.index((c["method"], c["path"])))
    cells = {cell_key(c): c for c in document.get("cells", ())}
    before = {cell_key(c): c for c in (previous or {}).get("cells", ())}
    rows = []
    notes: dict[tuple[str, str], list[str]] = {}
    for variant in document.get("variants", ()):
        row = GridRow(variant, [])
        for column in columns:
            key = (variant["id"], column["api"], column["method"], column["path"])
            cell = cells.get(key)
            grid_cell = GridCell(key_text(key), cell)
            if cell is not None:
                grid_cell.css, grid_cell.symbol, grid_cell.word = verdict(cell.get("status"))
                grid_cell.decider = decider(cell)
                grid_cell.reason = str(cell.get("reason") or "")
                grid_cell.cache = cache_text(
                    cell.get("cache"), grid_cell.decider, is_builtin_style(column.get("style"))
                )
            if changes and key in changes:
                grid_cell.change = changes[key]
                old = before.get(key)
                if old is not None:
                    grid_cell.before = _one_line(old)
            row.cells.append(grid_cell)
        for method, path in routes:
            # Only columns trusting the same token issuer are compared (compare.py says why).
            for issuer in dict.fromkeys(str(c.get("issuer") or "") for c in columns):
                same_route = [
                    (column, cells.get((variant["id"], column["api"], method, path)))
                    for column in columns
                    if (column["method"], column["path"]) == (method, path)
                    and str(column.get("issuer") or "") == issuer
                ]
                # The engine's own line once the run is complete; this module's while it fills.
                marked = [
                    c.get("disagreement") for _, c in same_route if c and c.get("disagreement")
                ]
                why = marked[0] if marked else disagreement(same_route)
                if why:
                    row.disagreements[group_key(method, path, issuer)] = why
                    notes.setdefault((str(variant.get("label")), why), []).append(
                        f"{method} {path}"
                    )
        rows.append(row)
    total = len(columns) * len(rows)
    listed = [(label, where, why) for (label, why), where in notes.items()]
    return Grid(columns, routes, rows, len(cells), total, listed)


def group_key(method: str, path: str, issuer: str = "") -> str:
    """The key of `GridRow.disagreements`: a route and the token issuer its columns trust."""
    return f"{method} {path}|{issuer}"


def _one_line(cell: dict[str, Any]) -> str:
    who = decider(cell)
    return f"{cell.get('status')} · {who} · {cell.get('reason') or '—'} · " + cache_text(
        cell.get("cache"), who
    )


def disagreement(same_route: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> str | None:
    """Say in one line why the styles answer one token and route differently (None: they agree)."""
    done = [(column, cell) for column, cell in same_route if cell is not None]
    statuses = {cell.get("status") for _, cell in done}
    if len(done) < 2 or len(statuses) < 2:
        return None
    by_status: dict[Any, list[str]] = {}
    for column, cell in done:
        by_status.setdefault(cell.get("status"), []).append(_short(column))
    answers = "; ".join(f"{', '.join(names)}: {status}" for status, names in by_status.items())
    reasons = {cell.get("reason") for _, cell in done}
    deciders = {decider(cell) for _, cell in done}
    refused = statuses <= {401, 403}
    simple = {
        cell.get("status")
        for column, cell in done
        if column["api"] in SIMPLE_STYLES or "simple" in str(column.get("style", "")).lower()
    }
    failed = sorted(_short(c) for c, cell in done if (cell.get("status") or 500) >= 500)
    if failed:
        return (
            f"{answers}. {', '.join(failed)} failed (5xx) where the others answered: open the "
            "cell for the function's or the authorizer's error."
        )
    if refused and simple == {403}:
        return (
            f"{answers}. The HTTP API's simple-response Lambda authorizer can only say "
            "`isAuthorized: false`, which is 403; REST authorizers and the JWT authorizer "
            "answer 401 for a bad token."
        )
    if "gateway" in deciders and len(deciders) > 1:
        return (
            f"{answers}. API Gateway refused it before one authorizer ran (its identity source "
            "check), while another style passed it to its authorizer."
        )
    if any(cell.get("cache") == "hit" for _, cell in done) and len(reasons) > 1:
        return (
            f"{answers}. A cached result decided one of them: the policy cached for this "
            "token was written for another route."
        )
    if len(reasons) > 1:
        words = "; ".join(
            f"{_short(column)} says {cell.get('reason') or 'nothing'}" for column, cell in done
        )
        return f"{answers}. The authorizers judge it differently: {words}."
    return f"{answers}. Same reason, different status: each style maps a refusal its own way."


def short_style(api: Any) -> str:
    """A column's API style in a few words (the full title is its tooltip)."""
    return SHORT_STYLES.get(str(api), str(api))


def _short(column: dict[str, Any]) -> str:
    return str(column.get("style") or short_style(column.get("api")))
