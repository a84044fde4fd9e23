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

for tool in cargo curl; do
  command -v "$tool" >/dev/null || { echo "fanout.sh: $tool is missing" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/kabar-fanout.XXXXXX)
KABAR_PID=""

stop() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  stop "$KABAR_PID"
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "# $*" >&2; }

(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && { echo "fanout.sh: port $PORT is taken; set PORT" >&2; exit 1; }

if [ -z "${KABAR_BIN:-}" ]; then
  log "building (release)"
  (cd "$ROOT" && cargo build --release --quiet --bin kabar --example fanout)
fi

# --- scratch configuration -----------------------------------------------------
cp -r "$ROOT/demo" "$WORK/demo"
BASE=http://127.0.0.1:$PORT/
PENDING=$((SUBSCRIBERS < 1024 ? SUBSCRIBERS : 1024))
sed -e "s|^listen = .*|listen = \"127.0.0.1:$PORT\"|" \
    -e "s|^public_url = .*|public_url = \"$BASE\"|" \
    -e "s|^path = \"data/kabar.sqlite\"|path = \"kabar.sqlite\"|" \
    -e "s|^max_subscriptions = .*|max_subscriptions = $SUBSCRIBERS|" \
    -e "s|^max_per_host = .*|max_per_host = $SUBSCRIBERS|" \
    -e "s|^allow_networks = .*|allow_networks = [\"127.0.0.0/8\"]|" \
    -e "s|^max_pending_verifications = .*|max_pending_verifications = $PENDING|" \
    "$ROOT/feeds.toml" > "$WORK/feeds.toml"
"$BIN" check-config "$WORK/feeds.toml" >/dev/null
hub_setting() { awk -v key="$1" '/^\[hub\]/ {h=1; next} /^\[/ {h=0} h && $1 == key {print $3}' "$WORK/feeds.toml"; }

KABAR_LOG=warn "$BIN" serve --config "$WORK/feeds.toml" --store "$WORK/kabar.sqlite" \
  --listen "127.0.0.1:$PORT" >"$WORK/kabar.log" 2>&1 &
KABAR_PID=$!
for _ in $(seq 300); do
  curl -fso /dev/null "${BASE}healthz" && break
  kill -0 "$KABAR_PID" 2>/dev/null || { cat "$WORK/kabar.log" >&2; exit 1; }
  sleep 0.05
done
curl -fso /dev/null "${BASE}healthz"
IDENTITY=$(curl -fs "${BASE}fr/rss.xml" | wc -c)
GZIP=$(curl -fs -H 'Accept-Encoding: gzip' "${BASE}fr/rss.xml" | wc -c)
status_kb() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$KABAR_PID/status"; }
RSS_START=$(status_kb VmRSS)

echo "WebSub fan-out: $SUBSCRIBERS subscribers of ${BASE}fr/rss.xml ($IDENTITY B, $GZIP B gzip), $READERS readers"
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "[hub] max_connections $(hub_setting max_connections), max_connections_per_host $(hub_setting max_connections_per_host), max_pending_verifications $(hub_setting max_pending_verifications), max_per_host $(hub_setting max_per_host)"
echo "server VmRSS at start: $((RSS_START / 1024)) MiB"

timeout $((TIMEOUT * 3)) "$FANOUT" "$BASE" --subscribers "$SUBSCRIBERS" --article "$ARTICLE" \
  --readers "$READERS" --pid "$KABAR_PID" --timeout "$TIMEOUT"

echo "server after: VmRSS $(($(status_kb VmRSS) / 1024)) MiB, VmHWM $(($(status_kb VmHWM) / 1024)) MiB"
if grep -qi 'error\|warn' "$WORK/kabar.log"; then
  log "server log (warnings):"
  grep -i 'error\|warn' "$WORK/kabar.log" | tail -5 >&2
fi
