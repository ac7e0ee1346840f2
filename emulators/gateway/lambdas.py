"""Run the template's functions in-process as Lambda would.

Events and results cross a JSON boundary (what cannot be serialized fails as on Lambda), a
context object carries a request id and the remaining time, the first call of a function
is a cold start that imports its module afresh, and a call past the function's timeout
counts as timed out.

A function whose module cannot be loaded fails its invocation as Lambda's Python runtime
reports it (aws-lambda-python-runtime-interface-client, `awslambdaric/bootstrap.py`
`_get_handler`): `Runtime.ImportModuleError` "Unable to import module '<module>': <error>",
`Runtime.UserCodeSyntaxError` "Syntax error in module '<module>': <error>",
`Runtime.HandlerNotFound` "Handler '<name>' missing on module '<module>'",
`Runtime.MalformedHandlerName` "Bad handler '<handler>': <error>"; any other exception in
the module's top level is reported by its class name and message. Such a call is a cold start
that leaves no container behind: the next call loads the module again, so a fixed file
works without restarting the gateway.

In-process means one Python process for all functions: two functions with the same module
(the policy and the simple authorizer) share its module state, unlike two Lambda containers,
and their environment variables must not clash (checked at start).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .template import Function
from .template import TemplateError


def request_id() -> str:
    """Return a random, UUID-shaped request id (not a secret: no need for os.urandom)."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def json_native_copy(value: Any) -> Any:
    """Copy a value made only of exact JSON types; raise TypeError for anything else."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        copy = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError("a non-string key")
            copy[key] = json_native_copy(item)
        return copy
    if kind is list:
        return [json_native_copy(item) for item in value]
    if kind is float and math.isfinite(value):
        return value
    raise TypeError("not an exact JSON type")


def marshal(result: Any) -> Any:
    """Return what the Lambda runtime's JSON serialization makes of a handler's result.

    A result built only of dicts with string keys, lists, strings, finite numbers, booleans
    and None comes out equal, so it is copied directly (a fifth of the cost of the round
    trip); anything else takes the real `json.dumps`/`json.loads` round trip, with its
    conversions (tuples to lists, int keys to strings) and its errors.
    """
    try:
        return json_native_copy(result)
    except (TypeError, RecursionError):
        return json.loads(json.dumps(result))


class LambdaContext:
    """The `context` argument of a Python Lambda handler."""

    def __init__(self, function: Function, log_stream_name: str) -> None:
        self.function_name = f"authorizer-lab-{function.logical_id}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory
        self.aws_request_id = request_id()
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = log_stream_name
        self._deadline = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    """What one invocation returned, or how it failed."""

    function: str
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    duration_ms: float = 0.0
    cold_start: bool = False

    @property
    def failed(self) -> bool:
        return self.error_type is not None


def _exit_message(exc: SystemExit) -> str:
    # As a process would exit: None is status 0, an int itself, anything else (a message) 1.
    code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    return f"Runtime exited with error: exit status {code}"


class LoadError(Exception):
    """A function's module or handler could not be loaded: Lambda's error type and message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class LambdaRuntime:
    """Invoke functions; their environments are set as the template declares them."""

    def __init__(self, functions: dict[str, Function], local_env: dict[str, str]) -> None:
        self.functions = functions
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._log_streams: dict[str, str] = {}
        self._lock = threading.Lock()
        self._saved_env: dict[str, str | None] = {}
        merged: dict[str, str] = {}
        owners: dict[str, str] = {}
        for function in functions.values():
            for name, value in {**function.environment, **local_env}.items():
                if name in merged and merged[name] != value:
                    raise TemplateError(
                        f"{function.logical_id} and {owners[name]} set {name} to different "
                        "values; in-process functions share one environment"
                    )
                merged[name] = value
                owners[name] = function.logical_id
        # In-process functions share one process environment; each reads only its own names.
        for name, value in merged.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value

    def close(self) -> None:
        """Give the process environment back as it was."""
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _load(self, function: Function) -> Callable[[Any, Any], Any]:
        """Import the handler's module afresh (a cold start); raise LoadError as Lambda would."""
        handler = function.handler
        module_name, dot, attribute = handler.rpartition(".")
        if not dot or not module_name or not attribute:
            raise LoadError(
                "Runtime.MalformedHandlerName",
                f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
            )
        module_name = module_name.replace("/", ".")
        # A file created or fixed since the last attempt must be seen: the path finders cache
        # directory listings.
        importlib.invalidate_caches()
        try:
            module = sys.modules.get(module_name)
            # A cold start is a fresh container: run the module's top level again.
            module = importlib.reload(module) if module else importlib.import_module(module_name)
        except ImportError as exc:
            raise LoadError(
                "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
            ) from None
        except SyntaxError as exc:
            raise LoadError(
                "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
            ) from None
        except Exception as exc:  # the module's own top level failed: its error, as Lambda says
            raise LoadError(type(exc).__name__, str(exc)) from None
        except SystemExit as exc:  # sys.exit() would end a Lambda runtime, not the gateway
            raise LoadError("Runtime.ExitError", _exit_message(exc)) from None
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise LoadError(
                "Runtime.HandlerNotFound",
                f"Handler '{attribute}' missing on module '{module_name}'",
            ) from None

    def invoke(self, function: Function, event: dict[str, Any]) -> Invocation:
        """Invoke `function` with `event`; never raises for the function's own failures."""
        invocation = Invocation(function.logical_id)
        handler = self._handlers.get(function.logical_id)
        if handler is None:
            started = time.perf_counter()
            with self._lock:
                handler = self._handlers.get(function.logical_id)
                if handler is None:
                    invocation.cold_start = True
                    try:
                        handler = self._load(function)
                    except LoadError as failure:
                        # Nothing is kept: the next call is a cold start that tries again.
                        invocation.error_type = failure.error_type
                        invocation.error_message = failure.message
                        invocation.duration_ms = (time.perf_counter() - started) * 1000
                        return invocation
                    self._handlers[function.logical_id] = handler
                    # One log stream per container, as on Lambda.
                    self._log_streams[function.logical_id] = (
                        time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
                    )
        # The events are built fresh for each call from JSON types only, so they need no
        # round trip; what a function returns does, as Lambda serializes it.
        started = time.perf_counter()
        try:
            result = handler(event, LambdaContext(function, self._log_streams[function.logical_id]))
        except Exception as exc:  # the function's failure is data here, as on Lambda
            invocation.error_type = type(exc).__name__
            invocation.error_message = str(exc)
        except SystemExit as exc:
            invocation.error_type = "Runtime.ExitError"
            invocation.error_message = _exit_message(exc)
        else:
            try:
                invocation.result = marshal(result)
            except (TypeError, ValueError, RecursionError) as exc:
                invocation.error_type = "Runtime.MarshalError"
                invocation.error_message = f"Unable to marshal response: {exc}"
        invocation.duration_ms = (time.perf_counter() - started) * 1000
        if invocation.duration_ms > function.timeout * 1000:
            invocation.error_type = "Sandbox.Timedout"
            invocation.error_message = f"Task timed out after {function.timeout:.2f} seconds"
            invocation.result = None
        return invocation
