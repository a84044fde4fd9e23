# The start-up the load scripts share: a scratch folder with the demo articles
# and the bundled feeds.toml serving on PORT, the server started on it with a
# fresh store, and, at exit, the server stopped and the folder removed (KEEP=1
# keeps it). Sourced by bench/*.sh once they have set NAME (for messages), ROOT
# and PORT.

log() { echo "# $*" >&2; }

# Fails unless every command named is on PATH.
require() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$NAME: $tool is missing" >&2; exit 1; }
  done
}

# Stops process $1: TERM, then KILL after 5 s.
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

WORK=$(mktemp -d "/tmp/kabar-$NAME.XXXXXX")
BASE=http://127.0.0.1:$PORT/
KABAR_PID=""
cleanup() {
  stop "$KABAR_PID"
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && { echo "$NAME: port $PORT is taken; set PORT" >&2; exit 1; }

# $WORK/feeds.toml: the bundled configuration on PORT with its store in WORK;
# the scripts then edit it for what they measure.
cp -r "$ROOT/demo" "$WORK/demo"
sed -e "s|^listen = .*|listen = \"127.0.0.1:$PORT\"|" \
    -e "s|^public_url = .*|public_url = \"$BASE\"|" \
    -e "s|^path = \"data/kabar.sqlite\"|path = \"kabar.sqlite\"|" \
    "$ROOT/feeds.toml" > "$WORK/feeds.toml"

# Starts `$1 serve` on $WORK/feeds.toml and a new store (its log in
# $WORK/kabar.log, its pid in KABAR_PID), and waits until it answers /healthz.
serve() {
  local bin=$1
  "$bin" check-config "$WORK/feeds.toml" >/dev/null
  rm -f "$WORK"/kabar.sqlite*
  KABAR_LOG=${KABAR_LOG:-warn} "$bin" serve --config "$WORK/feeds.toml" \
    --store "$WORK/kabar.sqlite" --listen "127.0.0.1:$PORT" >"$WORK/kabar.log" 2>&1 &
  KABAR_PID=$!
  for _ in $(seq 300); do
    curl -fso /dev/null "${BASE}healthz" && return 0
    kill -0 "$KABAR_PID" 2>/dev/null || { cat "$WORK/kabar.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "$NAME: $bin does not answer ${BASE}healthz; its log:" >&2
  cat "$WORK/kabar.log" >&2
  exit 1
}

# Stops the server `serve` started.
stop_server() {
  stop "$KABAR_PID"
  KABAR_PID=""
}

# One line on the machine the figures come from.
machine() {
  echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
}

# The last warnings and errors in the server's log, if any.
server_warnings() {
  if grep -qi 'error\|warn' "$WORK/kabar.log"; then
    log "server log (warnings):"
    grep -i 'error\|warn' "$WORK/kabar.log" | tail -5 >&2
  fi
}
