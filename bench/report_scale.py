#!/usr/bin/python3
"""Whether a long run costs the same per session as a short one: starttls-mock
serve with and without --report, measured as it passes 1,000, 10,000 and
100,000 sessions, each time beside openssl s_server in the same moments.

    bench/report_scale.py [--checkpoints 1000,10000,100000] [--window 200]
                          [--repeats 5] [--warmup 0] [--concurrency 4]
                          [--build build] [--out FILE]

Three servers run for the whole measurement: starttls-mock with --report
FILE ("report"), starttls-mock without it ("plain"), both playing
bench/scenarios/serve.smtp (the responder alone), and openssl s_server
answering bare TLS 1.3 handshakes with the same certificate ("s_server", the
reference: it keeps nothing from one handshake to the next, so its cost per
handshake cannot grow with a run's length). build/bin/starttls-load drives
them and reads each one's CPU time over its load (user and system, from the
server's clock_getcpuclockid clock, in nanoseconds).

Each mock server first serves `warmup` sessions that are not measured (they
count towards the checkpoints), and before each checkpoint is loaded up to
`repeats * window` sessions before it, then the last `repeats` windows before it are measured
interleaved: report, plain, s_server, report, plain, s_server, ... so the
three share the machine's state of those seconds. This VM's speed changes by
tens of percent within minutes, which is larger than the 10% to be shown; a
ratio taken window by window is not moved by it. The summary gives, from
the first checkpoint to the last, each mock server's CPU per session and
sessions/s as measured and relative to s_server's, s_server's own (which
shows how much the machine changed), and at each checkpoint what --report
costs against the same server without it, window pair by window pair.

Peak memory (VmHWM) of both mock servers is read at each checkpoint. At the
end the report server is stopped with SIGTERM, the time until it has written
the aggregate document is measured, and the script fails unless the
document lists every session served.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"report_scale: s_server exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port another program opens
    raise SystemExit("report_scale: s_server did not listen within 30 s")


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


def start_s_server(pki: Path, work: Path) -> Server:
    # s_server -cert takes the leaf only; the intermediate goes with
    # -cert_chain. No CA store: it would search it on every handshake.
    pems = (pki / "chain.pem").read_text().split("-----END CERTIFICATE-----")
    (work / "leaf.pem").write_text(pems[0] + "-----END CERTIFICATE-----\n")
    (work / "intermediate.pem").write_text(pems[1].lstrip() + "-----END CERTIFICATE-----\n")
    port = free_port()
    proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-quiet",
                             "-rev", "-cert", str(work / "leaf.pem"), "-key",
                             str(pki / "key.pem"), "-cert_chain", str(work / "intermediate.pem"),
                             "-tls1_3", "-groups", "X25519", "-no-CAfile", "-no-CApath",
                             "-no-CAstore"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=(work / "s_server.err").open("wb"))
    wait_listening(port, proc)
    return Server("s_server", "tls", proc, port)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoints", default="1000,10000,100000")
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
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
        reference = start_s_server(work / "report" / "pki" / "valid", work)
        servers = [report, plain, reference]
        try:
            load(build, reference, 200, args.concurrency, work)  # s_server's warm-up
            for mock in (report, plain):
                if args.warmup:
                    load(build, mock, args.warmup, args.concurrency, work)
            for c in checkpoints:
                for mock in (report, plain):
                    if c - measured > mock.served:
                        load(build, mock, c - measured - mock.served, args.concurrency, work)
                windows = {s.name: [] for s in servers}
                for _ in range(args.repeats):
                    for s in servers:
                        windows[s.name].append(load(build, s, args.window, args.concurrency,
                                                    work))
                row = {"checkpoint": c, "windows": windows,
                       "peak_rss_kb": {m.name: peak_kb(m.proc.pid) for m in (report, plain)}}
                for m in ("report", "plain"):
                    pairs = list(zip(windows[m], windows["s_server"]))
                    row[m] = {
                        "cpu_us": statistics.median(w["cpu_us"] for w in windows[m]),
                        "rate": statistics.median(w["rate"] for w in windows[m]),
                        "cpu_vs_s_server": statistics.median(a["cpu_us"] / b["cpu_us"]
                                                             for a, b in pairs),
                        "rate_vs_s_server": statistics.median(a["rate"] / b["rate"]
                                                              for a, b in pairs),
                    }
                row["s_server"] = {
                    "cpu_us": statistics.median(w["cpu_us"] for w in windows["s_server"]),
                    "rate": statistics.median(w["rate"] for w in windows["s_server"])}
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
    print(f"| sessions | --report | CPU µs/session | x s_server | sessions/s "
          f"| x s_server | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        for m, label in (("report", "yes"), ("plain", "no")):
            print(f"| {r['checkpoint']:,} | {label} | {r[m]['cpu_us']:.0f} "
                  f"| {r[m]['cpu_vs_s_server']:.2f} | {r[m]['rate']:.0f} "
                  f"| {r[m]['rate_vs_s_server']:.2f} | {r['peak_rss_kb'][m] / 1024:.1f} |")
        print(f"| {r['checkpoint']:,} | s_server | {r['s_server']['cpu_us']:.0f} | 1.00 "
              f"| {r['s_server']['rate']:.0f} | 1.00 | |")
    first, last = rows[0], rows[-1]
    span = f"{last['checkpoint']:,} against {first['checkpoint']:,} sessions"
    print()
    for m in ("report", "plain"):
        print(f"{m}: {span}: CPU per session x{last[m]['cpu_us'] / first[m]['cpu_us']:.2f}, "
              f"sessions/s x{last[m]['rate'] / first[m]['rate']:.2f}; relative to s_server "
              f"x{last[m]['cpu_vs_s_server'] / first[m]['cpu_vs_s_server']:.2f} and "
              f"x{last[m]['rate_vs_s_server'] / first[m]['rate_vs_s_server']:.2f}")
    print(f"s_server: {span} of the mock servers: CPU per handshake "
          f"x{last['s_server']['cpu_us'] / first['s_server']['cpu_us']:.2f}, handshakes/s "
          f"x{last['s_server']['rate'] / first['s_server']['rate']:.2f}")
    for r in rows:
        print(f"{r['checkpoint']:,} sessions: --report costs x{r['report_vs_plain']:.2f} "
              f"CPU per session (median of window pairs)")
    print(f"aggregate report: {listed:,} sessions, {report_mb:.1f} MB, written in "
          f"{stop_s:.2f} s at stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
