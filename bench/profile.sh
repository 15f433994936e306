#!/usr/bin/env bash
# One starttls-mock server (--threads 1, bench/scenarios/serve.smtp) under a
# profiler while bench/starttls-load runs 20 warm-up sessions and then N
# full STARTTLS sessions (4 connections, TLS 1.3, X25519):
#
#   bench/profile.sh callgrind N   valgrind --tool=callgrind; per-session
#                                  figures: the difference of two runs
#                                  (N = 300 and N = 100) over 200
#   bench/profile.sh strace N      strace -f -c; divide by N + 20
#
# Prints the directory holding the profile (cg.out or strace.txt) and the
# run directory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MODE=${1:?usage: $0 callgrind|strace N}
N=${2:-300}
OUT=$(mktemp -d /tmp/starttls-profile.XXXXXX)
case $MODE in
  callgrind) PRE=(valgrind --tool=callgrind "--callgrind-out-file=$OUT/cg.out") ;;
  strace) PRE=(strace -f -c -o "$OUT/strace.txt") ;;
  *) echo "usage: $0 callgrind|strace N" >&2; exit 2 ;;
esac
"${PRE[@]}" "$BUILD/bin/starttls-mock" serve "$ROOT/bench/scenarios/serve.smtp" \
  --threads 1 --run-dir "$OUT/run" --sessions $((N + 20)) >"$OUT/ready" 2>"$OUT/err" &
PID=$!
for _ in $(seq 600); do grep -q '^READY' "$OUT/ready" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^READY port=\([0-9]*\).*/\1/p' "$OUT/ready")
TLS=(--tls-version 1.3 --groups X25519 --sni mail.example.test)
"$BUILD/bin/starttls-load" --port "$PORT" --mode starttls -c 4 -n 20 "${TLS[@]}" -q
"$BUILD/bin/starttls-load" --port "$PORT" --mode starttls -c 4 -n "$N" "${TLS[@]}" -q
wait "$PID" || true
echo "$OUT"
