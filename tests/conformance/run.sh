#!/usr/bin/env bash
# External conformance tests of an orgql server binary:
#   1. the graphql-http server audit (GraphQL over HTTP),
#   2. GraphQL over WebSocket: the graphql-ws client and raw protocol messages,
#   3. GraphiQL in headless Chromium (playwright-core), served from orgql's
#      own embedded assets with every request to another origin blocked,
#   4. the members console (/console) in headless Chromium: two people
#      through every screen, the invitation link from the .eml included.
#
# Usage: tests/conformance/run.sh SERVER_BINARY
#
# Installs the pinned npm packages (npm ci) when node_modules is missing or
# stale, and Chromium (apt-get, as root) when /usr/bin/chromium is missing.
# Starts the binary on a free port with a fresh SQLite database and mail dir
# (--ws-init-timeout 1s, and --app-url the server itself, so that invitation
# links open its /invitations/accept page), runs every suite, stops the
# server with SIGTERM, and exits non-zero if a suite failed, the server died,
# or it panicked.
# Environment: CHROMIUM (default /usr/bin/chromium), KEEP_TMP=1 keeps the
# temp dir (database, mail, server log, screenshots).
set -uo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 SERVER_BINARY" >&2
    exit 2
fi
BINARY=$(realpath "$1") || exit 2
if [[ ! -x "$BINARY" ]]; then
    echo "not an executable: $1" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

step() { printf '\n==> %s\n' "$*"; }

# node_modules matches package-lock.json when npm ci last ran on this lock.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f node_modules/.orgql-lock-sha256 || "$(cat node_modules/.orgql-lock-sha256)" != "$lock_hash" ]]; then
    step "npm ci (node_modules missing or stale)"
    npm ci --no-audit --no-fund || exit 1
    echo "$lock_hash" > node_modules/.orgql-lock-sha256
fi

if [[ ! -x "$CHROMIUM" ]]; then
    if [[ "$CHROMIUM" != /usr/bin/chromium ]]; then
        echo "CHROMIUM=$CHROMIUM is not an executable" >&2
        exit 1
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "$CHROMIUM is missing: install Debian's chromium package (apt-get install chromium) as root" >&2
        exit 1
    fi
    step "installing Chromium (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/orgql-conformance.XXXXXX")
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
SERVER_LOG="$WORK/server.log"
SERVER_PID=""

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the server did not stop within 10 s of SIGTERM: killing it" >&2
            kill -KILL "$SERVER_PID" 2>/dev/null
            SERVER_STOP_FAILED=1
        fi
        wait "$SERVER_PID" 2>/dev/null
        SERVER_EXIT=$?
    fi
    SERVER_PID=""
}
cleanup() {
    stop_server
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "starting $BINARY on 127.0.0.1:$PORT (data in $WORK)"
RUST_LOG=${RUST_LOG:-warn} "$BINARY" serve \
    --bind "127.0.0.1:$PORT" \
    --database-url "$WORK/orgql.db" \
    --mail-dir "$WORK/mail" \
    --app-url "http://127.0.0.1:$PORT" \
    --ws-init-timeout 1s \
    >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    if curl -fsS --max-time 2 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the server exited before it was healthy; its log:" >&2
        cat "$SERVER_LOG" >&2
        exit 1
    fi
    sleep 0.1
done
if ! curl -fsS --max-time 2 "http://127.0.0.1:$PORT/healthz" >/dev/null; then
    echo "the server was not healthy within 30 s; its log:" >&2
    cat "$SERVER_LOG" >&2
    exit 1
fi

export ORGQL_URL="http://127.0.0.1:$PORT"
export ORGQL_MAIL_DIR="$WORK/mail"
export ORGQL_WS_INIT_TIMEOUT_MS=1000
export ORGQL_ARTIFACTS="$WORK/artifacts"
export CHROMIUM
mkdir -p "$ORGQL_ARTIFACTS"

declare -A RESULT
run_suite() {
    local name=$1
    shift
    step "$name"
    if timeout 300 "$@"; then
        RESULT[$name]=passed
    else
        RESULT[$name]=failed
    fi
}

run_suite "graphql-http audit" node audit.mjs
run_suite "graphql over websocket" node --test --test-reporter=spec ws.test.mjs
run_suite "graphiql in chromium" node --test --test-reporter=spec graphiql.test.mjs
run_suite "console in chromium" node --test --test-reporter=spec console.test.mjs

alive=1
kill -0 "$SERVER_PID" 2>/dev/null || alive=0
SERVER_STOP_FAILED=0
SERVER_EXIT=""
stop_server

step "summary"
passed=0
failed=0
for name in "graphql-http audit" "graphql over websocket" "graphiql in chromium" "console in chromium"; do
    printf '  %-24s %s\n' "$name" "${RESULT[$name]}"
    if [[ ${RESULT[$name]} == passed ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
if [[ $alive -eq 0 ]]; then
    echo "  the server died during the tests (exit status ${SERVER_EXIT:-?})"
    failed=$((failed + 1))
fi
if grep -q 'panicked' "$SERVER_LOG"; then
    echo "  the server log has a panic:"
    grep -n -A5 'panicked' "$SERVER_LOG" | head -40 | sed 's/^/    /'
    failed=$((failed + 1))
fi
if [[ $SERVER_STOP_FAILED -eq 1 ]]; then
    echo "  the server ignored SIGTERM for 10 s"
    failed=$((failed + 1))
elif [[ $alive -eq 1 && -n "$SERVER_EXIT" && "$SERVER_EXIT" -ne 0 ]]; then
    echo "  the server exited with status $SERVER_EXIT on SIGTERM"
    failed=$((failed + 1))
fi
if [[ $failed -gt 0 ]]; then
    echo "  server log (last 30 lines, $SERVER_LOG):"
    tail -n 30 "$SERVER_LOG" | sed 's/^/    /'
fi
echo "conformance: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
