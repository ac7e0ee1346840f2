"""`make run`: start the web app and, in local mode, the emulators; stop them all on Ctrl-C.

Each server is its own process, on its own origin, as in the real topology; each can also be
started alone (the commands are printed). In Auth0 mode (`AUTH0_DOMAIN` set) the local IdP is
not started; with `API_BASE_URL` set the local gateway is not started.

The settings are checked before anything starts, so a mistake is one clear message. Each
server runs in its own process group and stopping kills the whole group: Granian (the
gateway) serves from a worker process its main process forks, and signalling only the main
process could leave the worker listening (killpg(2), Python's `start_new_session`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from .config import LOCAL_GATEWAY_URL
from .config import LOCAL_IDP_URL
from .config import ConfigError
from .config import base_url
from .config import is_loopback
from .config import settings_from_env

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


@dataclass
class Server:
    """One server process of the lab."""

    name: str
    host: str
    port: int
    argv: list[str]
    probe_url: str
    process: subprocess.Popen[bytes] | None = None


def _local_address(url: str, setting: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or not parts.hostname or not port:
        raise ConfigError(f"{setting} is {url!r}: it must be http://host:port on this machine.")
    return parts.hostname, port


def planned_servers(settings: dict[str, str | None]) -> list[Server]:
    """Return the servers to start for these settings, dependencies first.

    The emulators listen where the web app looks for them (`LOCAL_IDP_URL`,
    `LOCAL_GATEWAY_URL`); the web app on `APP_BASE_URL`'s port, on localhost when the origin
    is a proxy's (`APP_TRUSTED_PROXIES`).

    :raise ConfigError: an address is not usable.
    """
    python = sys.executable
    servers = []
    origin, app_host, app_port = base_url(settings.get("APP_BASE_URL"))
    idp_url = (settings.get("LOCAL_IDP_URL") or LOCAL_IDP_URL).rstrip("/")
    if not settings.get("AUTH0_DOMAIN"):
        host, port = _local_address(idp_url, "LOCAL_IDP_URL")
        argv = [python, "-m", "emulators.idp", "serve", "--host", host, "--port", str(port)]
        # The tenant's and the pool's callback and logout URLs follow the web app's origin.
        servers.append(
            Server(
                "identity provider",
                host,
                port,
                [*argv, "--app-origin", origin],
                f"{idp_url}/.well-known/openid-configuration",
            )
        )
    if not settings.get("API_BASE_URL"):
        domain = (settings.get("AUTH0_DOMAIN") or "").removeprefix("https://").rstrip("/")
        issuer = f"https://{domain}/" if domain else f"{idp_url}/"
        gateway_url = (settings.get("LOCAL_GATEWAY_URL") or LOCAL_GATEWAY_URL).rstrip("/")
        host, port = _local_address(gateway_url, "LOCAL_GATEWAY_URL")
        servers.append(
            Server(
                "API gateway",
                host,
                port,
                [
                    python,
                    "-m",
                    "emulators.gateway",
                    "serve",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--issuer",
                    settings.get("GATEWAY_TOKEN_ISSUER") or issuer,
                ],
                f"{gateway_url}/",
            )
        )
    host, port = app_host, app_port
    if not (urlsplit(origin).scheme == "http" and is_loopback(host)):
        host, port = "localhost", 3000  # behind a proxy that serves the public origin
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    servers.append(
        Server(
            "web app",
            host,
            port,
            [python, "wsgi.py", "--listen", listen],
            f"http://{listen}/",
        )
    )
    return servers


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1" if host == "localhost" else host, port))
        except OSError:
            return False
    return True


def _wait_ready(server: Server) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(server.probe_url, timeout=1):  # noqa: S310
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.1)
    return False


def start(server: Server) -> None:
    """Start a server in a process group of its own (its id is the server's pid)."""
    # A new session: Ctrl-C in the terminal reaches the launcher only, which then stops
    # each group in order rather than every process at once.
    server.process = subprocess.Popen(server.argv, cwd=ROOT, start_new_session=True)


def _signal_group(server: Server, signum: int) -> None:
    if server.process is None:
        return
    with contextlib.suppress(ProcessLookupError):  # the whole group has already exited
        os.killpg(server.process.pid, signum)


def _group_alive(server: Server) -> bool:
    if server.process is None:
        return False
    server.process.poll()  # reap the leader, so a zombie does not count
    try:
        os.killpg(server.process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_all(servers: list[Server]) -> None:
    """Terminate every started server's process group; kill the groups still there after 5 s.

    Waiting is for the group, not only its leader: a worker that outlives its parent would
    keep the port.
    """
    for server in reversed(servers):
        _signal_group(server, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(_group_alive(s) for s in servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    for server in servers:
        if _group_alive(server):
            _signal_group(server, signal.SIGKILL)
    for server in servers:
        if server.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=STOP_TIMEOUT)


def _local_account(catalogue_url: str | None) -> list[str]:
    """The banner's line on the local AWS account, from the gateway's catalogue (none when it
    cannot be read at once: the banner must not wait for it)."""
    if catalogue_url is None:
        return []
    try:
        with urllib.request.urlopen(catalogue_url, timeout=2) as answer:  # noqa: S310 (our URL)
            described = json.load(answer).get("identity_pool") or {}
        pools = ", ".join(str(p["id"]) for p in described.get("pools") or ())
        account, endpoint = described["account_id"], described["endpoint_url"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    return [f"  {'local AWS account':<22} {account}, identity pool {pools} at {endpoint}"]


def _banner(
    servers: list[Server], settings: dict[str, str | None], config: dict[str, object]
) -> str:
    origin = str(config["APP_BASE_URL"])
    lines = ["", "Authorizer Lab is running:"]
    for server in servers:
        shown = origin if server.name == "web app" else server.probe_url.rsplit("/.well", 1)[0]
        lines.append(f"  {server.name:<18} {shown.rstrip('/')}/")
    gateway = next((s for s in servers if s.name == "API gateway"), None)
    if gateway is not None:
        lines.append(f"  (the gateway's catalogue of APIs and routes is at {gateway.probe_url})")
        json_lines = (settings.get("LOG_FORMAT") or "").lower() == "json"
        lines.append(
            "  (the authorizer's decisions print as JSON lines, as CloudWatch Logs gets them)"
            if json_lines
            else "  (the authorizer's decisions print as one short line each; "
            "`make run LOG_FORMAT=json` for the JSON lines Lambda writes)"
        )
    lines.append("")
    lines.append("The web app points at:")
    mode = "Auth0 tenant" if config["LAB_MODE"] == "auth0" else "local identity provider"
    lines.append(f"  {mode:<22} {config['AUTH0_ISSUER']} (audience {config['AUTH0_AUDIENCE']})")
    apis = [
        f"{name} {config[name]}"
        for name in (
            "API_URL_REST_TOKEN",
            "API_URL_REST_REQUEST",
            "API_URL_HTTP_LAMBDA",
            "API_URL_HTTP_JWT",
        )
        if config.get(name)
    ]
    if config.get("COGNITO_MODE"):
        pool = "local Cognito pool" if config["COGNITO_MODE"] == "local" else "Cognito user pool"
        lines.append(f"  {pool:<22} {config['COGNITO_ISSUER']}")
        lines.append(f"  {'  its domain':<22} {config['COGNITO_DOMAIN_URL']}/oauth2/token, ...")
    if config["API_MODE"] == "local":
        lines.append(f"  {'local API gateway':<22} {config['API_BASE_URL']}/")
        lines += _local_account(gateway.probe_url if gateway else None)
    elif not apis:
        lines.append(f"  {'deployed API':<22} {config['API_BASE_URL']}")
    for api in apis:
        lines.append(f"  {'deployed API':<22} {api}")
    if not settings.get("AUTH0_DOMAIN"):
        from emulators.idp.tenant import load_tenant_data
        from emulators.idp.tenant import parse_tenant

        tenant = parse_tenant(load_tenant_data(settings.get("IDP_TENANT") or None))
        lines.append("")
        lines.append("Demo logins (local identity provider):")
        for user in tenant.users:
            lines.append(f"  {user.email:<24} {user.password:<20} roles: {', '.join(user.roles)}")
    lines += ["", f"Open {origin}/ and log in. Press Ctrl-C to stop everything.", ""]
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Start the lab and block until Ctrl-C or until a server dies."""
    settings: dict[str, str | None] = {**dotenv_values(ROOT / ".env"), **os.environ}
    # Check the settings here, before any server starts: a mistake is one message, not a
    # traceback inside a WSGI server's usage text.
    try:
        config = settings_from_env({k: v for k, v in settings.items() if v is not None})
        shared = settings.get("SESSION_REDIS_URL") or settings.get("SESSION_DYNAMODB_TABLE")
        if shared and not settings.get("APP_SECRET_KEY"):
            # The web app would refuse this at its own start, after the others had started.
            raise ConfigError(
                "sessions in Redis or DynamoDB are shared by several instances, which must "
                "share one APP_SECRET_KEY (it also keys the session encryption): set it."
            )
        servers = planned_servers(settings)
    except ConfigError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2
    busy = [s for s in servers if not _port_free(s.host, s.port)]
    if busy:
        for server in busy:
            print(
                f"Port {server.port} ({server.name}) is already in use: is another "
                "`make run` still running?",
                file=sys.stderr,
            )
        return 1

    started: list[Server] = []
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for server in servers:
            print(f"Starting the {server.name}: {' '.join(server.argv[1:])}", flush=True)
            start(server)
            started.append(server)
            if not _wait_ready(server):
                print(f"The {server.name} did not start; see its output above.", file=sys.stderr)
                return 1
        print(_banner(servers, settings, config), flush=True)
        while all(s.process and s.process.poll() is None for s in started):
            time.sleep(0.5)
        dead = [s.name for s in started if s.process and s.process.poll() is not None]
        print(f"Stopped because the {', '.join(dead)} exited.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        # A second Ctrl-C or SIGTERM (make forwards one) must not cut the stop short and
        # leave servers behind: from here on, both are ignored until every group is gone.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(started)


if __name__ == "__main__":
    sys.exit(main())
