"""Command line of the local IdP: serve it, rotate its signing key, manage users, list clients.

python -m emulators.idp serve [--host 127.0.0.1] [--port 3001] [--app-origin http://localhost:3000]
python -m emulators.idp rotate-key
python -m emulators.idp add-user --email E --password P --role customer [--role admin] [--name N]
python -m emulators.idp remove-user --email E
python -m emulators.idp set-role --email E --role customer [--role admin]
python -m emulators.idp set-password --email E --password P
python -m emulators.idp list-clients
python -m emulators.idp list-users
python -m emulators.idp cognito-list-users
python -m emulators.idp cognito-add-to-group --email E --group admins
python -m emulators.idp cognito-remove-from-group --email E --group admins

`list-clients` lists the Auth0-compatible tenant's applications, then the Cognito user pool:
its id, issuer, domain endpoints and app clients.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from pathlib import Path

from . import DEFAULT_ISSUER
from . import ROOT
from . import open_provider
from .cognito import catalogue
from .cognito_pool import LocalPool
from .cognito_pool import PoolError
from .cognito_pool import load_pool_data
from .cognito_pool import parse_pool
from .cognito_pool import pool_database
from .tenant import TenantError
from .tenant import load_tenant_data
from .tenant import parse_tenant


def _pool() -> LocalPool:
    data = load_pool_data(os.environ.get("IDP_COGNITO_POOL") or None)
    database = os.environ.get("IDP_DATABASE") or ROOT / "instance" / "idp.sqlite3"
    issuer = os.environ.get("IDP_ISSUER") or DEFAULT_ISSUER
    return LocalPool(parse_pool(data), issuer, pool_database(database))


def _print_pool(local: LocalPool) -> None:
    info = catalogue(local)
    print(f"\nCognito user pool {info['user_pool_id']} (region {info['region']})")
    for name in ("issuer", "jwks_uri", "authorize", "token", "userinfo", "revoke", "logout"):
        print(f"  {name}: {info[name]}")
    for client in info["clients"]:
        print(
            f"{client['client_id']}\t{client['name']}\t"
            f"flows: {', '.join(client['allowed_oauth_flows'])}\t"
            f"scopes: {' '.join(client['allowed_oauth_scopes'])}\t"
            f"access/ID token validity: {client['access_token_validity']} s/"
            f"{client['id_token_validity']} s"
        )


def _change_group(local: LocalPool, email: str, group: str, add: bool) -> int:
    if group not in local.pool.groups:
        return _fail(f"Unknown group {group!r}. Groups: {', '.join(local.pool.groups)}")
    user = local.store.find_user(email)
    if user is None:
        return _fail(f"No pool user {email}. See: python -m emulators.idp cognito-list-users")
    groups = [g for g in user.roles if g != group] + ([group] if add else [])
    local.store.set_roles(email, tuple(groups))
    print(
        f"{email} is now in groups: {', '.join(groups) or '(none)'} "
        "(in the next token the user gets)."
    )
    return 0


def _provider():  # type: ignore[no-untyped-def]
    tenant = parse_tenant(load_tenant_data(os.environ.get("IDP_TENANT") or None))
    database = os.environ.get("IDP_DATABASE") or ROOT / "instance" / "idp.sqlite3"
    issuer = os.environ.get("IDP_ISSUER") or DEFAULT_ISSUER
    return open_provider(issuer, tenant, Path(database))


# One @, something before it, a dot in the domain, no spaces: what a login form can take.
# RFC 5322's dot-atom for the local part and DNS labels for the domain: what Auth0 accepts in
# practice, and nothing that would be markup (`<script>@example.com`) on a page that shows it.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")
MIN_PASSWORD = 8


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def _role_problem(roles: list[str], known: dict[str, object]) -> str | None:
    if not roles:
        return f"Give at least one --role. Roles: {', '.join(known)}"
    unknown = set(roles) - set(known)
    if unknown:
        return f"Unknown role(s): {', '.join(sorted(unknown))}. Roles: {', '.join(known)}"
    return None


def _password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"The password needs at least {MIN_PASSWORD} characters."
    return None


def serve(host: str, port: int, threads: int, app_origin: str | None = None) -> int:
    """Serve the IdP with waitress (threaded: the web app calls it while it is busy)."""
    from waitress import serve as waitress_serve

    from . import create_idp_app

    os.environ.setdefault("IDP_ISSUER", f"http://{host}:{port}/")
    if app_origin:
        os.environ["IDP_APP_ORIGIN"] = app_origin
    app = create_idp_app()
    print(f"Local IdP: issuer {app.extensions['idp'].issuer}", flush=True)
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="local-idp", _quiet=True)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        print(f"cannot serve on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit status (2 for a bad tenant or pool file,
    with the file and the problem in one line, not a traceback)."""
    try:
        return _main(argv)
    except TenantError as exc:
        return _fail(f"The tenant file ({os.environ.get('IDP_TENANT') or 'tenant.json'}): {exc}")
    except PoolError as exc:
        where = os.environ.get("IDP_COGNITO_POOL") or "cognito.json"
        return _fail(f"The Cognito pool file ({where}): {exc}")


def _main(argv: list[str] | None) -> int:
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
    serve_cmd.add_argument(
        "--app-origin",
        help="the web app's origin, if not http://localhost:3000: its callback and logout "
        "URLs are allowed there too (make run passes APP_BASE_URL)",
    )
    commands.add_parser("rotate-key", help="sign with a new key; keep the old one published")
    add_user = commands.add_parser("add-user", help="create a user")
    add_user.add_argument("--email", required=True)
    add_user.add_argument("--password", required=True)
    add_user.add_argument("--name")
    add_user.add_argument("--role", action="append", default=[], help="a tenant role (repeatable)")
    remove_user = commands.add_parser("remove-user", help="delete a user")
    remove_user.add_argument("--email", required=True)
    set_role = commands.add_parser("set-role", help="replace a user's roles")
    set_role.add_argument("--email", required=True)
    set_role.add_argument("--role", action="append", default=[], help="a tenant role (repeatable)")
    set_password = commands.add_parser("set-password", help="replace a user's password")
    set_password.add_argument("--email", required=True)
    set_password.add_argument("--password", required=True)
    commands.add_parser("list-clients", help="list the tenant's applications")
    commands.add_parser("list-users", help="list the users")
    commands.add_parser("cognito-list-users", help="list the Cognito user pool's users")
    for verb, text in (("add-to", "add a pool user to"), ("remove-from", "remove one from")):
        group_cmd = commands.add_parser(f"cognito-{verb}-group", help=f"{text} a pool group")
        group_cmd.add_argument("--email", required=True)
        group_cmd.add_argument("--group", required=True)
    args = parser.parse_args(argv)

    if args.command == "serve":
        return serve(args.host, args.port, args.threads, args.app_origin)
    if args.command.startswith("cognito-"):
        local = _pool()
        if args.command == "cognito-list-users":
            for user in local.store.list_users():
                print(
                    f"{user.user_id}\t{user.nickname}\t{user.email}\t"
                    f"groups: {', '.join(user.roles)}"
                )
            return 0
        return _change_group(local, args.email, args.group, args.command.endswith("add-to-group"))
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
        if not EMAIL.fullmatch(args.email):
            return _fail(f"{args.email!r} is not an email address (name@example.com).")
        problem = _role_problem(args.role, provider.tenant.roles) or _password_problem(
            args.password
        )
        if problem:
            return _fail(problem)
        try:
            user = provider.store.add_user(
                f"auth0|{secrets.token_hex(12)}",
                args.email,
                args.password,
                args.name or args.email,
                args.email.split("@")[0],
                tuple(args.role),
            )
        except ValueError:
            print(f"Cannot add user: {args.email} already exists.", file=sys.stderr)
            return 1
        print(f"Added {user.email} as {user.user_id} with roles {', '.join(user.roles)}")
    elif args.command == "remove-user":
        if not provider.store.remove_user(args.email):
            return _fail(f"No user {args.email}. See: python -m emulators.idp list-users")
        print(f"Removed {args.email}; their refresh tokens no longer work.")
    elif args.command == "set-role":
        problem = _role_problem(args.role, provider.tenant.roles)
        if problem:
            return _fail(problem)
        updated = provider.store.set_roles(args.email, tuple(args.role))
        if updated is None:
            return _fail(f"No user {args.email}. See: python -m emulators.idp list-users")
        print(
            f"{updated.email} now has roles {', '.join(updated.roles)} "
            "(in the next token the user gets)."
        )
    elif args.command == "set-password":
        problem = _password_problem(args.password)
        if problem:
            return _fail(problem)
        if not provider.store.set_password(args.email, args.password):
            return _fail(f"No user {args.email}. See: python -m emulators.idp list-users")
        print(f"Password of {args.email} changed.")
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
        _print_pool(_pool())
        print(
            f"\n(URLs for the IdP at {os.environ.get('IDP_ISSUER') or DEFAULT_ISSUER}; "
            "set IDP_ISSUER when it serves elsewhere.)"
        )
    elif args.command == "list-users":
        for user in provider.store.list_users():
            print(f"{user.user_id}\t{user.email}\t{user.name}\troles: {', '.join(user.roles)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
