"""The Compare page (`/compare`): every token variant against every API style and route at once.

A run is started by a CSRF-protected POST. The web app gathers the tokens in that request
(they stay on the server: BFF), then calls the grid in a background thread; the page polls a
JSON endpoint and redraws the grid as cells finish, with a progress bar. Without JavaScript
the same POST waits for the whole grid and answers with the page showing it. Finished runs
are saved per user (`webapp.runs`), can be compared with an earlier run (changed cells
highlighted) and exported as Markdown, CSV or JSON; a cell opens its explanation and trace
as on the Ping page.

Runs in progress live in this process's memory: with several web app instances behind one
origin, the poll must reach the instance that started the run (sticky sessions), or the page
falls back to reloading when the run is saved.
"""

from __future__ import annotations

import secrets
import shlex
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import requests
from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from . import api_client
from . import compare
from . import grid_view
from . import iam
from . import iam_ping
from . import runs
from .auth import current_user
from .auth import fresh_tokens
from .auth import login_required
from .auth import provider_client
from .auth import session_provider
from .explain import explain
from .ping import directory
from .ping import m2m_token_curl
from .tokens import decode
from .variants import IAM_ROWS
from .variants import QUERY_PARAMETER
from .variants import SourceTokens
from .variants import Variant
from .variants import VariantBuilder
from .variants import cognito_m2m_tokens

bp = Blueprint("compare", __name__)

DETAIL_WORKERS = 4
JOB_TTL = 600.0  # a finished run's progress is kept this long for the poll
POLL_MS = 250
EXPORTS = {
    "md": ("text/markdown; charset=utf-8", runs.to_markdown),
    "csv": ("text/csv; charset=utf-8", runs.to_csv),
    "json": ("application/json; charset=utf-8", runs.to_json),
}


@bp.context_processor
def _grid_helpers() -> dict[str, Any]:
    return {
        "short_style": grid_view.short_style,
        "reason_text": grid_view.reason_text,
        "deciders": grid_view.DECIDER_WORDS,
    }


def store() -> runs.RunStore:
    """This app's saved runs (created on first use, in the instance folder)."""
    existing = current_app.extensions.get("compare_runs")
    if existing is None:
        existing = runs.RunStore(Path(current_app.instance_path) / runs.DB_NAME)
        current_app.extensions["compare_runs"] = existing
    return existing


def owner() -> str:
    """Whose runs: the logged-in user, by issuer and subject."""
    user = current_user() or {}
    return f"{user.get('iss', '')}|{user.get('sub', '')}"


@dataclass
class Job:
    """A run in progress (or just finished), as the poll reads it."""

    id: str
    owner: str
    document: dict[str, Any]
    total: int
    note: str
    details: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    finished: float | None = None
    run_id: str | None = None
    against: str | None = None
    error: str | None = None

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {**self.document, "cells": list(self.document["cells"])}


def jobs() -> dict[str, Job]:
    registry = current_app.extensions.setdefault("compare_jobs", {})
    now = time.time()
    for job_id in [j.id for j in registry.values() if j.finished and now - j.finished > JOB_TTL]:
        registry.pop(job_id, None)
    return registry


# Running ------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What a run needs from the request: the real tokens (from the session) and the columns."""

    sources: SourceTokens
    columns: list[compare.Column]
    issuer: str
    local_idp: bool
    timeout: float
    audience: str
    target: str = "local gateway"  # or "deployed APIs", as the command line says
    # The identity pool as the cell's botocore snippet names it (None: not the user's login).
    iam_pool: dict[str, str] | None = None


def plan() -> Plan:
    """Gather, in this request, the tokens the rows start from and the grid's columns.

    The variants themselves (the local IdP's copies, the forgeries) are made by the run's
    thread: they need no request, and the page answers at once.

    :raise RuntimeError: no API is reachable.
    """
    config = current_app.config
    tokens = fresh_tokens() or {}
    access = tokens.get("access_token")
    _, claims = decode(access) if access else ({}, {})
    sources = user_sources(claims, tokens.get("id_token"), session_provider())
    user = sources.user
    if access:
        sources.access[user] = access
    m2m = current_app.extensions["m2m"]
    for key in m2m.clients:
        try:
            # Auth0's machine clients, whichever provider the session's user logged in with.
            endpoint = provider_client("auth0").load_server_metadata()["token_endpoint"]
            sources.m2m[key] = m2m.token(key, endpoint)
        except (RuntimeError, KeyError, ValueError, requests.RequestException):
            current_app.logger.warning("compare: no M2M token for %s", key)
    if config["LAB_MODE"] == "local":
        sources.m2m.update(
            cognito_m2m_tokens(config["AUTH0_ISSUER"], float(config["HTTP_TIMEOUT"]))
        )
    try:
        target = "local gateway" if directory().local else "deployed APIs"
        if directory().local:
            columns = compare.discover_columns(config["API_BASE_URL"], config["HTTP_TIMEOUT"])
        else:
            columns = compare.columns_from_targets(directory().targets().values())
    except RuntimeError as exc:
        raise RuntimeError(f"No API is reachable: {exc}.") from exc
    if not columns:
        raise RuntimeError("No API is reachable: the catalogue lists no guarded route.")
    sources.iam, sources.iam_missing = iam_signers(columns)
    iam_pool = None
    if sources.iam:
        try:
            iam_pool = iam_ping._pool_for_snippet()
        except (iam.IamError, KeyError, TypeError, ValueError):
            iam_pool = None
    return Plan(
        sources,
        columns,
        config["AUTH0_ISSUER"],
        config["LAB_MODE"] == "local",
        float(config["HTTP_TIMEOUT"]),
        config["AUTH0_AUDIENCE"],
        target,
        iam_pool,
    )


def iam_signers(
    columns: list[compare.Column],
) -> tuple[dict[str, iam.RowSigner], dict[str, str]]:
    """The credential rows' signers, and why a row has none, gathered in this request.

    The user's ID token is exchanged at the identity pool at most once per grid (`iam`
    keeps the credentials in the session; the other rows of the user's reuse them), never per
    cell. Without an IAM column the rows are not run: they are about IAM routes.
    """
    missing: dict[str, str] = {}
    signers: dict[str, iam.RowSigner] = {}
    if not any(column.iam for column in columns):
        reason = "no IAM (SigV4) API among the columns"
        return {}, dict.fromkeys(IAM_ROWS, reason)
    region = current_app.config.get("IAM_REGION") or "us-east-1"
    catalogue = current_app.extensions["api_directory"].catalogue()
    if catalogue and catalogue.get("region"):
        region = str(catalogue["region"])
    failed: str | None = None  # one refusal of the exchange stands for every row needing it
    for kind in IAM_ROWS:
        if failed and kind in iam.USER_CREDENTIAL_KINDS and kind != "iam-expired":
            missing[kind] = failed
            continue
        try:
            credentials, _ = iam.credentials_for(kind)
        except iam.IamError as exc:
            missing[kind] = str(exc)
            if kind == "iam-mine":
                failed = str(exc)
            continue
        signers[kind] = iam.RowSigner(kind, credentials, region)
    return signers, missing


def user_sources(claims: dict[str, Any], id_token: str | None, provider: str) -> SourceTokens:
    """The user's rows, before the access token is added: whose they are (an Auth0 admin has
    `read:admin`, a Cognito one is in the `admins` group) and, for a Cognito login, the pool's
    issuer (its copies and forgeries are the pool's) and its name on the rows."""
    if provider == "cognito":
        groups = claims.get("cognito:groups")
        admin = isinstance(groups, list) and "admins" in groups
        return SourceTokens(
            user="admin" if admin else "customer",
            id_token=id_token,
            issuer=current_app.config.get("COGNITO_ISSUER"),
            provider="Cognito",
        )
    permissions = claims.get("permissions")
    admin = isinstance(permissions, list) and "read:admin" in permissions
    return SourceTokens(user="admin" if admin else "customer", id_token=id_token)


def curl_for(variant: Variant, column: compare.Column) -> str:
    """The call as a curl command, the token as a shell variable named for the row's token
    (`$ID_TOKEN`, `$CUSTOMER_ACCESS_TOKEN`, ...) where the variant puts it."""
    placeholder = api_client.token_placeholder(variant.id)
    url = column.base_url + column.path
    parts = ["curl", "-i", "-X", column.method]
    if variant.token is not None and variant.placement == "query":
        url += f"?{QUERY_PARAMETER}={placeholder}"
        parts.append(f'"{url}"')
    else:
        parts.append(shlex.quote(url))
    if variant.token is not None and variant.placement == "header":
        parts += ["-H", f'"Authorization: {variant.scheme} {placeholder}"']
    if column.method in api_client.BODY_METHODS:
        parts += ["-H", shlex.quote("Content-Type: application/json")]
        parts += ["--data", shlex.quote(compare.NOTE_BODY)]
    return " ".join(parts)


def iam_view_of(
    variant: Variant, column: compare.Column, explanation: Any, plan_: Plan
) -> dict[str, Any] | None:
    """An IAM cell's view as the Ping page shows an IAM call (`_iam_result.html`): what was
    signed, the gateway's canonical request beside it on a mismatch, and the botocore snippet.
    A credential row's cell has one in every column (the SigV4 header was sent there too);
    the unsigned row ("No token") in IAM columns only."""
    unsigned = variant.placement == "none" and column.iam
    if variant.signer is None and not unsigned:
        return None
    url = column.base_url + column.path
    body = compare.NOTE_BODY if column.method in api_client.BODY_METHODS else None
    signer = variant.signer if isinstance(variant.signer, iam.RowSigner) else None
    signed = signer.signed_for(column.method, url) if signer is not None else None
    kind = variant.id if signer is not None else iam_ping.UNSIGNED
    region = iam.region_of(url, signer.region) if signer is not None else ""
    pool = plan_.iam_pool if kind in iam.USER_CREDENTIAL_KINDS else None
    label = iam_ping.CHOICES.get(kind, variant.label)
    return iam_ping.iam_view(
        kind, label, signed, explanation, column.method, url, body, region, pool
    )


def details_of(
    cell: compare.Cell, variant: Variant, column: compare.Column, plan_: Plan
) -> dict[str, Any]:
    """What a cell's click-through shows: the explanation from the gateway's trace (read now,
    while the gateway still keeps it) and the call as curl. No credential: traces are redacted
    by the gateway, and the curl names the token as a shell variable."""
    trace = None
    if column.trace_url and cell.trace_id:
        try:
            answer = requests.get(column.trace_url + cell.trace_id, timeout=plan_.timeout)
            trace = answer.json() if answer.status_code == 200 else None
        except (requests.RequestException, ValueError):
            trace = None
    style = api_client.ApiStyle(column.api, column.title or column.style, column.api, "", "")
    result = api_client.CallResult(
        style,
        column.route,
        column.method,
        column.base_url + column.path,
        variant.id,
        status=cell.status,
        trace=trace if isinstance(trace, dict) else None,
        trace_available=isinstance(trace, dict),
        error=cell.error,
        request_id=cell.trace_id,
    )
    explanation = explain(result, variant.token, plan_.audience)
    signed_row = isinstance(variant.signer, iam.RowSigner)
    if signed_row and not column.iam:
        # A token authorizer got a SigV4 signature: say so, its own words speak of a token.
        explanation.steps.insert(
            0,
            "No token was sent: this row signs the request with AWS Signature Version 4, so "
            "the Authorization header holds `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, "
            "Signature=…`, which this token authorizer reads as a malformed bearer token.",
        )
    iam_view = iam_view_of(variant, column, explanation, plan_)
    curl = curl_for(variant, column)
    if signed_row:
        # curl signs it itself (`--aws-sigv4`), the keys as shell variables: now and as is,
        # so the stale and tampered rows' curl is the good call they started from.
        body = compare.NOTE_BODY if column.method in api_client.BODY_METHODS else None
        url = column.base_url + column.path
        region = iam.region_of(url, variant.signer.region)
        curl = iam.curl_snippet(column.method, url, body, region, variant.signer.temporary)
    return {
        "headline": explanation.headline,
        "steps": [step for step in explanation.steps if step],
        "reason_code": explanation.reason_code,
        "status": cell.status,
        "method": column.method,
        "url": column.base_url + column.path,
        "style": column.title or column.style,
        "api_type": column.style.split(" ", 1)[0],  # "REST" or "HTTP"
        "elapsed_ms": cell.elapsed_ms,
        "error": cell.error,
        "curl": curl,
        "request_id": cell.trace_id,
        "trace": trace,
        "variant_label": variant.label,
        "variant_description": variant.description,
        "placement": variant.placement,
        "iam_view": iam_view,
    }


def start(plan_: Plan, note: str, against: str | None) -> Job:
    """Start the run in a background thread; it saves itself when done."""
    document: dict[str, Any] = {
        "run": {"mode": current_app.config["LAB_MODE"]},
        "variants": [],
        "skipped": [],
        "columns": [c.public() for c in plan_.columns],
        "cells": [],
    }
    job = Job(secrets.token_urlsafe(12), owner(), document, 0, note, against=against)
    jobs()[job.id] = job
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    saved = store()

    def work() -> None:
        try:
            built = VariantBuilder(plan_.issuer, plan_.local_idp, plan_.timeout).build(
                plan_.sources
            )
            by_id = {v.id: v for v in built.variants}
            columns = {c.key: c for c in plan_.columns}
            with job.lock:
                document["variants"] = [v.public() for v in built.variants]
                document["skipped"] = [s.public() for s in built.skipped]
                job.total = compare.total_calls(built.variants, plan_.columns)

            # The explanations read each cell's trace again: beside the run, not in its way.
            explaining = ThreadPoolExecutor(max_workers=DETAIL_WORKERS)

            def explain_cell(cell: compare.Cell) -> None:
                variant, column = by_id[cell.variant], columns[(cell.api, cell.method, cell.path)]
                detail = details_of(cell, variant, column, plan_)
                with job.lock:
                    job.details[runs.key_text(cell.key)] = detail

            def on_cell(cell: compare.Cell, done: int, total: int) -> None:
                with job.lock:
                    document["cells"].append(cell.public())
                explaining.submit(explain_cell, cell)

            try:
                finished = compare.run_grid(
                    built.variants,
                    plan_.columns,
                    skipped=built.skipped,
                    timeout=plan_.timeout,
                    on_cell=on_cell,
                    meta={
                        "mode": "local" if plan_.local_idp else "deployed",
                        "user": plan_.sources.user,
                        "target": plan_.target,
                    },
                )
            finally:
                explaining.shutdown(wait=True)
            with job.lock:
                details = dict(job.details)
            job.run_id = saved.save(job.owner, finished.to_dict(), details, job.note)
        except Exception as exc:  # the page must hear that the run failed, not poll forever
            app.logger.exception("compare run failed")
            job.error = f"The run failed: {type(exc).__name__}."
        finally:
            job.finished = time.time()

    threading.Thread(target=work, name=f"compare-{job.id[:6]}", daemon=True).start()
    return job


# Pages ---------------------------------------------------------------------------------------


def _latest_two(runs_list: list[runs.RunSummary]) -> tuple[str | None, str | None]:
    ids = [r.id for r in runs_list]
    return (ids[0] if ids else None), (ids[1] if len(ids) > 1 else None)


def _render(status: int = 200, problem: str | None = None) -> tuple[str, int]:
    who = owner()
    saved = store().list(who)
    run_id = request.args.get("run") or _latest_two(saved)[0]
    against_id = request.args.get("against")
    loaded = store().get(who, run_id) if run_id else None
    if run_id and loaded is None and request.args.get("run"):
        problem = problem or "There is no such run among yours (runs are kept per user)."
    previous = store().get(who, against_id) if against_id else None
    document = loaded[0] if loaded else None
    changes = runs.diff(previous[0], document) if previous and document else None
    grid = (
        grid_view.build(document, changes, previous[0] if previous else None) if document else None
    )
    local = current_app.config["LAB_MODE"] == "local"
    return render_template(
        "compare.html",
        grid=grid,
        document=document,
        run_id=run_id if document else None,
        against_id=against_id if previous else None,
        against=previous[0] if previous else None,
        changes=changes,
        change_rows=_change_rows(changes, document) if changes else [],
        saved=saved,
        problem=problem,
        local=local,
        local_api=directory().local,
        poll_ms=POLL_MS,
    ), status


def _change_rows(
    changes: dict[runs.CellKey, runs.CellChange], document: dict[str, Any]
) -> list[dict[str, Any]]:
    labels = {v["id"]: v["label"] for v in document.get("variants", ())}
    styles = {c["api"]: c["style"] for c in document.get("columns", ())}
    rows = []
    for key, change in changes.items():
        variant, api, method, path = key
        rows.append(
            {
                "key": runs.key_text(key),
                "variant": labels.get(variant, variant),
                "style": styles.get(api, api),
                "route": f"{method} {path}",
                "kind": change.kind,
                "before": runs.cell_text(change.before),
                "after": runs.cell_text(change.after),
            }
        )
    rows.sort(key=lambda r: (r["kind"] == "cache", r["variant"], r["route"], r["style"]))
    return rows


@bp.get("/compare")
@login_required
def page() -> tuple[str, int]:
    """Show the latest (or the chosen) run, compared with another when asked."""
    return _render()


@bp.post("/compare/run")
@login_required
def run() -> Any:
    """Start a run: JSON with the poll URL for the page's script; without it, the whole grid."""
    fragment = request.headers.get("X-Requested-With") == "fetch"
    note = request.form.get("note", "")
    if len(note) > runs.MAX_NOTE:
        message = f"A note has at most {runs.MAX_NOTE} characters."
        return (jsonify(error=message), 400) if fragment else _render(400, message)
    who = owner()
    previous = _latest_two(store().list(who))[0]
    try:
        plan_ = plan()
    except RuntimeError as exc:
        return (jsonify(error=str(exc)), 503) if fragment else _render(503, str(exc))
    job = start(plan_, note, previous)
    if fragment:
        return jsonify(
            job=job.id,
            total=job.total,
            poll=url_for("compare.progress", job_id=job.id),
            grid=_grid_html(job),
        )
    # Without JavaScript: wait for the grid, then show it (Post/Redirect/Get).
    deadline = time.time() + max(60.0, job.total * 1.0)
    while job.finished is None and time.time() < deadline:
        time.sleep(0.05)
    if job.run_id is None:
        return _render(502, job.error or "The run did not finish in time.")
    return redirect(url_for("compare.page", run=job.run_id, against=previous))


def _grid_html(job: Job) -> str:
    return render_template(
        "_compare_grid.html",
        grid=grid_view.build(job.snapshot()),
        run_id=None,
    )


@bp.get("/compare/jobs/<job_id>")
@login_required
def progress(job_id: str) -> Any:
    """How far a run is, and the grid so far (HTML, drawn by the same template as the page)."""
    job = jobs().get(job_id)
    if job is None or job.owner != owner():
        return jsonify(
            error="No such run in progress (it finished long ago, or is not yours)."
        ), 404
    done = len(job.document["cells"])
    answer: dict[str, Any] = {
        "done": done,
        "total": job.total,
        "finished": job.finished is not None,
        "error": job.error,
        "grid": _grid_html(job),
    }
    if job.run_id:
        answer["run"] = job.run_id
        answer["page"] = url_for("compare.page", run=job.run_id, against=job.against)
    return jsonify(answer)


def _cell_detail(run_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    loaded = store().get(owner(), run_id)
    if loaded is None:
        abort(404)
    document, details = loaded
    key = (
        request.args.get("variant", ""),
        request.args.get("api", ""),
        request.args.get("method", ""),
        request.args.get("path", ""),
    )
    cell = next((c for c in document["cells"] if runs.cell_key(c) == key), None)
    detail = details.get(runs.key_text(key))
    if cell is None or detail is None:
        abort(404)
    return document, cell, detail


# The grid's M2M rows by the Ping page's token kind of the same client.
M2M_ROW_KINDS = {
    "m2m-reader": "m2m-reader",
    "m2m-writer": "m2m-writer",
    "cognito-m2m-reader": "cognito-reader",
    "cognito-m2m-writer": "cognito-writer",
}


@bp.get("/compare/runs/<run_id>/cell")
@login_required
def cell(run_id: str) -> Any:
    """One cell's full explanation and trace, as the Ping page shows a call."""
    _, cell_, detail = _cell_detail(run_id)
    variant_id = str(cell_.get("variant") or "")
    placeholder = api_client.token_placeholder(variant_id)
    result = SimpleNamespace(
        status=detail.get("status"),
        reason=detail.get("status_reason") or "",
        method=detail.get("method"),
        url=detail.get("url"),
        style=SimpleNamespace(title=detail.get("style") or cell_["api"]),
        elapsed_ms=detail.get("elapsed_ms"),
        error=detail.get("error"),
        json_body=None,
        body=(
            "(The grid keeps no response bodies: make this signed call from the Ping page's "
            "IAM APIs to see one.)"
            if variant_id.startswith("iam-")
            else "(The grid keeps no response bodies: send this token from the token workshop "
            "or the Ping page to see one.)"
        ),
        # The request id under the header name this API type answers with.
        headers=[
            (
                "x-amzn-RequestId" if detail.get("api_type") == "REST" else "apigw-requestid",
                detail["request_id"],
            )
        ]
        if detail.get("request_id")
        else [],
        curl=detail.get("curl") or "",
        placeholder=placeholder,
        # A credential row carries no token to paste in: its curl signs with the keys.
        token_kind="none" if detail.get("placement") in ("none", "sigv4") else "variant",
        trace=detail.get("trace"),
        trace_available=bool(detail.get("trace")),
        request_id=detail.get("request_id"),
    )
    explanation = SimpleNamespace(
        headline=detail.get("headline") or "",
        steps=detail.get("steps") or [],
        reason_code=detail.get("reason_code"),
    )
    context = {
        "result": result,
        "explanation": explanation,
        "variant_label": detail.get("variant_label") or cell_["variant"],
        "variant_description": detail.get("variant_description") or "",
        "cell": cell_,
        "run_id": run_id,
        "logged_in": False,  # no "copy with my token": the row's token may be a variant
        "iam_view": detail.get("iam_view"),
        "credential_row": detail.get("placement") == "sigv4",
        # An M2M row's curl starts by getting its token, as the Ping page's does.
        "token_curl": m2m_token_curl(M2M_ROW_KINDS.get(variant_id, ""), placeholder),
    }
    if request.headers.get("X-Requested-With") == "fetch":
        return render_template("_compare_cell.html", **context)
    return render_template("compare_cell.html", **context)


@bp.get("/compare/runs/<run_id>/export.<fmt>")
@login_required
def export(run_id: str, fmt: str) -> Response:
    """Download a run as Markdown, CSV or JSON (no token in any of them)."""
    if fmt not in EXPORTS:
        abort(404)
    loaded = store().get(owner(), run_id)
    if loaded is None:
        abort(404)
    mimetype, render = EXPORTS[fmt]
    # content_type, not mimetype: Werkzeug adds a charset to a mimetype, which has one already.
    response = Response(render(loaded[0]), content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="compare-{run_id}.{fmt}"'
    return response


@bp.post("/compare/flush")
@login_required
def flush() -> Any:
    """Flush API Gateway's authorizer result cache of every local API (AWS's own call)."""
    if not directory().local:
        flash("Flushing the cache from here works with the local gateway only.")
        return redirect(url_for("compare.page"))
    base = current_app.config["API_BASE_URL"]
    flushed = 0
    try:
        catalogue = requests.get(base + "/", timeout=current_app.config["HTTP_TIMEOUT"]).json()
        for api in catalogue.get("apis", ()):
            prefix = "restapis" if api.get("type") == "REST" else "v2/apis"
            answer = requests.delete(
                f"{base}/{prefix}/{api['id']}/stages/{api['stage']}/cache/authorizers",
                timeout=current_app.config["HTTP_TIMEOUT"],
            )
            flushed += answer.status_code in (202, 204)  # REST 202, HTTP 204
    except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError):
        flash("The gateway did not answer: nothing was flushed.")
        return redirect(url_for("compare.page"))
    flash(f"Flushed the authorizer result cache of {flushed} APIs: the next run invokes afresh.")
    return redirect(url_for("compare.page", run=request.form.get("run") or None))
