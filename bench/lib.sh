# Shared helpers for the benchmark scripts (sourced, not run).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The PostgreSQL server to measure on, and the database the benchmark owns there.
BENCH_PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
BENCH_DB=${BENCH_DB:-runlens_bench}
BENCH_URL="$BENCH_PG/$BENCH_DB?sslmode=disable"
BIN="$ROOT/target/release/runlens"

need() {
    command -v "$1" >/dev/null 2>&1 && return
    echo "missing '$1': install it (Debian: apt-get install -y $2)" >&2
    exit 1
}

build_release() {
    (cd "$ROOT" && cargo build --release --quiet)
}

psql_admin() {
    psql "$BENCH_PG/postgres" -v ON_ERROR_STOP=1 -qAt "$@"
}

psql_bench() {
    psql "$BENCH_PG/$BENCH_DB" -v ON_ERROR_STOP=1 -qAt "$@"
}

# Seeds $BENCH_DB with $1 invocations unless it already holds exactly that many.
ensure_seeded() {
    local want=$1 have=0
    if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'")" = 1 ]; then
        have=$(psql_bench -c "SELECT count(*) FROM invocations" 2>/dev/null || echo 0)
    fi
    if [ "$have" != "$want" ]; then
        echo "seeding $want invocations into $BENCH_DB (about 34 rows each; this takes a few minutes)..." >&2
        psql_admin -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB"
        RUNLENS_LOG=warn "$BIN" --database-url "$BENCH_URL" seed --invocations "$want" --random-seed 42
        psql_bench -c "VACUUM ANALYZE"
    fi
    echo "rows: $(psql_bench -c "SELECT (SELECT count(*) FROM invocations) + (SELECT count(*) FROM event_executions) + (SELECT count(*) FROM job_executions) + (SELECT count(*) FROM job_logs)")" >&2
}

# Starts the server on $1 (host:port) against $2 (database URL); sets SERVER_PID.
start_server() {
    RUNLENS_LOG=warn "$BIN" --database-url "$2" serve --bind "$1" &
    SERVER_PID=$!
    trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do
        curl -sf "http://$1/readyz" >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "server did not become ready" >&2
    exit 1
}

# Peak resident memory of process $1 while it runs, sampled every 100 ms, in KiB; prints on exit.
watch_rss() {
    local pid=$1 peak=0 rss
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ "${rss:-0}" -gt "$peak" ] && peak=$rss
        sleep 0.1
        [ -f "$RSS_STOP" ] && break
    done
    echo "$peak"
}

# CPU time (user + system, in clock ticks) used so far by process $1, or with no argument by all
# PostgreSQL server processes together.
cpu_ticks() {
    local pids
    if [ $# -gt 0 ]; then pids=$1; else pids=$(pgrep -x postgres || true); fi
    local total=0 ticks
    for pid in $pids; do
        ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + ticks))
    done
    echo "$total"
}
