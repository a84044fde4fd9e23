#!/usr/bin/env bash
# HTTP load: Kabar against nginx serving the same bytes as static files, side by
# side on this machine, for the three requests aggregators make all day.
#
#   bench/load.sh                      # 3 rounds × 10 s per scenario and server
#   ROUNDS=5 DURATION=10 bench/load.sh
#   CORES=one bench/load.sh            # one-core mode: 12 rounds × 2 s
#
# Steps: build the release binary and the corpus generator; import ARTICLES
# (10,000) corpus articles with `kabar import`; start Kabar on 127.0.0.1; fetch
# every resource it serves (6 languages × 3 formats × all sections, OPML, index,
# each in identity, gzip and brotli) so all of it is cached; write the feed under
# test, fetched from Kabar (identity and .gz, byte for byte what it serves), into
# a folder; start nginx (Debian's package) on another loopback port serving that
# folder with gzip_static, etag and the same response headers; then drive both
# with wrk at CONNECTIONS (64), alternating Kabar and nginx (A B A B …), for:
#   plain  GET /fr/rss.xml
#   gzip   GET /fr/rss.xml, Accept-Encoding: gzip
#   304    GET /fr/rss.xml, Accept-Encoding: gzip, If-None-Match: <that
#          server's own ETag of the gzip body>
#   close  the 304 request on a new connection each time (Connection: close),
#          as a poller that does not keep connections between polls
# and print requests/s, p99 latency, their ratios Kabar/nginx, and each server's
# CPU per request (utime + stime from /proc over the run, all processes of the
# server). Then Kabar's peak RSS (VmHWM) with everything cached and the bytes its
# page file holds (bodies sent with sendfile, outside the heap), and the time
# from exec to the first 200 on /fr/rss.xml with a 100,000-article store
# (STARTUP_RUNS runs; the store is generated once and kept in target/kabar-bench/).
#
# BASELINE_BIN=path/to/an/older/kabar adds that binary as a third server on
# the same store (A B C A B C …), for before/after figures from one run;
# BASELINE_CONFIG (default feeds.toml) is the configuration it runs with, for
# an older binary that does not know newer keys, or for this binary with a
# setting changed (sendfile = false).
#
# CORES=one measures a small instance as an operator deploys it: each server
# pinned to one CPU (SERVER_CPU, default 1; nginx with one worker), the load
# generator alone on another (LOAD_CPU, default 0) with one thread, 12
# alternating rounds of 2 s, plain/gzip/304; `oha` drives the bodies (plain,
# gzip; BODIES_WITH=wrk uses wrk -t1 instead) and `wrk -t1` the 304s. Needs
# taskset and oha (cargo install oha). Each round also reports how long each
# server waited for its core while another thread had it (schedstat).
#
# MEASURE=instructions runs every server under valgrind's callgrind instead
# (nginx as one worker without a master) and, for each scenario, counts the
# user-space instructions each spends on REQUESTS (4,000) requests from one
# client over four keep-alive connections: exact and repeatable, where the
# timed runs move by ±15 % on a shared machine; system calls and the kernel's
# work are not counted. Needs valgrind (apt-get install valgrind).
#
# Load goes to 127.0.0.1 only, every run is bounded by DURATION, and every
# process started here is stopped on exit. Needs: cargo, curl, python3, wrk,
# nginx (apt-get install wrk nginx-light).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORES=${CORES:-all}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
case $CORES in
  all) PIN_SERVER=(); PIN_LOAD=(); DEFAULT_ROUNDS=3; DEFAULT_DURATION=10; DEFAULT_THREADS=2
       DEFAULT_SCENARIOS="plain gzip 304 close"; NGINX_WORKERS=2 ;;
  one) PIN_SERVER=(taskset -c "$SERVER_CPU"); PIN_LOAD=(taskset -c "$LOAD_CPU")
       DEFAULT_ROUNDS=12; DEFAULT_DURATION=2; DEFAULT_THREADS=1
       DEFAULT_SCENARIOS="plain gzip 304"; NGINX_WORKERS=1 ;;
  *) echo "load.sh: CORES is all or one, not $CORES" >&2; exit 1 ;;
esac
ROUNDS=${ROUNDS:-$DEFAULT_ROUNDS}
DURATION=${DURATION:-$DEFAULT_DURATION}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-$DEFAULT_THREADS}
ARTICLES=${ARTICLES:-10000}
STARTUP_ARTICLES=${STARTUP_ARTICLES:-100000}
STARTUP_RUNS=${STARTUP_RUNS:-5}
KABAR_PORT=${KABAR_PORT:-18480}
NGINX_PORT=${NGINX_PORT:-18481}
BASELINE_PORT=${BASELINE_PORT:-18483}
BASELINE_BIN=${BASELINE_BIN:-}
BASELINE_CONFIG=${BASELINE_CONFIG:-$ROOT/feeds.toml}
FEED=${FEED:-/fr/rss.xml}
BODIES_WITH=${BODIES_WITH:-oha}
MEASURE=${MEASURE:-time}
REQUESTS=${REQUESTS:-4000}
SCENARIOS=${SCENARIOS:-$DEFAULT_SCENARIOS}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/kabar
CORPUS=$TARGET_DIR/release/examples/corpus
CLK_TCK=$(getconf CLK_TCK)

TOOLS="cargo curl python3 wrk nginx"
[ "$CORES" = one ] && TOOLS="$TOOLS taskset"
[ "$CORES" = one ] && [ "$BODIES_WITH" = oha ] && TOOLS="$TOOLS oha"
case $MEASURE in
  time) ;;
  instructions) TOOLS="$TOOLS valgrind callgrind_control"; STARTUP_RUNS=0 ;;
  *) echo "load.sh: MEASURE is time or instructions, not $MEASURE" >&2; exit 1 ;;
esac
for tool in $TOOLS; do
  command -v "$tool" >/dev/null || { echo "load.sh: $tool is missing (apt-get install wrk nginx-light valgrind)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/kabar-load.XXXXXX)
# nginx's workers run as an unprivileged user: they must read the folder.
chmod 755 "$WORK"
KABAR_PID=""
NGINX_PID=""
BASELINE_PID=""

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
  stop "$NGINX_PID"
  stop "$BASELINE_PID"
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "# $*" >&2; }

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for port in "$KABAR_PORT" "$NGINX_PORT" "$BASELINE_PORT"; do
  port_free "$port" || { echo "load.sh: port $port is taken; set KABAR_PORT/NGINX_PORT" >&2; exit 1; }
done

# --- build -------------------------------------------------------------------
log "building (release)"
(cd "$ROOT" && cargo build --release --quiet --bin kabar --example corpus)

# --- store -------------------------------------------------------------------
log "generating $ARTICLES articles and importing them"
"$CORPUS" jsonl "$ARTICLES" > "$WORK/articles.jsonl"
import_start=$(date +%s.%N)
"$BIN" import "$WORK/articles.jsonl" --config "$ROOT/feeds.toml" --store "$WORK/kabar.sqlite" >/dev/null
import_end=$(date +%s.%N)
IMPORT_RATE=$(python3 -c "print(f'{$ARTICLES / ($import_end - $import_start):.0f}')")
log "imported $ARTICLES articles at $IMPORT_RATE articles/s"

# --- Kabar -------------------------------------------------------------------
# Under callgrind a server starts and renders some fifty times slower.
WAIT_TRIES=300
WRAP=()
if [ "$MEASURE" = instructions ]; then
  WAIT_TRIES=3000
  wrap() { WRAP=(valgrind --tool=callgrind "--callgrind-out-file=$WORK/callgrind.$1.%p"); }
else
  wrap() { :; }
fi

wait_for() {
  local url=$1
  for _ in $(seq "$WAIT_TRIES"); do
    curl -fso /dev/null "$url" && return 0
    sleep 0.05
  done
  echo "load.sh: $url did not answer" >&2
  return 1
}

KABAR_LOG_FILE=$WORK/kabar.log
wrap kabar
KABAR_LOG=warn ${PIN_SERVER[@]+"${PIN_SERVER[@]}"} ${WRAP[@]+"${WRAP[@]}"} "$BIN" serve --config "$ROOT/feeds.toml" --store "$WORK/kabar.sqlite" \
  --listen "127.0.0.1:$KABAR_PORT" >"$KABAR_LOG_FILE" 2>&1 &
KABAR_PID=$!
KABAR=http://127.0.0.1:$KABAR_PORT
wait_for "$KABAR/healthz"

LANGS="id en zh ja ar fr"
SECTIONS="national world business technology sports"
FILES="rss.xml atom.xml feed.json"
log "fetching every resource in identity, gzip and brotli"
resources=(/ /feeds.opml)
for lang in $LANGS; do
  for file in $FILES; do
    resources+=("/$lang/$file")
    for section in $SECTIONS; do resources+=("/$lang/$section/$file"); done
  done
done
for path in "${resources[@]}"; do
  for coding in identity gzip br; do
    code=$(curl -so /dev/null -w '%{http_code}' -H "Accept-Encoding: $coding" "$KABAR$path")
    [ "$code" = 200 ] || { echo "load.sh: $path ($coding) answered $code" >&2; exit 1; }
  done
done
log "${#resources[@]} resources cached"

SERVERS="kabar nginx"
BASELINE=http://127.0.0.1:$BASELINE_PORT
if [ -n "$BASELINE_BIN" ]; then
  wrap baseline
  KABAR_LOG=warn ${PIN_SERVER[@]+"${PIN_SERVER[@]}"} ${WRAP[@]+"${WRAP[@]}"} "$BASELINE_BIN" serve --config "$BASELINE_CONFIG" --store "$WORK/kabar.sqlite" \
    --listen "127.0.0.1:$BASELINE_PORT" >"$WORK/baseline.log" 2>&1 &
  BASELINE_PID=$!
  wait_for "$BASELINE/healthz"
  curl -fso /dev/null -H 'Accept-Encoding: gzip' "$BASELINE$FEED"
  SERVERS="kabar nginx baseline"
fi

# --- nginx, serving Kabar's own bytes ----------------------------------------
WWW=$WORK/www
mkdir -p "$WWW$(dirname "$FEED")" "$WORK/nginx-temp"
curl -fs "$KABAR$FEED" -o "$WWW$FEED"
curl -fs -H 'Accept-Encoding: gzip' "$KABAR$FEED" -o "$WWW$FEED.gz"
curl -fs -D "$WORK/kabar-headers" -o /dev/null -H 'Accept-Encoding: gzip' "$KABAR$FEED"
header() { grep -i "^$1:" "$WORK/kabar-headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
CONTENT_TYPE=$(header content-type)
CACHE_CONTROL=$(header cache-control)
LINK=$(header link)
MEDIA_TYPE=${CONTENT_TYPE%%;*}

WORKERS="worker_processes $NGINX_WORKERS;"
[ "$MEASURE" = instructions ] && WORKERS="worker_processes 1; master_process off;"
cat > "$WORK/nginx.conf" <<NGINX
# One worker per core, as Kabar's runtime has; no access log; sendfile and
# the open-file cache, as a static file server is set up in production.
$WORKERS
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 10000000;
  open_file_cache max=1000 inactive=60s;
  client_body_temp_path $WORK/nginx-temp/body;
  proxy_temp_path $WORK/nginx-temp/proxy;
  fastcgi_temp_path $WORK/nginx-temp/fastcgi;
  uwsgi_temp_path $WORK/nginx-temp/uwsgi;
  scgi_temp_path $WORK/nginx-temp/scgi;
  types { $MEDIA_TYPE xml; }
  charset utf-8;
  charset_types $MEDIA_TYPE;
  etag on;
  gzip off;
  gzip_static on;
  gzip_vary on;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WWW;
    location / {
      add_header Cache-Control "$CACHE_CONTROL";
      add_header Link '$LINK';
      add_header Access-Control-Allow-Origin "*";
      add_header Access-Control-Expose-Headers "ETag, Last-Modified, Link";
      add_header X-Content-Type-Options nosniff;
    }
  }
}
NGINX
nginx -t -c "$WORK/nginx.conf" -p "$WORK" 2>/dev/null || nginx -t -c "$WORK/nginx.conf" -p "$WORK"
wrap nginx
${PIN_SERVER[@]+"${PIN_SERVER[@]}"} ${WRAP[@]+"${WRAP[@]}"} nginx -c "$WORK/nginx.conf" -p "$WORK" &
NGINX_PID=$!
NGINX=http://127.0.0.1:$NGINX_PORT
wait_for "$NGINX$FEED"

# Both must send the same bytes, and answer the conditional request with 304.
same_body() {
  local args=("$@")
  curl -fs "${args[@]}" "$KABAR$FEED" -o "$WORK/a"
  curl -fs "${args[@]}" "$NGINX$FEED" -o "$WORK/b"
  cmp -s "$WORK/a" "$WORK/b" || { echo "load.sh: bodies differ for ${args[*]:-plain}" >&2; exit 1; }
}
same_body
same_body -H 'Accept-Encoding: gzip'
etag_of() { curl -fs -D - -o /dev/null -H 'Accept-Encoding: gzip' "$1$FEED" | grep -i '^etag:' | cut -d' ' -f2- | tr -d '\r'; }
KABAR_ETAG=$(etag_of "$KABAR")
NGINX_ETAG=$(etag_of "$NGINX")
if [ -n "$BASELINE_BIN" ]; then
  BASELINE_ETAG=$(etag_of "$BASELINE")
  curl -fs -H 'Accept-Encoding: gzip' "$BASELINE$FEED" -o "$WORK/c"
  cmp -s "$WORK/c" "$WWW$FEED.gz" || log "note: the baseline's gzip bytes differ from Kabar's"
fi
for side in KABAR NGINX ${BASELINE_BIN:+BASELINE}; do
  base=${!side}
  etag_var=${side}_ETAG
  code=$(curl -so /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' -H "If-None-Match: ${!etag_var}" "$base$FEED")
  [ "$code" = 304 ] || { echo "load.sh: $side answered $code to If-None-Match" >&2; exit 1; }
done
log "same bytes from both; identity $(stat -c %s "$WWW$FEED") B, gzip $(stat -c %s "$WWW$FEED.gz") B"
log "Kabar:"; sed 's/^/#   /' "$WORK/kabar-headers" | tr -d '\r' >&2
log "nginx:"; curl -fs -D - -o /dev/null -H 'Accept-Encoding: gzip' "$NGINX$FEED" | tr -d '\r' | sed 's/^/#   /' >&2

# --- load ----------------------------------------------------------------------
pids_of() {
  case $1 in
    kabar) echo "$KABAR_PID" ;;
    baseline) echo "$BASELINE_PID" ;;
    nginx) echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')" ;;
  esac
}
# "url etag": the feed under test on a server, and that server's ETag of its gzip body.
target_of() {
  case $1 in
    kabar) echo "$KABAR$FEED $KABAR_ETAG" ;;
    nginx) echo "$NGINX$FEED $NGINX_ETAG" ;;
    baseline) echo "$BASELINE$FEED $BASELINE_ETAG" ;;
  esac
}
# "user system" CPU ticks of every process of a server.
cpu_ticks() {
  local user=0 system=0 pid u s
  for pid in $(pids_of "$1"); do
    # utime and stime: fields 14 and 15, counted after the ")" that ends the name.
    read -r u s < <(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12, $13}')
    user=$((user + u)); system=$((system + s))
  done
  echo "$user $system"
}

# wrk output → "rps p99_ms requests errors"
parse_wrk() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
requests = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0)
print(f"{rps:.0f} {p99:.3f} {requests} {errors}")
PY
}

# oha --output-format json → "rps p99_ms requests errors bytes_per_response"
parse_oha() {
  python3 - "$1" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
summary = report["summary"]
codes = report.get("statusCodeDistribution", {})
good = sum(n for code, n in codes.items() if code.startswith(("2", "3")))
# oha cancels the requests in flight when its time is up: not the server's errors.
errors = {k: n for k, n in report.get("errorDistribution", {}).items() if k != "aborted due to deadline"}
bad = sum(codes.values()) - good + sum(errors.values())
p99 = report["latencyPercentiles"]["p99"] * 1e3
size = summary.get("sizePerRequest") or 0
print(f"{summary['requestsPerSec']:.0f} {p99:.3f} {sum(codes.values())} {bad} {size}")
PY
}

# The load generator for a scenario: oha for bodies in the one-core mode
# (BODIES_WITH=wrk to cross-check with wrk), wrk elsewhere.
generator_of() {
  if [ "$CORES" = one ] && [ "$1" != 304 ] && [ "$1" != close ]; then echo "$BODIES_WITH"; else echo wrk; fi
}

# "tid nanoseconds" for each thread of a server: the time it spent runnable but
# not running (the second field of its schedstat), i.e. while another thread
# had its core.
waits() {
  local pid stat run wait slices
  for pid in $(pids_of "$1"); do
    for stat in /proc/"$pid"/task/*/schedstat; do
      read -r run wait slices < "$stat" 2>/dev/null || continue
      stat=${stat%/schedstat}
      echo "${stat##*/} $wait"
    done
  done
}

# Milliseconds waited between two `waits` snapshots, over the threads in both
# (blocking threads come and go).
waited_ms() {
  awk 'NR == FNR { before[$1] = $2; next } $1 in before { ns += $2 - before[$1] }
       END { printf "%d\n", ns / 1e6 }' "$1" "$2"
}

RESULTS=$WORK/results
: > "$RESULTS"
run() { # scenario server round
  local scenario=$1 server=$2 round=$3 url headers=() etag
  read -r url etag < <(target_of "$server")
  case $scenario in
    # oha asks for gzip and br unless told otherwise; wrk asks for nothing.
    plain) headers=(-H 'Accept-Encoding: identity') ;;
    gzip) headers=(-H 'Accept-Encoding: gzip') ;;
    304) headers=(-H 'Accept-Encoding: gzip' -H "If-None-Match: $etag") ;;
    close) headers=(-H 'Accept-Encoding: gzip' -H "If-None-Match: $etag" -H 'Connection: close') ;;
  esac
  local user0 sys0 user1 sys1 out=$WORK/wrk-$scenario-$server-$round.txt
  read -r user0 sys0 < <(cpu_ticks "$server")
  waits "$server" > "$WORK/waits0"
  if [ "$(generator_of "$scenario")" = oha ]; then
    timeout $((DURATION + 30)) ${PIN_LOAD[@]+"${PIN_LOAD[@]}"} oha --no-tui --output-format json \
      -z "${DURATION}s" -c "$CONNECTIONS" ${headers[@]+"${headers[@]}"} "$url" > "$out"
    read -r user1 sys1 < <(cpu_ticks "$server")
    read -r rps p99 requests errors size < <(parse_oha "$out")
    local expected
    expected=$(stat -c %s "$WWW$FEED$([ "$scenario" = gzip ] && echo .gz)")
    [ "$size" = "$expected" ] || { echo "load.sh: $scenario on $server: $size B per response, not the $expected B under test" >&2; exit 1; }
  else
    timeout $((DURATION + 30)) ${PIN_LOAD[@]+"${PIN_LOAD[@]}"} wrk -t"$THREADS" -c"$CONNECTIONS" \
      -d"${DURATION}s" --latency ${headers[@]+"${headers[@]}"} "$url" > "$out"
    read -r user1 sys1 < <(cpu_ticks "$server")
    read -r rps p99 requests errors < <(parse_wrk "$out")
  fi
  waits "$server" > "$WORK/waits1"
  local cpu_us user_us waited
  waited=$(waited_ms "$WORK/waits0" "$WORK/waits1")
  per_request() { python3 -c "print(f'{$1 / $CLK_TCK / max($requests, 1) * 1e6:.2f}')"; }
  cpu_us=$(per_request "$((user1 + sys1 - user0 - sys0))")
  user_us=$(per_request "$((user1 - user0))")
  echo "$scenario $server $round $rps $p99 $cpu_us $errors $waited" >> "$RESULTS"
  log "$scenario round $round $server: $rps req/s, p99 $p99 ms, $cpu_us µs CPU/req ($user_us in user space), $errors errors, waited $waited ms for its core"
}

# --- instructions (MEASURE=instructions) ---------------------------------------
# REQUESTS requests of `scenario` to `url`, answered in full, from four
# keep-alive connections (or a new connection each, for close).
send_requests() { # scenario url etag
  python3 - "$1" "$2" "$3" "$REQUESTS" <<'PY'
import socket, sys, urllib.parse
scenario, url, etag, total = sys.argv[1], urllib.parse.urlsplit(sys.argv[2]), sys.argv[3], int(sys.argv[4])
head = f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
if scenario != "plain":
    head += "Accept-Encoding: gzip\r\n"
if scenario in ("304", "close"):
    head += f"If-None-Match: {etag}\r\n"
if scenario == "close":
    head += "Connection: close\r\n"
request = (head + "\r\n").encode()
expected = b"HTTP/1.1 304" if scenario in ("304", "close") else b"HTTP/1.1 200"

def connect():
    return socket.create_connection((url.hostname, url.port), timeout=600)

def answer(sock, pending):
    """Reads one response; returns the bytes after it."""
    while b"\r\n\r\n" not in pending:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("load.sh: the server closed a connection mid-response")
        pending += chunk
    head, rest = pending.split(b"\r\n\r\n", 1)
    if not head.startswith(expected):
        raise SystemExit(f"load.sh: {scenario}: got {head.splitlines()[0]!r}")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += sock.recv(65536)
    return rest[length:]

done = 0
if scenario == "close":
    while done < total:
        with connect() as sock:
            sock.sendall(request)
            answer(sock, b"")
        done += 1
else:
    socks = [connect() for _ in range(4)]
    pending = [b""] * len(socks)
    while done < total:
        for sock in socks:
            sock.sendall(request)
        for i, sock in enumerate(socks):
            pending[i] = answer(sock, pending[i])
        done += len(socks)
print(done)
PY
}

# User-space instructions (callgrind's Ir) per request of `scenario` to `server`.
instructions() { # scenario server
  local scenario=$1 server=$2 pid url etag sent dump
  pid=$(pids_of "$server" | cut -d' ' -f1)
  read -r url etag < <(target_of "$server")
  send_requests "$scenario" "$url" "$etag" >/dev/null # warm: connections, copies
  callgrind_control --zero "$pid" >/dev/null
  sent=$(send_requests "$scenario" "$url" "$etag")
  callgrind_control --dump "$pid" >/dev/null
  dump=$(ls -t "$WORK/callgrind.$server.$pid".* | head -1)
  awk -v n="$sent" '/^(summary|totals):/ { printf "%.0f\n", $2 / n; exit }' "$dump"
}

if [ "$MEASURE" = instructions ]; then
  echo
  echo "User-space instructions per request (callgrind Ir), $REQUESTS requests of $FEED each"
  echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  header="| scenario | Kabar | nginx | Kabar / nginx |"
  [ -n "$BASELINE_BIN" ] && header="$header baseline | Kabar / baseline |"
  echo "$header"
  echo "$header" | sed 's/[^|]\+/ --- /g'
  for scenario in $SCENARIOS; do
    k=$(instructions "$scenario" kabar)
    n=$(instructions "$scenario" nginx)
    row="| $scenario | $k | $n | $(python3 -c "print(f'{$k / $n:.2f}')") |"
    if [ -n "$BASELINE_BIN" ]; then
      b=$(instructions "$scenario" baseline)
      row="$row $b | $(python3 -c "print(f'{$k / $b:.2f}')") |"
    fi
    echo "$row"
  done
  exit 0
fi

for scenario in $SCENARIOS; do
  for round in $(seq "$ROUNDS"); do
    for server in $SERVERS; do run "$scenario" "$server" "$round"; done
  done
done

KABAR_STATUS=/proc/$KABAR_PID/status
HWM_KB=$(awk '/^VmHWM/ {print $2}' "$KABAR_STATUS")
RSS_KB=$(awk '/^VmRSS/ {print $2}' "$KABAR_STATUS")
# Bodies in the page file are memory too, outside the heap: in RSS (as
# RssShmem) only where the process read them through its mapping, as brotli
# does; the rest is added to the peak.
SHMEM_KB=$(awk '/^RssShmem/ {print $2}' "$KABAR_STATUS")
PAGE_KB=$(curl -fs "$KABAR/metrics" | awk '/^kabar_page_file_bytes / {print int($2 / 1024)}')
UNMAPPED_KB=$((PAGE_KB > SHMEM_KB ? PAGE_KB - SHMEM_KB : 0))
stop "$KABAR_PID"; KABAR_PID=""
stop "$NGINX_PID"; NGINX_PID=""
stop "$BASELINE_PID"; BASELINE_PID=""

# --- startup with a large store ------------------------------------------------
STORE_DIR=$TARGET_DIR/kabar-bench
STARTUP_STORE=$STORE_DIR/load-startup-$STARTUP_ARTICLES.sqlite
if [ "$STARTUP_RUNS" -gt 0 ]; then
  if [ ! -e "$STARTUP_STORE" ]; then
    log "generating the $STARTUP_ARTICLES-article store (once; kept as $STARTUP_STORE)"
    mkdir -p "$STORE_DIR"
    rm -f "$STARTUP_STORE.partial"*
    "$CORPUS" sqlite "$STARTUP_ARTICLES" "$STARTUP_STORE.partial"
    mv "$STARTUP_STORE.partial" "$STARTUP_STORE"
  fi
  log "startup: exec to first 200 on $FEED, $STARTUP_RUNS runs"
  STARTUP=$(python3 - "$BIN" "$ROOT/feeds.toml" "$STARTUP_STORE" "$KABAR_PORT" "$FEED" "$STARTUP_RUNS" <<'PY'
import socket, statistics, subprocess, sys, time
binary, config, store, port, feed, runs = sys.argv[1:7]
times = []
for _ in range(int(runs)):
    started = time.monotonic()
    proc = subprocess.Popen(
        [binary, "serve", "--config", config, "--store", store, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"KABAR_LOG": "warn"})
    try:
        while True:
            if time.monotonic() - started > 30:
                raise SystemExit("no 200 within 30 s")
            try:
                with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as s:
                    s.sendall(f"GET {feed} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                    status = s.recv(12)
                if status.startswith(b"HTTP/1.1 200"):
                    times.append((time.monotonic() - started) * 1e3)
                    break
            except OSError:
                pass
            time.sleep(0.001)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
print(f"{statistics.median(times):.0f} {min(times):.0f} {max(times):.0f}")
PY
)
fi

# --- report --------------------------------------------------------------------
echo
if [ "$CORES" = one ]; then
  echo "Kabar vs nginx, one core each (CPU $SERVER_CPU; load on CPU $LOAD_CPU): $FEED, $BODIES_WITH -c$CONNECTIONS (plain, gzip) and wrk -t1 -c$CONNECTIONS (304), ${DURATION}s × $ROUNDS rounds (A B A B)"
else
  echo "Kabar vs nginx: $FEED, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds (A B A B)"
fi
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
python3 - "$RESULTS" <<'PY'
import collections, statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
by = collections.defaultdict(dict)
for scenario, server, rnd, rps, p99, cpu, errors, waited in rows:
    by[(scenario, int(rnd))][server] = (float(rps), float(p99), float(cpu), int(errors), int(waited))
print()
# "waited": milliseconds the server was runnable while another thread had its
# core (schedstat), the usual cause of a round's slow tail.
print("| scenario | round | Kabar req/s | nginx req/s | ratio | Kabar p99 ms | nginx p99 ms | p99 ratio | Kabar CPU µs/req | nginx CPU µs/req | CPU ratio | errors | waited ms |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
summary = collections.defaultdict(lambda: collections.defaultdict(list))
for (scenario, rnd), servers in by.items():
    if "kabar" not in servers or "nginx" not in servers:
        continue
    k, n = servers["kabar"], servers["nginx"]
    ratio, p99r, cpur = k[0] / n[0], k[1] / n[1], k[2] / n[2]
    for name, value in (("ratio", ratio), ("p99", p99r), ("cpu", cpur), ("krps", k[0]), ("nrps", n[0])):
        summary[scenario][name].append(value)
    print(f"| {scenario} | {rnd} | {k[0]:.0f} | {n[0]:.0f} | {ratio:.2f} | {k[1]:.2f} | {n[1]:.2f} | {p99r:.2f} | {k[2]:.1f} | {n[2]:.1f} | {cpur:.2f} | {k[3]}/{n[3]} | {k[4]}/{n[4]} |")
print()
print("| scenario | req/s ratio, median (range) | p99 ratio, median (range) | CPU/req ratio, median (range) |")
print("| --- | --- | --- | --- |")
f = lambda xs: f"{statistics.median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})"
for scenario, s in summary.items():
    print(f"| {scenario} | {f(s['ratio'])} | {f(s['p99'])} | {f(s['cpu'])} |")
before = collections.defaultdict(lambda: collections.defaultdict(list))
for (scenario, rnd), servers in by.items():
    if "baseline" in servers and "kabar" in servers and "nginx" in servers:
        b, k, n = servers["baseline"], servers["kabar"], servers["nginx"]
        for name, value in (("rps", b[0] / n[0]), ("p99", b[1] / n[1]), ("cpu", b[2] / n[2]),
                            ("gain", k[0] / b[0]), ("cpu_gain", k[2] / b[2])):
            before[scenario][name].append(value)
if before:
    print()
    print("Baseline (BASELINE_BIN) in the same rounds:")
    print()
    print("| scenario | baseline/nginx req/s | baseline/nginx p99 | baseline/nginx CPU/req | Kabar/baseline req/s | Kabar/baseline CPU/req |")
    print("| --- | --- | --- | --- | --- | --- |")
    for scenario, s in before.items():
        print(f"| {scenario} | {f(s['rps'])} | {f(s['p99'])} | {f(s['cpu'])} | {f(s['gain'])} | {f(s['cpu_gain'])} |")
PY
echo
echo "Kabar peak RSS with every resource cached (identity, gzip, br), after the rounds: VmHWM $((HWM_KB / 1024)) MiB ($HWM_KB kB), VmRSS $((RSS_KB / 1024)) MiB"
echo "page file (bodies sent with sendfile): $((PAGE_KB / 1024)) MiB ($PAGE_KB kB), of which in RSS (RssShmem) $((SHMEM_KB / 1024)) MiB; peak with the rest of the page file: $(((HWM_KB + UNMAPPED_KB) / 1024)) MiB"
echo "kabar import of $ARTICLES articles: $IMPORT_RATE articles/s"
if [ -n "${STARTUP:-}" ]; then
  read -r median low high <<< "$STARTUP"
  echo "startup, exec to first 200 on $FEED with $STARTUP_ARTICLES articles: median $median ms (range $low–$high ms, $STARTUP_RUNS runs)"
fi
