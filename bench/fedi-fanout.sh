#!/usr/bin/env bash
# Fediverse fan-out: one new French article with FOLLOWERS (10,000) followers
# of @fr spread over SERVERS (1,000) fediverse servers on 127.0.0.0/8, and
# readers of /fr/rss.xml meanwhile.
#
#   bench/fedi-fanout.sh
#   FOLLOWERS=2000 SERVERS=200 READERS=4 bench/fedi-fanout.sh
#   KABAR_BIN=/path/to/baseline/kabar bench/fedi-fanout.sh
#
# Steps: build the release binary and examples/fedi_fanout.rs; copy feeds.toml
# and the demo articles into a scratch folder, with public_url on PORT and an
# [activitypub] that lets calls to 127.0.0.0/8 out (max_connections and
# max_connections_per_host stay as shipped); start `kabar serve` with
# KABAR_API_TOKEN; run the example, which starts one inbox server per
# follower server (each on its own loopback address, so Kabar sees that many
# hosts), stores the followers, PUTs a new French article and prints the time
# from the PUT's answer (the commit) to the last server's 2xx for its Create,
# signed deliveries/s, how many sampled signatures verified, the readers' p99
# and the server's memory before and after.
#
# 127.0.0.0/8 only; bounded by TIMEOUT; every process started here is stopped
# on exit. Needs: cargo, curl.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FOLLOWERS=${FOLLOWERS:-10000}
SERVERS=${SERVERS:-1000}
READERS=${READERS:-8}
PORT=${PORT:-18491}
TIMEOUT=${TIMEOUT:-120}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${KABAR_BIN:-$TARGET_DIR/release/kabar}
FANOUT=${FANOUT_BIN:-$TARGET_DIR/release/examples/fedi_fanout}
export KABAR_API_TOKEN=${KABAR_API_TOKEN:-fanout-benchmark-token-0123456789}

# One listening socket per server, and connections to each.
ulimit -n "$(( (SERVERS * 4 + 1024) > 65536 ? 65536 : (SERVERS * 4 + 1024) ))" 2>/dev/null || true

NAME=fedi-fanout.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
require cargo curl

if [ -z "${KABAR_BIN:-}" ]; then
  log "building (release)"
  (cd "$ROOT" && cargo build --release --quiet --bin kabar --example fedi_fanout)
fi

# Calls to 127.0.0.0/8 let out by [activitypub] alone ([hub] keeps its own).
awk '
  /^\[activitypub\]/ { ap = 1 }
  /^\[feeds\]/ { ap = 0 }
  ap && /^allow_networks = / { print "allow_networks = [\"127.0.0.0/8\"]"; next }
  { print }' "$WORK/feeds.toml" > "$WORK/feeds.toml.new"
mv "$WORK/feeds.toml.new" "$WORK/feeds.toml"
ap_setting() { awk -v key="$1" '/^\[activitypub\]/ {a=1; next} /^\[/ {a=0} a && $1 == key {print $3}' "$WORK/feeds.toml"; }

serve "$BIN"
# The keys are made at start: wait for the actor to have one.
for _ in $(seq 300); do
  curl -fso /dev/null -H 'Accept: application/activity+json' "${BASE}ap/fr" && break
  sleep 0.05
done

echo "Fediverse fan-out: $FOLLOWERS followers of @fr on $SERVERS servers, $READERS readers"
machine
echo "[activitypub] max_connections $(ap_setting max_connections), max_connections_per_host $(ap_setting max_connections_per_host)"

timeout $((TIMEOUT * 3)) "$FANOUT" "$BASE" --store "$WORK/kabar.sqlite" \
  --followers "$FOLLOWERS" --servers "$SERVERS" --readers "$READERS" \
  --pid "$KABAR_PID" --timeout "$TIMEOUT"

server_warnings
