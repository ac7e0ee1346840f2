"""`python -m webapp.compare` (and `make compare`): the Compare grid from the command line.

    python -m webapp.compare [--user customer|admin] [--format markdown|json] [--output FILE]
                             [--expect FILE] [--template their.yaml] [--workers N]

Locally (the default, the APIs `make run` serves) it logs in as the demo users through the
local IdP's real login flow (authorization code with PKCE, RFC 7636; the login form filled as
a person would) and gets the M2M tokens with client credentials. Against a real tenant
(`AUTH0_DOMAIN` set) nothing can log in for you: the tokens come from the environment
(`COMPARE_CUSTOMER_ACCESS_TOKEN`, `COMPARE_ADMIN_ACCESS_TOKEN`, `COMPARE_ID_TOKEN`,
`COMPARE_OPAQUE_TOKEN`; the M2M clients from `M2M_READER_*`/`M2M_WRITER_*`).

The credential rows (SigV4, the IAM APIs): locally the user's ID token is exchanged once per
run at the gateway's identity pool with boto3, as the web app does (`webapp.iam`), and the
service client's key is the lab's demo key when the gateway lists it. A run's credentials are
fresh, so the "expired credentials" row is listed as not run, with why. Against deployed APIs
only the service client's key (`IAM_SERVICE_ACCESS_KEY_ID`/`IAM_SERVICE_SECRET_ACCESS_KEY`)
signs: the user's rows are not run.

`--template` starts a local IdP and the gateway emulator on that template, on free ports, runs
the grid against it and stops them. `--expect` compares with a saved JSON run: exit 1 and a
diff when a cell's status, decided_by or reason differs; 0 when all match. Exit 2: the grid
could not run (the message says why).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import requests
import yaml
from botocore.credentials import Credentials

from . import iam
from .api_client import ApiDirectory
from .compare import DEFAULT_WORKERS
from .compare import Column
from .compare import Run
from .compare import columns_from_targets
from .compare import diff_runs
from .compare import discover_columns
from .compare import run_grid
from .config import ConfigError
from .config import settings_from_env
from .launcher import ROOT
from .launcher import Server
from .launcher import _wait_ready
from .launcher import stop_all
from .m2m import M2MClient
from .m2m import M2MTokens
from .variants import IAM_ROWS
from .variants import SourceTokens
from .variants import VariantBuilder
from .variants import cognito_m2m_tokens

# The local tenant's demo users (emulators/idp/tenant.json; tests keep them in step).
DEMO_USERS = {
    "customer": ("customer@example.com", "Customer-Passw0rd"),
    "admin": ("admin@example.com", "Admin-Passw0rd"),
}
TOKEN_SETTINGS = {
    "customer": "COMPARE_CUSTOMER_ACCESS_TOKEN",
    "admin": "COMPARE_ADMIN_ACCESS_TOKEN",
    "id": "COMPARE_ID_TOKEN",
    "opaque": "COMPARE_OPAQUE_TOKEN",
}


class CompareError(RuntimeError):
    """The grid cannot run; the message says why and what to do."""


# Logging in as a person would ----------------------------------------------------------------


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _hidden_fields(html: str) -> dict[str, str]:
    return {
        name: unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    }


def login(settings: dict[str, Any], user: str, audience: bool = True) -> dict[str, Any]:
    """Log in as a demo user at the local IdP: /authorize, the login form, /oauth/token.

    The redirect to the web app's callback is read, never followed (no web app needed).
    :raise CompareError: the IdP is unreachable or refused.
    """
    email, password = DEMO_USERS[user]
    issuer = settings["AUTH0_ISSUER"]
    redirect_uri = settings["APP_BASE_URL"] + "/callback"
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": settings["AUTH0_CLIENT_ID"],
        "redirect_uri": redirect_uri,
        "scope": settings["AUTH0_SCOPE"],
        "state": state,
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if audience:
        params["audience"] = settings["AUTH0_AUDIENCE"]
    browser = requests.Session()
    timeout = 10
    try:
        page = browser.get(issuer + "authorize", params=params, timeout=timeout)
        if page.status_code != 200:
            raise CompareError(f"the local IdP's login page answered {page.status_code}")
        answer = browser.post(
            page.url,
            data={
                **_hidden_fields(page.text),
                "email": email,
                "password": password,
                "action": "login",
            },
            allow_redirects=False,
            timeout=timeout,
        )
        location = answer.headers.get("Location", "")
        query = parse_qs(urlsplit(location).query)
        if answer.status_code != 302 or query.get("state") != [state] or "code" not in query:
            raise CompareError(
                f"the local IdP did not log in {email} (HTTP {answer.status_code}); is the "
                "tenant's demo user there?"
            )
        tokens = requests.post(
            issuer + "oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(settings["AUTH0_CLIENT_ID"], settings["AUTH0_CLIENT_SECRET"]),
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise CompareError(
            f"the local IdP at {issuer} could not be reached ({type(exc).__name__}); "
            "start the lab with `make run`"
        ) from exc
    if tokens.status_code != 200:
        raise CompareError(f"the local IdP refused the code exchange (HTTP {tokens.status_code})")
    return dict(tokens.json())


def local_sources(settings: dict[str, Any], user: str) -> SourceTokens:
    """Log in as both demo users (and once without `audience`), get both M2M tokens.

    The four are independent and mostly wait on the IdP's password hashing: done at once.
    """
    other = "admin" if user == "customer" else "customer"
    with ThreadPoolExecutor(max_workers=5) as pool:
        mine = pool.submit(login, settings, user)
        theirs = pool.submit(login, settings, other)
        opaque = pool.submit(login, settings, user, False)
        machines = pool.submit(m2m_tokens, settings)
        pool_tokens = pool.submit(
            cognito_m2m_tokens, settings["AUTH0_ISSUER"], float(settings.get("HTTP_TIMEOUT", 10))
        )
        sources = SourceTokens(user=user)
        sources.access[user] = mine.result()["access_token"]
        sources.id_token = mine.result().get("id_token")
        sources.access[other] = theirs.result()["access_token"]
        sources.opaque = opaque.result()["access_token"]
        sources.m2m = {**machines.result(), **pool_tokens.result()}
    return sources


def m2m_tokens(settings: dict[str, Any]) -> dict[str, str]:
    clients = [
        M2MClient(key, key, client_id, secret)
        for key, (client_id, secret) in settings.get("M2M_CLIENTS", {}).items()
    ]
    tokens = M2MTokens(settings, clients)
    found = {}
    for client in clients:
        try:
            found[client.key] = tokens.token(client.key, settings["AUTH0_ISSUER"] + "oauth/token")
        except (LookupError, RuntimeError) as exc:
            print(f"note: no {client.key} token: {exc}", file=sys.stderr)
    return found


def env_sources(settings: dict[str, Any], user: str, environ: dict[str, str]) -> SourceTokens:
    """Against a real tenant: the user's tokens from the environment, M2M by client credentials."""
    sources = SourceTokens(user=user)
    for who in ("customer", "admin"):
        if environ.get(TOKEN_SETTINGS[who]):
            sources.access[who] = environ[TOKEN_SETTINGS[who]].strip()
    if not sources.access.get(user):
        raise CompareError(
            f"against a real tenant the {user}'s access token comes from the environment: "
            f"set {TOKEN_SETTINGS[user]} (and the other COMPARE_* tokens you have)"
        )
    sources.id_token = environ.get(TOKEN_SETTINGS["id"]) or None
    sources.opaque = environ.get(TOKEN_SETTINGS["opaque"]) or None
    sources.m2m = m2m_tokens(settings)
    return sources


def iam_signers(
    settings: dict[str, Any], id_token: str | None, columns: list[Column]
) -> tuple[dict[str, iam.RowSigner], dict[str, str]]:
    """The credential rows' signers (and why a row has none), as the web app gathers them.

    The ID token is exchanged once for the whole run; the rows of the user's credentials
    share the one set.
    """
    if not any(column.iam for column in columns):
        return {}, dict.fromkeys(IAM_ROWS, "no IAM (SigV4) API among the columns")
    timeout = float(settings.get("HTTP_TIMEOUT", 10))
    region = str(settings.get("IAM_REGION") or "us-east-1")
    catalogue: dict[str, Any] = {}
    if settings["API_MODE"] == "local":
        try:
            answer = requests.get(settings["API_BASE_URL"] + "/", timeout=timeout)
            catalogue = answer.json() if answer.status_code == 200 else {}
        except (requests.RequestException, ValueError):
            catalogue = {}
        region = str(catalogue.get("region") or region)
    signers: dict[str, iam.RowSigner] = {}
    missing: dict[str, str] = {}
    key = settings.get("IAM_SERVICE_KEY")
    listed = {u.get("access_key_id") for u in catalogue.get("iam_users") or ()}
    if key and (settings["API_MODE"] != "local" or key[0] in listed):
        signers["iam-service"] = iam.RowSigner("iam-service", Credentials(*key), region)
    else:
        missing["iam-service"] = (
            "the service client's key is not configured: set IAM_SERVICE_ACCESS_KEY_ID and "
            "IAM_SERVICE_SECRET_ACCESS_KEY"
        )
    missing["iam-expired"] = (
        "the command line exchanges fresh credentials for each run: none has expired (the "
        "Compare page keeps an expired set; see the README)"
    )
    mine = ("iam-mine", "iam-stale", "iam-tampered")
    pool = iam.pool_from_catalogue(catalogue, {"auth0": settings["AUTH0_ISSUER"]})
    reason = None
    if settings["API_MODE"] != "local":
        reason = "against deployed APIs the command line exchanges no ID token: the web app does"
    elif pool is None or "auth0" not in pool.logins:
        reason = "the gateway lists no identity pool trusting the local IdP"
    elif not id_token:
        reason = "the login has no ID token to exchange"
    else:
        try:
            creds = iam.exchange(pool, pool.logins["auth0"], id_token, timeout)
        except iam.IamError as exc:
            reason = str(exc)
        else:
            credentials = Credentials(
                creds["access_key_id"], creds["secret_access_key"], creds["session_token"]
            )
            for kind in mine:
                signers[kind] = iam.RowSigner(kind, credentials, region)
    if reason:
        missing.update(dict.fromkeys(mine, reason))
    return signers, missing


# Servers for --template ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalStack:
    idp_url: str
    gateway_url: str


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (`!Ref`, `!GetAtt`...) read as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def check_template(template: Path) -> None:
    """Refuse a template that is not there or not YAML, saying where, before any server starts.

    :raise CompareError: the file is missing, unreadable or not valid YAML.
    """
    if not template.is_file():
        raise CompareError(f"no template at {template}")
    try:
        yaml.load(template.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"cannot read the template {template}: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CompareError(f"{template.name} is not valid YAML{where}: {problem}") from exc


@contextmanager
def template_stack(template: Path) -> Iterator[LocalStack]:
    """Start a local IdP and the gateway emulator on `template`, on free ports; stop both."""
    check_template(template)
    idp_port, gateway_port = free_port(), free_port()
    idp_url = f"http://127.0.0.1:{idp_port}"
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="compare-") as state:
        env = {**os.environ, "IDP_DATABASE": str(Path(state) / "idp.sqlite3")}
        env.pop("IDP_ISSUER", None)
        servers = [
            Server(
                "identity provider",
                "127.0.0.1",
                idp_port,
                [python, "-m", "emulators.idp", "serve", "--port", str(idp_port)],
                f"{idp_url}/.well-known/openid-configuration",
            ),
            Server(
                "API gateway",
                "127.0.0.1",
                gateway_port,
                [
                    python,
                    "-m",
                    "emulators.gateway",
                    "serve",
                    "--port",
                    str(gateway_port),
                    "--issuer",
                    idp_url + "/",
                    "--template",
                    str(template.resolve()),
                    "--notes-db",
                    str(Path(state) / "notes.sqlite3"),
                ],
                f"{gateway_url}/",
            ),
        ]
        logs = []
        try:
            for server in servers:
                log = open(Path(state) / f"{server.port}.log", "w+b")  # noqa: SIM115
                logs.append(log)
                server.process = subprocess.Popen(
                    server.argv,
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
                if not _wait_ready(server):
                    log.seek(0)
                    said = log.read().decode(errors="replace").strip().splitlines()
                    raise CompareError(
                        f"the {server.name} did not start on {template.name}: "
                        + (said[-1] if said else "no message")
                    )
            yield LocalStack(idp_url, gateway_url)
        finally:
            stop_all(servers)
            for log in logs:
                log.close()


# The command ---------------------------------------------------------------------------------


def run(
    settings: dict[str, Any],
    user: str,
    workers: int,
    environ: dict[str, str],
    meta: dict[str, Any],
) -> Run:
    """Build the variants and run the grid for these settings."""
    settings.setdefault("HTTP_TIMEOUT", 10)  # create_app sets it for the web app
    local = settings["LAB_MODE"] == "local"
    started = time.perf_counter()
    sources = local_sources(settings, user) if local else env_sources(settings, user, environ)
    if settings["API_MODE"] == "local":
        try:
            columns = discover_columns(settings["API_BASE_URL"])
        except RuntimeError as exc:
            raise CompareError(f"{exc}; start the lab with `make run`") from exc
    else:
        columns = columns_from_targets(ApiDirectory(settings).targets().values())
    if not columns:
        raise CompareError("no API with a guarded route to call")
    sources.iam, sources.iam_missing = iam_signers(settings, sources.id_token, columns)
    variants = VariantBuilder(settings["AUTH0_ISSUER"], local_idp=local).build(sources)
    prepared = round(time.perf_counter() - started, 3)
    result = run_grid(
        variants.variants,
        columns,
        skipped=variants.skipped,
        workers=workers,
        meta={
            "user": user,
            "mode": settings["LAB_MODE"],
            "target": "local gateway" if settings["API_MODE"] == "local" else "deployed APIs",
            "tokens_s": prepared,
            **meta,
        },
    )
    return result


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m webapp.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--user", choices=("customer", "admin"), default="customer")
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.add_argument("--output", type=Path, help="write the run there instead of stdout")
    parser.add_argument("--expect", type=Path, help="a saved JSON run to compare with")
    parser.add_argument("--template", type=Path, help="serve this SAM template and compare it")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    args = parser.parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    # Checked before the grid runs: a missing folder found only at the end would lose the run.
    if args.output is not None and not args.output.parent.is_dir():
        print(
            f"compare: cannot write {args.output}: the folder {args.output.parent} does not exist",
            file=sys.stderr,
        )
        return 2

    expected = None
    if args.expect is not None:
        try:
            expected = Run.from_dict(json.loads(args.expect.read_text()))
        except (OSError, ValueError) as exc:
            print(f"cannot read the expected run {args.expect}: {exc}", file=sys.stderr)
            return 2
    try:
        if args.template is not None:
            with template_stack(args.template) as stack:
                env.update(
                    LOCAL_IDP_URL=stack.idp_url,
                    API_BASE_URL=stack.gateway_url,
                )
                for name in ("AUTH0_DOMAIN", "API_URL_REST_TOKEN", "API_URL_REST_REQUEST"):
                    env.pop(name, None)
                for name in ("API_URL_HTTP_LAMBDA", "API_URL_HTTP_JWT"):
                    env.pop(name, None)
                settings = settings_from_env(env)
                result = run(
                    settings, args.user, args.workers, env, {"template": args.template.name}
                )
        else:
            settings = settings_from_env(env)
            result = run(settings, args.user, args.workers, env, {})
    except (CompareError, ConfigError) as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2

    text = result.to_json() + "\n" if args.format == "json" else result.to_markdown()
    if args.output is not None:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    if expected is not None:
        differences = diff_runs(expected, result)
        if differences:
            print(
                f"\n{len(differences)} cell(s) differ from {args.expect.name} "
                "(status, decided_by, reason):",
                file=sys.stderr,
            )
            for difference in differences:
                print("  " + difference.line(), file=sys.stderr)
            return 1
        print(f"all {len(result.cells)} cells match {args.expect.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
