#!/usr/bin/python3
"""Verdict flips of the concurrent catalogue run, with both cores kept busy.

Usage: bench/catalogue_flips.py [--runs N] [--load N] [--scenario-jobs N]

The plugin runs catalogue scenarios --scenario-jobs at once (plugin.py,
starttls_result). That is sound only if no verdict depends on how busy the
machine is. Each of --runs rounds, while --load processes spin on the CPU:
- the SMTP catalogue against the reference client, as `make suite` runs it
  (one pytest process, --scenario-jobs at once); every scenario must pass;
- bad_client over the whole SMTP catalogue without switches, and every
  pinned switch x scenario pair of pytest/test_bug_switches.py, the same
  number at once; each run must match its pin (test_bug_switches.check).
A flip is a run that does not. Prints each round's wall times and flips
(each with its reasons, timings and the client's last words),
then the totals; exits 1 if anything flipped.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "pytest"))
import test_bug_switches as bugs  # noqa: E402
from starttls_mock import harness, plugin  # noqa: E402


def spinners(n: int) -> list[subprocess.Popen]:
    """n processes that keep a core busy until killed."""
    return [subprocess.Popen(["/usr/bin/python3", "-c", "while True: pass"])
            for _ in range(n)]


def reference_round(work: Path, jobs: int) -> tuple[float, int, list[str]]:
    """The catalogue against the reference client: wall, scenarios, flips."""
    report = work / "reference.json"
    argv = ["/usr/bin/python3", "-m", "pytest", "pytest/test_catalogue.py::test_scenario",
            "-q", "-p", "no:cacheprovider", "--scenario-jobs", str(jobs),
            "--basetemp", str(work / "reference"), "--report-json", str(report)]
    start = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - start
    if not report.exists():
        raise SystemExit(f"the reference run wrote no report:\n{done.stdout[-3000:]}")
    results = json.loads(report.read_text())["results"]
    flips = [f"reference: {r['scenario']}: {r['verdict']}\n{why(r)}" for r in results
             if r["verdict"] != "pass"]
    if done.returncode != 0 and not flips:
        flips.append(f"reference: pytest exited {done.returncode}")
    return wall, len(results), flips


def why(record: dict) -> str:
    """A flipped run's reasons, timings and the client's last words, from its
    entry of the JSON report, so that a flip can be explained after the
    round's directory is gone."""
    lines = [f"    - {r['text']}" for r in record["reasons"]]
    lines.append(f"    client exit {record['client_exit']} after {record['client_wall_s']} s "
                 f"(per-step deadline {record['client_timeout_s']} s): "
                 + " | ".join(record["client_stderr"].strip().splitlines()[-3:]))
    for s in record.get("sessions", []):
        lines.append(f"    connection {s['connection']}: {s['ended']} at "
                     + ", ".join(f"{e['kind']} {e['t']:.3f}s" for e in s["events"][-6:]))
    return "\n".join(lines)


def bad_client_cases(work: Path):
    """(name, thunk) for every pair: the thunk runs it and raises on a flip."""
    for path in harness.scenario_files(("smtp",)):
        rel = harness.relative(path)
        def plain(path=path, rel=rel):
            where = work / "plain" / rel
            where.mkdir(parents=True)
            bugs.check(bugs.run(path, where, bugs.bad_client_adapter()), bugs.QUIET)
        yield f"bad_client: {rel}", plain
    for switch, by_scenario in bugs.PINS.items():
        for name, pinned in by_scenario.items():
            def case(switch=switch, name=name, pinned=pinned):
                where = work / switch / name
                where.mkdir(parents=True)
                scenario = bugs.scenario_for(switch, name, where)
                budget = bugs.HANG_BUDGET if switch == "no-timeouts" else None
                bugs.check(bugs.run(scenario, where, bugs.bad_client_adapter(switch),
                                    budget=budget), pinned)
            yield f"--bug {switch}: {name}", case


def bad_client_round(work: Path, jobs: int) -> tuple[float, int, list[str]]:
    cases = list(bad_client_cases(work))
    flips = []
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(thunk): name for name, thunk in cases}
        for future in concurrent.futures.as_completed(futures):
            try:
                future.result()
            except Exception as e:  # a pin not met, or a harness error
                flips.append(f"{futures[future]}: {type(e).__name__}: {e}")
    return time.monotonic() - start, len(cases), flips


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--load", type=int, default=os.cpu_count() or 1,
                   help="processes spinning on the CPU meanwhile (default: one per core)")
    p.add_argument("--scenario-jobs", type=int,
                   default=plugin.SCENARIO_JOBS_PER_CORE * (os.cpu_count() or 1))
    args = p.parse_args()
    load = spinners(args.load)
    all_flips: list[str] = []
    reference_walls = []
    try:
        with tempfile.TemporaryDirectory(prefix="starttls-flips.") as tmp:
            for i in range(args.runs):
                work = Path(tmp) / f"round{i}"
                work.mkdir()
                r_wall, r_count, r_flips = reference_round(work, args.scenario_jobs)
                b_wall, b_count, b_flips = bad_client_round(work / "bad", args.scenario_jobs)
                reference_walls.append(r_wall)
                flips = r_flips + b_flips
                all_flips += [f"round {i + 1}: {f}" for f in flips]
                print(f"round {i + 1}: reference {r_count} scenarios in {r_wall:.2f} s; "
                      f"bad_client {b_count} runs in {b_wall:.2f} s; flips {len(flips)}",
                      flush=True)
                for f in flips:
                    print(f"  {f}", flush=True)
    finally:
        for proc in load:
            proc.kill()
            proc.wait()
    print(f"{args.runs} rounds with {args.load} spinning processes, --scenario-jobs "
          f"{args.scenario_jobs}: {len(all_flips)} flips; reference wall median "
          f"{sorted(reference_walls)[len(reference_walls) // 2]:.2f} s under load")
    return 1 if all_flips else 0


if __name__ == "__main__":
    sys.exit(main())
