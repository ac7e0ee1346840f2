"""The in-process Lambda runtime: results come out as Lambda serializes them, and a module that
cannot be loaded fails the call with the errors of Lambda's Python runtime
(https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html; wording from
aws-lambda-python-runtime-interface-client's bootstrap)."""

from __future__ import annotations

import json
import math
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulators.gateway.lambdas import LambdaRuntime
from emulators.gateway.lambdas import marshal
from emulators.gateway.template import Function


class Text(str):
    """A str subclass: json writes its text, and it comes back a plain str."""


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": 200, "headers": {"A": "b"}, "body": '{"x": [1, 2.5, null]}'},
        {"nested": [{"a": [True, False, None]}, -0.0, 10**30, "\ud800 lone surrogate"]},
        {"tuple": (1, 2), "int keys": {1: "one"}, "subclass": Text("t")},
        [float("nan"), float("inf")],
        "just a string",
        None,
    ],
    ids=["proxy", "json-types", "converted", "non-finite", "string", "none"],
)
def test_marshal_matches_the_json_round_trip(result: Any) -> None:
    expected = json.loads(json.dumps(result))
    marshalled = marshal(result)

    assert json.dumps(marshalled) == json.dumps(expected)
    if isinstance(result, list):
        assert all(math.isnan(x) or math.isinf(x) for x in marshalled)


def test_marshal_copies_so_the_function_cannot_change_what_was_returned() -> None:
    result: dict[str, Any] = {"context": {"sub": "a"}, "list": [1]}
    marshalled = marshal(result)
    result["context"]["sub"] = "changed"
    result["list"].append(2)

    assert marshalled == {"context": {"sub": "a"}, "list": [1]}


@pytest.mark.parametrize(
    ("result", "error"),
    [({"x": {1, 2}}, TypeError), ({"x": object()}, TypeError)],
)
def test_marshal_refuses_what_json_cannot_write(result: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        marshal(result)


def test_marshal_refuses_a_circular_result() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular

    with pytest.raises(ValueError, match="Circular reference"):
        marshal(circular)


# Functions whose module cannot be loaded -----------------------------------------------------
# Lambda's Python runtime reports these at the first invocation (aws-lambda-python-runtime-
# interface-client, awslambdaric/bootstrap.py `_get_handler`); the gateway then answers as for
# any failed function. Each test writes a real module into a fresh package on sys.path.


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, importable package directory; its modules are forgotten afterwards."""
    name = f"lab_functions_{uuid.uuid4().hex[:8]}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def function(package: Path, handler: str) -> Function:
    return Function("BrokenFunction", f"{package.name}.{handler}", {}, 3.0, 128)


def runtime_for(fn: Function) -> LambdaRuntime:
    return LambdaRuntime({fn.logical_id: fn}, {})


GOOD = 'def handler(event, context):\n    return {"ok": True, "event": event}\n'


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        (
            "import no_such_dependency_xyz\n" + GOOD,
            "broken.handler",
            "Runtime.ImportModuleError",
            "Unable to import module '{pkg}.broken': No module named 'no_such_dependency_xyz'",
        ),
        (
            None,
            "missing.handler",
            "Runtime.ImportModuleError",
            "Unable to import module '{pkg}.missing': No module named '{pkg}.missing'",
        ),
        (
            "def handler(event, context)\n    return 1\n",
            "broken.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module '{pkg}.broken': expected ':' (broken.py, line 1)",
        ),
        (
            GOOD,
            "broken.lambda_handler",
            "Runtime.HandlerNotFound",
            "Handler 'lambda_handler' missing on module '{pkg}.broken'",
        ),
        (
            "raise RuntimeError('config missing')\n" + GOOD,
            "broken.handler",
            "RuntimeError",
            "config missing",
        ),
    ],
    ids=["import-error", "no-module", "syntax-error", "no-handler", "top-level-raise"],
)
def test_a_module_that_cannot_load_fails_the_invocation_as_lambda_reports_it(
    package: Path, source: str | None, handler: str, error_type: str, message: str
) -> None:
    # GIVEN a function whose module is broken in one of the ways Lambda names
    if source is not None:
        (package / "broken.py").write_text(source)
    fn = function(package, handler)
    runtime = runtime_for(fn)
    try:
        # WHEN the gateway invokes it
        invocation = runtime.invoke(fn, {"n": 1})
    finally:
        runtime.close()

    # THEN the call fails with Lambda's error type and wording, and it was a cold start
    assert invocation.failed
    assert invocation.error_type == error_type
    assert invocation.error_message == message.format(pkg=package.name)
    assert invocation.cold_start is True
    assert invocation.result is None


def test_a_fixed_module_loads_on_the_next_call(package: Path) -> None:
    # GIVEN a function whose module fails to import
    module = package / "flaky.py"
    module.write_text("import no_such_dependency_xyz\n" + GOOD)
    fn = function(package, "flaky.handler")
    runtime = runtime_for(fn)
    try:
        first = runtime.invoke(fn, {"n": 1})
        again = runtime.invoke(fn, {"n": 2})
        # WHEN the file is fixed (no restart of the runtime)
        module.write_text(GOOD)
        fixed = runtime.invoke(fn, {"n": 3})
        warm = runtime.invoke(fn, {"n": 4})
    finally:
        runtime.close()

    # THEN every failed load was a cold start, the fixed file loads, and then stays warm
    assert [first.error_type, again.error_type] == ["Runtime.ImportModuleError"] * 2
    assert [first.cold_start, again.cold_start, fixed.cold_start] == [True, True, True]
    assert fixed.result == {"ok": True, "event": {"n": 3}}
    assert warm.result == {"ok": True, "event": {"n": 4}}
    assert warm.cold_start is False


def test_sys_exit_in_a_function_fails_the_invocation_not_the_gateway(package: Path) -> None:
    (package / "exits.py").write_text("import sys\ndef handler(event, context):\n    sys.exit(3)\n")
    fn = function(package, "exits.handler")
    runtime = runtime_for(fn)
    try:
        invocation = runtime.invoke(fn, {})
    finally:
        runtime.close()

    assert invocation.error_type == "Runtime.ExitError"
    assert invocation.error_message == "Runtime exited with error: exit status 3"
