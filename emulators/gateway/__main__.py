"""Command line of the gateway emulator.

python -m emulators.gateway serve [--host 127.0.0.1] [--port 3002] [--issuer URL]
                                  [--template template.yaml] [--notes-db FILE]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import DEFAULT_ISSUER
from . import create_gateway
from .template import TEMPLATE


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator with waitress until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m emulators.gateway",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the APIs of template.yaml")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3002)
    serve.add_argument("--threads", type=int, default=4)
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
    args = parser.parse_args(argv)

    from waitress import serve as waitress_serve

    # Under load waitress warns of every queued request; that is not news here.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    base_url = f"http://{args.host}:{args.port}"
    gateway = create_gateway(args.issuer, base_url, notes_db=args.notes_db, template=args.template)
    print(f"API Gateway emulator on {base_url}/ (catalogue), trusting {args.issuer}", flush=True)
    for api in gateway.model.apis:
        print(
            f"  {api.kind:<4} {api.logical_id:<16} {base_url}/{api.api_id}/{api.stage}", flush=True
        )
    # TCP_NODELAY is on in waitress by default: no 40 ms Nagle stalls on small responses.
    waitress_serve(
        gateway,
        host=args.host,
        port=args.port,
        threads=args.threads,
        ident="api-gateway-emulator",
        _quiet=True,
        max_request_header_size=64 * 1024,
        max_request_body_size=11 * 1024 * 1024,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
