"""Saved Compare runs: storage per user, the diff of two runs, exports without tokens, and the
grid's cells in words."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

from webapp import grid_view
from webapp import runs

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjdXN0b21lciJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def cell(variant: str, api: str, status: int, decided_by: str, reason: str, cache: Any) -> dict:
    return {
        "variant": variant,
        "api": api,
        "method": "GET",
        "path": "/private",
        "status": status,
        "decided_by": decided_by,
        "reason": reason,
        "cache": cache,
    }


def document(*cells: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": {"mode": "local"},
        "variants": [
            {"id": "access", "label": "My access token"},
            {"id": "id-token", "label": "ID token"},
        ],
        "columns": [
            {"api": "RestTokenApi", "style": "REST TOKEN", "method": "GET", "path": "/private"},
            {
                "api": "HttpLambdaApi",
                "style": "HTTP Lambda (simple)",
                "method": "GET",
                "path": "/private",
            },
        ],
        "cells": list(cells),
    }


FIRST = document(
    cell("access", "RestTokenApi", 200, "integration", "allowed", "miss"),
    cell("access", "HttpLambdaApi", 200, "integration", "allowed", "miss"),
    cell("id-token", "RestTokenApi", 401, "authorizer", "id_token", "miss"),
    cell("id-token", "HttpLambdaApi", 403, "authorizer", "id_token", "miss"),
)


def test_runs_are_saved_per_owner_and_the_oldest_are_dropped(tmp_path: Path) -> None:
    store = runs.RunStore(tmp_path / "runs.sqlite3")
    first = store.save("alice", FIRST, {"x": {"headline": "h"}}, note="  before   the change ")
    loaded = store.get("alice", first)
    assert loaded is not None
    saved, details = loaded
    assert saved["run"]["id"] == first and saved["run"]["note"] == "before the change"
    assert details == {"x": {"headline": "h"}}
    assert store.get("bob", first) is None  # someone else's run is not found
    assert store.get("alice", "../etc") is None
    for _ in range(runs.KEEP_PER_USER + 2):
        store.save("alice", FIRST)
    assert len(store.list("alice")) == runs.KEEP_PER_USER
    assert store.get("alice", first) is None


def test_details_are_scrubbed_of_anything_shaped_like_a_token(tmp_path: Path) -> None:
    store = runs.RunStore(tmp_path / "runs.sqlite3")
    run_id = store.save("alice", FIRST, {"k": {"curl": f"curl -H 'Authorization: Bearer {JWT}'"}})
    loaded = store.get("alice", run_id)
    assert loaded is not None
    assert JWT not in json.dumps(loaded[1]) and runs.REDACTED in loaded[1]["k"]["curl"]


def test_the_diff_separates_changed_answers_from_cache_only_changes() -> None:
    second = document(
        cell("access", "RestTokenApi", 200, "integration", "allowed", "hit"),
        cell("access", "HttpLambdaApi", 403, "authorizer", "insufficient_permission", "miss"),
        cell("id-token", "RestTokenApi", 401, "authorizer", "id_token", "miss"),
    )
    changes = runs.diff(FIRST, second)
    kinds = {key[:2]: change.kind for key, change in changes.items()}
    assert kinds == {
        ("access", "RestTokenApi"): "cache",
        ("access", "HttpLambdaApi"): "changed",
        ("id-token", "HttpLambdaApi"): "removed",
    }
    assert changes[("access", "HttpLambdaApi", "GET", "/private")].fields == (
        "status",
        "decided_by",
        "reason",
    )


def test_exports_keep_the_documented_fields_and_no_token() -> None:
    leaky = json.loads(json.dumps(FIRST))
    leaky["variants"][0]["label"] = f"pasted {JWT}"
    leaky["cells"][0]["reason"] = '=HYPERLINK("http://evil")'
    exported = json.loads(runs.to_json(leaky))
    assert JWT not in json.dumps(exported)
    rows = list(csv.DictReader(io.StringIO(runs.to_csv(leaky))))
    assert len(rows) == 4
    assert rows[0]["style"] == "REST TOKEN" and rows[0]["reason"].startswith("'=")  # no formula
    assert JWT not in runs.to_csv(leaky)
    markdown = runs.plain_markdown(leaky)
    assert (
        "| token variant | REST TOKEN GET /private | HTTP Lambda (simple) GET /private |"
        in markdown
    )
    assert (
        "| ID token | 401 · authorizer · id_token · miss | 403 · authorizer · id_token · miss |"
        in markdown
    )
    assert JWT not in markdown


def test_the_grid_says_each_cell_in_words_and_marks_disagreements() -> None:
    grid = grid_view.build(FIRST)
    access, id_row = grid.rows
    assert [c.word for c in access.cells] == ["allowed", "allowed"]
    assert [(c.symbol, c.word, c.decider, c.cache) for c in id_row.cells] == [
        ("✗", "refused", "authorizer", "invoked"),
        ("✗", "refused", "authorizer", "invoked"),
    ]
    why = id_row.disagreements["GET /private|"]
    assert "isAuthorized: false" in why and "403" in why
    assert not access.disagreements
    assert grid.filled == grid.total == 4


def test_a_filling_grid_shows_waiting_cells_and_the_gateways_own_refusals() -> None:
    partial = document(
        cell("access", "RestTokenApi", 401, "identity_source", "identity_source_missing", "miss")
    )
    grid = grid_view.build(partial)
    first, waiting = grid.rows[0].cells
    assert (first.decider, first.cache) == ("gateway", "not invoked")
    assert waiting.cell is None and waiting.word == "waiting"
    assert (grid.filled, grid.total) == (1, 4)


def test_a_changed_cell_shows_what_it_was() -> None:
    second = document(
        cell("access", "RestTokenApi", 200, "integration", "allowed", "hit"),
        *FIRST["cells"][1:],
    )
    grid = grid_view.build(second, runs.diff(FIRST, second), FIRST)
    changed = grid.rows[0].cells[0]
    assert changed.change is not None and changed.change.kind == "cache"
    assert changed.before == "200 · function · allowed · invoked"


def test_a_disagreement_line_takes_each_groups_reason_from_its_own_cells() -> None:
    from webapp.compare import Cell
    from webapp.compare import Column
    from webapp.compare import mark_disagreements
    from webapp.compare import why_disagree

    # Each style once: no column is named by its API (marking sets that for the run).
    styles = [("RestRequestApi", "REST REQUEST"), ("RestTokenApi", "REST TOKEN")]
    styles += [("RestCognitoApi", "REST COGNITO_USER_POOLS"), ("HttpJwtApi", "HTTP JWT")]
    mark_disagreements([], [Column(api, style, "GET", "/", "http://x") for api, style in styles])
    cells = [
        Cell("v", "RestRequestApi", "GET", "/notes", "REST REQUEST", 200, "integration", "allowed"),
        Cell(
            "v",
            "RestTokenApi",
            "GET",
            "/notes",
            "REST TOKEN",
            401,
            "identity_source",
            "validation_expression",
            "the header does not match",
        ),
        Cell(
            "v",
            "RestCognitoApi",
            "GET",
            "/notes",
            "REST COGNITO_USER_POOLS",
            401,
            "authorizer",
            "wrong_issuer",
            "the issuer is another",
        ),
    ]
    line = why_disagree(cells, set())
    assert "REST TOKEN: the header does not match" in line
    assert "REST COGNITO_USER_POOLS: the issuer is another" in line
    scopes = [
        Cell(
            "v", "RestTokenApi", "GET", "/admin", "REST TOKEN", 401, "authorizer", "token_expired"
        ),
        Cell(
            "v",
            "RestRequestApi",
            "GET",
            "/admin",
            "REST REQUEST",
            403,
            "authorizer",
            "insufficient_permission",
        ),
        Cell(
            "v", "HttpJwtApi", "GET", "/admin", "HTTP JWT", 403, "authorizer", "insufficient_scope"
        ),
    ]
    line = why_disagree(scopes, set())
    assert "REST REQUEST: insufficient_permission; HTTP JWT: insufficient_scope" in line


def test_two_columns_of_one_style_are_headed_by_their_api() -> None:
    doc = document()
    doc["columns"] = [
        {"api": "HttpJwtApi", "style": "HTTP JWT", "method": "GET", "path": "/private"},
        {"api": "HttpCognitoJwtApi", "style": "HTTP JWT", "method": "GET", "path": "/private"},
        {"api": "RestTokenApi", "style": "REST TOKEN", "method": "GET", "path": "/private"},
    ]
    headings = [c["heading"] for c in grid_view.build(doc).columns]
    assert headings == ["HttpJwtApi (HTTP JWT)", "HttpCognitoJwtApi (HTTP JWT)", "REST TOKEN"]


def test_a_token_typed_into_the_note_is_never_stored(tmp_path: Path) -> None:
    store = runs.RunStore(tmp_path / "runs.sqlite3")
    run_id = store.save("alice", FIRST, note=f"after rotating {JWT} today")
    saved, _ = store.get("alice", run_id) or ({}, {})
    assert saved["run"]["note"] == "after rotating <redacted> today"
    assert [s.note for s in store.list("alice")] == ["after rotating <redacted> today"]
    with sqlite3.connect(tmp_path / "runs.sqlite3") as db:
        note, document = db.execute("SELECT note, document FROM runs").fetchone()
    assert note == "after rotating <redacted> today"
    assert JWT.split(".")[1] not in document


def test_the_csv_quotes_what_a_spreadsheet_would_run_as_a_formula() -> None:
    leaky = document(
        cell("access", "RestTokenApi", 200, "integration", "\t=HYPERLINK(1)", None),
        cell("access", "HttpLambdaApi", 200, "integration", "\r=1+1", None),
        cell("id-token", "RestTokenApi", 401, "authorizer", "=cmd", None),
        cell("id-token", "HttpLambdaApi", 403, "authorizer", "id_token", None),
    )
    text = runs.to_csv(leaky)
    assert ",'\t=HYPERLINK(1)," in text and ",'\r=1+1," in text and ",'=cmd," in text
    assert "\t=HYPERLINK(1)," not in text.replace("'\t", "")


def test_a_built_in_check_is_not_called_invoked() -> None:
    # API Gateway's JWT, Cognito and IAM checks run no Lambda: "built-in", not "invoked".
    doc = document(
        cell("access", "HttpJwtApi", 200, "integration", "allowed", "off"),
        cell("access", "RestIamApi", 403, "authorizer", "sigv4_malformed", "off"),
        cell("access", "RestTokenApi", 200, "integration", "allowed", "miss"),
    )
    doc["columns"] = [
        {"api": "HttpJwtApi", "style": "HTTP JWT", "method": "GET", "path": "/private"},
        {"api": "RestIamApi", "style": "REST AWS_IAM", "method": "GET", "path": "/private"},
        {"api": "RestTokenApi", "style": "REST TOKEN", "method": "GET", "path": "/private"},
    ]

    access = grid_view.build(doc).rows[0]

    assert [c.cache for c in access.cells] == ["built-in", "built-in", "invoked"]
