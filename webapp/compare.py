"""The Compare grid: every token variant against every API style and route, with the reason.

Rows are the variants of `webapp.variants` (tokens, and credential rows whose calls are signed
with SigV4 one by one as they are made, by the row's signer); columns are every API and guarded
route of the local gateway's catalogue (`GET /`), so an API added to `template.yaml` becomes
columns with no change here; against a deployed stack, the `API_URL_*` settings and the routes
every stack of the template has. Each cell is one real call through the gateway and, locally,
its trace (`GET /_lab/traces/{request id}`, the README's "The trace"), put in words by
`explain.py`.

The statuses follow API Gateway's documented answers
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html):
the grid only reports them, and marks where the styles disagree for one token and route.

The engine needs no Flask request: a page calls `iter_cells` (cells as they finish, for a
progress bar) or `run_grid` (with an `on_cell` callback), and `Run.to_json`/`to_markdown`.
`python -m webapp.compare` is its command line (`webapp.compare_cli`).

The JSON of a run (stable keys; more may be added):
`{"run": {...}, "variants": [{"id", "label"}], "columns": [{"api", "style", "method", "path"}],
"cells": [{"variant", "api", "method", "path", "status", "decided_by", "reason", "cache"}]}`.
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from .api_client import FALLBACK_ROUTES
from .api_client import ApiStyle
from .api_client import CallResult
from .api_client import Target
from .explain import explain
from .explain import reason_words
from .variants import Skipped
from .variants import Variant

FORMAT_VERSION = 1
# Measured by bench/compare.py on two cores: a call mostly waits (the gateway, the authorizer,
# the trace), so 6 threads ran the grid 4.5x faster than 1; 8 and 12 added nothing more.
DEFAULT_WORKERS = 6
CALLABLE = ("GET", "POST", "PUT", "PATCH", "DELETE")
NOTE_BODY = json.dumps({"text": "written by the Compare grid"})
# The fields `--expect` compares: what a team pins. `cache` is left out on purpose: whether a
# call reused a cached policy depends on what ran before (the TTL spans runs).
COMPARED = ("status", "decided_by", "reason")


@dataclass(frozen=True)
class Column:
    """One API style and route: where to call it and where its traces are."""

    api: str  # the template's logical id, e.g. "RestTokenApi"
    style: str  # short, e.g. "REST TOKEN", "HTTP Lambda (simple)", "HTTP JWT"
    method: str
    path: str
    base_url: str = field(compare=False)
    trace_url: str | None = field(default=None, compare=False)
    title: str = field(default="", compare=False)  # the authorizer's style in words
    simple: bool = field(default=False, compare=False)  # an HTTP simple-response authorizer
    # The token issuer its authorizer trusts ("" when unknown): only columns trusting the same
    # issuer are compared (a Cognito API refusing every Auth0-style token is no disagreement).
    issuer: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.api, self.method, self.path)

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def iam(self) -> bool:
        """An `AWS_IAM` route (SigV4), named "REST AWS_IAM" locally, "REST IAM" when deployed."""
        return is_iam_style(self.style)

    def public(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "style": self.style,
            "method": self.method,
            "path": self.path,
            "title": self.title,
            "issuer": self.issuer,
        }


@dataclass
class Cell:
    """One call's outcome. `reason` is a code of explain.py's `REASONS`; never a credential."""

    variant: str
    api: str
    method: str
    path: str
    style: str = ""
    status: int | None = None
    decided_by: str | None = None
    reason: str | None = None
    reason_words: str = ""
    headline: str = ""
    cache: str | None = None  # "hit", "miss", "off"; None without a trace or an authorizer
    trace_id: str | None = None
    elapsed_ms: float = 0.0
    error: str | None = None
    disagreement: str | None = None  # one line on why the styles differ on this token and route

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.variant, self.api, self.method, self.path)

    def public(self) -> dict[str, Any]:
        return asdict(self)


def is_iam_style(style: str) -> bool:
    """Whether a column's style is IAM (SigV4) authorization rather than a token authorizer."""
    return style.endswith(("AWS_IAM", " IAM"))


def style_name(api_type: str, authorizer: dict[str, Any] | None) -> tuple[str, bool]:
    """Name an API's style from its catalogue entry: ("REST TOKEN", False), ("HTTP JWT", False).

    A Lambda authorizer on an HTTP API is "Lambda"; "(simple)" marks simple responses, whose
    only refusal is 403 (isAuthorized: false).
    """
    if not authorizer:
        return f"{api_type} (no authorizer)", False
    kind = str(authorizer.get("type") or "?")
    described = str(authorizer.get("style") or "").lower()
    simple = "simple" in described
    if api_type == "HTTP" and kind in ("REQUEST", "TOKEN"):
        return f"HTTP Lambda ({'simple' if simple else 'policy'})", simple
    return f"{api_type} {kind}", simple


def trusted_issuer(authorizer: dict[str, Any] | None) -> str:
    """The issuer an authorizer of the catalogue trusts, without a trailing slash ("" unknown).

    A JWT authorizer lists its `issuer`, a Cognito one its pools' `user_pool_issuers`, and the
    gateway lists the template's TokenIssuer as a Lambda authorizer's `issuer`.
    """
    if not authorizer:
        return ""
    pools = authorizer.get("user_pool_issuers")
    if isinstance(pools, list) and pools:
        return " ".join(sorted(str(p).rstrip("/") for p in pools))
    return str(authorizer.get("issuer") or "").rstrip("/")


def columns_from_catalogue(catalogue: dict[str, Any], trace_base: str) -> list[Column]:
    """Every guarded route of every API of the gateway's catalogue, API by API.

    Routes without an authorizer tell nothing about tokens; routes with path parameters or
    methods such as ANY have nothing to call. Within an API: by path, then method order.
    """
    columns = []
    for api in catalogue.get("apis") or []:
        if not isinstance(api, dict) or not api.get("base_url"):
            continue
        authorizers = {
            a.get("name"): a for a in api.get("authorizers") or [] if isinstance(a, dict)
        }
        routes = [
            r
            for r in api.get("routes") or []
            if isinstance(r, dict)
            and r.get("auth", "NONE") != "NONE"
            and r.get("method") in CALLABLE
            and "{" not in str(r.get("path"))
        ]
        routes.sort(key=lambda r: (r["path"], CALLABLE.index(r["method"])))
        for route in routes:
            authorizer = authorizers.get(route["auth"])
            style, simple = style_name(str(api.get("type")), authorizer)
            columns.append(
                Column(
                    str(api.get("name") or api.get("id")),
                    style,
                    route["method"],
                    route["path"],
                    str(api["base_url"]).rstrip("/"),
                    trace_base,
                    str((authorizer or {}).get("style") or ""),
                    simple,
                    trusted_issuer(authorizer),
                )
            )
    return columns


def discover_columns(gateway_url: str, timeout: float = 10.0) -> list[Column]:
    """Read the local gateway's catalogue and return its columns.

    :raise RuntimeError: the gateway cannot be reached or has no catalogue.
    """
    try:
        response = requests.get(gateway_url.rstrip("/") + "/", timeout=timeout)
        catalogue = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError) as exc:
        raise RuntimeError(f"the gateway at {gateway_url} could not be reached") from exc
    if not isinstance(catalogue, dict) or "apis" not in catalogue:
        raise RuntimeError(f"{gateway_url} answered without the gateway's catalogue")
    return columns_from_catalogue(catalogue, gateway_url.rstrip("/") + "/_lab/traces/")


def columns_from_targets(targets: Iterable[Target]) -> list[Column]:
    """Columns for deployed APIs (`ApiDirectory.targets()`): their routes, no traces."""
    columns = []
    for target in targets:
        kind, _, rest = target.style.key.partition("-")
        simple = target.style.key == "http-lambda"
        style = {"rest-token": "REST TOKEN", "rest-request": "REST REQUEST"}.get(
            target.style.key, "HTTP Lambda (simple)" if simple else f"{kind.upper()} {rest.upper()}"
        )
        for route in target.routes or FALLBACK_ROUTES:
            if route.guarded and "{" not in route.path and route.method in CALLABLE:
                columns.append(
                    Column(
                        target.style.logical_id,
                        style,
                        route.method,
                        route.path,
                        target.base_url,
                        target.trace_url,
                        target.style.title,
                        simple,
                    )
                )
    return columns


# Calling ---------------------------------------------------------------------------------

_local = threading.local()


def _session() -> requests.Session:
    """One keep-alive session per worker thread (a new TCP connection per call cost more)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=4))
        session.headers["User-Agent"] = "authorizer-lab-compare"
        _local.session = session
    return session


def call_cell(variant: Variant, column: Column, timeout: float = 10.0) -> Cell:
    """Send one variant to one column and read its trace; never raises for a network error."""
    cell = Cell(variant.id, column.api, column.method, column.path, column.style)
    headers, params = variant.request_parts()
    headers = {**headers, "Accept": "application/json"}
    body = None
    if column.method in ("POST", "PUT", "PATCH"):
        body = NOTE_BODY
        headers["Content-Type"] = "application/json"
    if variant.signer is not None:
        # Signed now, for this very call: SigV4 covers the method, URL, headers and body.
        headers = variant.signer.sign(column.method, column.base_url + column.path, headers, body)
    session = _session()
    started = time.perf_counter()
    try:
        response = session.request(
            column.method,
            column.base_url + column.path,
            headers=headers,
            params=params,
            data=body,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        cell.error = f"the API could not be reached ({type(exc).__name__})"
        return cell
    cell.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    cell.status = response.status_code
    request_id = response.headers.get("x-amzn-RequestId") or response.headers.get("apigw-requestid")
    cell.trace_id = request_id
    trace = None
    if column.trace_url and request_id:
        try:
            traced = session.get(column.trace_url + request_id, timeout=timeout)
            trace = traced.json() if traced.status_code == 200 else None
        except (requests.RequestException, ValueError):
            trace = None
    result = CallResult(
        ApiStyle(column.api, column.title, column.api, "", column.style.split(" ")[0]),
        column.route,
        column.method,
        column.base_url + column.path,
        variant.id,
        status=response.status_code,
        trace=trace if isinstance(trace, dict) else None,
        trace_available=isinstance(trace, dict),
    )
    try:
        result.json_body = response.json()
    except ValueError:
        result.json_body = None
    audience = ""  # only used without a trace, where the reason stays unknown anyway
    explanation = explain(result, variant.token, audience)
    cell.headline = explanation.headline
    if result.trace is not None:
        cell.decided_by = result.trace.get("decided_by")
        cell.reason = explanation.reason_code
        cell.reason_words = reason_words(explanation.reason_code, explanation.detail)
        authorizer = result.trace.get("authorizer")
        cell.cache = authorizer.get("cache") if isinstance(authorizer, dict) else None
        if cell.reason is None and cell.decided_by == "integration":
            cell.reason = "no_authorizer" if authorizer is None else None
    return cell


def _tasks(variants: list[Variant], columns: list[Column]) -> list[list[tuple[Variant, Column]]]:
    """Group the calls by (variant, API): each group runs in order, the groups in parallel.

    A token's calls to one API share its authorizer's result cache, so their order decides
    which is a miss and which a hit: kept fixed, a run is reproducible from the same cache.
    """
    groups: dict[tuple[str, str], list[tuple[Variant, Column]]] = {}
    for variant in variants:
        for column in columns:
            groups.setdefault((variant.id, column.api), []).append((variant, column))
    return list(groups.values())


def total_calls(variants: list[Variant], columns: list[Column]) -> int:
    return len(variants) * len(columns)


def iter_cells(
    variants: list[Variant],
    columns: list[Column],
    workers: int = DEFAULT_WORKERS,
    timeout: float = 10.0,
) -> Iterator[Cell]:
    """Yield cells as they finish (not in grid order); `workers` 1 calls one after another."""
    groups = _tasks(variants, columns)
    if workers <= 1:
        for group in groups:
            for variant, column in group:
                yield call_cell(variant, column, timeout)
        return

    def run_group(
        group: list[tuple[Variant, Column]], out: list[Cell], lock: threading.Lock
    ) -> None:
        for variant, column in group:
            cell = call_cell(variant, column, timeout)
            with lock:
                out.append(cell)

    finished: list[Cell] = []
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compare") as pool:
        pending: set[Future[None]] = {pool.submit(run_group, g, finished, lock) for g in groups}
        while pending:
            done, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
            with lock:
                ready, finished[:] = list(finished), []
            yield from ready
        with lock:
            yield from list(finished)


# The run ---------------------------------------------------------------------------------


@dataclass
class Run:
    """A finished grid: what ran, against what, and every cell in grid order."""

    meta: dict[str, Any]
    variants: list[dict[str, Any]]
    columns: list[dict[str, Any]]
    cells: list[Cell]
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.meta,
            "variants": self.variants,
            "skipped": self.skipped,
            "columns": self.columns,
            "cells": [cell.public() for cell in self.cells],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Any) -> Run:
        """Read a run from its JSON form.

        :raise ValueError: it is not a run (the message says what is missing).
        """
        if not isinstance(data, dict):
            raise ValueError("a run is a JSON object with run, variants, columns and cells")
        for key in ("run", "variants", "columns", "cells"):
            if key not in data:
                raise ValueError(f"not a Compare run: no {key!r}")
        cells = []
        known = set(Cell.__dataclass_fields__)
        for raw in data["cells"]:
            if not isinstance(raw, dict) or not all(
                k in raw for k in ("variant", "api", "method", "path")
            ):
                raise ValueError("a cell needs variant, api, method and path")
            cells.append(Cell(**{k: v for k, v in raw.items() if k in known}))
        return cls(data["run"], data["variants"], data["columns"], cells, data.get("skipped") or [])

    def cell(self, variant: str, api: str, method: str, path: str) -> Cell | None:
        return next((c for c in self.cells if c.key == (variant, api, method, path)), None)

    def to_markdown(self) -> str:
        return render_markdown(self)


def run_grid(
    variants: list[Variant],
    columns: list[Column],
    *,
    skipped: Iterable[Skipped] = (),
    workers: int = DEFAULT_WORKERS,
    timeout: float = 10.0,
    on_cell: Callable[[Cell, int, int], None] | None = None,
    meta: dict[str, Any] | None = None,
) -> Run:
    """Run the whole grid; `on_cell(cell, done, total)` is called as each cell finishes."""
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    total = total_calls(variants, columns)
    cells: dict[tuple[str, str, str, str], Cell] = {}
    for cell in iter_cells(variants, columns, workers, timeout):
        cells[cell.key] = cell
        if on_cell is not None:
            on_cell(cell, len(cells), total)
    ordered = [
        cells[(v.id, c.api, c.method, c.path)]
        for v in variants
        for c in columns
        if (v.id, c.api, c.method, c.path) in cells
    ]
    mark_disagreements(ordered, columns)
    run_meta = {
        "id": uuid.uuid4().hex[:12],
        "format": FORMAT_VERSION,
        "started": started_at,
        "duration_s": round(time.perf_counter() - started, 3),
        "calls": total,
        "workers": workers,
        **(meta or {}),
    }
    return Run(
        run_meta,
        [v.public() for v in variants],
        [c.public() for c in columns],
        ordered,
        [s.public() for s in skipped],
    )


# Disagreements ---------------------------------------------------------------------------

# The styles two APIs of one run share (a template with their API beside ours): named by API.
_ambiguous: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "ambiguous", default=frozenset()
)


def ambiguous_styles(columns: Iterable[dict[str, Any]]) -> frozenset[str]:
    """The styles more than one API has in these columns."""
    apis: dict[str, set[str]] = {}
    for column in columns:
        apis.setdefault(column["style"], set()).add(column["api"])
    return frozenset(style for style, names in apis.items() if len(names) > 1)


_TOKEN_REFUSALS = frozenset(
    (
        "malformed_token",
        "opaque_token",
        "encrypted_token",
        "alg_not_allowed",
        "kid_missing",
        "unknown_kid",
        "bad_signature",
        "wrong_issuer",
        "wrong_audience",
        "id_token",
        "missing_claim",
        "invalid_claim",
        "invalid_claims",
        "token_expired",
        "token_not_yet_valid",
        "issued_in_future",
        "not_bearer",
        "missing_token",
        "unauthorized",
    )
)


def _name(cell: Cell) -> str:
    """The column's name in words: its style, or its API when two APIs share a style."""
    return f"{cell.api} ({cell.style})" if cell.style in _ambiguous.get() else cell.style


def _styles(cells: list[Cell]) -> str:
    return ", ".join(dict.fromkeys(_name(c) for c in cells))


def _verb(cells: list[Cell], one: str, several: str) -> str:
    return one if len({_name(c) for c in cells}) == 1 else several


def _reasons(cells: list[Cell], words: bool = False) -> str:
    """Each group of these cells with its own reason: `REST TOKEN: a; HTTP JWT: b`.

    A single reason is said once; cells never borrow another column's reason.
    """
    by_reason: dict[str | None, list[Cell]] = {}
    for cell in cells:
        by_reason.setdefault(cell.reason, []).append(cell)

    def said(cell: Cell) -> str:
        if words:
            return cell.reason_words or cell.reason or "no reason"
        return cell.reason or "no reason"

    if len(by_reason) == 1:
        return said(cells[0])
    return "; ".join(f"{_styles(group)}: {said(group[0])}" for group in by_reason.values())


def why_disagree(cells: list[Cell], simple_styles: set[str]) -> str:
    """One line on why these cells (one token, one route, several styles) differ in status."""
    by_status: dict[int | None, list[Cell]] = {}
    for cell in cells:
        by_status.setdefault(cell.status, []).append(cell)
    summary = " vs ".join(f"{_styles(group)}: {status}" for status, group in by_status.items())
    accepted = [c for c in cells if c.status is not None and c.status < 400]
    refused = [c for c in cells if c.status is not None and c.status >= 400]
    early = [c for c in refused if c.decided_by == "identity_source"]
    simple_403 = [
        c for c in refused if c.status == 403 and c.style in simple_styles and c.reason != "allowed"
    ]
    other_401 = [c for c in refused if c.status == 401]
    if accepted and refused:
        given = [c for c in refused if c.reason]
        words = f" ({_reasons(given, words=True)})" if given else ""
        return (
            f"{_styles(accepted)} {_verb(accepted, 'lets', 'let')} it through; "
            f"{_styles(refused)} {_verb(refused, 'refuses', 'refuse')} it{words}"
        )
    if early and len(early) < len(refused):
        late = [c for c in refused if c.decided_by != "identity_source"]
        return (
            f"API Gateway refuses it before any authorizer on {_styles(early)} "
            f"({_reasons(early)}); on {_styles(late)} the authorizer decides"
        )
    if (
        simple_403
        and other_401
        and all(c.reason in _TOKEN_REFUSALS for c in simple_403 + other_401 if c.reason)
    ):
        return (
            f"a refused token is 401 on {_styles(other_401)} but 403 on {_styles(simple_403)}: "
            "a simple-response authorizer can only answer isAuthorized: false"
        )
    if other_401 and any(c.status == 403 for c in refused):
        denied = [c for c in refused if c.status == 403]
        return (
            f"{_styles(other_401)} {_verb(other_401, 'refuses', 'refuse')} the token itself "
            f"(401: {_reasons(other_401)}); {_styles(denied)} "
            f"{_verb(denied, 'accepts it but denies', 'accept it but deny')} the route "
            f"(403: {_reasons(denied)})"
        )
    why = "; ".join(f"{_name(c)} {c.status} ({c.reason or 'no reason'})" for c in cells)
    return f"{summary}: {why}"


def mark_disagreements(cells: list[Cell], columns: Iterable[Column]) -> None:
    """Set `disagreement` on every cell whose token and route get different statuses by style.

    Only columns whose authorizers trust the same issuer are compared: an API that trusts
    another issuer refuses the token for that alone, which says nothing about its style.
    """
    columns = list(columns)
    simple_styles = {c.style for c in columns if c.simple}
    issuer_of = {c.api: c.issuer for c in columns}
    _ambiguous.set(ambiguous_styles(c.public() for c in columns))
    groups: dict[tuple[str, str, str, str], list[Cell]] = {}
    for cell in cells:
        key = (cell.variant, cell.method, cell.path, issuer_of.get(cell.api, ""))
        groups.setdefault(key, []).append(cell)
    for group in groups.values():
        if len({c.status for c in group}) > 1:
            line = why_disagree(group, simple_styles)
            for cell in group:
                cell.disagreement = line


# Comparing runs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One cell that differs between an expected and an actual run."""

    variant: str
    api: str
    method: str
    path: str
    expected: dict[str, Any] | None  # None: the cell is new
    actual: dict[str, Any] | None  # None: the cell is gone

    def line(self) -> str:
        where = f"{self.variant} × {self.api} {self.method} {self.path}"
        if self.expected is None:
            return f"+ {where}: new cell {_outcome(self.actual)}"
        if self.actual is None:
            return f"- {where}: missing (expected {_outcome(self.expected)})"
        return f"~ {where}: expected {_outcome(self.expected)}, got {_outcome(self.actual)}"


def _outcome(values: dict[str, Any] | None) -> str:
    values = values or {}
    return " ".join(str(values.get(k)) for k in COMPARED)


def diff_runs(expected: Run, actual: Run, fields: tuple[str, ...] = COMPARED) -> list[Difference]:
    """The cells whose `fields` differ, and those only one run has, in grid order."""
    before = {c.key: c for c in expected.cells}
    after = {c.key: c for c in actual.cells}
    differences = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        old_values = {f: getattr(old, f) for f in fields} if old else None
        new_values = {f: getattr(new, f) for f in fields} if new else None
        if old_values != new_values:
            differences.append(Difference(*key, old_values, new_values))
    return differences


# Markdown --------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def cell_text(cell: Cell) -> str:
    """A cell in a few words: `401 token_expired`, with `(cached)` and a mark on disagreement."""
    if cell.error:
        return "unreachable"
    text = f"{cell.status} {cell.reason or ''}".strip()
    if cell.cache == "hit":
        text += " (cached)"
    if cell.disagreement:
        text += " ⚠"
    return text


def render_markdown(run: Run) -> str:
    """The run as Markdown: one table per route (rows: variants, columns: styles)."""
    meta = run.meta
    labels = {v["id"]: v.get("label", v["id"]) for v in run.variants}
    by_key = {c.key: c for c in run.cells}
    routes: dict[str, list[dict[str, Any]]] = {}
    for column in run.columns:
        routes.setdefault(f"{column['method']} {column['path']}", []).append(column)
    lines = [
        "# Compare: token variants × API styles",
        "",
        f"{len(run.variants)} variants × {len(run.columns)} columns = {len(run.cells)} calls"
        + (f" in {meta['duration_s']} s" if "duration_s" in meta else "")
        + (f", as the {meta['user']}" if meta.get("user") else "")
        + (f", against {meta['target']}" if meta.get("target") else "")
        + ". A cell is the status and the reason code; ⚠ marks where the styles disagree.",
    ]
    for route, columns in routes.items():
        lines += ["", f"## {route}", ""]
        ambiguous = ambiguous_styles(run.columns)
        names = [
            f"{c['api']} ({c['style']})" if c["style"] in ambiguous else c["style"] for c in columns
        ]
        lines.append("| token | " + " | ".join(_md(name) for name in names) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
        for variant in run.variants:
            row = []
            for column in columns:
                cell = by_key.get((variant["id"], column["api"], column["method"], column["path"]))
                row.append(_md(cell_text(cell)) if cell else "")
            lines.append(f"| {_md(labels[variant['id']])} | " + " | ".join(row) + " |")
    seen: set[tuple[str, str, str]] = set()
    notes = []
    for cell in run.cells:
        group = (cell.variant, cell.method, cell.path)
        if cell.disagreement and group not in seen:
            seen.add(group)
            label = labels.get(cell.variant, cell.variant)
            notes.append(f"- **{_md(label)}**, {cell.method} {cell.path}: {cell.disagreement}")
    if notes:
        lines += ["", "## Where the styles disagree", "", *notes]
    if run.skipped:
        lines += ["", "## Rows not run", ""]
        lines += [f"- {_md(s.get('label', s['id']))}: {s.get('reason', '')}" for s in run.skipped]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # `python -m webapp.compare`: the command line lives beside
    from .compare_cli import main

    raise SystemExit(main())
