"""`python -m bench` (`make bench`): runs every benchmark, one process each, then writes
docs/benchmarks.md from their sections (bench/assemble.py).

Each benchmark is `python -m bench.<name>`: it prints its figures and the machine and
rewrites docs/benchmarks/<name>.md (plus <name>.json, its rows of the summary table).
The whole suite is sized to finish in under 15 minutes on 2 cores; `--only NAME`
runs some of them, and the summary keeps the other rows from their last run.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time

from bench import assemble

# In the order of the summary table. A benchmark added to bench/ goes here too.
BENCHES = (
    "http_throughput",
    "write_throughput",
    "projection_lag",
    "cqrs_payoff",
    "subscriptions",
    "rebuild",
    "persisted_queries",
)
BUDGET_MINUTES = 15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=BENCHES, help="run only these")
    args = parser.parse_args()
    started = time.monotonic()
    failed = []
    for name in args.only or BENCHES:
        if importlib.util.find_spec(f"bench.{name}") is None:
            print(f"== bench.{name}: not in this checkout, skipped", flush=True)
            continue
        print(f"== bench.{name} ({(time.monotonic() - started) / 60:.1f} min in)", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], check=False).returncode:
            failed.append(name)
    took = (time.monotonic() - started) / 60
    print(f"== all done in {took:.1f} min (budget {BUDGET_MINUTES} min)")
    print(f"written to {assemble.write(took)}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
