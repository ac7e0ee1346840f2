"""Say why the web app could not reach the identity provider or an API, in the words of the
mode it runs in, and log it.

Locally the usual cause is an emulator that is not running (`make run` starts them); against
a real tenant or a deployed API it is a wrong host name, the network, or a certificate this
machine does not trust (requests verifies TLS against certifi's bundle, or the file named by
`REQUESTS_CA_BUNDLE`: https://requests.readthedocs.io/en/latest/user/advanced/#ssl-cert-verification).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)


def _certificate_problem(exc: BaseException) -> str | None:
    """Return the TLS library's reason when the failure is a certificate check, else None."""
    if not isinstance(exc, requests.exceptions.SSLError):
        return None
    text = str(exc)
    for marker in ("certificate verify failed: ", "CERTIFICATE_VERIFY_FAILED"):
        if marker in text:
            reason = text.split(marker, 1)[1].split(" (_ssl")[0].strip(" ()'\"")
            return reason or "the certificate is not trusted"
    return "the TLS handshake failed"


def unreachable(exc: BaseException, url: str, what: str, local: bool) -> str:
    """Describe (and log) why `what` at `url` did not answer; `local` is the emulator's mode."""
    # The scheme, host and path as configured: no query string could carry anything secret.
    origin = urlsplit(url)._replace(query="", fragment="").geturl()
    reason = _certificate_problem(exc)
    if reason is not None:
        log.warning("TLS to %s (%s) failed: %s", what, origin, reason)
        return (
            f"The certificate of {origin} is not trusted by the web app ({reason}). "
            "Use a certificate from a public authority, or point `REQUESTS_CA_BUNDLE` at the "
            "CA that signed it."
        )
    kind = type(exc).__name__
    log.warning("%s at %s is not reachable: %s", what, origin, kind)
    if isinstance(exc, requests.Timeout):
        cause = "did not answer in time"
    else:
        cause = "could not be reached"
    if local:
        return (
            f"The {what} at {origin} {cause}. Is it running? With `make run` it starts on its own."
        )
    return (
        f"The {what} at {origin} {cause} ({kind}). Check the host name in the settings and "
        "this machine's network access to it."
    )
