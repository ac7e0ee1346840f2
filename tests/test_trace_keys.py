"""The trace contract, read from the source: the keys the web app reads exist in the gateway's
TypedDicts, every reason code the authorizer, the JWT authorizer or the gateway can emit has
words on the Ping page, and the README documents every key and code."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path
from typing import Any

from emulators.gateway import traces
from webapp import explain

ROOT = Path(__file__).resolve().parent.parent
# Where reason codes come from: our authorizer (its decision line) and the gateway's stages,
# API Gateway's own JWT authorizer among them.
EMITTERS = sorted([*ROOT.glob("authorizer/*.py"), *ROOT.glob("emulators/gateway/*.py")])
CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _declared(typed: Any) -> dict[str, Any]:
    return typing.get_type_hints(typed, include_extras=True)


def test_every_key_the_web_app_reads_is_declared_in_traces_py() -> None:
    for view in explain.TRACE_VIEWS:
        typed = getattr(traces, view.contract)
        declared = _declared(typed)
        for name, key in view.keys().items():
            assert name in declared, f"explain reads {view.contract}.{name}: not in traces.py"
            if key.view is not None:  # a nested block is read with the view of its type
                assert key.view.contract in str(declared[name]), (view.contract, name)


def test_the_views_cover_every_block_the_web_app_reads() -> None:
    """The trace is reached only through `TraceView`, and raw blocks only inside the views."""
    tree = ast.parse(Path(explain.__file__).read_text())
    views = {view.__name__ for view in explain.TRACE_VIEWS} | {"_Key", "_Block"}
    inside = [
        range(n.lineno, (n.end_lineno or n.lineno) + 1)
        for n in tree.body
        if isinstance(n, ast.ClassDef) and n.name in views
    ]
    raw = [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and n.attr == "_data"
        and not any(n.lineno in lines for lines in inside)
    ]
    assert len(inside) == len(views)
    assert raw == [], f"explain.py reads a trace block directly on lines {raw}"
    wraps = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "TraceView"
    ]
    reads = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "trace"]
    # `TraceView(result.trace) if result.trace`, nothing else.
    assert len(wraps) == 1
    assert len(reads) == 2


class _Codes(ast.NodeVisitor):
    """Collect the reason codes one module can emit."""

    def __init__(self, tree: ast.Module) -> None:
        self.codes: set[str] = set()
        self.names: dict[str, list[ast.expr]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.names.setdefault(target.id, []).append(node.value)

    def values(self, node: ast.expr | None, depth: int = 0) -> set[str]:
        """The string constants an expression can evaluate to (not the keys it looks up)."""
        if node is None or depth > 4:
            return set()
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return self.values(node.body, depth + 1) | self.values(node.orelse, depth + 1)
        if isinstance(node, ast.BoolOp):
            return set().union(*(self.values(v, depth + 1) for v in node.values))
        if isinstance(node, ast.Dict):
            return set().union(*(self.values(v, depth + 1) for v in node.values))
        if isinstance(node, ast.Name):
            return set().union(*(self.values(v, depth + 1) for v in self.names.get(node.id, [])))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get":
            found = self.values(node.args[1], depth + 1) if len(node.args) > 1 else set()
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                found |= self.values(node.func.value, depth + 1)  # a module-level mapping
            return found
        return set()

    def visit_Call(self, node: ast.Call) -> None:
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        position = {"Rejected": 0, "Decision": 1, "JwtOutcome": 1}.get(name)
        if position is not None and len(node.args) > position:
            self.codes |= self.values(node.args[position])
        for keyword in node.keywords:
            if keyword.arg == "reason":
                self.codes |= self.values(keyword.value)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if (
                isinstance(target, ast.Subscript)
                and isinstance(target.slice, ast.Constant)
                and target.slice.value == "reason"
            ):
                self.codes |= self.values(node.value)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "reason":
                self.codes |= self.values(value)
        self.generic_visit(node)


def emitted_codes() -> dict[str, set[str]]:
    """Every reason code in the source, with the files that emit it."""
    found: dict[str, set[str]] = {}
    for path in EMITTERS:
        tree = ast.parse(path.read_text())
        collector = _Codes(tree)
        collector.visit(tree)
        for code in collector.codes:
            if CODE.match(code):
                found.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_reason_codes_are_read_from_the_source() -> None:
    codes = emitted_codes()

    # One of each way a code is emitted: Rejected, Decision, JwtOutcome (also through a
    # variable), the gateway's block["reason"], a mapping's values and a .get default.
    assert {
        "token_expired",
        "bad_event",
        "internal_error",
        "invalid_claims",
        "id_token",
        "identity_source_missing",
        "explicit_deny",
        "implicit_deny",
        "unauthorized",
        "allowed",
    } <= set(codes)


def test_every_reason_code_has_words_on_the_ping_page() -> None:
    codes = emitted_codes()

    missing = {code: files for code, files in codes.items() if code not in explain.REASONS}

    assert missing == {}, "reason codes without words in webapp/explain.py REASONS"


def test_the_ping_page_has_no_words_for_codes_nobody_emits() -> None:
    assert set(explain.REASONS) - set(emitted_codes()) == set()


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("### The trace\n")
    end = text.find("\n#", start + 1)
    return text[start:end]


def test_the_readme_documents_every_key_of_the_trace() -> None:
    section = _readme_section()
    typed_dicts = [v for v in vars(traces).values() if typing.is_typeddict(v)]

    undocumented = [
        f"{typed.__name__}.{key}"
        for typed in typed_dicts
        for key in _declared(typed)
        if f"`{key}`" not in section
    ]

    assert len(typed_dicts) >= 8
    assert undocumented == []


def test_the_readme_lists_every_reason_code_and_stage() -> None:
    section = _readme_section()
    stages = typing.get_args(traces.DecidedBy)

    assert [c for c in emitted_codes() if f"`{c}`" not in section] == []
    assert [s for s in stages if f"`{s}`" not in section] == []
