#!/usr/bin/python3
"""Wall time of the whole catalogue against the reference client.

Usage: bench/catalogue_wall.py [--runs N] [--scenario-jobs N | --jobs N]

Each run is one `python3 -m pytest pytest/test_catalogue.py::test_scenario`
from the shell's point of view, as `make suite` runs it: interpreter start,
collection, then the plugin's runs, --scenario-jobs at once (default: the
plugin's, 8 per core), and for every scenario a fresh starttls-mock (its own
port, run directory and certificate catalogue) and a fresh client process.
With --jobs N it runs `-n N` instead (xdist workers, one scenario at a time
each), the way the catalogue ran before. Prints for each run:
- its wall time, and the plugin's own figure from --report-json (session
  start to finish);
- the scenario time summed over the scenarios (each result's duration_s,
  server start to verdict), and that sum divided by the workers: most of it
  is deliberate waiting (stalls, quiet windows, delayed greetings), not CPU;
- the CPU time (user + system) of every process the run started, pytest
  (and its workers), the servers and the clients, from getrusage;
- the scenarios that hold the client until its deadline (the binary's
  `stalls`), with their durations;
and then the medians. The budget is 3 s for the SMTP catalogue against the
reference client on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "pytest"))
from starttls_mock import harness  # noqa: E402

BUDGET = 3.0


def children_cpu() -> float:
    """User + system seconds of every child waited for so far (and of their
    waited-for descendants)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    how = p.add_mutually_exclusive_group()
    how.add_argument("--scenario-jobs", type=int, default=None,
                     help="scenarios at once in one pytest process (default: the plugin's)")
    how.add_argument("--jobs", default=None, help="xdist workers (-n) instead")
    args = p.parse_args()
    walls, inner, summed, cpus, stalled = [], [], [], [], []
    workers = int(args.jobs) if args.jobs and args.jobs.isdigit() else None
    if args.jobs:
        how_argv, how_said = ["-n", args.jobs], f"-n {args.jobs}"
    elif args.scenario_jobs:
        how_argv = ["--scenario-jobs", str(args.scenario_jobs)]
        how_said = f"--scenario-jobs {args.scenario_jobs}"
    else:
        how_argv, how_said = [], "the plugin's default --scenario-jobs"
    with tempfile.TemporaryDirectory(prefix="starttls-bench.") as tmp:
        report = Path(tmp) / "report.json"
        for i in range(args.runs):
            argv = ["/usr/bin/python3", "-m", "pytest", "pytest/test_catalogue.py::test_scenario",
                    "-q", "-p", "no:cacheprovider", *how_argv,
                    "--basetemp", f"{tmp}/run{i}", "--report-json", str(report)]
            cpu_before = children_cpu()
            start = time.monotonic()
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
            wall = time.monotonic() - start
            cpu = children_cpu() - cpu_before
            doc = json.loads(report.read_text())
            if done.returncode != 0 or doc["failed"]:
                print(done.stdout[-3000:], file=sys.stderr)
                print(f"run {i + 1}: the catalogue did not pass", file=sys.stderr)
                return 1
            results = doc["results"]
            total = sum(r["duration_s"] for r in results)
            stalls = {r["scenario"]: r["duration_s"] for r in results
                      if harness.scenario_facts(harness.SCENARIOS / r["scenario"])["stalls"]}
            walls.append(wall)
            inner.append(doc["wall_time_s"])
            summed.append(total)
            cpus.append(cpu)
            stalled.append(stalls)
            per_worker = f", {total / workers:.2f} s per worker" if workers else ""
            print(f"run {i + 1}: {len(results)} scenarios, wall {wall:.2f} s "
                  f"(pytest session {doc['wall_time_s']:.2f} s); scenario time summed "
                  f"{total:.2f} s{per_worker}; CPU time of every process {cpu:.2f} s")
    names = sorted(stalled[0])
    print(f"{len(names)} scenarios hold the client until its deadline; median durations: "
          + ", ".join(f"{n} {statistics.median(s[n] for s in stalled):.2f} s" for n in names))
    med = statistics.median(walls)
    print(f"median wall {med:.2f} s (min {min(walls):.2f}, max {max(walls):.2f}); "
          f"median pytest session {statistics.median(inner):.2f} s; median scenario time "
          f"summed {statistics.median(summed):.2f} s; median CPU time {statistics.median(cpus):.2f} s; "
          f"{how_said}; "
          f"budget {BUDGET:.0f} s: {'within' if med < BUDGET else 'OVER'}")
    return 0 if med < BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
