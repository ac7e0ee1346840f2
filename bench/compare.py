"""Benchmark the Compare grid: the whole CLI end to end, and the grid by number of client threads.

The servers are the real ones (the local IdP and the gateway emulator on `template.yaml`, each
its own process on a free port, as `python -m webapp.compare --template` starts them). Same
run, same variants, the authorizer result caches flushed before each grid so every pass does
the same work:
- the grid alone with 1 client thread (the calls one after another: the baseline), then with
  2, 4, 6, 8 and 12 threads: median seconds of `--rounds`, calls per second, ratio to 1;
- `python -m webapp.compare` end to end (a fresh process: imports, the logins, the IdP's
  copies, the grid, Markdown), median wall time of `--rounds`.
Goal (issue 12): the full local grid (>= 18 variants x every style x 4 routes) in <= 5 s.
The load average is printed: on a shared machine the absolute times move with it, the
ratios much less.

Run: .venv/bin/python bench/compare.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from webapp.compare import discover_columns  # noqa: E402
from webapp.compare import run_grid  # noqa: E402
from webapp.compare_cli import iam_signers  # noqa: E402
from webapp.compare_cli import local_sources  # noqa: E402
from webapp.compare_cli import template_stack  # noqa: E402
from webapp.config import settings_from_env  # noqa: E402
from webapp.variants import VariantBuilder  # noqa: E402

THREADS = (1, 2, 4, 6, 8, 12)
GOAL_S = 5.0


def flush(gateway_url: str) -> None:
    """Empty every API's authorizer result cache (the emulator's FlushStageAuthorizersCache)."""
    catalogue = requests.get(gateway_url + "/", timeout=10).json()
    for api in catalogue["apis"]:
        kind = "restapis" if api["type"] == "REST" else "v2/apis"
        url = f"{gateway_url}/{kind}/{api['id']}/stages/{api['stage']}/cache/authorizers"
        requests.delete(url, timeout=10).raise_for_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with template_stack(ROOT / "template.yaml") as stack:
        env = {
            **os.environ,
            "LOCAL_IDP_URL": stack.idp_url,
            "API_BASE_URL": stack.gateway_url,
        }
        env.pop("AUTH0_DOMAIN", None)
        settings = settings_from_env(env)
        settings["HTTP_TIMEOUT"] = 10
        started = time.perf_counter()
        sources = local_sources(settings, "customer")
        columns = discover_columns(stack.gateway_url)
        # The credential rows too, as the command line runs them (one identity-pool exchange).
        sources.iam, sources.iam_missing = iam_signers(settings, sources.id_token, columns)
        built = VariantBuilder(settings["AUTH0_ISSUER"], local_idp=True).build(sources)
        tokens_s = time.perf_counter() - started
        calls = len(built.variants) * len(columns)

        rows = []
        for threads in THREADS:
            times = []
            for _ in range(args.rounds):
                flush(stack.gateway_url)
                run = run_grid(built.variants, columns, workers=threads)
                assert not any(c.error for c in run.cells), "a call failed"
                times.append(run.meta["duration_s"])
            rows.append((threads, statistics.median(times)))

        wall = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "webapp.compare", "--output", os.devnull],
                cwd=ROOT,
                env=env,
                check=True,
            )
            wall.append(time.perf_counter() - started)

    baseline = rows[0][1]
    print(
        f"\nCompare grid: {len(built.variants)} variants x {len(columns)} columns = {calls} calls"
        f" (each call + its trace), median of {args.rounds}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
    )
    print("| client threads | grid s | calls/s | speed-up vs 1 thread |")
    print("|---:|---:|---:|---:|")
    for threads, seconds in rows:
        print(f"| {threads} | {seconds:.2f} | {calls / seconds:.0f} | {baseline / seconds:.2f}x |")
    end_to_end = statistics.median(wall)
    print(
        f"\nTokens (3 logins, 4 M2M, 7 IdP copies, 1 identity-pool exchange), once: "
        f"{tokens_s:.2f} s."
        f"\nEnd to end, `python -m webapp.compare` (default threads): median {end_to_end:.2f} s,"
        f" min {min(wall):.2f} s; goal <= {GOAL_S:.0f} s: "
        f"{'met' if end_to_end <= GOAL_S else 'NOT met'}; ratio to the goal "
        f"{end_to_end / GOAL_S:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
