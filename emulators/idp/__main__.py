"""Command line of the local IdP: serve it, rotate its signing key, add users, list clients.

python -m emulators.idp serve [--host 127.0.0.1] [--port 3001]
python -m emulators.idp rotate-key
python -m emulators.idp add-user --email E --password P [--name N] [--role customer]
python -m emulators.idp list-clients
python -m emulators.idp list-users
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from . import DEFAULT_ISSUER
from . import ROOT
from . import open_provider
from .tenant import load_tenant_data
from .tenant import parse_tenant


def _provider():  # type: ignore[no-untyped-def]
    tenant = parse_tenant(load_tenant_data(os.environ.get("IDP_TENANT") or None))
    database = os.environ.get("IDP_DATABASE") or ROOT / "instance" / "idp.sqlite3"
    issuer = os.environ.get("IDP_ISSUER") or DEFAULT_ISSUER
    return open_provider(issuer, tenant, Path(database))


def serve(host: str, port: int, threads: int) -> int:
    """Serve the IdP with waitress (threaded: the web app calls it while it is busy)."""
    from waitress import serve as waitress_serve

    from . import create_idp_app

    os.environ.setdefault("IDP_ISSUER", f"http://{host}:{port}/")
    app = create_idp_app()
    print(f"Local IdP: issuer {app.extensions['idp'].issuer}", flush=True)
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="local-idp", _quiet=True)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        print(f"cannot serve on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m emulators.idp",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="serve the IdP")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=3001)
    serve_cmd.add_argument("--threads", type=int, default=8)
    commands.add_parser("rotate-key", help="sign with a new key; keep the old one published")
    add_user = commands.add_parser("add-user", help="create a user")
    add_user.add_argument("--email", required=True)
    add_user.add_argument("--password", required=True)
    add_user.add_argument("--name")
    add_user.add_argument("--role", action="append", default=[], help="a tenant role (repeatable)")
    commands.add_parser("list-clients", help="list the tenant's applications")
    commands.add_parser("list-users", help="list the users")
    args = parser.parse_args(argv)

    if args.command == "serve":
        return serve(args.host, args.port, args.threads)
    provider = _provider()
    if args.command == "rotate-key":
        kid = provider.keys.rotate()
        kids = [k.kid for k in provider.keys.published()]
        print(f"New signing key {kid}. Published keys: {', '.join(kids)}")
        print(
            f"Older keys stay in the JWKS for {provider.tenant.max_token_lifetime} s, "
            "until every token they signed has expired."
        )
    elif args.command == "add-user":
        unknown = set(args.role) - set(provider.tenant.roles)
        if unknown:
            print(
                f"Unknown role(s): {', '.join(sorted(unknown))}. "
                f"Roles: {', '.join(provider.tenant.roles)}",
                file=sys.stderr,
            )
            return 2
        if len(args.password) < 8:
            print("The password needs at least 8 characters.", file=sys.stderr)
            return 2
        try:
            user = provider.store.add_user(
                f"auth0|{secrets.token_hex(12)}",
                args.email,
                args.password,
                args.name or args.email,
                args.email.split("@")[0],
                tuple(args.role),
            )
        except ValueError as exc:
            print(f"Cannot add user: {exc}", file=sys.stderr)
            return 1
        print(f"Added {user.email} as {user.user_id} with roles {list(user.roles)}")
    elif args.command == "list-clients":
        for app in provider.tenant.applications.values():
            grants = "; ".join(
                f"{aud}: {' '.join(scopes)}" for aud, scopes in app.client_grants.items()
            )
            print(
                f"{app.client_id}\t{app.app_type}\t{app.name}\t"
                f"grant types: {', '.join(app.grant_types)}"
                + (f"\tclient grants: {grants}" if grants else "")
            )
    elif args.command == "list-users":
        for user in provider.store.list_users():
            print(f"{user.user_id}\t{user.email}\t{user.name}\troles: {', '.join(user.roles)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
