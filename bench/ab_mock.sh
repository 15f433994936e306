#!/usr/bin/env bash
# Server CPU per STARTTLS session of several starttls-mock binaries (two
# commits' builds, or wrapper scripts that exec one with other options or
# environment) beside openssl s_server's bare handshakes, measured in
# interleaved runs so that all of them share the machine's state:
#
#   bench/ab_mock.sh [--runs R] [--sessions N] [--scenario FILE --mode tls]
#                    BINARY...
#
# Each BINARY runs `serve FILE --threads 1` (a wrapper must exec the binary,
# so that the pid the generator reads CPU from is the server's). FILE is
# bench/scenarios/serve.smtp (full STARTTLS sessions) unless given;
# bench/scenarios/bare-tls.smtp with --mode tls makes starttls-mock answer
# bare handshakes as s_server does. Load: bench's starttls-load, 4 connections, TLS 1.3, X25519,
# 200 warm-up sessions per server, then R runs of N sessions each, server by
# server. Prints, per server, the median CPU µs per session, and the median
# over runs of its ratio to s_server and to the first BINARY.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
LOAD=$BUILD/bin/starttls-load
PY=/usr/bin/python3
RUNS=5
SESSIONS=2000
SCENARIO=$ROOT/bench/scenarios/serve.smtp
MODE=starttls
USAGE="usage: $0 [--runs R] [--sessions N] [--scenario FILE] [--mode starttls|tls] BINARY..."
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --scenario) SCENARIO=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
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
i=0
for bin in "$@"; do
  i=$((i + 1))
  "$bin" serve "$SCENARIO" --threads 1 --run-dir "$OUT/run$i" \
    >"$OUT/b$i.ready" 2>"$OUT/b$i.err" &
  PIDS+=($!)
  pid=$!
  port=$(wait_ready "$OUT/b$i.ready")
  SERVERS+=("b$i $MODE $port $pid")
done

start_s_server "$OUT/run1/pki/valid"
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

"$PY" - "$OUT" "$RUNS" "$@" <<'PYEOF'
import json, statistics, sys
out, runs, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
names = [f"b{i}" for i in range(1, len(bins) + 1)] + ["s_server"]
labels = dict(zip(names, bins + ["openssl s_server (bare handshake)"]))
cpu = {n: [json.load(open(f"{out}/{n}.{r}.json"))["server"]["cpu_us_per_session"]
           for r in range(1, runs + 1)] for n in names}
def ratio(a, b): return statistics.median(x / y for x, y in zip(cpu[a], cpu[b]))
print("| server | CPU µs/session (median) | x s_server | x first | per run |")
print("|---|---|---|---|---|")
for n in names:
    print(f"| {labels[n]} | {statistics.median(cpu[n]):.0f} | {ratio(n, 's_server'):.3f} "
          f"| {ratio(n, 'b1'):.3f} | {' '.join(f'{c:.0f}' for c in cpu[n])} |")
PYEOF
