#!/usr/bin/python3
"""Wall time of the whole catalogue against the reference client.

Usage: bench/catalogue_wall.py [--runs N] [--jobs N]

Each run is one `python3 -m pytest pytest/test_catalogue.py::test_scenario
-n JOBS` from the shell's point of view: interpreter start, collection,
xdist workers, and for every scenario a fresh starttls-mock (its own port,
run directory and certificate catalogue) and a fresh client process. Prints
each run's wall time, the plugin's own figure from --report-json (session
start to finish), and the median. The budget is 10 s with -n 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 10.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--jobs", default="2")
    args = p.parse_args()
    walls, inner = [], []
    with tempfile.TemporaryDirectory(prefix="starttls-bench.") as tmp:
        report = Path(tmp) / "report.json"
        for i in range(args.runs):
            argv = ["/usr/bin/python3", "-m", "pytest", "pytest/test_catalogue.py::test_scenario",
                    "-q", "-p", "no:cacheprovider", "-n", args.jobs,
                    "--basetemp", f"{tmp}/run{i}", "--report-json", str(report)]
            start = time.monotonic()
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
            wall = time.monotonic() - start
            doc = json.loads(report.read_text())
            if done.returncode != 0 or doc["failed"]:
                print(done.stdout[-3000:], file=sys.stderr)
                print(f"run {i + 1}: the catalogue did not pass", file=sys.stderr)
                return 1
            walls.append(wall)
            inner.append(doc["wall_time_s"])
            print(f"run {i + 1}: {len(doc['results'])} scenarios, wall {wall:.2f} s "
                  f"(pytest session {doc['wall_time_s']:.2f} s)")
    med = statistics.median(walls)
    print(f"median wall {med:.2f} s (min {min(walls):.2f}, max {max(walls):.2f}); "
          f"median pytest session {statistics.median(inner):.2f} s; -n {args.jobs}; "
          f"budget {BUDGET:.0f} s: {'within' if med < BUDGET else 'OVER'}")
    return 0 if med < BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
