#!/usr/bin/env bash
# Server CPU per STARTTLS session of several starttls-mock binaries (two
# commits' builds, or wrapper scripts that exec one with other options or
# environment) beside openssl s_server's bare handshakes, measured in
# interleaved runs so that all of them share the machine's state:
#
#   bench/ab_mock.sh [--runs R] [--sessions N] [--scenario FILE --mode tls]
#                    [--with-bare] BINARY...
#
# Each BINARY runs `serve FILE --threads 1` (a wrapper must exec the binary,
# so that the pid the generator reads CPU from is the server's). FILE is
# bench/scenarios/serve.smtp (full STARTTLS sessions) unless given;
# bench/scenarios/bare-tls.smtp with --mode tls makes starttls-mock answer
# bare handshakes as s_server does. --with-bare adds the first BINARY serving
# that scenario as one more server in the same runs ("b1 bare"), so that a
# full session, the same binary's bare handshake and s_server's are compared
# in one run. Load: bench's starttls-load, 4 connections, TLS 1.3, X25519,
# 200 warm-up sessions per server, then R runs of N sessions each, server by
# server. Prints, per server, the median CPU µs per session, its medians in
# user and kernel time and the server's context switches per session, and the
# median over runs of its ratio to s_server and to the first BINARY.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
LOAD=$BUILD/bin/starttls-load
PY=/usr/bin/python3
RUNS=5
SESSIONS=2000
SCENARIO=$ROOT/bench/scenarios/serve.smtp
MODE=starttls
WITH_BARE=0
USAGE="usage: $0 [--runs R] [--sessions N] [--scenario FILE] [--mode starttls|tls] [--with-bare] BINARY..."
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --scenario) SCENARIO=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --with-bare) WITH_BARE=1; shift ;;
    -*) echo "$USAGE" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "$USAGE" >&2; exit 2; }
[ -x "$LOAD" ] || { echo "ab_mock.sh: $LOAD missing: build first" >&2; exit 1; }
OUT=$(mktemp -d /tmp/starttls-ab.XXXXXX)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

SERVERS=()
# start NAME BINARY SCENARIO MODE
start() {
  "$2" serve "$3" --threads 1 --run-dir "$OUT/run.$1" \
    >"$OUT/$1.ready" 2>"$OUT/$1.err" &
  PIDS+=($!)
  local pid=$! port
  port=$(wait_ready "$OUT/$1.ready")
  SERVERS+=("$1 $4 $port $pid")
}
i=0
for bin in "$@"; do
  i=$((i + 1))
  start "b$i" "$bin" "$SCENARIO" "$MODE"
done
[ "$WITH_BARE" = 0 ] || start bare "$1" "$ROOT/bench/scenarios/bare-tls.smtp" tls

start_s_server "$OUT/run.b1/pki/valid"
SERVERS+=("s_server tls $SSERVER_PORT $SSERVER_PID")

for s in "${SERVERS[@]}"; do
  read -r name mode port pid <<<"$s"
  "$LOAD" --port "$port" --mode "$mode" -c 4 -n 200 "${TLS[@]}" -q
done
for run in $(seq "$RUNS"); do
  for s in "${SERVERS[@]}"; do
    read -r name mode port pid <<<"$s"
    "$LOAD" --port "$port" --mode "$mode" -c 4 -n "$SESSIONS" --server-pid "$pid" \
      "${TLS[@]}" --json "$OUT/$name.$run.json" -q
  done
done

"$PY" - "$OUT" "$RUNS" "$WITH_BARE" "$@" <<'PYEOF'
import json, statistics, sys
out, runs, bare, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4:]
names = [f"b{i}" for i in range(1, len(bins) + 1)]
labels = dict(zip(names, bins))
if bare:
    names.append("bare")
    labels["bare"] = f"{bins[0]} (bare handshake, bare-tls.smtp)"
names.append("s_server")
labels["s_server"] = "openssl s_server (bare handshake)"
server = {n: [json.load(open(f"{out}/{n}.{r}.json"))["server"]
              for r in range(1, runs + 1)] for n in names}
cpu = {n: [s["cpu_us_per_session"] for s in server[n]] for n in names}
def ratio(a, b): return statistics.median(x / y for x, y in zip(cpu[a], cpu[b]))
def med(n, key): return statistics.median(s[key] for s in server[n])
print("| server | CPU µs/session (median) | user | kernel | switches/session "
      "| x s_server | x first | per run |")
print("|---|---|---|---|---|---|---|---|")
for n in names:
    switches = med(n, "voluntary_switches_per_session") + med(
        n, "involuntary_switches_per_session")
    print(f"| {labels[n]} | {statistics.median(cpu[n]):.0f} "
          f"| {med(n, 'user_us_per_session'):.0f} "
          f"| {med(n, 'system_us_per_session'):.0f} | {switches:.2f} "
          f"| {ratio(n, 's_server'):.3f} | {ratio(n, 'b1'):.3f} "
          f"| {' '.join(f'{c:.0f}' for c in cpu[n])} |")
PYEOF
