"""A real DynamoDB endpoint for the notes store: moto's server on a loopback port.

The notes table is created with the key schema and attribute definitions of the template's
`NotesTable`, read from `template.yaml`, and the notes function finds the endpoint the way
any boto3 program does, through `AWS_ENDPOINT_URL_DYNAMODB`.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import yaml

from emulators.gateway import Gateway
from emulators.gateway import create_gateway
from emulators.gateway.template import TEMPLATE
from emulators.gateway.template import _Loader
from tests.conftest import LiveServer

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MotoServer:
    """`moto_server` in its own process, answering DynamoDB's wire protocol on loopback."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        executable = Path(sys.executable).with_name("moto_server")
        self.process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.url + "/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto_server did not start on {self.url}") from None
                time.sleep(0.1)

    def client(self) -> Any:
        return boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def create_notes_table(self, name: str) -> None:
        """Create `name` as the template declares `NotesTable`."""
        template = yaml.load(TEMPLATE.read_text(), Loader=_Loader)
        props = template["Resources"]["NotesTable"]["Properties"]
        self.client().create_table(
            TableName=name,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props["BillingMode"],
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class ServedGateway:
    """A gateway emulator on its own port, as `Lab` offers the session's."""

    url: str
    gateway: Gateway

    def api_url(self, name: str) -> str:
        api = next(a for a in self.gateway.model.apis if a.logical_id == name)
        return f"{self.url}/{api.api_id}/{api.stage}"

    @property
    def notes_table(self) -> str:
        """The table the notes function was given (the template's `!Ref NotesTable`)."""
        return self.gateway.model.functions["NotesFunction"].environment["NOTES_TABLE"]


def aws_environment(endpoint: str) -> dict[str, str]:
    """What Lambda would give the function, with DynamoDB at `endpoint`; dummy credentials."""
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # Nothing from this machine's own AWS configuration may take part.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@contextmanager
def dynamodb_gateway(issuer: str, endpoint: str, state: Path) -> Iterator[ServedGateway]:
    """Serve the template with NotesBackend=dynamodb and DynamoDB at `endpoint`."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        for name, value in aws_environment(endpoint).items():
            env.setenv(name, value)
        server = LiveServer()
        url = f"http://127.0.0.1:{server.port}"
        gateway = create_gateway(
            issuer, url, notes_db=state / "unused.sqlite3", parameters={"NotesBackend": "dynamodb"}
        )
        server.start(gateway)
        try:
            yield ServedGateway(url, gateway)
        finally:
            server.stop()
            gateway.close()
    # In-process functions share one module between gateways; its store is now DynamoDB's.
    # Reload it, as a cold start would, so the session's gateway opens its SQLite store again.
    if "api.notes" in sys.modules:
        importlib.reload(sys.modules["api.notes"])
