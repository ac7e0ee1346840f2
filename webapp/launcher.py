"""`make run`: start the web app and, in local mode, the emulators; stop them all on Ctrl-C.

Each server is its own process, on its own origin, as in the real topology; each can also be
started alone (the commands are printed). In Auth0 mode (`AUTH0_DOMAIN` set) the local IdP is
not started; with `API_BASE_URL` set the local gateway is not started.
"""

from __future__ import annotations

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

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 30.0


@dataclass
class Server:
    """One server process of the lab."""

    name: str
    host: str
    port: int
    argv: list[str]
    probe_url: str
    process: subprocess.Popen[bytes] | None = None


def planned_servers(settings: dict[str, str | None]) -> list[Server]:
    """Return the servers to start for these settings, dependencies first."""
    python = sys.executable
    servers = []
    if not settings.get("AUTH0_DOMAIN"):
        servers.append(
            Server(
                "identity provider",
                "127.0.0.1",
                3001,
                [python, "-m", "emulators.idp", "serve", "--host", "127.0.0.1", "--port", "3001"],
                "http://127.0.0.1:3001/.well-known/openid-configuration",
            )
        )
    if not settings.get("API_BASE_URL"):
        domain = (settings.get("AUTH0_DOMAIN") or "").removeprefix("https://").rstrip("/")
        issuer = f"https://{domain}/" if domain else "http://127.0.0.1:3001/"
        servers.append(
            Server(
                "API gateway",
                "127.0.0.1",
                3002,
                [
                    python,
                    "-m",
                    "emulators.gateway",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "3002",
                    "--issuer",
                    issuer,
                ],
                "http://127.0.0.1:3002/",
            )
        )
    servers.append(
        Server(
            "web app",
            "localhost",
            3000,
            [python, "-m", "waitress", "--listen=localhost:3000", "--threads=8", "wsgi:app"],
            "http://localhost:3000/",
        )
    )
    return servers


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
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


def stop_all(servers: list[Server]) -> None:
    """Terminate every started server, then kill the ones that do not stop in time."""
    for server in reversed(servers):
        if server.process and server.process.poll() is None:
            server.process.terminate()
    deadline = time.monotonic() + 5
    for server in servers:
        if server.process:
            try:
                server.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                server.process.kill()


def _banner(servers: list[Server], settings: dict[str, str | None]) -> str:
    lines = ["", "Authorizer Lab is running:"]
    for server in servers:
        lines.append(f"  {server.name:<18} http://{server.host}:{server.port}/")
    if any(s.port == 3002 for s in servers):
        lines.append("  (the gateway's catalogue of APIs and routes is at http://127.0.0.1:3002/)")
    if not settings.get("AUTH0_DOMAIN"):
        from emulators.idp.tenant import load_tenant_data
        from emulators.idp.tenant import parse_tenant

        tenant = parse_tenant(load_tenant_data(settings.get("IDP_TENANT") or None))
        lines.append("")
        lines.append("Demo logins (local identity provider):")
        for user in tenant.users:
            lines.append(f"  {user.email:<24} {user.password:<20} roles: {', '.join(user.roles)}")
    lines += ["", "Open http://localhost:3000/ and log in. Press Ctrl-C to stop everything.", ""]
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Start the lab and block until Ctrl-C or until a server dies."""
    settings: dict[str, str | None] = {**dotenv_values(ROOT / ".env"), **os.environ}
    servers = planned_servers(settings)
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
            server.process = subprocess.Popen(server.argv, cwd=ROOT)
            started.append(server)
            if not _wait_ready(server):
                print(f"The {server.name} did not start; see its output above.", file=sys.stderr)
                return 1
        print(_banner(servers, settings), flush=True)
        while all(s.process and s.process.poll() is None for s in started):
            time.sleep(0.5)
        dead = [s.name for s in started if s.process and s.process.poll() is not None]
        print(f"Stopped because the {', '.join(dead)} exited.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        stop_all(started)


if __name__ == "__main__":
    sys.exit(main())
