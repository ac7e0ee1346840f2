"""The Compare grid against the real stack (IdP, gateway, authorizer, functions on loopback):
a handful of cells per style against AWS's documented answers, the JSON and Markdown forms,
and the command line's `--expect` exit code.

AWS's answers: a missing identity source is 401 before any authorizer (REST and HTTP Lambda
authorizers); a Lambda authorizer raising `Unauthorized` is 401 and a Deny policy 403 (REST);
an HTTP simple-response authorizer's `isAuthorized: false` is 403; the JWT authorizer answers
401 for an invalid token and 403 for missing scopes
(reference/aws-api-gateway.md, the README's "What API Gateway answers").
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_compare_variants import lab_settings
from webapp.compare import Cell
from webapp.compare import Run
from webapp.compare import discover_columns
from webapp.compare import run_grid
from webapp.compare_cli import local_sources
from webapp.compare_cli import main
from webapp.variants import VariantBuilder

STYLES = {
    "RestTokenApi": "REST TOKEN",
    "RestRequestApi": "REST REQUEST",
    "HttpLambdaApi": "HTTP Lambda (simple)",
    "HttpJwtApi": "HTTP JWT",
}


@pytest.fixture(scope="module")
def run(lab: Any) -> Run:
    settings = lab_settings(lab)
    built = VariantBuilder(lab.issuer, local_idp=True).build(local_sources(settings, "customer"))
    columns = discover_columns(lab.gateway_url)
    seen: list[tuple[int, int]] = []
    result = run_grid(
        built.variants, columns, on_cell=lambda cell, done, total: seen.append((done, total))
    )
    assert seen[-1] == (len(seen), len(seen)) == (len(result.cells), len(result.cells))
    return result


def cell(run: Run, variant: str, api: str, route: str = "GET /private") -> Cell:
    method, path = route.split(" ")
    found = run.cell(variant, api, method, path)
    assert found is not None, (variant, api, route)
    return found


def test_the_columns_are_every_style_and_guarded_route_of_the_catalogue(run: Run) -> None:
    columns = {(c["api"], c["style"], c["method"], c["path"]) for c in run.columns}
    for api, style in STYLES.items():
        for route in ("GET /private", "GET /admin", "GET /notes", "POST /notes"):
            assert (api, style, *route.split(" ")) in columns
    assert not any(c["path"] == "/public" for c in run.columns)  # no authorizer: nothing to learn
    assert len(run.cells) == len(run.variants) * len(run.columns) >= 18 * 16


@pytest.mark.parametrize("api", list(STYLES))
def test_no_token_is_401_before_any_authorizer(run: Run, api: str) -> None:
    found = cell(run, "no-token", api)
    assert found.status == 401
    assert found.reason in ("identity_source_missing", "missing_token")
    assert found.disagreement is None
    if api != "HttpJwtApi":
        assert found.decided_by == "identity_source" and found.cache in (None, "off")


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        ("expired", "token_expired"),
        ("wrong-aud", "wrong_audience"),
        ("iss-no-slash", "wrong_issuer"),
        ("alg-hs256", "alg_not_allowed"),
        ("tampered", "bad_signature"),
        ("id-token", "id_token"),
    ],
)
def test_a_bad_token_is_401_on_rest_and_jwt_and_403_on_a_simple_authorizer(
    run: Run, variant: str, reason: str
) -> None:
    for api in ("RestTokenApi", "RestRequestApi", "HttpJwtApi"):
        found = cell(run, variant, api)
        assert (found.status, found.decided_by) == (401, "authorizer"), (api, found)
        assert found.reason == reason or api == "HttpJwtApi"
    simple = cell(run, variant, "HttpLambdaApi")
    assert (simple.status, simple.reason) == (403, reason)
    assert simple.disagreement and "isAuthorized: false" in simple.disagreement
    assert cell(run, variant, "RestTokenApi").disagreement == simple.disagreement


def test_the_customer_is_denied_admin_everywhere_and_the_admin_allowed(run: Run) -> None:
    for api in STYLES:
        denied = cell(run, "access-customer", api, "GET /admin")
        assert denied.status == 403 and denied.reason in (
            "insufficient_permission",
            "insufficient_scope",
        )
        allowed = cell(run, "access-admin", api, "GET /admin")
        assert (allowed.status, allowed.decided_by, allowed.reason) == (
            200,
            "integration",
            "allowed",
        )
    assert cell(run, "access-customer", "RestTokenApi", "POST /notes").status == 201


def test_lower_case_bearer_is_refused_by_the_token_authorizers_validation_expression(
    run: Run,
) -> None:
    found = cell(run, "lowercase-bearer", "RestTokenApi")
    assert (found.status, found.decided_by, found.reason) == (
        401,
        "identity_source",
        "validation_expression",
    )
    assert found.disagreement
    let_through, refused = found.disagreement.split("; ", 1)
    assert "REST REQUEST" in let_through and "REST TOKEN" not in let_through
    # Two REST TOKEN APIs are named by API; the Cognito-configured one trusts another
    # issuer, so it is not compared with these.
    assert refused.startswith("RestTokenApi (REST TOKEN)")
    assert "RestCognitoLambdaApi" not in found.disagreement
    assert "the Authorization header does not match the TOKEN" in refused
    admin = cell(run, "lowercase-bearer", "RestTokenApi", "GET /admin")
    assert admin.disagreement and admin.disagreement.startswith(
        "API Gateway refuses it before any authorizer on RestTokenApi (REST TOKEN)"
    )


def test_a_token_policy_is_cached_across_routes_in_a_fixed_order(run: Run) -> None:
    first = cell(run, "access-admin", "RestTokenApi", "GET /admin")
    later = cell(run, "access-admin", "RestTokenApi", "GET /private")
    assert (first.cache, later.cache) == ("miss", "hit")
    assert cell(run, "access-admin", "HttpJwtApi").cache in (None, "off")


def test_every_cell_has_the_stable_keys_and_a_trace(run: Run, lab: Any) -> None:
    data = json.loads(run.to_json())
    assert {"run", "variants", "columns", "cells"} <= set(data)
    assert all({"id", "label"} <= set(v) for v in data["variants"])
    assert all({"api", "style", "method", "path"} <= set(c) for c in data["columns"])
    keys = {"variant", "api", "method", "path", "status", "decided_by", "reason", "cache"}
    assert all(keys <= set(c) for c in data["cells"])
    assert all(c["trace_id"] and c["reason_words"] for c in data["cells"])
    text = run.to_json()
    for variant in ("access-customer", "access-admin"):
        assert cell(run, variant, "RestTokenApi").trace_id
    assert "eyJ" not in text  # no token, no part of one
    assert Run.from_dict(data).cells == run.cells


def test_the_markdown_has_a_table_per_route_and_the_disagreements(run: Run) -> None:
    text = run.to_markdown()
    assert "## GET /private" in text and "## POST /notes" in text
    header = next(line for line in text.splitlines() if line.startswith("| token |"))
    # One column per API of the catalogue; two APIs of one style are named by API.
    for label in (
        "RestTokenApi (REST TOKEN)",
        "REST REQUEST",
        "HTTP Lambda (simple)",
        "HttpJwtApi (HTTP JWT)",
        "RestCognitoLambdaApi (REST TOKEN)",
    ):
        assert f"| {label} |" in header
    assert "| Expired an hour ago | 401 token_expired ⚠ |" in text
    assert "## Where the styles disagree" in text
    assert "eyJ" not in text


# The command line ----------------------------------------------------------------------------


def cli_env(lab: Any) -> dict[str, str]:
    return {
        "LOCAL_IDP_URL": lab.idp_url,
        "API_BASE_URL": lab.gateway_url,
        "APP_BASE_URL": lab.web_url,
    }


def test_expect_passes_on_the_same_behaviour_and_fails_on_a_changed_cell(
    lab: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "run.json"
    assert main(["--format", "json", "--output", str(saved)], cli_env(lab)) == 0
    data = json.loads(saved.read_text())
    assert data["run"]["user"] == "customer" and len(data["cells"]) >= 288

    assert main(["--expect", str(saved), "--output", str(tmp_path / "again.md")], cli_env(lab)) == 0
    assert "cells match run.json" in capsys.readouterr().err

    changed = next(c for c in data["cells"] if c["variant"] == "expired")
    changed["status"], changed["reason"] = 200, "allowed"
    saved.write_text(json.dumps(data))
    assert main(["--expect", str(saved), "--output", str(tmp_path / "x.md")], cli_env(lab)) == 1
    err = capsys.readouterr().err
    where = f"expired × {changed['api']} {changed['method']} {changed['path']}"
    assert f"~ {where}: expected 200 {changed['decided_by']} allowed" in err
    assert "1 cell(s) differ" in err


def test_expect_with_a_file_that_is_not_a_run_is_a_clear_error(
    lab: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"cells": []}')
    assert main(["--expect", str(bad)], cli_env(lab)) == 2
    assert "not a Compare run: no 'run'" in capsys.readouterr().err


def test_without_the_lab_running_the_cli_says_to_start_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {"LOCAL_IDP_URL": "http://127.0.0.1:9", "API_BASE_URL": "http://127.0.0.1:9"}
    assert main([], env) == 2
    err = capsys.readouterr().err
    assert "could not be reached" in err and "make run" in err


# Bring your own authorizer -------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "no-aud-template.yaml"


def test_the_grid_exposes_an_authorizer_that_does_not_check_aud(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "theirs.json"
    assert main(["--template", str(EXAMPLE), "--format", "json", "--output", str(out)], {}) == 0
    run = Run.from_dict(json.loads(out.read_text()))
    assert {c["api"] for c in run.columns} == {"TheirApi", "LabApi"}
    for variant in ("wrong-aud", "id-token"):
        theirs, ours = cell(run, variant, "TheirApi"), cell(run, variant, "LabApi")
        assert (theirs.status, ours.status) == (200, 401), variant
        assert theirs.disagreement and theirs.disagreement.startswith(
            "TheirApi (REST TOKEN) lets it through; LabApi (REST TOKEN) refuses it"
        )
    assert cell(run, "expired", "TheirApi").status == 401  # it does check exp
    assert "| token | TheirApi (REST TOKEN) | LabApi (REST TOKEN) |" in run.to_markdown()


def test_a_template_that_is_not_there_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--template", str(tmp_path / "nope.yaml")], {}) == 2
    assert "no template at" in capsys.readouterr().err


COGNITO_APIS = ("RestCognitoApi", "HttpCognitoJwtApi")


def test_columns_are_compared_only_with_columns_trusting_the_same_issuer(run: Run) -> None:
    issuers = {c["api"]: c["issuer"] for c in run.columns}
    assert issuers["RestTokenApi"] == issuers["HttpJwtApi"] == issuers["HttpLambdaApi"]
    assert {issuers[api] for api in COGNITO_APIS} == {issuers["RestCognitoApi"]}
    assert issuers["RestCognitoApi"].endswith("/us-east-1_AuthzLab1")
    # The tenant's token is good on every API trusting the tenant, refused by the Cognito
    # ones: that is no disagreement between styles.
    for api in STYLES:
        assert cell(run, "access-customer", api).status == 200
        assert cell(run, "access-customer", api).disagreement is None
    for api in COGNITO_APIS:
        refused = cell(run, "access-customer", api)
        assert refused.status == 401 and refused.disagreement is None


def test_the_pools_m2m_tokens_are_rows_the_cognito_columns_accept(run: Run) -> None:
    for api in COGNITO_APIS:
        reader = cell(run, "cognito-m2m-reader", api, "GET /notes")
        assert (reader.status, reader.reason) == (200, "allowed"), api
        writer = cell(run, "cognito-m2m-writer", api, "POST /notes")
        assert writer.status == 201, api
        denied = cell(run, "cognito-m2m-reader", api, "POST /notes")
        assert denied.reason == "insufficient_scope", api
    # A missing scope is 401 on the REST Cognito authorizer, 403 on the HTTP JWT one: a real
    # disagreement between the two styles that trust the pool.
    rest = cell(run, "cognito-m2m-reader", "RestCognitoApi", "POST /notes")
    http = cell(run, "cognito-m2m-reader", "HttpCognitoJwtApi", "POST /notes")
    assert (rest.status, http.status) == (401, 403)
    assert rest.disagreement and "HttpCognitoJwtApi (HTTP JWT)" in rest.disagreement
    # The tenant's APIs refuse the pool's token: 401 or 403 by style, each with its own reason.
    for api in STYLES:
        assert cell(run, "cognito-m2m-reader", api, "GET /notes").status in (401, 403)


def test_a_disagreement_line_gives_each_column_its_own_reason(run: Run) -> None:
    line = cell(run, "lowercase-bearer", "RestTokenApi", "GET /notes").disagreement
    assert line and "validation expression" in line
    assert "Cognito" not in line  # the pool's APIs are not compared with the tenant's
    admin = cell(run, "access-customer", "HttpJwtApi", "GET /admin")
    rest = cell(run, "access-customer", "RestTokenApi", "GET /admin")
    assert (admin.reason, rest.reason) == ("insufficient_scope", "insufficient_permission")


def test_an_output_into_a_missing_folder_is_refused_before_the_grid_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    target = tmp_path / "no-such-folder" / "run.md"
    # No lab is needed to refuse: the check comes before any call.
    assert main(["--output", str(target)], {"API_BASE_URL": "http://127.0.0.1:9"}) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
    assert time.perf_counter() - started < 5 and not target.parent.exists()


def test_a_template_with_broken_yaml_says_where_and_what(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources:\n  Api:\n    Type: AWS::Serverless::Api\n  bad: [unclosed\n")
    assert main(["--template", str(broken)], {}) == 2
    err = capsys.readouterr().err
    assert "broken.yaml is not valid YAML at line" in err
    assert "^" not in err and "Traceback" not in err
    assert "expected ',' or ']'" in err
