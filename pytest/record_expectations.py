#!/usr/bin/python3
"""Runs built-in client adapters over the whole catalogue and writes what
each one does, scenario by scenario, to pytest/expected/<client>.toml: the
pins test_clients.py holds them to.

Usage: record_expectations.py [--runs N] [--jobs N] [--load K] [--missing]
                              [--merge] [--scenario GLOB]... [CLIENT...]

Each scenario is run N times (default 4), with K busy processes competing
for the cores when --load is given (default 0); a scenario whose labels differ
between runs is reported and pinned with every outcome seen
({ any = [...] }), so that only those outcomes pass. --missing runs only the scenarios a file does not pin yet (new
scenarios) and keeps the others as they are. Review the diff (git diff pytest/expected/) before committing it:
a changed pin is a changed client, or a changed harness. How the pins were
obtained (runs, loaded runs, jobs, cores, date) is written into the file's
[recorded] table; with --merge the runs add up.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from starttls_mock import adapters, busy, harness, pins, running



def recording(args, before: dict | None, kept: bool, recorded_any: bool) -> dict:
    """The [recorded] table, from the file as it was (`before`, None when
    there was none) and this recording: the counts hold for every scenario
    of the file, so scenarios kept from before and scenarios run now each
    bound them."""
    # A file written before run counts were kept has no [recorded] table.
    earlier = before is not None and before["recorded"].get("earlier_outcomes", True)
    before = before["recorded"] if before else {}
    loaded_now = args.runs if args.load else 0
    old_runs, old_loaded = before.get("runs", 0), before.get("loaded_runs", 0)
    candidates = []
    if kept:
        candidates.append((old_runs, old_loaded))
    if recorded_any:
        candidates.append((args.runs + old_runs, loaded_now + old_loaded) if args.merge
                          else (args.runs, loaded_now))
    runs = min(c[0] for c in candidates) if candidates else old_runs
    loaded = min(c[1] for c in candidates) if candidates else old_loaded
    merged_earlier = earlier and (kept or args.merge)
    return {"runs": runs, "loaded_runs": loaded,
            "busy": args.load or before.get("busy", 0), "jobs": args.jobs,
            "cores": os.cpu_count(), "earlier_outcomes": merged_earlier,
            "date": datetime.date.today().isoformat()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--load", type=int, default=0, metavar="K",
                   help="busy processes competing for the cores while recording")
    p.add_argument("--missing", action="store_true",
                   help="record only scenarios not pinned yet, keep the rest")
    p.add_argument("--scenario", action="append", default=[], metavar="GLOB",
                   help="record only scenarios whose path under scenarios/ matches "
                        "(repeatable), keep the rest")
    p.add_argument("--merge", action="store_true",
                   help="add what these runs see to the outcomes already pinned "
                        "instead of replacing them (for outcomes that depend on load)")
    p.add_argument("clients", nargs="*")
    args = p.parse_args()
    names = args.clients or adapters.pinned_adapter_names()
    unstable = 0
    with tempfile.TemporaryDirectory(prefix="starttls-record.") as tmp:
        for name in names:
            adapter = adapters.load_adapter(name)
            scenarios = harness.scenario_files(adapter.protocols)
            if adapter.requires and not shutil.which(adapter.requires):
                print(f"{name}: {adapter.requires} is not installed", file=sys.stderr)
                return 1
            kept = {}
            todo = scenarios
            if (args.missing or args.scenario) and pins.expectations_path(name).exists():
                catalogue = {harness.relative(s) for s in scenarios}
                wanted = {harness.relative(s) for s in scenarios
                          if any(fnmatch.fnmatch(harness.relative(s), g)
                                 or fnmatch.fnmatch(str(Path(harness.relative(s)).with_suffix("")), g)
                                 for g in args.scenario)}
                kept = {k: set(v) for k, v in
                        pins.load_expectations(name)["scenarios"].items()
                        if k in catalogue and k not in wanted}
                todo = [s for s in scenarios if harness.relative(s) not in kept]
            jobs = [(s, i) for s in todo for i in range(args.runs)]

            def one(job):
                scenario, i = job
                work = Path(tmp) / name / f"{harness.relative(scenario)}.{i}"
                return harness.relative(scenario), frozenset(
                    running.run(scenario, work, adapter).labels())

            before = pins.load_expectations(name) \
                if pins.expectations_path(name).exists() else None
            results: dict[str, set[frozenset]] = dict(kept)
            if args.merge and before:
                for scenario, pinned in before["scenarios"].items():
                    results.setdefault(scenario, set()).update(pinned)
            with busy.busy(args.load, 6 * 3600), ThreadPoolExecutor(args.jobs) as pool:
                for scenario, labels in pool.map(one, jobs):
                    results.setdefault(scenario, set()).add(labels)
            for scenario, seen in sorted(results.items()):
                if len(seen) > 1 and scenario not in kept:
                    unstable += 1
                    print(f"{name}: {scenario} is not stable: "
                          f"{pins.show_pin(seen)}", file=sys.stderr)
            path = pins.write_expectations(
                name, adapter.version(), adapter.command,
                results, header=f"{name}: {adapter.description}",
                recorded=recording(args, before,
                                   kept=bool(kept), recorded_any=bool(todo)))
            failing = sum(any(v) for v in results.values())
            print(f"{name}: {len(results)} scenarios, {failing} fail -> {path}")
    if unstable:
        print(f"{unstable} pins allow more than one outcome", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
