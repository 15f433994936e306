# shellcheck shell=bash
# Shared by bench/run.sh and bench/ab_mock.sh (sourced; needs OUT and PY):
# the generator's TLS options, the servers started in the background and
# stopped on exit, readiness without sleeping longer than needed, and
# openssl s_server as the reference.

# What every server is loaded with: TLS 1.3 with X25519 only.
# shellcheck disable=SC2034  # used by the scripts that source this one
TLS=(--tls-version 1.3 --groups X25519 --sni mail.example.test)

# Every server started goes in PIDS; all of them are stopped on exit.
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# wait_ready FILE: waits (10 s at most) for a READY line in FILE and prints
# its port.
wait_ready() {
  for _ in $(seq 200); do
    if grep -q '^READY' "$1" 2>/dev/null; then
      sed -n 's/^READY port=\([0-9]*\).*/\1/p' "$1"
      return
    fi
    sleep 0.05
  done
  echo "$(basename "$0"): no READY in $1" >&2
  cat "$1" "${1%.ready}.err" >&2 || true
  exit 1
}

# wait_listen PORT PID: waits (10 s at most) until something listens on
# 127.0.0.1:PORT (/proc/net/tcp, state 0A; reading it opens no connection)
# while PID lives.
wait_listen() {
  local want
  want=$(printf '0100007F:%04X' "$1")
  for _ in $(seq 200); do
    if awk -v w="$want" '$2 == w && $4 == "0A" {found=1} END {exit !found}' /proc/net/tcp; then
      return
    fi
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "$(basename "$0"): nothing listens on port $1" >&2
  exit 1
}

# start_s_server PKI: openssl s_server answering bare TLS 1.3 handshakes with
# the leaf, intermediate and key of PKI (a run's pki/<profile> directory);
# sets SSERVER_PORT and SSERVER_PID.
start_s_server() {
  local pki=$1
  # s_server -cert takes the leaf only; the intermediate goes with -cert_chain.
  awk '/BEGIN/{n++} n==1' "$pki/chain.pem" >"$OUT/leaf.pem"
  awk '/BEGIN/{n++} n>=2' "$pki/chain.pem" >"$OUT/intermediate.pem"
  SSERVER_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # No CA file, path or store: s_server would otherwise search them on every
  # handshake, which is work the reference need not do. -rev keeps it off
  # stdin (it answers lines reversed; the generator sends none).
  openssl s_server -accept "127.0.0.1:$SSERVER_PORT" -quiet -rev \
    -cert "$OUT/leaf.pem" -key "$pki/key.pem" -cert_chain "$OUT/intermediate.pem" \
    -tls1_3 -groups X25519 -no-CAfile -no-CApath -no-CAstore \
    </dev/null >"$OUT/s_server.out" 2>"$OUT/s_server.err" &
  SSERVER_PID=$!
  PIDS+=("$SSERVER_PID")
  wait_listen "$SSERVER_PORT" "$SSERVER_PID"
}
