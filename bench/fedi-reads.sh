#!/usr/bin/env bash
# Fediverse reads: requests per second for an outbox page, a post (Note) and
# an actor, next to the cached /fr/rss.xml on the same server, for this build
# and a baseline build, alternated round by round.
#
#   BASELINE_BIN=/path/to/other/kabar bench/fedi-reads.sh
#   ROUNDS=5 DURATION=5 CONNECTIONS=32 BASELINE_BIN=… bench/fedi-reads.sh
#
# Each run copies feeds.toml and the demo articles into a scratch folder with
# public_url on PORT, starts `kabar serve` on a fresh store, asks for each
# path once, then has wrk (one thread, on CPU 0) ask for one path at a time
# for DURATION seconds. The server and wrk share the machine's cores.
#
# 127.0.0.1 only; every process started here is stopped on exit.
# Needs: cargo, curl, wrk, taskset.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-16}
PORT=${PORT:-18493}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${KABAR_BIN:-$TARGET_DIR/release/kabar}
BASELINE_BIN=${BASELINE_BIN:?set BASELINE_BIN to the kabar binary to compare with}
PATHS=(
  "/ap/fr/outbox?page=1"
  "/ap/fr/notes/satelit-cuaca-buatan-indonesia-diluncurkan"
  "/ap/fr"
  "/fr/rss.xml"
)

for tool in cargo curl wrk taskset; do
  command -v "$tool" >/dev/null || { echo "fedi-reads.sh: $tool is missing" >&2; exit 1; }
done
[ -n "${KABAR_BIN:-}" ] || (cd "$ROOT" && cargo build --release --quiet)

work=$(mktemp -d)
server=
stop() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
  fi
}
trap 'stop; rm -rf "$work"' EXIT

base="http://127.0.0.1:${PORT}"
sed -e "s|127.0.0.1:8080|127.0.0.1:${PORT}|g" "$ROOT/feeds.toml" >"$work/feeds.toml"
cp -r "$ROOT/demo" "$work/demo"

serve() {
  rm -rf "$work/data"
  (cd "$work" && exec "$1" serve >"$work/server.log" 2>&1) &
  server=$!
  for _ in $(seq 100); do
    curl -sf "$base/healthz" >/dev/null && return
    sleep 0.1
  done
  echo "fedi-reads.sh: $1 did not start; see its log:" >&2
  cat "$work/server.log" >&2
  exit 1
}

printf '%-6s %-9s %-58s %s\n' round build path requests/s
for round in $(seq "$ROUNDS"); do
  for build in baseline this; do
    bin=$BIN
    [ "$build" = baseline ] && bin=$BASELINE_BIN
    serve "$bin"
    for path in "${PATHS[@]}"; do
      curl -sf -H 'Accept: application/activity+json' "$base$path" >/dev/null
      rps=$(taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" \
        -H 'Accept: application/activity+json' "$base$path" | awk '/Requests\/sec/ {print $2}')
      printf '%-6s %-9s %-58s %s\n' "$round" "$build" "$path" "$rps"
    done
    stop
  done
done
