"""The IdP's user commands as an operator runs them: clear refusals, and changes a login sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest

from emulators.idp import create_idp_app
from emulators.idp.__main__ import main as idp_cli
from tests.conftest import AUDIENCE
from tests.conftest import form_fields
from tests.conftest import tenant_for
from tests.oauth_helpers import WEBAPP_SECRET
from tests.oauth_helpers import pkce_pair

EMAIL = "operator-made@example.com"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("IDP_DATABASE", str(path))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = idp_cli(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--email", "not-an-email", "--role", "customer"], "is not an email address"),
        (["--email", "a@b", "--role", "customer"], "is not an email address"),
        (["--email", "two words@example.com", "--role", "customer"], "is not an email address"),
        (["--email", "<script>@example.com", "--role", "customer"], "is not an email address"),
        (["--email", "a@exa_mple.com", "--role", "customer"], "is not an email address"),
        (["--email", EMAIL], "Give at least one --role. Roles: customer, admin"),
        (["--email", EMAIL, "--role", "root"], "Unknown role(s): root"),
    ],
    ids=["no-at", "no-dot", "space", "markup", "underscore-domain", "no-role", "unknown-role"],
)
def test_add_user_refuses_what_could_never_log_in(
    database: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    status, _, err = run(capsys, "add-user", "--password", "Passw0rd-long", *argv)

    assert status == 2
    assert says in err
    assert run(capsys, "list-users")[1].count("operator-made") == 0


def login_scope(database: Path, email: str, password: str) -> Any:
    """Log in through the IdP's own login form; return the access token's permissions or None."""
    web = "http://localhost:5999"
    app = create_idp_app(
        {"IDP_DATABASE": str(database), "IDP_TENANT": tenant_for(web), "TESTING": True}
    )
    client = app.test_client()
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": "lab-webapp",
        "redirect_uri": f"{web}/callback",
        "scope": "openid read:notes read:admin",
        "audience": AUDIENCE,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = client.get("/authorize", query_string=params)
    answer = client.post(
        "/authorize",
        query_string=params,
        data={**form_fields(page.get_data(as_text=True)), "email": email, "password": password},
    )
    if answer.status_code != 302:
        return None
    code = answer.headers["Location"].split("code=")[1].split("&")[0]
    tokens = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": f"{web}/callback",
            "code_verifier": verifier,
            "client_id": "lab-webapp",
            "client_secret": WEBAPP_SECRET,
        },
    ).json
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})["permissions"]


def test_set_role_set_password_and_remove_user_change_what_a_login_gets(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            capsys,
            "add-user",
            "--email",
            EMAIL,
            "--password",
            "First-Passw0rd",
            "--role",
            "customer",
        )[0]
        == 0
    )
    assert "read:admin" not in login_scope(database, EMAIL, "First-Passw0rd")

    status, out, _ = run(capsys, "set-role", "--email", EMAIL, "--role", "admin")
    assert status == 0 and "admin" in out
    assert "read:admin" in login_scope(database, EMAIL, "First-Passw0rd")

    status, out, _ = run(capsys, "set-password", "--email", EMAIL, "--password", "Second-Passw0rd")
    assert status == 0 and "Second-Passw0rd" not in out
    assert login_scope(database, EMAIL, "First-Passw0rd") is None
    assert login_scope(database, EMAIL, "Second-Passw0rd") is not None

    status, out, _ = run(capsys, "remove-user", "--email", EMAIL.upper())
    assert status == 0
    assert login_scope(database, EMAIL, "Second-Passw0rd") is None
    assert EMAIL not in run(capsys, "list-users")[1]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["remove-user", "--email", "nobody@example.com"], "No user nobody@example.com"),
        (["set-role", "--email", "nobody@example.com", "--role", "admin"], "No user"),
        (["set-role", "--email", "customer@example.com"], "Give at least one --role"),
        (["set-role", "--email", "customer@example.com", "--role", "god"], "Unknown role(s): god"),
        (
            ["set-password", "--email", "nobody@example.com", "--password", "Long-enough1"],
            "No user",
        ),
        (["set-password", "--email", "customer@example.com", "--password", "short"], "at least 8"),
    ],
    ids=[
        "remove-unknown",
        "role-unknown-user",
        "no-role",
        "unknown-role",
        "password-unknown-user",
        "short-password",
    ],
)
def test_user_commands_say_what_is_wrong(
    database: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    status, _, err = run(capsys, *argv)

    assert status == 2
    assert says in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("variable", "source", "change", "says"),
    [
        (
            "IDP_COGNITO_POOL",
            "cognito.json",
            {"user_pool_id": "eu-west-1_OtherPool9"},
            "The Cognito pool file",
        ),
        ("IDP_TENANT", "tenant.json", {"roles": "admin"}, "The tenant file"),
    ],
    ids=["pool", "tenant"],
)
def test_a_bad_tenant_or_pool_file_is_one_line_not_a_traceback(
    database: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    source: str,
    change: dict[str, Any],
    says: str,
) -> None:
    data = json.loads((Path(idp_cli.__code__.co_filename).parent / source).read_text())
    bad = tmp_path / source
    bad.write_text(json.dumps({**data, **change}))
    monkeypatch.setenv(variable, str(bad))

    status, _, err = run(capsys, "list-clients")

    assert status == 2
    assert err.startswith(says) and str(bad) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
