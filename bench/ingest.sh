#!/usr/bin/env bash
# Ingest: whole articles (six language versions each) per second, durably
# committed (SQLite in WAL mode, synchronous=FULL), through `kabar import` of a
# JSON Lines file and through the write API (`PUT /api/v1/articles/{id}`).
#
#   bench/ingest.sh
#   IMPORT_ARTICLES=20000 API_ARTICLES=5000 CLIENTS="1 8 16" bench/ingest.sh
#
# Import: IMPORT_RUNS runs, each into a new store, of IMPORT_ARTICLES corpus
# articles (benches/support/corpus.rs), timed from exec to exit.
# API: for each client count in CLIENTS, a new server on 127.0.0.1 with an
# empty store and the write API on; the `ingest` example sends API_ARTICLES
# articles from that many keep-alive connections and reports articles/s and the
# latency of each PUT (every answer must be 200 or 201).
#
# Load goes to 127.0.0.1 only, runs are bounded in time, and every process
# started here is stopped on exit.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMPORT_ARTICLES=${IMPORT_ARTICLES:-10000}
IMPORT_RUNS=${IMPORT_RUNS:-3}
API_ARTICLES=${API_ARTICLES:-3000}
CLIENTS=${CLIENTS:-"1 8 16"}
PORT=${PORT:-18482}
TIMEOUT=${TIMEOUT:-300}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/kabar
CORPUS=$TARGET_DIR/release/examples/corpus
INGEST=$TARGET_DIR/release/examples/ingest
export KABAR_API_TOKEN=${KABAR_API_TOKEN:-ingest-benchmark-token-0123456789}

WORK=$(mktemp -d /tmp/kabar-ingest.XXXXXX)
SERVER_PID=""

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
cleanup() {
  stop_server
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "# $*" >&2; }

log "building (release)"
(cd "$ROOT" && cargo build --release --quiet --bin kabar --example corpus --example ingest)

# --- kabar import ----------------------------------------------------------------
"$CORPUS" jsonl "$IMPORT_ARTICLES" > "$WORK/articles.jsonl"
log "import: $IMPORT_ARTICLES articles, $(du -m "$WORK/articles.jsonl" | cut -f1) MB of JSON Lines"
IMPORT_RATES=()
for run in $(seq "$IMPORT_RUNS"); do
  store=$WORK/import-$run.sqlite
  start=$(date +%s.%N)
  timeout "$TIMEOUT" "$BIN" import "$WORK/articles.jsonl" --config "$ROOT/feeds.toml" --store "$store" >/dev/null
  end=$(date +%s.%N)
  rate=$(python3 -c "print(f'{$IMPORT_ARTICLES / ($end - $start):.0f}')")
  IMPORT_RATES+=("$rate")
  log "import run $run: $rate articles/s ($(python3 -c "print(f'{$end - $start:.2f}')") s)"
  rm -f "$store" "$store-wal" "$store-shm"
done

# --- write API -------------------------------------------------------------------
API_LINES=()
for clients in $CLIENTS; do
  store=$WORK/api-$clients.sqlite
  KABAR_LOG=warn "$BIN" serve --config "$ROOT/feeds.toml" --store "$store" \
    --listen "127.0.0.1:$PORT" >"$WORK/server-$clients.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do
    curl -fso /dev/null "http://127.0.0.1:$PORT/healthz" && break
    sleep 0.05
  done
  # The store was created with the demo seed: the corpus ids do not clash with it.
  result=$(timeout "$TIMEOUT" "$INGEST" --addr "127.0.0.1:$PORT" --first 0 \
    --count "$API_ARTICLES" --clients "$clients")
  log "API, $clients clients: $result"
  API_LINES+=("$clients $result")
  stop_server
done

# --- report ----------------------------------------------------------------------
echo
echo "Ingest of whole articles (6 versions each), durable commits (SQLite WAL, synchronous=FULL)"
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "kabar import, $IMPORT_ARTICLES articles: ${IMPORT_RATES[*]} articles/s (runs)"
echo
echo "| clients | articles | articles/s | p50 ms | p99 ms | max ms | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for line in "${API_LINES[@]}"; do
  python3 - "$line" <<'PY'
import sys
clients, _, *fields = sys.argv[1].split()
f = dict(kv.split("=") for kv in fields)
print(f"| {clients} | {f['articles']} | {float(f['rate']):.0f} | {f['p50_ms']} | {f['p99_ms']} | {f['max_ms']} | {f['errors']} |")
PY
done
