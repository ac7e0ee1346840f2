"""The deploy path, checked offline: `sam validate` and `sam build` on `template.yaml`.

These run the real SAM CLI (installed by `make test-deploy` in its own virtualenv, `.venv-sam`,
because it pins packages of its own) with no AWS credentials, and take about a minute with the
install, so they are marked `slow` and left out of `make test`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulators.gateway.template import _Loader

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
ELF_MACHINE_AARCH64 = 183  # e_machine of an arm64 shared object (EM_AARCH64)

pytestmark = pytest.mark.slow


def sam_cli() -> str:
    """The `sam` executable: the one `make test-deploy` installed, else one on PATH."""
    for candidate in (os.environ.get("SAM_CLI_BIN"), str(ROOT / ".venv-sam" / "bin" / "sam")):
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("sam")
    if found is None:
        pytest.fail("No SAM CLI: run `make test-deploy`, which installs it in .venv-sam")
    return found


def offline_env(**extra: str) -> dict[str, str]:
    """This process's environment without any AWS credentials, profile or region."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k in {"AWS_CA_BUNDLE"}
    }
    # No telemetry: the checks must not reach beyond this machine.
    env.update(SAM_CLI_TELEMETRY="0", AWS_CONFIG_FILE=os.devnull)
    env.update(AWS_SHARED_CREDENTIALS_FILE=os.devnull, **extra)
    return env


def sam(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sam_cli(), *args],
        cwd=ROOT,
        env=offline_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_sam_validate_lint_passes_with_no_aws_account() -> None:
    result = sam("validate", "--lint", "--template-file", str(TEMPLATE))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout


def test_sam_validate_translates_the_template_with_only_a_region() -> None:
    # Plain `sam validate` runs the SAM transform; it asks for a region, not for credentials.
    result = sam("validate", "--template-file", str(TEMPLATE), "--region", "us-east-1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run `sam build` as the README says; return its build directory."""
    scratch = tmp_path_factory.mktemp("sam")
    result = sam(
        "build",
        "--template-file",
        str(TEMPLATE),
        # Without it SAM copies the whole folder, virtualenvs included, once per function.
        "--build-in-source",
        "--build-dir",
        str(scratch / "build"),
        "--cache-dir",
        str(scratch / "cache"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Build Succeeded" in result.stdout
    return scratch / "build"


def built_functions(build_dir: Path) -> dict[str, dict[str, Any]]:
    """The functions of the built template, each with the Globals it inherits."""
    template = yaml.load((build_dir / "template.yaml").read_text(), Loader=_Loader)
    defaults = (template.get("Globals") or {}).get("Function") or {}
    return {
        name: {**defaults, **resource["Properties"]}
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def import_handler(artifact: Path, handler: str, *, last: bool) -> subprocess.CompletedProcess[str]:
    """Import `handler` from the artifact alone in a fresh interpreter; print its file."""
    module, _, attribute = handler.rpartition(".")
    put = f"append({str(artifact)!r})" if last else f"insert(0, {str(artifact)!r})"
    script = textwrap.dedent(
        f"""
        import importlib, sys
        sys.path.{put}
        module = importlib.import_module({module!r})
        assert callable(getattr(module, {attribute!r})), {attribute!r}
        print(module.__file__)
        """
    )
    # The repository's own packages must not stand in for the artifact's: run from elsewhere.
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=artifact.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_function_in_the_template_is_built(built: Path) -> None:
    source = yaml.load(TEMPLATE.read_text(), Loader=_Loader)
    declared = {
        name
        for name, resource in source["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }

    assert set(built_functions(built)) == declared
    for name in declared:
        assert (built / name).is_dir(), name


@pytest.mark.parametrize(
    "function", ["PublicFunction", "PrivateFunction", "AdminFunction", "NotesFunction"]
)
def test_each_backend_artifact_imports_its_handler(built: Path, function: str) -> None:
    props = built_functions(built)[function]
    artifact = built / props["CodeUri"]

    result = import_handler(artifact, props["Handler"], last=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(artifact))
    assert not list(artifact.rglob("__pycache__"))


@pytest.mark.parametrize("function", ["AuthorizerFunction", "SimpleAuthorizerFunction"])
def test_each_authorizer_artifact_has_its_handler_and_arm64_cryptography(
    built: Path, function: str
) -> None:
    props = built_functions(built)[function]
    artifact = built / props["CodeUri"]
    rust = artifact / "cryptography" / "hazmat" / "bindings" / "_rust.abi3.so"
    header = rust.read_bytes()[:20]

    # The wheel is for Lambda's arm64, so this machine's cryptography stands in for it: the
    # artifact goes last on the path, and the handler's own package must still come from it.
    result = import_handler(artifact, props["Handler"], last=True)

    assert (artifact / "authorizer" / "handler.py").is_file()
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64
    assert list(artifact.glob("cryptography-*.dist-info"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(artifact / "authorizer"))
    assert props["Architectures"] == ["arm64"]
