"""The in-process Lambda runtime's JSON boundary: results come out as Lambda serializes them."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from emulators.gateway.lambdas import marshal


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
