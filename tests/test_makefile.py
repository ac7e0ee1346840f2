"""The first `make run` says what it installs in a terminal, and stays quiet in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def planned_install(terminal: bool, ci: bool) -> str:
    """The install recipe as make would run it (`make -n`: nothing is run)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    command = ["make", "-n", "-B", ".venv/.installed"]
    if terminal:
        # script(1) gives make a pseudo-terminal, as a person's shell has.
        command = ["script", "-qec", " ".join(command), "/dev/null"]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


@pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")
def test_the_install_is_quiet_without_a_terminal_and_in_ci() -> None:
    for terminal, ci in ((False, False), (True, True)):
        lines = [
            line for line in planned_install(terminal, ci).splitlines() if "pip install" in line
        ]
        assert len(lines) == 2 and all("--quiet" in line for line in lines)


@pytest.mark.skipif(not shutil.which("script"), reason="script(1) is not installed")
def test_in_a_terminal_the_install_shows_its_steps_and_pips_progress() -> None:
    plan = planned_install(terminal=True, ci=False)

    assert "[1/3]" in plan and "[3/3] Installing the lab" in plan
    installs = [line for line in plan.splitlines() if "pip install" in line]
    assert installs and not any("--quiet" in line for line in installs)
