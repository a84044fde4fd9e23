#!/usr/bin/env bash
# WebSub fan-out: one write that changes /fr/rss.xml with SUBSCRIBERS (10,000)
# verified subscribers on 127.0.0.1, and readers of the same feed meanwhile.
#
#   bench/fanout.sh
#   SUBSCRIBERS=2000 READERS=4 bench/fanout.sh
#   KABAR_BIN=/path/to/baseline/kabar bench/fanout.sh
#
# Steps: build the release binary and examples/fanout.rs; copy feeds.toml and
# the demo articles into a scratch folder, with public_url on PORT and a [hub]
# that lets callbacks on 127.0.0.0/8 in and holds SUBSCRIBERS subscriptions on
# one host (max_connections and max_connections_per_host stay as shipped);
# start `kabar serve` with KABAR_API_TOKEN; run the example, which subscribes
# the callbacks, waits until all are verified, PUTs a change to the French
# version of a demo article and prints the time from the PUT's answer (the
# commit) to the last subscriber's body, deliveries/s, bytes per delivery, the
# p99 of READERS clients GETting /fr/rss.xml with gzip during the fan-out, and
# the server's VmRSS/VmHWM before and after (peak reset before the write).
#
# 127.0.0.1 only; bounded by TIMEOUT per phase; every process started here is
# stopped on exit. Needs: cargo, curl.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUBSCRIBERS=${SUBSCRIBERS:-10000}
READERS=${READERS:-8}
PORT=${PORT:-18490}
TIMEOUT=${TIMEOUT:-120}
ARTICLE=${ARTICLE:-banjir-rob-pesisir-semarang}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# KABAR_BIN runs another build of the server (a baseline) and skips building.
BIN=${KABAR_BIN:-$TARGET_DIR/release/kabar}
FANOUT=${FANOUT_BIN:-$TARGET_DIR/release/examples/fanout}
export KABAR_API_TOKEN=${KABAR_API_TOKEN:-fanout-benchmark-token-0123456789}

NAME=fanout.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
require cargo curl

if [ -z "${KABAR_BIN:-}" ]; then
  log "building (release)"
  (cd "$ROOT" && cargo build --release --quiet --bin kabar --example fanout)
fi

# --- scratch configuration -----------------------------------------------------
PENDING=$((SUBSCRIBERS < 1024 ? SUBSCRIBERS : 1024))
sed -i -e "s|^max_subscriptions = .*|max_subscriptions = $SUBSCRIBERS|" \
    -e "s|^max_per_host = .*|max_per_host = $SUBSCRIBERS|" \
    -e "s|^allow_networks = .*|allow_networks = [\"127.0.0.0/8\"]|" \
    -e "s|^max_pending_verifications = .*|max_pending_verifications = $PENDING|" \
    "$WORK/feeds.toml"
hub_setting() { awk -v key="$1" '/^\[hub\]/ {h=1; next} /^\[/ {h=0} h && $1 == key {print $3}' "$WORK/feeds.toml"; }

serve "$BIN"
IDENTITY=$(curl -fs "${BASE}fr/rss.xml" | wc -c)
GZIP=$(curl -fs -H 'Accept-Encoding: gzip' "${BASE}fr/rss.xml" | wc -c)
status_kb() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$KABAR_PID/status"; }
RSS_START=$(status_kb VmRSS)

echo "WebSub fan-out: $SUBSCRIBERS subscribers of ${BASE}fr/rss.xml ($IDENTITY B, $GZIP B gzip), $READERS readers"
machine
echo "[hub] max_connections $(hub_setting max_connections), max_connections_per_host $(hub_setting max_connections_per_host), max_pending_verifications $(hub_setting max_pending_verifications), max_per_host $(hub_setting max_per_host)"
echo "server VmRSS at start: $((RSS_START / 1024)) MiB"

timeout $((TIMEOUT * 3)) "$FANOUT" "$BASE" --subscribers "$SUBSCRIBERS" --article "$ARTICLE" \
  --readers "$READERS" --pid "$KABAR_PID" --timeout "$TIMEOUT"

echo "server after: VmRSS $(($(status_kb VmRSS) / 1024)) MiB, VmHWM $(($(status_kb VmHWM) / 1024)) MiB"
server_warnings
