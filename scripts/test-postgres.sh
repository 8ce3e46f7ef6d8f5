#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite (recipe: shared SETUP-NOTES.md).
#
#   scripts/test-postgres.sh start   install Debian's postgresql if missing, initdb in a temp
#                                    dir, start on a free port; writes the URL to .pg-test/url
#                                    and prints `export STROKECELL_TEST_PG_URL=...`
#   scripts/test-postgres.sh stop    stop the server and remove its data directory
#   scripts/test-postgres.sh url     print the URL of the running server
#
# Idempotent: `start` with a live server prints its URL again. Tests read the URL from the
# environment variable STROKECELL_TEST_PG_URL, e.g.
#   STROKECELL_TEST_PG_URL=$(cat .pg-test/url) .venv/bin/python -m pytest tests/store
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE="$ROOT/.pg-test"
PYTHON=${PYTHON:-python3}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pgbin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

ensure_installed() {
    if ! dpkg -s postgresql >/dev/null 2>&1 || [ -z "$(pgbin)" ]; then
        echo "installing postgresql (Debian package)" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
}

free_port() {
    "$PYTHON" - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

running() {
    [ -f "$STATE/dir" ] || return 1
    local dir; dir=$(cat "$STATE/dir")
    [ -d "$dir/data" ] || return 1
    as_pg "$(pgbin)/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

start() {
    ensure_installed
    mkdir -p "$STATE"
    if running; then
        echo "export STROKECELL_TEST_PG_URL=$(cat "$STATE/url")"
        return 0
    fi
    stop  # a server left from an earlier run that died: remove its directory
    local bin dir port
    bin=$(pgbin)
    dir=$(mktemp -d /tmp/strokecell-pg.XXXXXX)
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2; exit 1; }
    # fsync off: a throwaway server for tests; durability tests kill the client, not the server
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100" \
            start >/dev/null; then
            echo "$dir" >"$STATE/dir"
            echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres" >"$STATE/url"
            echo "export STROKECELL_TEST_PG_URL=$(cat "$STATE/url")"
            return 0
        fi
        sleep 1
    done
    echo "could not start PostgreSQL; log: $dir/log" >&2
    cat "$dir/log" >&2 || true
    exit 1
}

stop() {
    if [ -f "$STATE/dir" ]; then
        local dir; dir=$(cat "$STATE/dir")
        if [ -d "$dir/data" ]; then
            as_pg "$(pgbin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
        fi
        case "$dir" in /tmp/strokecell-pg.*) rm -rf "$dir" ;; esac
    fi
    rm -f "$STATE/dir" "$STATE/url"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) running && cat "$STATE/url" ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
