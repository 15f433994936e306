#!/usr/bin/python3
"""Runs every scenario against the reference client and prints the verdicts.

Usage: suite.py [--build-dir DIR] [SCENARIO...]

Each scenario gets its own server on an ephemeral port and its own run
directory; the verdict is the server's, from what the client did on the wire,
together with the client's exit status. The last line is "N passed, N failed";
the exit status is 0 only when nothing failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import harness


def run_one(scenario: Path, work: Path) -> tuple[bool, str, str, str]:
    result = harness.run_scenario(scenario, work, harness.reference_argv)
    sessions = result.sessions
    detail = "; ".join(result.verdict.reasons) or (sessions[-1]["ended"] if sessions else "")
    expected = sessions[0]["expected"] if sessions else "-"
    return (result.verdict.passed, expected, result.verdict.observed,
            f"client exit {result.client.returncode}: {detail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=None)
    parser.add_argument("scenarios", nargs="*", type=Path)
    args = parser.parse_args()
    if args.build_dir:
        os.environ["STARTTLS_BUILD_DIR"] = str(Path(args.build_dir).resolve())
    scenarios = args.scenarios or harness.scenario_files()

    rows = []
    with tempfile.TemporaryDirectory(prefix="starttls-suite.") as tmp:
        for scenario in scenarios:
            name = str(scenario.resolve().relative_to(harness.SCENARIOS)) \
                if scenario.resolve().is_relative_to(harness.SCENARIOS) else str(scenario)
            try:
                ok, expected, observed, detail = run_one(scenario, Path(tmp))
            except harness.ServerError as e:
                ok, expected, observed, detail = False, "error", "-", str(e)
            rows.append((name, "pass" if ok else "FAIL", expected, observed, detail))

    headers = ("scenario", "verdict", "expected", "observed", "detail")
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(4)]
    for row in [headers, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[4])
    passed = sum(r[1] == "pass" for r in rows)
    print(f"{passed} passed, {len(rows) - passed} failed")
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
