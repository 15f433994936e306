#!/usr/bin/python3
"""Whether every pinned client's verdicts hold run after run on a busy
machine: pytest/test_clients.py (every adapter over the whole catalogue,
each outcome checked against its pin) N times in a row, with LOAD busy
processes competing for the cores the whole time.

Usage: bench/pin_soak.py [--runs N] [--load K] [--jobs J]

Prints one line per run (passed, failed, wall time), then for every
(client, scenario) that failed in any run the runs it failed in and what it
gave instead of its pin, and a last line "N passed, N failed" counting runs.
The exit status is 0 only when every run passed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "pytest"))
from starttls_mock import busy  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--load", type=int, default=2, help="busy processes during the runs")
    p.add_argument("--jobs", default="2")
    p.add_argument("--run-timeout", type=float, default=1800.0)
    args = p.parse_args()
    failures: dict[str, list[tuple[int, str]]] = defaultdict(list)
    passed_runs = 0
    walls = []
    with tempfile.TemporaryDirectory(prefix="starttls-soak.") as tmp:
        for i in range(1, args.runs + 1):
            argv = ["/usr/bin/python3", "-m", "pytest", "pytest/test_clients.py", "-q",
                    "-p", "no:cacheprovider", "-n", args.jobs, "--tb=line", "-rf",
                    "--basetemp", f"{tmp}/run{i}"]
            started = time.monotonic()
            with busy.busy(args.load, args.run_timeout + 30):
                try:
                    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                                          timeout=args.run_timeout)
                    out, code = done.stdout, done.returncode
                except subprocess.TimeoutExpired as e:
                    out, code = (e.stdout or ""), -1
            wall = time.monotonic() - started
            walls.append(wall)
            summary = next((line for line in reversed(out.splitlines())
                            if re.search(r"\d+ (passed|failed)", line)), "no summary")
            print(f"run {i}: {summary.strip('= ')} ({wall:.0f} s, load {args.load}, "
                  f"{os.cpu_count()} cores)", flush=True)
            if code == 0:
                passed_runs += 1
            for m in re.finditer(r"^FAILED \S+::test_client_matches_its_pins\[([^\]]+)\]"
                                 r"(?: - (.*))?$", out, re.M):
                failures[m[1]].append((i, (m[2] or "")[:200]))
    for case, runs in sorted(failures.items()):
        print(f"{case}: failed in runs {', '.join(str(r) for r, _ in runs)}")
        for r, why in runs:
            print(f"  run {r}: {why}")
    if walls:
        walls.sort()
        print(f"median wall time per run {walls[len(walls) // 2]:.0f} s")
    print(f"{passed_runs} passed, {args.runs - passed_runs} failed")
    return 0 if passed_runs == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
