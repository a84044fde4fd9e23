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

for tool in cargo curl; do
  command -v "$tool" >/dev/null || { echo "fedi-fanout.sh: $tool is missing" >&2; exit 1; }
done
# One listening socket per server, and connections to each.
ulimit -n "$(( (SERVERS * 4 + 1024) > 65536 ? 65536 : (SERVERS * 4 + 1024) ))" 2>/dev/null || true

WORK=$(mktemp -d /tmp/kabar-fedi-fanout.XXXXXX)
KABAR_PID=""
cleanup() {
  if [ -n "$KABAR_PID" ]; then
    kill -TERM "$KABAR_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$KABAR_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$KABAR_PID" 2>/dev/null || true
  fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "# $*" >&2; }

(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && { echo "fedi-fanout.sh: port $PORT is taken; set PORT" >&2; exit 1; }

if [ -z "${KABAR_BIN:-}" ]; then
  log "building (release)"
  (cd "$ROOT" && cargo build --release --quiet --bin kabar --example fedi_fanout)
fi

cp -r "$ROOT/demo" "$WORK/demo"
BASE=http://127.0.0.1:$PORT/
# The second allow_networks is [activitypub]'s.
awk -v base="$BASE" -v port="$PORT" '
  /^listen = / { print "listen = \"127.0.0.1:" port "\""; next }
  /^public_url = / { print "public_url = \"" base "\""; next }
  /^path = "data\/kabar.sqlite"/ { print "path = \"kabar.sqlite\""; next }
  /^\[activitypub\]/ { ap = 1 }
  /^\[feeds\]/ { ap = 0 }
  ap && /^allow_networks = / { print "allow_networks = [\"127.0.0.0/8\"]"; next }
  { print }' "$ROOT/feeds.toml" > "$WORK/feeds.toml"
"$BIN" check-config "$WORK/feeds.toml" >/dev/null
ap_setting() { awk -v key="$1" '/^\[activitypub\]/ {a=1; next} /^\[/ {a=0} a && $1 == key {print $3}' "$WORK/feeds.toml"; }

KABAR_LOG=warn "$BIN" serve --config "$WORK/feeds.toml" --store "$WORK/kabar.sqlite" \
  --listen "127.0.0.1:$PORT" >"$WORK/kabar.log" 2>&1 &
KABAR_PID=$!
for _ in $(seq 300); do
  curl -fso /dev/null "${BASE}healthz" && break
  kill -0 "$KABAR_PID" 2>/dev/null || { cat "$WORK/kabar.log" >&2; exit 1; }
  sleep 0.05
done
curl -fso /dev/null "${BASE}healthz"
# The keys are made at start: wait for the actor to have one.
for _ in $(seq 300); do
  curl -fso /dev/null -H 'Accept: application/activity+json' "${BASE}ap/fr" && break
  sleep 0.05
done

echo "Fediverse fan-out: $FOLLOWERS followers of @fr on $SERVERS servers, $READERS readers"
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "[activitypub] max_connections $(ap_setting max_connections), max_connections_per_host $(ap_setting max_connections_per_host)"

timeout $((TIMEOUT * 3)) "$FANOUT" "$BASE" --store "$WORK/kabar.sqlite" \
  --followers "$FOLLOWERS" --servers "$SERVERS" --readers "$READERS" \
  --pid "$KABAR_PID" --timeout "$TIMEOUT"

if grep -qi 'error\|warn' "$WORK/kabar.log"; then
  log "server log (warnings):"
  grep -i 'error\|warn' "$WORK/kabar.log" | tail -5 >&2
fi
