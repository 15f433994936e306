#!/usr/bin/python3
"""Whether a long run costs the same per session as a short one: starttls-mock
serve with --report, measured as it passes 1,000, 10,000 and 100,000
sessions, each time beside a fresh server of the same kind that has served
only as many as the first checkpoint, in the same moments.

    bench/report_scale.py [--checkpoints 1000,10000,100000] [--window 100]
                          [--repeats 10] [--warmup 0] [--concurrency 4]
                          [--build build] [--out FILE]

Two servers run for the whole measurement, both playing
bench/scenarios/serve.smtp (the responder alone): starttls-mock with --report
FILE ("report") and starttls-mock without it ("plain"). At each checkpoint a
third one is started, "young": a server like "report" that first serves as
many sessions as "report" had when the first checkpoint's windows began, so
that it stands for the run at its first checkpoint. build/bin/starttls-load
drives them and reads each one's CPU time over its load (user and system,
from the server's clock_getcpuclockid clock, in nanoseconds).

Each long-running server first serves `warmup` sessions that are not
measured (they count towards the checkpoints), and before each checkpoint is
loaded up to `repeats * window` sessions before it; then `repeats` windows
are measured, interleaved: report, plain, young, report, plain, young, ...
so the three share the machine's state of those seconds. This VM's speed
changes by tens of percent within minutes, which is larger than the 10% to
be shown; a ratio taken window by window is not moved by it. So the growth
from the first checkpoint is read as "report" against "young", window by
window (the median of the ratios): at the first checkpoint it is the
method's own noise (both servers are at the same point), at the later ones
what the run's length added. The summary also gives each server's CPU per
session and sessions/s as measured, and what --report costs against the
same server without it, window pair by window pair.

Peak memory (VmHWM) of the long-running servers is read at each checkpoint.
At the end the report server is stopped with SIGTERM, the time until it has
written the aggregate document is measured, and the script fails unless the
document lists every session served.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 3600  # no load of this script takes near this long


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


class Server:
    def __init__(self, name: str, mode: str, proc: subprocess.Popen, port: int):
        self.name, self.mode, self.proc, self.port = name, mode, proc, port
        self.served = 0


def load(build: Path, server: Server, sessions: int, concurrency: int, work: Path) -> dict:
    out = work / f"load-{server.name}.json"
    done = subprocess.run([str(build / "bin" / "starttls-load"), "--port", str(server.port),
                           "--mode", server.mode, "--sessions", str(sessions),
                           "--concurrency", str(concurrency), "--server-pid",
                           str(server.proc.pid), "--json", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=DEADLINE_S)
    if done.returncode != 0:
        raise SystemExit(f"report_scale: starttls-load against {server.name} failed: "
                         f"{done.stderr}")
    result = json.loads(out.read_text())
    if result["sessions_failed"]:
        raise SystemExit(f"report_scale: {result['sessions_failed']} sessions failed "
                         f"against {server.name}")
    server.served += result["sessions_ok"]
    return {"cpu_us": result["server"]["cpu_us_per_session"],
            "rate": result["sessions_per_s"]}


def start_mock(build: Path, name: str, work: Path, report: Path | None) -> Server:
    argv = [str(build / "bin" / "starttls-mock"), "serve",
            str(ROOT / "bench" / "scenarios" / "serve.smtp"), "--run-dir", str(work / name)]
    if report:
        argv += ["--report", str(report)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    return Server(name, "starttls", proc, read_ready(proc))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoints", default="1000,10000,100000")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    build = Path(args.build)
    checkpoints = [int(n) for n in args.checkpoints.split(",")]
    measured = args.window * args.repeats
    gaps = [b - a for a, b in zip([args.warmup] + checkpoints, checkpoints)]
    if min(gaps) < measured:
        raise SystemExit(f"report_scale: checkpoints must rise from warmup by at least "
                         f"window x repeats = {measured} each time")
    rows = []
    with tempfile.TemporaryDirectory(prefix="report-scale-") as tmp:
        work = Path(tmp)
        report_file = work / "report.json"
        report = start_mock(build, "report", work, report_file)
        plain = start_mock(build, "plain", work, None)
        servers = [report, plain]
        try:
            for mock in servers:
                if args.warmup:
                    load(build, mock, args.warmup, args.concurrency, work)
            young_start = None  # sessions "report" had when the first windows began
            for n, c in enumerate(checkpoints):
                for mock in servers:
                    if c - measured > mock.served:
                        load(build, mock, c - measured - mock.served, args.concurrency, work)
                if young_start is None:
                    young_start = report.served
                young = start_mock(build, f"young{n}", work, work / f"young{n}.json")
                try:
                    if young_start:
                        load(build, young, young_start, args.concurrency, work)
                    windows = {s: [] for s in ("report", "plain", "young")}
                    for _ in range(args.repeats):
                        for s in (report, plain, young):
                            windows["young" if s is young else s.name].append(
                                load(build, s, args.window, args.concurrency, work))
                finally:
                    young.proc.kill()
                    young.proc.wait()
                row = {"checkpoint": c, "windows": windows,
                       "peak_rss_kb": {m.name: peak_kb(m.proc.pid) for m in servers}}
                for m in windows:
                    row[m] = {"cpu_us": statistics.median(w["cpu_us"] for w in windows[m]),
                              "rate": statistics.median(w["rate"] for w in windows[m])}
                pairs = list(zip(windows["report"], windows["young"]))
                row["report_vs_young"] = {
                    "cpu": statistics.median(a["cpu_us"] / b["cpu_us"] for a, b in pairs),
                    "rate": statistics.median(a["rate"] / b["rate"] for a, b in pairs)}
                row["report_vs_plain"] = statistics.median(
                    a["cpu_us"] / b["cpu_us"] for a, b in zip(windows["report"], windows["plain"]))
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "windows"}),
                      file=sys.stderr)
            started = time.monotonic()
            report.proc.send_signal(signal.SIGTERM)
            _, err = report.proc.communicate(timeout=600)
            stop_s = time.monotonic() - started
            if report.proc.returncode != 0:
                raise SystemExit(f"report_scale: starttls-mock exited "
                                 f"{report.proc.returncode}: {err!r}")
            listed = len(json.loads(report_file.read_text())["sessions"])
            if listed != report.served:
                raise SystemExit(f"report_scale: the report lists {listed} sessions "
                                 f"of {report.served}")
            report_mb = report_file.stat().st_size / 1e6
        finally:
            for s in servers:
                if s.proc.poll() is None:
                    s.proc.kill()
                    s.proc.wait()
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    print(f"young: a fresh --report server at each checkpoint, loaded with "
          f"{young_start:,} sessions before its windows (where report's first "
          f"windows began)\n")
    print("| sessions | server | CPU µs/session | sessions/s | peak RSS MB |")
    print("|---|---|---|---|---|")
    for r in rows:
        for m in ("report", "plain", "young"):
            rss = f"{r['peak_rss_kb'][m] / 1024:.1f}" if m in r["peak_rss_kb"] else ""
            print(f"| {r['checkpoint']:,} | {m} | {r[m]['cpu_us']:.0f} | {r[m]['rate']:.0f} "
                  f"| {rss} |")
    print()
    print("| sessions | report / young, CPU per session | report / young, sessions/s "
          "| report / plain, CPU per session |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['checkpoint']:,} | x{r['report_vs_young']['cpu']:.3f} "
              f"| x{r['report_vs_young']['rate']:.3f} | x{r['report_vs_plain']:.3f} |")
    print("\n(medians of the ratios of windows measured side by side)")
    print(f"aggregate report: {listed:,} sessions, {report_mb:.1f} MB, written in "
          f"{stop_s:.2f} s at stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
