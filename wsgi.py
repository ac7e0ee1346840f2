"""WSGI entry point: load `.env` (only here), then build the app.

Serve it with a threaded server: the app calls the identity provider and the gateway over
HTTP while it handles a request. `make run` runs `python wsgi.py --listen localhost:3000`,
which serves it with waitress and 8 threads and announces the configured origin
(`APP_BASE_URL`) rather than the socket address, since only that origin can log in. Any other
WSGI host works too: `waitress-serve --listen=localhost:3000 --threads=8 wsgi:app`.
"""

from __future__ import annotations

import argparse
import sys

from dotenv import load_dotenv

from webapp import create_app

load_dotenv()
app = create_app()


def main(argv: list[str] | None = None) -> int:
    """Serve the app with waitress until interrupted."""
    from waitress import serve

    parser = argparse.ArgumentParser(prog="python wsgi.py", description=__doc__)
    parser.add_argument("--listen", default="localhost:3000", help="host:port to bind")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    print(f"Web app on {app.config['APP_BASE_URL']}/ (listening on {args.listen})", flush=True)
    try:
        # _quiet: waitress would print "Serving on http://127.0.0.1:…", an address the
        # identity provider does not accept as a callback origin.
        serve(
            app,
            listen=args.listen,
            threads=args.threads,
            ident="authorizer-lab",
            # waitress drops X-Forwarded-* by default; behind APP_TRUSTED_PROXIES proxies the
            # app's ProxyFix must see them (and still believes only that many hops).
            clear_untrusted_proxy_headers=not app.config.get("APP_TRUSTED_PROXIES"),
            _quiet=True,
        )
    except OSError as exc:
        print(f"cannot serve on {args.listen}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
