#!/usr/bin/env bash
# Side-by-side benchmark, in one invocation and with one load generator
# (bench/starttls-load), TLS 1.3 with X25519 only, one ECDSA P-256 leaf and
# its intermediate for every server:
#
#   starttls-mock   bench/scenarios/serve.smtp (the responder alone), full
#                   STARTTLS sessions, --threads 1 and --threads 2
#   openssl s_server  implicit TLS, bare handshakes (the reference)
#   aiosmtpd        STARTTLS sessions (bench/aiosmtpd_server.py)
#
# The servers run side by side and the measured runs are interleaved (run 1
# of every server, then run 2, ...), so that a change in machine load hits
# all of them; ratios are taken within each run, then the median.
# Then: start-up time to READY, sessions/s from 1 to 2 server threads, and
# server memory per held session at 100, 1,000 and 10,000 open sessions.
#
#   bench/run.sh [--runs R] [--sessions N] [--concurrency C]
#                [--holds "100 1000 10000"] [--skip SECTION]...
#
# SECTION: compare, startup, threads, memory. Results (JSON per run and the
# tables) go to $OUT (default: a new directory under /tmp).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
LOAD=$BUILD/bin/starttls-load
MOCK=$BUILD/bin/starttls-mock
PY=/usr/bin/python3
SCENARIO=$ROOT/bench/scenarios/serve.smtp

RUNS=5
SESSIONS=2000
CONCURRENCY=4
HOLDS="100 1000 10000"
SKIP=" "
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --holds) HOLDS=$2; shift 2 ;;
    --skip) SKIP="$SKIP$2 "; shift 2 ;;
    *) echo "usage: $0 [--runs R] [--sessions N] [--concurrency C] [--holds LIST] [--skip SECTION]" >&2; exit 2 ;;
  esac
done
skipped() { [[ "$SKIP" == *" $1 "* ]]; }

for f in "$LOAD" "$MOCK"; do
  [ -x "$f" ] || { echo "run.sh: $f missing: build first" >&2; exit 1; }
done
OUT=${OUT:-$(mktemp -d /tmp/starttls-bench.XXXXXX)}
mkdir -p "$OUT"
# Every held session is a descriptor on both sides.
ulimit -n "$(ulimit -Hn)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# start_mock NAME THREADS [EXTRA...]: sets PORT and PID.
start_mock() {
  local name=$1 threads=$2
  shift 2
  rm -rf "$OUT/$name.run"
  "$MOCK" serve "$SCENARIO" --threads "$threads" --run-dir "$OUT/$name.run" "$@" \
    >"$OUT/$name.ready" 2>"$OUT/$name.err" &
  PID=$!
  PIDS+=("$PID")
  PORT=$(wait_ready "$OUT/$name.ready")
}

hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }

echo "# bench/run.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(openssl version | cut -d' ' -f1-2)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# results in $OUT"

# --- start-up: process start to READY, certificates included --------------
if ! skipped startup; then
  echo
  echo "## start-up to READY (median of $((RUNS * 2)) starts)"
  "$PY" - "$MOCK" "$SCENARIO" "$ROOT/scenarios" "$OUT" "$((RUNS * 2))" <<'PYEOF'
import statistics, subprocess, sys, tempfile, time
from pathlib import Path
mock, scenario, catalogue, out, runs = sys.argv[1:6]
every = sorted(str(p) for p in Path(catalogue).rglob("*.smtp"))
def start(scenarios):
    times = []
    for _ in range(int(runs)):
        d = tempfile.mkdtemp(dir=out)
        t = time.monotonic()
        p = subprocess.Popen([mock, "serve", *scenarios, "--run-dir", d + "/run"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = p.stdout.readline()
        times.append((time.monotonic() - t) * 1000)
        p.terminate(); p.wait()
        assert line.startswith(b"READY"), line
    return times
for label, scenarios in [("bench scenario (1 profile)", [scenario]),
                         (f"whole catalogue ({len(every)} scenarios)", every)]:
    t = start(scenarios)
    print(f"{label:40} median {statistics.median(t):6.1f} ms  "
          f"min {min(t):6.1f}  max {max(t):6.1f}")
PYEOF
fi

# --- side by side ----------------------------------------------------------
if ! skipped compare; then
  start_mock mock1 1
  MOCK1_PID=$PID MOCK1_PORT=$PORT
  start_mock mock2 2
  MOCK2_PID=$PID MOCK2_PORT=$PORT
  PKI=$OUT/mock1.run/pki/valid
  start_s_server "$PKI"
  "$PY" "$ROOT/bench/aiosmtpd_server.py" "$PKI/chain.pem" "$PKI/key.pem" \
    >"$OUT/aiosmtpd.ready" 2>"$OUT/aiosmtpd.err" &
  AIO_PID=$!
  PIDS+=("$AIO_PID")
  AIO_PORT=$(wait_ready "$OUT/aiosmtpd.ready")

  # name mode port pid
  SERVERS=("mock1 starttls $MOCK1_PORT $MOCK1_PID"
           "mock2 starttls $MOCK2_PORT $MOCK2_PID"
           "s_server tls $SSERVER_PORT $SSERVER_PID"
           "aiosmtpd starttls $AIO_PORT $AIO_PID")
  for s in "${SERVERS[@]}"; do  # warm-up
    read -r name mode port pid <<<"$s"
    "$LOAD" --port "$port" --mode "$mode" -c "$CONCURRENCY" -n 200 "${TLS[@]}" -q
  done
  for run in $(seq "$RUNS"); do
    for s in "${SERVERS[@]}"; do
      read -r name mode port pid <<<"$s"
      "$LOAD" --port "$port" --mode "$mode" -c "$CONCURRENCY" -n "$SESSIONS" \
        --server-pid "$pid" "${TLS[@]}" --json "$OUT/compare.$name.$run.json" -q
    done
  done
  for s in "${SERVERS[@]}"; do
    read -r name mode port pid <<<"$s"
    hwm_kb "$pid" >"$OUT/compare.$name.hwm"
  done
  echo
  echo "## side by side: $RUNS runs x $SESSIONS sessions, $CONCURRENCY connections, TLS 1.3 X25519, ECDSA P-256"
  "$PY" - "$OUT" "$RUNS" <<'PYEOF'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
names = {"mock1": "starttls-mock --threads 1 (STARTTLS session)",
         "mock2": "starttls-mock --threads 2 (STARTTLS session)",
         "s_server": "openssl s_server (bare TLS handshake)",
         "aiosmtpd": "aiosmtpd (STARTTLS session)"}
r = {n: [json.load(open(f"{out}/compare.{n}.{i}.json")) for i in range(1, runs + 1)]
     for n in names}
def cpu(j): return j["server"]["cpu_us_per_session"]
def rate(j): return j["sessions_per_s"]
def p99(j): return j["latency_us"]["p99"] / 1000
med = statistics.median
print(f"| server | sessions/s | server CPU us/session | p99 ms | peak RSS KiB | failed | CPU vs s_server | sessions/s vs s_server |")
print("|---|---|---|---|---|---|---|---|")
for n, label in names.items():
    hwm = open(f"{out}/compare.{n}.hwm").read().strip()
    failed = sum(j["sessions_failed"] for j in r[n])
    cr = med([cpu(a) / cpu(b) for a, b in zip(r[n], r["s_server"])])
    rr = med([rate(a) / rate(b) for a, b in zip(r[n], r["s_server"])])
    print(f"| {label} | {med(map(rate, r[n])):.0f} | {med(map(cpu, r[n])):.0f} | "
          f"{med(map(p99, r[n])):.1f} | {hwm} | {failed} | {cr:.2f}x | {rr:.2f}x |")
aio = med([cpu(b) / cpu(a) for a, b in zip(r["mock1"], r["aiosmtpd"])])
print(f"\naiosmtpd CPU per session / starttls-mock --threads 1 CPU per session: {aio:.2f}x (same-run median)")
print("per-run server CPU us/session:")
for n in names:
    print(f"  {n:9} " + " ".join(f"{cpu(j):5.0f}" for j in r[n]))
PYEOF
  for pid in "$MOCK1_PID" "$MOCK2_PID" "$SSERVER_PID" "$AIO_PID"; do
    kill "$pid" 2>/dev/null || true
  done
fi

# --- threads: sessions/s from 1 to 2 server threads --------------------------
if ! skipped threads; then
  echo
  echo "## server threads: sessions/s, generator with 2 threads and $((CONCURRENCY * 2)) connections"
  # Read below through ${!pid_var} and ${!port_var}.
  # shellcheck disable=SC2034
  {
    start_mock thr1 1
    T1_PID=$PID T1_PORT=$PORT
    start_mock thr2 2
    T2_PID=$PID T2_PORT=$PORT
  }
  for run in $(seq "$RUNS"); do
    for t in 1 2; do
      pid_var=T${t}_PID port_var=T${t}_PORT
      "$LOAD" --port "${!port_var}" -c "$((CONCURRENCY * 2))" --threads 2 -n "$SESSIONS" \
        --server-pid "${!pid_var}" "${TLS[@]}" --json "$OUT/threads.$t.$run.json" -q
    done
  done
  "$PY" - "$OUT" "$RUNS" <<'PYEOF'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
r = {t: [json.load(open(f"{out}/threads.{t}.{i}.json")) for i in range(1, runs + 1)] for t in (1, 2)}
med = statistics.median
print("| server threads | sessions/s | server CPU us/session | p99 ms |")
print("|---|---|---|---|")
for t in (1, 2):
    print(f"| {t} | {med(j['sessions_per_s'] for j in r[t]):.0f} | "
          f"{med(j['server']['cpu_us_per_session'] for j in r[t]):.0f} | "
          f"{med(j['latency_us']['p99'] for j in r[t]) / 1000:.1f} |")
g = med([b["sessions_per_s"] / a["sessions_per_s"] for a, b in zip(r[1], r[2])])
print(f"\n2 threads / 1 thread, sessions/s: {g:.2f}x (same-run median)")
PYEOF
  kill "$T1_PID" "$T2_PID" 2>/dev/null || true
fi

# --- memory per held session ---------------------------------------------------
if ! skipped memory; then
  echo
  echo "## held sessions (after the EHLO over TLS): server memory and new-session latency"
  echo "| held | server RSS KiB before | with held | KiB per held session | new sessions p50 ms | p99 ms | failed |"
  echo "|---|---|---|---|---|---|---|"
  for hold in 0 $HOLDS; do
    start_mock "hold$hold" 2
    "$LOAD" --port "$PORT" -c "$CONCURRENCY" -n 200 "${TLS[@]}" -q  # warm-up
    args=()
    [ "$hold" -gt 0 ] && args=(--hold "$hold" --hold-concurrency 64 --timeout 120)
    "$LOAD" --port "$PORT" -c "$CONCURRENCY" -n 1000 --server-pid "$PID" "${args[@]}" \
      "${TLS[@]}" --json "$OUT/hold.$hold.json" -q
    "$PY" - "$OUT/hold.$hold.json" "$hold" <<'PYEOF'
import json, sys
j, hold = json.load(open(sys.argv[1])), int(sys.argv[2])
h = j.get("hold", {})
lat = j["latency_us"]
print(f"| {h.get('held', 0)} | {h.get('server_rss_kb_before', '-')} | {h.get('server_rss_kb_held', '-')} | "
      f"{h.get('server_kb_per_session', 0):.1f} | {lat['p50'] / 1000:.1f} | {lat['p99'] / 1000:.1f} | "
      f"{j['sessions_failed'] + sum(v for k, v in j['errors'].items() if k.startswith('hold'))} |")
PYEOF
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  done
fi
echo
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
