#!/usr/bin/env bash
# Fediverse reads: requests per second for an outbox page, a post (Note) and
# an actor, next to the cached /fr/rss.xml on the same server, for this build
# and a baseline build, alternated round by round.
#
#   BASELINE_BIN=/path/to/other/kabar bench/fedi-reads.sh
#   ROUNDS=5 DURATION=5 CONNECTIONS=32 BASELINE_BIN=… bench/fedi-reads.sh
#
# Each run serves the bundled feeds.toml and demo articles from a scratch
# folder on PORT (bench/lib.sh) with a fresh store, asks for each path once,
# then has wrk (one thread, on CPU 0) ask for one path at a time
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

NAME=fedi-reads.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
require cargo curl wrk taskset
[ -n "${KABAR_BIN:-}" ] || (cd "$ROOT" && cargo build --release --quiet --bin kabar)

printf '%-6s %-9s %-58s %s\n' round build path requests/s
for round in $(seq "$ROUNDS"); do
  for build in baseline this; do
    bin=$BIN
    [ "$build" = baseline ] && bin=$BASELINE_BIN
    serve "$bin"
    for path in "${PATHS[@]}"; do
      url="${BASE%/}$path"
      curl -sf -H 'Accept: application/activity+json' "$url" >/dev/null
      rps=$(taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" \
        -H 'Accept: application/activity+json' "$url" | awk '/Requests\/sec/ {print $2}')
      printf '%-6s %-9s %-58s %s\n' "$round" "$build" "$path" "$rps"
    done
    stop_server
  done
done
