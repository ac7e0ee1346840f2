"""Command line of the gateway emulator.

python -m emulators.gateway serve [--host 127.0.0.1] [--port 3002] [--issuer URL]
                                  [--template template.yaml] [--notes-db FILE] [--threads 4]
                                  [--credentials-lifetime SECONDS]
                                  [--log-format human|json]

The authorizer's decision lines are short human lines in the terminal by default; JSON, as
CloudWatch Logs gets them on Lambda, with `--log-format json` or `LOG_FORMAT=json`.

The emulator is served by Granian, whose HTTP layer is in Rust: measured by
`bench/gateway.py`, a pure-Python server spent about 300 µs of the machine's time on each
request, several times what the emulator itself needs, and hid the difference the
authorizer makes. The application stays one process, as the result cache and the warm
Lambda containers are in its memory.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

import yaml

from authorizer import audit

from . import DEFAULT_ISSUER
from . import create_gateway
from . import local_parameters
from .app import Gateway
from .template import TEMPLATE
from .template import TemplateError
from .template import load_model

# How the command line hands its settings to the server's worker process.
_SETTINGS = {
    "issuer": "LAB_GATEWAY_ISSUER",
    "base_url": "LAB_GATEWAY_BASE_URL",
    "template": "LAB_GATEWAY_TEMPLATE",
    "notes_db": "LAB_GATEWAY_NOTES_DB",
}


def gateway_from_environment() -> Gateway:
    """Build the emulator in the server's worker from the settings the command line set."""
    env = os.environ
    if env.get("LOG_FORMAT", "human").lower() != "json":
        audit.set_line_format(audit.human_line)
    base_url = env[_SETTINGS["base_url"]]
    gateway = create_gateway(
        env[_SETTINGS["issuer"]],
        base_url,
        notes_db=env.get(_SETTINGS["notes_db"]) or None,
        template=Path(env[_SETTINGS["template"]]),
    )
    print(
        f"API Gateway emulator on {base_url}/ (catalogue), trusting {env[_SETTINGS['issuer']]}",
        flush=True,
    )
    for api in gateway.model.apis:
        print(
            f"  {api.kind:<4} {api.logical_id:<16} {base_url}/{api.api_id}{api.stage_path}",
            flush=True,
        )
    return gateway


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m emulators.gateway",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the APIs of template.yaml")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3002)
    serve.add_argument(
        "--threads",
        type=int,
        default=1,
        help="Python threads calling the emulator (default 1: with the GIL, more threads "
        "only added tail latency; a slow function holds one thread for its duration)",
    )
    serve.add_argument(
        "--issuer",
        default=os.environ.get("GATEWAY_TOKEN_ISSUER") or DEFAULT_ISSUER,
        help="the token issuer (template TokenIssuer)",
    )
    serve.add_argument(
        "--template",
        type=Path,
        default=TEMPLATE,
        help="the SAM template to serve (default: template.yaml)",
    )
    serve.add_argument(
        "--notes-db",
        type=Path,
        default=None,
        help="the SQLite file of the notes (default: instance/notes.sqlite3)",
    )
    serve.add_argument(
        "--credentials-lifetime",
        type=int,
        default=None,
        help="seconds the identity pool's and STS's credentials last (default 3600; "
        "short ones show expiry); sets LAB_AWS_CREDENTIALS_LIFETIME",
    )
    serve.add_argument(
        "--log-format",
        choices=("human", "json"),
        default="json" if os.environ.get("LOG_FORMAT", "").lower() == "json" else "human",
        help="the authorizer's decision lines: short for a person (default) or JSON, as on "
        "Lambda (also LOG_FORMAT=json)",
    )
    args = parser.parse_args(argv)
    if args.credentials_lifetime is not None:
        if not 1 <= args.credentials_lifetime <= 43200:
            print("--credentials-lifetime must be between 1 and 43200 seconds", file=sys.stderr)
            return 2
        # The worker reads it when it builds the account (emulators/aws/account.py).
        os.environ["LAB_AWS_CREDENTIALS_LIFETIME"] = str(args.credentials_lifetime)

    # The worker builds the emulator; a template that cannot be served is refused here, with
    # its reason, rather than as a traceback from the worker.
    try:
        load_model(local_parameters(args.issuer), args.template)
    except (OSError, TemplateError, yaml.YAMLError) as exc:
        print(f"cannot serve {args.template}: {exc}", file=sys.stderr)
        return 2

    # Granian binds with SO_REUSEPORT, so a second emulator on the same port would quietly
    # share the traffic (and not the result cache) with the first: refuse instead.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        try:
            probe.bind((args.host, args.port))
        except OSError as exc:
            print(f"cannot serve on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
            return 2

    from granian import Granian
    from granian.constants import HTTPModes
    from granian.constants import Interfaces
    from granian.log import LogLevels

    os.environ.update(
        {
            _SETTINGS["issuer"]: args.issuer,
            _SETTINGS["base_url"]: f"http://{args.host}:{args.port}",
            _SETTINGS["template"]: str(args.template.resolve()),
            _SETTINGS["notes_db"]: str(args.notes_db.resolve()) if args.notes_db else "",
            "LOG_FORMAT": args.log_format,
        }
    )
    # Granian sets TCP_NODELAY on the listening socket, and accepted connections inherit it:
    # no 40 ms Nagle stalls on small answers.
    Granian(
        "emulators.gateway.__main__:gateway_from_environment",
        factory=True,
        interface=Interfaces.WSGI,
        address=args.host,
        port=args.port,
        workers=1,
        blocking_threads=args.threads,
        http=HTTPModes.http1,
        websockets=False,
        log_level=LogLevels.warning,
        log_access=False,
        # A worker that hangs while shutting down is killed rather than waited for forever
        # (Granian's advice: set it whenever the app may hold threads or the GIL at exit).
        workers_kill_timeout=5,
    ).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
