#!/usr/bin/env bash
# Read benchmark: the README's dashboard query against PostgreSQL holding 100,000 invocations
# (~3.4 M rows), driven by wrk at concurrency 1 and 16 for 15 s each. Prints req/s, p50, p99,
# the server's peak RSS under load, and CPU time per request of the server and of PostgreSQL.
#
# The server is measured twice: talking to PostgreSQL over TCP, and, when PostgreSQL runs on
# this machine, over its Unix socket (how a server sharing a host with PostgreSQL is best set
# up: no TCP/IP stack between them).
#
#   bench/dashboard.sh
#
# Environment: BENCH_PG (server URL without database, postgres://postgres@127.0.0.1:5432),
# BENCH_DB (database, runlens_bench), BENCH_INVOCATIONS (100000), BENCH_SECONDS (15),
# BENCH_SOCKET (PostgreSQL's socket directory, /var/run/postgresql).
source "$(dirname "$0")/lib.sh"
need wrk wrk
need psql postgresql-client

INVOCATIONS=${BENCH_INVOCATIONS:-100000}
SECONDS_EACH=${BENCH_SECONDS:-15}
ADDR=127.0.0.1:8765

build_release
ensure_seeded "$INVOCATIONS"

export BODY
BODY=$(mktemp)
python3 -c 'import json,sys; print(json.dumps({"query": open(sys.argv[1]).read()}))' "$ROOT/bench/dashboard.graphql" > "$BODY"

run() {
    local connections=$1 threads=$2 out
    RSS_STOP=$(mktemp -u)
    watch_rss "$SERVER_PID" > "$RSS_STOP.peak" &
    local watcher=$!
    local server_before pg_before
    server_before=$(cpu_ticks "$SERVER_PID"); pg_before=$(cpu_ticks)
    out=$(wrk -t"$threads" -c"$connections" -d"${SECONDS_EACH}s" --latency -s "$ROOT/bench/post.lua" "http://$ADDR/graphql")
    local server_ticks=$(( $(cpu_ticks "$SERVER_PID") - server_before )) pg_ticks=$(( $(cpu_ticks) - pg_before ))
    touch "$RSS_STOP"; wait "$watcher"
    local rps p50 p99 errors requests
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    # CPU time per request, in ms, of the server and of PostgreSQL (clock ticks are 1/100 s).
    per_request() { awk -v t="$1" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t * 1000 / hz / n }'; }
    printf "%-14s %10s %10s %10s %10s MiB %12s %12s %s\n" "concurrency $connections" "$rps" "$p50" "$p99" \
        "$(( $(cat "$RSS_STOP.peak") / 1024 ))" "$(per_request "$server_ticks") ms" "$(per_request "$pg_ticks") ms" "$errors"
    rm -f "$RSS_STOP" "$RSS_STOP.peak"
}

# Starts the server on the database URL $1, checks its answer and warms caches and connections.
start() {
    start_server "$ADDR" "$1"
    curl -sf -X POST -H 'content-type: application/json' --data @"$BODY" "http://$ADDR/graphql" \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "errors" not in d, d' >&2
    wrk -t2 -c16 -d3s -s "$ROOT/bench/post.lua" "http://$ADDR/graphql" >/dev/null
}

stop() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
}

SOCKET=${BENCH_SOCKET:-/var/run/postgresql}
PORT=$(echo "$BENCH_PG" | sed -n 's/.*:\([0-9][0-9]*\)$/\1/p')
echo
echo "dashboard query, $INVOCATIONS invocations, ${SECONDS_EACH}s per run, $(nproc) cores"
printf "%-14s %10s %10s %10s %14s %12s %12s\n" "" "req/s" "p50" "p99" "peak RSS" "server CPU" "pg CPU"
echo "server to PostgreSQL over TCP"
start "$BENCH_URL"
run 1 1
run 16 2
stop
if [ -S "$SOCKET/.s.PGSQL.${PORT:-5432}" ]; then
    echo "server to PostgreSQL over its Unix socket"
    start "$BENCH_URL&host=$SOCKET"
    run 1 1
    run 16 2
    stop
fi
rm -f "$BODY"
