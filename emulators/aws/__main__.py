"""Command line of the local AWS account.

python -m emulators.aws list-credentials [--template template.yaml] [--issuer URL]

Prints each IAM user's access key id and secret access key, read from the template (the
keys are derived from it, so they are the ones a running gateway accepts), and the
identity pool's id and `Logins` keys. Local demo keys: AWS never accepts them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from emulators.gateway import DEFAULT_BASE_URL
from emulators.gateway import DEFAULT_ISSUER
from emulators.gateway import local_parameters
from emulators.gateway.template import TEMPLATE
from emulators.gateway.template import TemplateError
from emulators.gateway.template import load_model

from .account import LocalAccount
from .endpoints import IDENTITY_PATH
from .endpoints import STS_PATH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.aws",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser(
        "list-credentials", help="print the IAM users' access keys and the identity pools"
    )
    listing.add_argument("--template", type=Path, default=TEMPLATE)
    # The same variables `make run` reads, so a lab moved to other ports lists its own URLs.
    listing.add_argument(
        "--issuer",
        default=os.environ.get("GATEWAY_TOKEN_ISSUER")
        or (
            os.environ["LOCAL_IDP_URL"].rstrip("/") + "/" if os.environ.get("LOCAL_IDP_URL") else ""
        )
        or DEFAULT_ISSUER,
        help="the token issuer (default: GATEWAY_TOKEN_ISSUER, LOCAL_IDP_URL, or the local IdP)",
    )
    listing.add_argument(
        "--gateway",
        default=(os.environ.get("LOCAL_GATEWAY_URL") or DEFAULT_BASE_URL).rstrip("/"),
        help="the gateway's URL (default: LOCAL_GATEWAY_URL, or the local gateway)",
    )
    args = parser.parse_args(argv)
    try:
        model = load_model(local_parameters(args.issuer), args.template)
        account = LocalAccount.from_template(args.template, model.parameters)
    except (OSError, TemplateError, yaml.YAMLError) as exc:
        print(f"cannot read {args.template}: {exc}", file=sys.stderr)
        return 2
    gateway = args.gateway.rstrip("/")
    print(f"Local AWS account {account.account_id}, region {account.region}")
    for user, key in account.service_keys():
        print(f"\nIAM user {user.name} ({user.arn})")
        print(f"  AWS_ACCESS_KEY_ID={key.access_key_id}")
        print(f"  AWS_SECRET_ACCESS_KEY={key.secret_access_key}")
    for pool in account.pools.values():
        print(f"\nIdentity pool {pool.name}: {pool.pool_id}")
        print(f"  cognito-identity endpoint_url: {gateway}{IDENTITY_PATH}")
        print(f"  sts endpoint_url:              {gateway}{STS_PATH}")
        for key in pool.providers:
            print(f"  Logins key: {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
