"""Saved Compare runs: storage per user in SQLite, the diff of two runs, and their exports.

A run is the grid's documented JSON (README, "The Compare page"):
`{"run": {...}, "variants": [{"id", "label"}], "columns": [{"api", "style", "method", "path"}],
"cells": [{"variant", "api", "method", "path", "status", "decided_by", "reason", "cache"}]}`.
Beside it each saved run keeps the cells' details (the explanation's steps and the gateway's
trace, which the gateway has already redacted), for the page's click-through only: the
exports are built from the documented JSON alone, and every string in them is checked again
for anything shaped like a token, so no export carries a credential (WEB: tokens never leave
the server).

The database is `instance/compare_runs.sqlite3` (one file, a connection per call, WAL), and
a user sees only their own runs: every query names the owner (the ID token's `iss` + `sub`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_NAME = "compare_runs.sqlite3"
KEEP_PER_USER = 20  # older runs of a user are dropped as new ones are saved
MAX_NOTE = 200
CELL_FIELDS = ("variant", "api", "method", "path", "status", "decided_by", "reason", "cache")
# The fields a diff calls a change; `cache` alone differs between any run and a rerun
# (hit instead of miss), so it is shown as a lesser change.
COMPARED = ("status", "decided_by", "reason")
RUN_ID = re.compile(r"[A-Za-z0-9_-]{8,40}")
# A JWT or JWE (base64url segments joined by dots) or a long opaque secret: never exported.
_TOKENISH = re.compile(
    r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}"
)
REDACTED = "<redacted>"

CellKey = tuple[str, str, str, str]


def cell_key(cell: dict[str, Any]) -> CellKey:
    """A cell's place in the grid: variant, API style, method, path."""
    return (
        str(cell.get("variant")),
        str(cell.get("api")),
        str(cell.get("method")),
        str(cell.get("path")),
    )


def key_text(key: CellKey) -> str:
    """The cell's place as one string (for HTML ids and the details map)."""
    return "|".join(key)


def scrub(value: Any) -> Any:
    """Replace anything shaped like a token in strings, recursively."""
    if isinstance(value, str):
        return _TOKENISH.sub(REDACTED, value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    return value


def public_document(document: dict[str, Any]) -> dict[str, Any]:
    """The run in its documented JSON shape only, scrubbed: what the exports carry."""
    return scrub(
        {
            "run": dict(document.get("run") or {}),
            "variants": [
                {"id": v.get("id"), "label": v.get("label")} for v in document.get("variants", ())
            ],
            "columns": [
                {k: c.get(k) for k in ("api", "style", "method", "path")}
                for c in document.get("columns", ())
            ],
            "cells": [{k: c.get(k) for k in CELL_FIELDS} for c in document.get("cells", ())],
        }
    )


@dataclass
class RunSummary:
    """One saved run, as the list of runs shows it."""

    id: str
    created: float
    note: str
    cells: int
    mode: str

    @property
    def created_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.created))


class RunStore:
    """Saved runs, per owner, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, owner TEXT NOT NULL, "
                "created REAL NOT NULL, note TEXT NOT NULL, document TEXT NOT NULL, "
                "details TEXT NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner, created)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def save(
        self,
        owner: str,
        document: dict[str, Any],
        details: dict[str, Any] | None = None,
        note: str = "",
    ) -> str:
        """Save a run for its owner; return its id. The document gets `run.id` and `created`."""
        run_id = secrets.token_urlsafe(9)
        created = time.time()
        # A note is shown in headings and exported: a token pasted into it is never kept.
        note = scrub(" ".join(note.split()))[:MAX_NOTE]
        document = {**document, "run": {**(document.get("run") or {}), "id": run_id}}
        document["run"].setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if note:
            document["run"]["note"] = note
        with self._connect() as db:
            db.execute(
                "INSERT INTO runs (id, owner, created, note, document, details) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    owner,
                    created,
                    note,
                    json.dumps(document),
                    json.dumps(scrub(details or {})),
                ),
            )
            db.execute(
                "DELETE FROM runs WHERE owner = ? AND id NOT IN (SELECT id FROM runs "
                "WHERE owner = ? ORDER BY created DESC LIMIT ?)",
                (owner, owner, KEEP_PER_USER),
            )
        return run_id

    def get(self, owner: str, run_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Return (document, details) of the owner's run, or None (unknown, or someone else's)."""
        if not RUN_ID.fullmatch(run_id or ""):
            return None
        with self._connect() as db:
            row = db.execute(
                "SELECT document, details FROM runs WHERE owner = ? AND id = ?", (owner, run_id)
            ).fetchone()
        return (json.loads(row[0]), json.loads(row[1])) if row else None

    def list(self, owner: str) -> list[RunSummary]:
        """The owner's runs, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, created, note, document FROM runs WHERE owner = ? "
                "ORDER BY created DESC",
                (owner,),
            ).fetchall()
        summaries = []
        for run_id, created, note, document in rows:
            doc = json.loads(document)
            summaries.append(
                RunSummary(
                    run_id,
                    created,
                    note,
                    len(doc.get("cells", ())),
                    str((doc.get("run") or {}).get("mode", "")),
                )
            )
        return summaries

    def delete(self, owner: str, run_id: str) -> bool:
        """Delete one of the owner's runs; True when there was one."""
        with self._connect() as db:
            deleted = db.execute("DELETE FROM runs WHERE owner = ? AND id = ?", (owner, run_id))
        return deleted.rowcount > 0


# The diff of two runs ------------------------------------------------------------------------


@dataclass
class CellChange:
    """How one cell differs between two runs."""

    key: CellKey
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    fields: tuple[str, ...]  # the compared fields that differ (empty: cache only)

    @property
    def kind(self) -> str:
        """ "changed", "cache" (only cached/invoked differs), "added" or "removed"."""
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed" if self.fields else "cache"


def diff(first: dict[str, Any], second: dict[str, Any]) -> dict[CellKey, CellChange]:
    """Return the cells that differ between two runs, by place."""
    before = {cell_key(c): c for c in first.get("cells", ())}
    after = {cell_key(c): c for c in second.get("cells", ())}
    changes: dict[CellKey, CellChange] = {}
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        if old is None or new is None:
            changes[key] = CellChange(key, old, new, COMPARED)
            continue
        fields = tuple(f for f in COMPARED if old.get(f) != new.get(f))
        if fields or old.get("cache") != new.get("cache"):
            changes[key] = CellChange(key, old, new, fields)
    return changes


# Exports ---------------------------------------------------------------------------------------


def to_json(document: dict[str, Any]) -> str:
    """The run as the engine wrote it (the documented keys and its additions), scrubbed."""
    return json.dumps(scrub(document), indent=2) + "\n"


def to_csv(document: dict[str, Any]) -> str:
    """One line per cell, with the variant's label and the column's style."""
    public = public_document(document)
    labels = {v["id"]: v["label"] for v in public["variants"]}
    styles = {(c["api"], c["method"], c["path"]): c["style"] for c in public["columns"]}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["variant", "variant_label", "api", "style", *CELL_FIELDS[2:]])
    for cell in public["cells"]:
        writer.writerow(
            [
                _csv_safe(cell["variant"]),
                _csv_safe(labels.get(cell["variant"], "")),
                _csv_safe(cell["api"]),
                _csv_safe(styles.get((cell["api"], cell["method"], cell["path"]), "")),
                *(_csv_safe(cell[f]) for f in CELL_FIELDS[2:]),
            ]
        )
    return out.getvalue()


def _csv_safe(value: Any) -> str:
    # A spreadsheet runs a cell that starts with = + - @ as a formula (CSV injection), and some
    # skip a leading tab or carriage return first (OWASP's CSV injection page): quote them all.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def cell_text(cell: dict[str, Any] | None) -> str:
    """A cell in one short line: `401 · authorizer · token_expired · invoked`."""
    if cell is None:
        return "—"
    parts = [str(cell.get("status") or "no answer")]
    parts += [str(cell[f]) for f in ("decided_by", "reason", "cache") if cell.get(f)]
    return " · ".join(parts)


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(document: dict[str, Any]) -> str:
    """The run in Markdown: the engine's rendering (`webapp.compare`), with this page's note.

    A document the engine cannot read (an older or a hand-made run) gets the plain table.
    """
    from .compare import Run  # the engine's own Markdown, as the command line prints it

    try:
        rendered = Run.from_dict(document).to_markdown()
    except (ValueError, TypeError, KeyError):
        return plain_markdown(document)
    note = (document.get("run") or {}).get("note")
    head = f"Note: {_md(note)}\n\n" if note else ""
    return scrub(head + rendered)


def plain_markdown(document: dict[str, Any]) -> str:
    """The grid as a Markdown table: a row per variant, a column per API style and route."""
    public = public_document(document)
    run = public["run"]
    columns = public["columns"]
    cells = {cell_key(c): c for c in public["cells"]}
    lines = [f"# Compare run {_md(run.get('id', ''))}", ""]
    for name in ("created", "mode", "note"):
        if run.get(name):
            lines.append(f"- {name}: {_md(run[name])}")
    lines += [
        "",
        "Each cell: status · who decided · reason code · cached or invoked.",
        "",
        "| token variant | "
        + " | ".join(f"{_md(c['style'])} {_md(c['method'])} {_md(c['path'])}" for c in columns)
        + " |",
        "|---|" + "---|" * len(columns),
    ]
    for variant in public["variants"]:
        row = [
            _md(cell_text(cells.get((variant["id"], c["api"], c["method"], c["path"]))))
            for c in columns
        ]
        lines.append(f"| {_md(variant['label'])} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def summaries_of(store: RunStore, owner: str, ids: Iterable[str]) -> list[RunSummary]:
    """The owner's saved runs among these ids, in that order."""
    known = {s.id: s for s in store.list(owner)}
    return [known[i] for i in ids if i in known]
