"""Command line of the gateway emulator.

    python -m emulators.gateway serve [--host 127.0.0.1] [--port 3002] [--issuer URL]
"""

from __future__ import annotations

import argparse
import os
import sys

from . import DEFAULT_ISSUER
from . import create_gateway


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator with waitress until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m emulators.gateway", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the APIs of template.yaml")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3002)
    serve.add_argument("--threads", type=int, default=8)
    serve.add_argument("--issuer", default=os.environ.get("GATEWAY_TOKEN_ISSUER")
                       or DEFAULT_ISSUER, help="the token issuer (template TokenIssuer)")
    args = parser.parse_args(argv)

    from waitress import serve as waitress_serve

    base_url = f"http://{args.host}:{args.port}"
    gateway = create_gateway(args.issuer, base_url)
    print(f"API Gateway emulator on {base_url}/ (catalogue), trusting {args.issuer}",
          flush=True)
    for api in gateway.model.apis:
        print(f"  {api.kind:<4} {api.logical_id:<16} {base_url}/{api.api_id}/{api.stage}",
              flush=True)
    # TCP_NODELAY is on in waitress by default: no 40 ms Nagle stalls on small responses.
    waitress_serve(gateway, host=args.host, port=args.port, threads=args.threads,
                   ident="api-gateway-emulator", _quiet=True,
                   max_request_header_size=64 * 1024,
                   max_request_body_size=11 * 1024 * 1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
