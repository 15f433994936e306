#!/usr/bin/python3
"""Runs every scenario against one client and prints the verdicts.

Usage: suite.py [--build-dir DIR] [--jobs N] [--client NAME | --client-cmd TEMPLATE
                [--client-name NAME] [--client-version-cmd COMMAND]
                [--client-stdin crlf|lf] [--client-resolve]]
                [--client-policy require-tls|opportunistic] [--report-json FILE]
                [--report-html FILE] [SCENARIO...]

This is the pytest run of the catalogue (test_catalogue.py::test_scenario,
with the starttls-mock plugin, 8 scenarios per core of --jobs at once), summed up as a terminal
matrix: one row per scenario with verdict, expected, observed and the
oracles or reasons. `make suite` calls it; CLIENT, CLIENT_CMD, CLIENT_NAME,
CLIENT_VERSION_CMD, CLIENT_STDIN, CLIENT_RESOLVE, CLIENT_POLICY and SCENARIO
in the environment (make suite CLIENT=curl) stand for the options. A SCENARIO is a glob under scenarios/ or a path.

The last line is "N passed, N failed"; the exit status is 0 only when
nothing failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

from starttls_mock import harness, plugin


HERE = Path(__file__).resolve().parent


def scenario_glob(arg: str) -> str:
    path = Path(arg).resolve()
    if path.exists() and path.is_relative_to(harness.SCENARIOS):
        return str(path.relative_to(harness.SCENARIOS))
    return arg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=None)
    parser.add_argument("--jobs", "-n", default=os.environ.get("JOBS") or str(os.cpu_count()))
    parser.add_argument("--client", default=os.environ.get("CLIENT") or None)
    parser.add_argument("--client-cmd", default=os.environ.get("CLIENT_CMD") or None)
    parser.add_argument("--client-policy", default=os.environ.get("CLIENT_POLICY") or None)
    parser.add_argument("--client-name", default=os.environ.get("CLIENT_NAME") or None)
    parser.add_argument("--client-version-cmd",
                        default=os.environ.get("CLIENT_VERSION_CMD") or None)
    parser.add_argument("--client-stdin", default=os.environ.get("CLIENT_STDIN") or None,
                        choices=("crlf", "lf"))
    parser.add_argument("--client-resolve", action="store_true",
                        default=bool(os.environ.get("CLIENT_RESOLVE")))
    parser.add_argument("--report-json", default=None)
    parser.add_argument("--report-html", default=None)
    parser.add_argument("scenarios", nargs="*")
    args = parser.parse_args()
    if args.build_dir:
        os.environ["STARTTLS_BUILD_DIR"] = str(Path(args.build_dir).resolve())
    globs = args.scenarios or os.environ.get("SCENARIO", "").split()

    with tempfile.TemporaryDirectory(prefix="starttls-suite.") as tmp:
        report = Path(args.report_json or Path(tmp) / "report.json")
        argv = [f"{HERE / 'test_catalogue.py'}::test_scenario", "-q", "--no-header",
                "-p", "no:cacheprovider", "--rootdir", str(harness.ROOT),
                "-c", str(harness.ROOT / "pytest.ini"), "--tb=no", "-rN",
                "--basetemp", str(Path(tmp) / "pytest"), "--report-json", str(report),
                "--matrix"]
        # One pytest process running 8 scenarios per core at once: most of a
        # scenario's time is waiting on purpose, which costs no CPU
        # (plugin.py, starttls_result).
        argv += ["--scenario-jobs",
                 str(plugin.SCENARIO_JOBS_PER_CORE * max(1, int(args.jobs)))]
        for option in ("client", "client_cmd", "client_policy", "client_name",
                       "client_version_cmd", "client_stdin", "report_html"):
            value = getattr(args, option)
            if value:
                argv += [f"--{option.replace('_', '-')}", value]
        if args.client_resolve:
            argv += ["--client-resolve"]
        for glob in globs:
            argv += ["--scenario", scenario_glob(glob)]
        code = pytest.main(argv)
        if not report.exists():
            print(f"suite: pytest exited {int(code)} without results")
            print("0 passed, 0 failed")
            return 1
        doc = json.loads(report.read_text())
    print(f"{doc['client']} ({doc['policy']}): {len(doc['results'])} scenarios in "
          f"{doc['wall_time_s']:.1f} s")
    off = doc.get("off_script", 0)
    if off:
        print(f"{off} off script: the client took another path, no oracle fired, "
              "the outcome is not judged (see the matrix)")
    print(f"{doc['passed']} passed, {doc['failed']} failed"
          + (f", {off} skipped" if off else ""))
    # pytest reports an off-script run as skipped, never as failed.
    return 0 if doc["failed"] == 0 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
