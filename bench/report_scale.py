#!/usr/bin/python3
"""Whether a long run costs the same per session as a short one: starttls-mock
serve with and without --report at 1,000, 10,000 and 100,000 sessions.

    bench/report_scale.py [--sessions 1000,10000,100000] [--concurrency 4]
                          [--build build] [--out DIR]

For each count and each mode (--report FILE, no --report) a fresh server
plays bench/scenarios/serve.smtp (the responder alone) to
build/bin/starttls-load, which measures sessions/s and the server's CPU time
(utime + stime from /proc) over the load; the server's peak memory (VmHWM)
is read once the load is over, then the server is stopped with SIGTERM and
the time it takes to write the aggregate report is measured. The modes of
one count run back to back, so a change in machine load hits both; the
table gives each figure and the report's cost as a ratio within the count.
Flat means: CPU per session and sessions/s within 10% from the smallest
count to the largest.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_ready(proc: subprocess.Popen) -> int:
    line = proc.stdout.readline().decode()
    if not line.startswith("READY "):
        raise SystemExit(f"report_scale: no READY line: {line!r} {proc.stderr.read()!r}")
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    return int(fields["port"])


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def one_run(build: Path, sessions: int, concurrency: int, report: bool, work: Path) -> dict:
    run_dir = work / f"run-{sessions}-{'report' if report else 'plain'}"
    argv = [str(build / "bin" / "starttls-mock"), "serve",
            str(ROOT / "bench" / "scenarios" / "serve.smtp"), "--run-dir", str(run_dir)]
    report_file = run_dir.with_suffix(".json")
    if report:
        argv += ["--report", str(report_file)]
    server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        port = read_ready(server)
        out = work / f"load-{sessions}-{report}.json"
        load = subprocess.run([str(build / "bin" / "starttls-load"), "--port", str(port),
                               "--sessions", str(sessions), "--concurrency", str(concurrency),
                               "--server-pid", str(server.pid), "--json", str(out), "--quiet"],
                              capture_output=True, text=True, timeout=3600)
        if load.returncode != 0:
            raise SystemExit(f"report_scale: starttls-load failed: {load.stderr}")
        result = json.loads(out.read_text())
        peak = peak_kb(server.pid)
        stop_started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=600)
        stop_s = time.monotonic() - stop_started
        if server.returncode != 0:
            raise SystemExit(f"report_scale: starttls-mock exited {server.returncode}: {err!r}")
    finally:
        if server.poll() is None:
            server.kill()
    row = {"sessions": sessions, "report": report,
           "sessions_ok": result["sessions_ok"], "failed": result["sessions_failed"],
           "sessions_per_s": result["sessions_per_s"],
           "cpu_us_per_session": result["server"]["cpu_us_per_session"],
           "peak_rss_kb": peak, "stop_s": stop_s}
    if report:
        doc = json.loads(report_file.read_text())
        row["report_sessions"] = len(doc["sessions"])
        row["report_mb"] = report_file.stat().st_size / 1e6
        if row["report_sessions"] != result["sessions_ok"]:
            raise SystemExit(f"report_scale: the report lists {row['report_sessions']} "
                             f"sessions of {result['sessions_ok']}")
    # The run directory holds a file per session; only its figures are kept.
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", default="1000,10000,100000")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    counts = [int(n) for n in args.sessions.split(",")]
    with tempfile.TemporaryDirectory(prefix="report-scale-") as tmp:
        work = Path(tmp)
        rows = []
        for n in counts:
            for report in (True, False):
                rows.append(one_run(Path(args.build), n, args.concurrency, report, work))
                print(json.dumps(rows[-1]), file=sys.stderr)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    print("| sessions | --report | sessions/s | server CPU µs/session | peak RSS MB "
          "| stop s | report MB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['sessions']:,} | {'yes' if r['report'] else 'no'} "
              f"| {r['sessions_per_s']:.0f} | {r['cpu_us_per_session']:.0f} "
              f"| {r['peak_rss_kb'] / 1024:.1f} | {r['stop_s']:.2f} "
              f"| {r.get('report_mb', 0):.1f} |")
    with_report = [r for r in rows if r["report"]]
    first, last = with_report[0], with_report[-1]
    cpu = last["cpu_us_per_session"] / first["cpu_us_per_session"]
    rate = last["sessions_per_s"] / first["sessions_per_s"]
    print(f"\nwith --report, {last['sessions']:,} vs {first['sessions']:,} sessions: "
          f"CPU per session x{cpu:.2f}, sessions/s x{rate:.2f}")
    for n in counts:
        on = next(r for r in rows if r["sessions"] == n and r["report"])
        off = next(r for r in rows if r["sessions"] == n and not r["report"])
        print(f"{n:,} sessions: --report costs x{on['cpu_us_per_session'] / off['cpu_us_per_session']:.2f} "
              f"CPU per session")
    return 0


if __name__ == "__main__":
    sys.exit(main())
