"""Against a deployed API, rehearsed offline: the real gateway behind TLS with a self-signed
certificate, so the web app is in deployed mode (no catalogue, no trace)."""

from __future__ import annotations

import datetime
import ipaddress
import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

from emulators.gateway import create_gateway
from webapp import create_app


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no public authority signed."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab-api.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture(scope="module")
def tls_api(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The gateway served over HTTPS; yields the REST TOKEN API's base URL and the CA file."""
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = self_signed(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    gateway: Any = None
    server = make_server(
        "127.0.0.1", 0, lambda e, s: gateway(e, s), threaded=True, ssl_context=context
    )
    url = f"https://127.0.0.1:{server.server_port}"
    gateway = create_gateway(lab.issuer, url, notes_db=directory / "notes.sqlite3")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api = next(a for a in gateway.model.apis if a.logical_id == "RestTokenApi")
    yield f"{url}/{api.api_id}/{api.stage}", cert_file
    server.shutdown()
    server.server_close()
    gateway.close()


def deployed_app(lab: Any, api_url: str) -> Any:
    app = create_app(
        {"TESTING": True, "WTF_CSRF_ENABLED": False},
        environ={"LOCAL_IDP_URL": lab.idp_url, "API_BASE_URL": api_url},
    )
    return app.test_client()


def call(client: Any, action: str, token: str = "none") -> Any:
    return client.post(
        "/ping/call",
        data={"api": "rest-token", "action": action, "token": token},
        headers={"X-Requested-With": "fetch"},
    )


def test_an_untrusted_certificate_is_reported_as_such(
    lab: Any, tls_api: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    api_url, _ = tls_api
    client = deployed_app(lab, api_url)

    response = call(client, "GET /public")

    text = re.sub(r"\s+", " ", response.text)
    assert "is not trusted by the web app" in text
    assert "REQUESTS_CA_BUNDLE" in text
    assert "Is it running" not in text and "make run" not in text
    assert any("TLS to API" in record.getMessage() for record in caplog.records)


def test_a_deployed_api_base_url_alone_is_one_usable_api(
    lab: Any, tls_api: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    api_url, ca = tls_api
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    client = deployed_app(lab, api_url)

    page = client.get("/ping")
    public = call(client, "GET /public")

    assert "No API is reachable" not in page.text
    assert re.search(r'value="rest-token"\s+checked', page.text)
    assert public.status_code == 200
    assert 'data-status="200"' in public.text
    assert "No gateway trace for this call" in public.text


def test_a_deployed_api_is_never_probed_as_a_catalogue(
    lab: Any, tls_api: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    api_url, ca = tls_api
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    client = deployed_app(lab, api_url)
    probes: list[str] = []
    real_get = requests.get

    def counting_get(url: str, *args: Any, **kwargs: Any) -> Any:
        probes.append(url)
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(requests, "get", counting_get)
    for path in ("/", "/ping", "/ping"):
        client.get(path)

    origin = "/".join(api_url.split("/")[:3])
    assert [url for url in probes if url.startswith(origin)] == []


def test_a_403_without_a_trace_is_explained_from_the_token(
    lab: Any, tls_api: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    api_url, ca = tls_api
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    client = deployed_app(lab, api_url)

    response = call(client, "GET /admin", token="m2m-reader")

    text = re.sub(r"\s+", " ", response.text)
    assert 'data-status="403"' in text
    assert 'data-reason="insufficient_permission"' in text
    assert "This route needs <code>read:admin</code>" in text
    assert "grants <code>read:notes</code>" in text


def test_an_unreachable_deployed_api_is_not_told_to_make_run(lab: Any) -> None:
    client = deployed_app(lab, "https://127.0.0.1:9/dev")

    response = call(client, "GET /public")

    text = re.sub(r"\s+", " ", response.text)
    assert "https://127.0.0.1:9/dev could not be reached" in text
    assert "Check the host name" in text
    assert "make run" not in text


def test_an_unreachable_tenant_is_not_told_to_make_run() -> None:
    app = create_app(
        {"TESTING": True},
        environ={
            "AUTH0_DOMAIN": "127.0.0.1:9",
            "AUTH0_CLIENT_ID": "abc",
            "AUTH0_CLIENT_SECRET": "secret",
            "AUTH0_AUDIENCE": "https://api.example.com",
        },
    )

    response = app.test_client().get("/login")

    assert response.status_code == 503
    assert "https://127.0.0.1:9/ could not be reached" in response.text
    assert "make run" not in response.text


def test_a_tenant_with_an_untrusted_certificate_is_reported_as_such(
    tls_api: tuple[str, Path],
) -> None:
    api_url, _ = tls_api
    host = api_url.split("/")[2]
    app = create_app(
        {"TESTING": True},
        environ={
            "AUTH0_DOMAIN": host,
            "AUTH0_CLIENT_ID": "abc",
            "AUTH0_CLIENT_SECRET": "secret",
            "AUTH0_AUDIENCE": "https://api.example.com",
        },
    )

    response = app.test_client().get("/login")

    assert response.status_code == 503
    assert "is not trusted by the web app" in response.text
    assert "make run" not in response.text
