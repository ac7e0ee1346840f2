"""WSGI entry point: load `.env` (only here), then build the app.

Serve it with a threaded server (`make run` uses waitress with 8 threads): the app calls the
identity provider and the gateway over HTTP while it handles a request.
"""

from dotenv import load_dotenv

from webapp import create_app

load_dotenv()
app = create_app()
