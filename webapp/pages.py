"""The home page and the profile page."""

from __future__ import annotations

from typing import Any

import requests
from flask import Blueprint
from flask import current_app
from flask import render_template
from flask import session

from .auth import current_user
from .auth import idp_client
from .auth import login_required

bp = Blueprint("pages", __name__)


@bp.get("/")
def home() -> str:
    """Show who is logged in, or offer to log in."""
    return render_template(
        "home.html",
        user=current_user(),
        mode=current_app.config["LAB_MODE"],
        issuer=current_app.config["AUTH0_ISSUER"],
        last_call=session.get("last_call"),
    )


@bp.get("/profile")
@login_required
def profile() -> str:
    """Show the user's profile as the identity provider's /userinfo returns it."""
    userinfo: dict[str, Any] | None = None
    problem = None
    access_token = session.get("tokens", {}).get("access_token")
    try:
        endpoint = idp_client().load_server_metadata()["userinfo_endpoint"]
        response = requests.get(
            endpoint,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=current_app.config["HTTP_TIMEOUT"],
        )
        if response.status_code == 200:
            userinfo = response.json()
        else:
            problem = f"/userinfo answered {response.status_code}"
    except (requests.RequestException, KeyError, ValueError):
        problem = "the identity provider could not be reached"
    return render_template("profile.html", user=current_user(), userinfo=userinfo, problem=problem)
