"""The token workshop (`/workshop`): edit one of your tokens, have it signed, send it anywhere.

Start from your access or ID token, edit its header and claims as JSON (the classic edits are
one click: expire it, `nbf` in the future, another `aud`, the issuer without its trailing
slash (with one, for a Cognito pool's), drop `kid`, `alg: none`, HS256 keyed with the issuer's
public key), then sign it:

- by the local IdP (`POST /lab/token-variants`, which signs only *less valid* copies of a
  token it issued: earlier `exp`, later `nbf`, a foreign `aud` or `iss`, no or an unknown
  `kid`; whatever it refuses to sign, the page says so in the IdP's words),
- with a throw-away attacker RSA key made by this process (a forgery: RS256 with a key the
  issuer never published),
- unsigned (`alg: none`), or HS256 with the issuer's own RSA public key as the HMAC secret
  (the algorithm confusion of RFC 8725 §2.1 / §3.1: CVE-2015-9235 and its family).

The result is decoded beside the form and can be sent to any API style and route, with the
Ping page's explanation and "copy as curl". Local mode only: a real tenant signs nothing for
the lab, and forging tokens against a deployed API is not what this page is for.

The edited token lives in the server-side session (BFF): the page never contains it unless
the person presses **Reveal** (a CSRF-protected POST), as on the Tokens page.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from flask import session

from . import api_client
from .auth import fresh_tokens
from .auth import login_required
from .auth import provider_settings
from .auth import session_provider
from .explain import explain
from .ping import default_api
from .ping import directory
from .tokens import decode
from .tokens import inspect
from .variants import FOREIGN_AUDIENCE
from .variants import AttackerKey
from .variants import VariantBuilder
from .variants import VariantError
from .variants import alg_none
from .variants import hs256_with
from .variants import public_key_pem
from .variants import toggled_slash

bp = Blueprint("workshop", __name__)

SESSION_KEY = "workshop"
MAX_JSON = 4000
SIGNERS = {
    "idp": "the local identity provider (only less-valid copies of your token)",
    "attacker": "the attacker's throw-away RSA key (RS256, a forgery)",
    "none": "no signature (`alg: none`)",
    "hs256-public": "HS256 keyed with the issuer's public key (algorithm confusion)",
}
PRESETS = {
    "expire": "Expire it (an hour ago)",
    "nbf": "Not valid for an hour (`nbf`)",
    "aud": "Another audience",
    "iss-slash": "Issuer with or without its trailing slash",
    "drop-kid": "Drop `kid`",
    "unknown-kid": "Unknown `kid`",
    "alg-none": "`alg: none`",
    "alg-hs256": "HS256 with the public key",
    "drop-scope": "Drop `scope` and `permissions`",
}
LOCAL_ONLY = (
    "The workshop works in local mode only: a real tenant never signs anything for the lab, "
    "and forging tokens against a deployed API is not what this lab is for. Run the lab "
    "locally (`make run`) to use it."
)


class WorkshopError(ValueError):
    """A clear problem with what the person asked for."""


def attacker() -> AttackerKey:
    """The attacker's RSA key (the engine's): made once per process, never published."""
    key = current_app.extensions.get("workshop_attacker_key")
    if key is None:
        key = AttackerKey()
        current_app.extensions["workshop_attacker_key"] = key
    return key


def sign(header: dict[str, Any], claims: dict[str, Any], signer: str, original: str) -> str:
    """Build the token the person asked for.

    :raise WorkshopError: the signer refused, or the request makes no sense.
    """
    builder = VariantBuilder(
        current_app.config["AUTH0_ISSUER"], True, current_app.config["HTTP_TIMEOUT"]
    )
    if session_provider() == "cognito" and current_app.config.get("COGNITO_ISSUER"):
        # The pool's public keys are what a confused verifier of its tokens would use.
        builder.token_issuer = current_app.config["COGNITO_ISSUER"]
    if signer == "idp":
        return _idp_sign(builder, header, claims, original)
    if signer == "none":
        return alg_none(header, claims)
    if signer == "hs256-public":
        try:
            keys = [k for k in builder.jwks() if k.get("kty") == "RSA"]
        except VariantError as exc:
            raise WorkshopError(f"{exc}.") from exc
        if not keys:
            raise WorkshopError("The issuer's JWKS has no RSA key to confuse with.")
        jwk = next((k for k in keys if k.get("kid") == header.get("kid")), keys[0])
        return hs256_with(public_key_pem(jwk), header, claims)
    if signer == "attacker":
        return attacker().sign(header, claims)
    raise WorkshopError(f"Unknown signer {signer[:30]!r}.")


def _idp_sign(
    builder: VariantBuilder, header: dict[str, Any], claims: dict[str, Any], original: str
) -> str:
    """Ask the local IdP to sign the edited claims (and `kid`) as a copy of the original."""
    original_header, original_claims = decode(original)
    changed_header = sorted(
        k for k in {*header, *original_header} if header.get(k) != original_header.get(k)
    )
    if set(changed_header) - {"kid"}:
        raise WorkshopError(
            "The local identity provider writes its own header: it can drop or replace `kid` "
            f"but not change {', '.join(k for k in changed_header if k != 'kid')}. Choose the "
            "attacker key (or no signature) to forge one."
        )
    changes: dict[str, Any] = {k: v for k, v in claims.items() if original_claims.get(k) != v}
    changes.update({k: None for k in original_claims if k not in claims})
    if "kid" in changed_header:
        changes["kid"] = header.get("kid")
    if not changes:
        raise WorkshopError("Nothing changed: the original token is what you already have.")
    try:
        return builder.mint(original, changes)
    except VariantError as exc:
        raise WorkshopError(
            f"{str(exc)[:1].upper()}{str(exc)[1:]}. It signs only less-valid copies of a token it "
            "issued (`exp`, `nbf`, `iat`, a foreign `aud` or `iss`, no or an unknown `kid`); "
            "choose the attacker key to forge anything else."
        ) from exc


def apply_preset(
    preset: str, header: dict[str, Any], claims: dict[str, Any], signer: str
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Apply one of the classic edits; return the new header, claims and signer."""
    header, claims = dict(header), dict(claims)
    now = int(time.time())
    if preset == "expire":
        lifetime = claims.get("exp", now) - claims.get("iat", now)
        claims["exp"] = now - 3600
        if isinstance(claims.get("iat"), int):
            claims["iat"] = min(claims["iat"], claims["exp"] - max(int(lifetime), 60))
    elif preset == "nbf":
        claims["nbf"] = now + 3600
    elif preset == "aud":
        claims["aud"] = FOREIGN_AUDIENCE
    elif preset == "iss-slash":
        # Auth0's issuer ends with a slash, a Cognito pool's does not: either way, a copy
        # that differs by it alone.
        claims["iss"] = toggled_slash(str(claims.get("iss", "")))
    elif preset == "drop-kid":
        header.pop("kid", None)
    elif preset == "unknown-kid":
        header["kid"] = "unknown-key-1"
    elif preset == "alg-none":
        header["alg"] = "none"
        signer = "none"
    elif preset == "alg-hs256":
        header["alg"] = "HS256"
        signer = "hs256-public"
    elif preset == "drop-scope":
        claims.pop("scope", None)
        claims.pop("permissions", None)
        signer = "attacker" if signer == "idp" else signer
    else:
        raise WorkshopError(f"Unknown edit {preset[:30]!r}.")
    return header, claims, signer


def _parse(name: str, text: str) -> dict[str, Any]:
    if len(text) > MAX_JSON:
        raise WorkshopError(f"The {name} is longer than {MAX_JSON} characters.")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise WorkshopError(
            f"The {name} is not valid JSON: {exc.msg} (line {exc.lineno})."
        ) from exc
    except RecursionError:
        raise WorkshopError(f"The {name} nests too deeply to be a token's JSON.") from None
    if not isinstance(value, dict):
        raise WorkshopError(f"The {name} must be a JSON object.")
    return value


def _state() -> dict[str, Any]:
    return session.get(SESSION_KEY) or {}


def _source_token(which: str) -> str | None:
    tokens = fresh_tokens() or {}
    return tokens.get("id_token" if which == "id" else "access_token")


def send_targets() -> dict[str, api_client.Target]:
    """Every API of the local gateway's catalogue, by key: the lab's four styles under their
    keys, any other API (the Cognito ones, one a template adds) under its logical id."""
    targets = directory().targets()
    catalogue = directory()._load_catalogue() or {}
    known = {target.style.logical_id for target in targets.values()}
    for api in catalogue.get("apis") or ():
        if not isinstance(api, dict) or not api.get("name") or not api.get("base_url"):
            continue
        name = str(api["name"])
        if name in known:
            continue
        kind = str(api.get("type") or "")
        authorizers = [a for a in api.get("authorizers") or () if isinstance(a, dict)]
        described = str(authorizers[0].get("style") or "") if authorizers else "no authorizer"
        style = api_client.ApiStyle(name, f"{name} · {kind} API · {described}", name, "", kind)
        targets[name] = api_client.Target(
            style,
            str(api["base_url"]).rstrip("/"),
            current_app.config["API_BASE_URL"] + "/_lab/traces/",
            api_client.catalogue_routes(api),
        )
    return targets


def _page(
    status: int = 200,
    problem: str | None = None,
    header_text: str | None = None,
    claims_text: str | None = None,
    signer: str | None = None,
    result: Any = None,
    explanation: Any = None,
) -> tuple[str, int]:
    state = _state()
    local = current_app.config["LAB_MODE"] == "local"
    source = state.get("source", "access")
    if header_text is None or claims_text is None:
        original = _source_token(source) or ""
        header, claims = decode(original) if original else ({}, {})
        header_text = json.dumps(state.get("header", header), indent=2)
        claims_text = json.dumps(state.get("claims", claims), indent=2)
    token = state.get("token")
    view = None
    if token:
        provider = provider_settings(session_provider())  # Auth0's or the Cognito pool's
        view = inspect(
            token,
            "The edited token",
            current_app.config["AUTH0_AUDIENCE"],
            provider["issuer"],
            provider["client_id"],
        )
        view.present = False  # its own reveal button below, for the session's edited token
    targets = send_targets() if local else {}
    actions = directory().actions(targets) if local else {}
    return render_template(
        "workshop.html",
        local=local,
        local_only=LOCAL_ONLY,
        problem=problem,
        header_text=header_text,
        claims_text=claims_text,
        signer=signer or state.get("signer", "idp"),
        signers=SIGNERS,
        presets=PRESETS,
        source=source,
        view=view,
        signed_by=SIGNERS.get(state.get("signed_by", ""), ""),
        has_token=bool(token),
        styles=api_client.STYLES,
        targets=targets,
        actions=actions,
        selected_api=state.get("api") or default_api(),
        selected_action=state.get("action") or "GET /private",
        result=result,
        explanation=explanation,
        logged_in=False,
        token_curl=None,
    ), status


@bp.get("/workshop")
@login_required
def page() -> tuple[str, int]:
    """Show the workshop (or, against a real tenant, why it is not here)."""
    return _page()


@bp.post("/workshop")
@login_required
def edit() -> Any:
    """Start again from a token, apply a classic edit, or sign what the form says."""
    if current_app.config["LAB_MODE"] != "local":
        return _page(403, LOCAL_ONLY)
    form = request.form
    header_text = form.get("header", "")
    claims_text = form.get("claims", "")
    signer = form.get("signer", "idp")
    action = form.get("do", "sign")
    state = dict(_state())
    if action in ("start-access", "start-id"):
        which = action.removeprefix("start-")
        original = _source_token(which)
        if not original:
            return _page(400, "There is no such token in your session: log in again.")
        header, claims = decode(original)
        session[SESSION_KEY] = {
            "source": which,
            "header": header,
            "claims": claims,
            "signer": "idp",
        }
        return _page()
    if signer not in SIGNERS:
        return _page(400, f"Unknown signer {signer[:30]!r}.", header_text, claims_text, "idp")
    try:
        header = _parse("header", header_text)
        claims = _parse("claims", claims_text)
        if action.startswith("preset-"):
            header, claims, signer = apply_preset(
                action.removeprefix("preset-"), header, claims, signer
            )
            state.update(header=header, claims=claims, signer=signer)
            session[SESSION_KEY] = state
            return _page()
        if action != "sign":
            raise WorkshopError(f"Unknown action {action[:30]!r}.")
        original = _source_token(state.get("source", "access"))
        if not original:
            raise WorkshopError("There is no token in your session to start from: log in again.")
        token = sign(header, claims, signer, original)
    except WorkshopError as exc:
        return _page(400, str(exc), header_text, claims_text, signer)
    state.update(header=header, claims=claims, signer=signer, token=token, signed_by=signer)
    session[SESSION_KEY] = state
    return _page()


@bp.post("/workshop/send")
@login_required
def send() -> Any:
    """Send the edited token to one API style and route; show the Ping page's explanation."""
    if current_app.config["LAB_MODE"] != "local":
        return _page(403, LOCAL_ONLY)
    state = dict(_state())
    token = state.get("token")
    if not token:
        return _page(400, "Sign a token first: the form above makes one.")
    targets = send_targets()
    target = targets.get(request.form.get("api", ""))
    chosen = directory().actions(targets).get(request.form.get("action", ""))
    if target is None or chosen is None or chosen.key not in target.route_keys:
        return _page(400, "Choose an API and one of its routes.")
    state.update(api=target.style.key, action=chosen.key)
    session[SESSION_KEY] = state
    result = api_client.call(
        target,
        chosen,
        token,
        "workshop",
        "from the token workshop",
        current_app.config["HTTP_TIMEOUT"],
    )
    return _page(
        result=result, explanation=explain(result, token, current_app.config["AUTH0_AUDIENCE"])
    )


@bp.post("/workshop/reveal")
@login_required
def reveal() -> Any:
    """Give the person the edited token, because they asked (JSON for the page's script)."""
    token = _state().get("token")
    if not token:
        return jsonify(error="There is no edited token yet."), 404
    if request.headers.get("X-Requested-With") == "fetch":
        return jsonify(token=token)
    return render_template("workshop_reveal.html", token=token)
