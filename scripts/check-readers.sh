#!/usr/bin/env bash
# Reads a running Kabar's feeds with real subscribers' clients -- Python
# feedparser and newsboat -- and checks what they show: every item's link is
# the page in the feed's language (a translation never links to the Indonesian
# original, which only appears as rel="via" / dc:source), titles and summaries
# are clean (no "Partager:"/"Share:" labels, no English disclaimer, no HTML),
# feeds are well-formed (feedparser bozo=0) and in the right language.
#
# Usage: scripts/check-readers.sh [BASE_URL]     (default http://127.0.0.1:8080)
#
#   BASE_URL       where the running Kabar answers, e.g. http://127.0.0.1:18080
#   KABAR_CONFIG   the feeds.toml that server runs with (default: ../feeds.toml
#                  next to this script); languages, sections and page_url
#                  templates come from it
#   SECTIONS       section feeds to check besides the 12 main ones: "all"
#                  (default), "none", or a comma list such as "world,sports"
#   KEEP_TMP=1     keep the work folder (newsboat caches, feedparser's view)
#
# Needs (installs nothing): python3 >= 3.11 with feedparser (pip install
# feedparser), newsboat and sqlite3 (apt-get install newsboat sqlite3), curl.
# Talks only to BASE_URL. Exit: 0 all good, 1 a check failed (each offending
# feed/item printed as FAIL), 2 could not run.
set -euo pipefail

BASE="${1:-http://127.0.0.1:8080}"
BASE="${BASE%/}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFIG="${KABAR_CONFIG:-$HERE/../feeds.toml}"
SECTIONS="${SECTIONS:-all}"
export SECTIONS

missing=()
command -v python3 >/dev/null || missing+=("python3 (apt-get install python3)")
if command -v python3 >/dev/null; then
    python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || missing+=("python3 >= 3.11 (for tomllib)")
    python3 -c 'import feedparser' 2>/dev/null || missing+=("Python feedparser (pip install feedparser)")
fi
command -v newsboat >/dev/null || missing+=("newsboat (apt-get install newsboat)")
command -v sqlite3 >/dev/null || missing+=("sqlite3 (apt-get install sqlite3)")
command -v curl >/dev/null || missing+=("curl (apt-get install curl)")
if ((${#missing[@]})); then
    echo "check-readers: missing: ${missing[*]}" >&2
    exit 2
fi
if [[ ! -f "$CONFIG" ]]; then
    echo "check-readers: no config at $CONFIG (set KABAR_CONFIG)" >&2
    exit 2
fi
if ! curl -fsS -o /dev/null --max-time 10 "$BASE/healthz"; then
    echo "check-readers: no Kabar answering at $BASE/healthz" >&2
    exit 2
fi

WORK="$(mktemp -d /tmp/kabar-check-readers.XXXXXX)"
cleanup() { if [[ "${KEEP_TMP:-}" == 1 ]]; then echo "work folder kept: $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

status=0

echo "== Python feedparser ($BASE, config $CONFIG, sections: $SECTIONS)"
python3 "$HERE/check_readers.py" feedparser --base "$BASE" --config "$CONFIG" \
    --expect "$WORK/expect.json" || status=$?
if [[ $status -ge 2 || ! -s "$WORK/expect.json" ]]; then
    echo "check-readers: the feedparser pass could not run" >&2
    exit 2
fi

echo
echo "== newsboat $(newsboat --version 2>/dev/null | head -n1 | awk '{print $2}')"
# One newsboat cache per feed: newsboat keys items by guid across all feeds of
# a cache, so a guid shared by a feed's RSS and Atom (or by a section feed and
# the main one) would be stored once, under whichever feed came last.
mkdir -p "$WORK/newsboat" "$WORK/rows"
n=0
while read -r path; do
    n=$((n + 1))
    dir="$WORK/newsboat/$n"
    mkdir -p "$dir/home"
    url="$BASE$path"
    printf '%s\n' "$url" > "$dir/urls"
    : > "$dir/config"
    printf '%s\n' "$url" > "$WORK/rows/$n.url"
    if ! HOME="$dir/home" XDG_CONFIG_HOME="$dir/home/.config" XDG_DATA_HOME="$dir/home/.local/share" \
        XDG_CACHE_HOME="$dir/home/.cache" timeout 120 \
        newsboat -u "$dir/urls" -c "$dir/cache.db" -C "$dir/config" -x reload \
        </dev/null >"$dir/out" 2>"$WORK/rows/$n.err"; then
        echo "newsboat exited non-zero for $url: $(head -c 500 "$WORK/rows/$n.err")" >> "$WORK/rows/$n.err"
    fi
    if [[ -f "$dir/cache.db" ]]; then
        sqlite3 -json "$dir/cache.db" \
            "select guid, feedurl, url, title from rss_item where deleted = 0 order by id" \
            > "$WORK/rows/$n.rows"
    else
        echo "newsboat wrote no cache for $url" >> "$WORK/rows/$n.err"
    fi
done < <(python3 "$HERE/check_readers.py" feeds --config "$CONFIG")

nb=0
python3 "$HERE/check_readers.py" newsboat --config "$CONFIG" --expect "$WORK/expect.json" \
    --rows "$WORK/rows" || nb=$?
if [[ $nb -ge 2 ]]; then
    echo "check-readers: the newsboat pass could not run" >&2
    exit 2
fi
[[ $nb -ne 0 ]] && status=1

echo
if [[ $status -eq 0 ]]; then
    echo "check-readers: PASS ($n feeds, feedparser and newsboat)"
else
    echo "check-readers: FAIL (see FAIL lines above)"
fi
exit "$status"
