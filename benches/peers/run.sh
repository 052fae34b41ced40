#!/usr/bin/env bash
# Issue 8's side-by-side benchmark (docs/performance.md): one local server, the same signed and
# verified GET made N times by this SDK (blocking, async one at a time, async IN_FLIGHT at a
# time) and by the Node SDK wechatpay-axios-plugin (one at a time, IN_FLIGHT at a time); client
# CPU per request and requests per second, medians of RUNS runs, next to the floor measured by
# `openssl speed rsa2048` at the start and the end of each run; then where this SDK's CPU goes
# (DECOMPOSE_N calls of each part, in alternation) and the memory run (MEMORY_N requests,
# MEMORY_IN_FLIGHT at a time). The Node side is skipped, with a message, when node or its
# package is missing.
#
#   benches/peers/run.sh            # N=2000 RUNS=3 IN_FLIGHT=16 DECOMPOSE_N=2000 MEMORY_N=100000
#   N=500 RUNS=1 DECOMPOSE_N=0 MEMORY_N=0 benches/peers/run.sh     # a quick look
set -euo pipefail

N=${N:-2000}
RUNS=${RUNS:-3}
IN_FLIGHT=${IN_FLIGHT:-16}
SPEED_SECONDS=${SPEED_SECONDS:-3}
DECOMPOSE_N=${DECOMPOSE_N:-2000}
MEMORY_N=${MEMORY_N:-100000}
MEMORY_IN_FLIGHT=${MEMORY_IN_FLIGHT:-1000}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

echo "building the benchmark (release)..." >&2
exe=$(cargo bench --bench peers --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -x "$exe" ] || { echo "run.sh: could not build the peers benchmark" >&2; exit 1; }

# Client and server on separate CPUs, as if on separate machines.
client_cpu=() server_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    client_cpu=(taskset -c 0) server_cpu=(taskset -c 1)
else
    echo "run.sh: one CPU or no taskset: client and server share the CPUs" >&2
fi
# 1000 connections in flight need as many descriptors on each side.
ulimit -n 4096 2>/dev/null || true

node_ok=1
if ! command -v node >/dev/null; then
    echo "run.sh: node is not installed: skipping wechatpay-axios-plugin" >&2
    node_ok=0
elif [ ! -d "$here/node/node_modules/wechatpay-axios-plugin" ] &&
    ! (cd "$here/node" && npm ci --no-audit --no-fund >&2); then
    echo "run.sh: npm could not install wechatpay-axios-plugin: skipping it" >&2
    node_ok=0
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    exec 3>&- 2>/dev/null || true
    [ -n "$server_pid" ] && wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The server runs until its stdin (a FIFO held open on descriptor 3) closes.
mkfifo "$work/server-stdin"
"${server_cpu[@]}" "$exe" server "$work" <"$work/server-stdin" 2>"$work/server.log" &
server_pid=$!
exec 3>"$work/server-stdin"
for _ in $(seq 100); do [ -f "$work/identity.json" ] && break; sleep 0.1; done
[ -f "$work/identity.json" ] || { cat "$work/server.log" >&2; exit 1; }

results="$root/target/peers-results.jsonl"
: >"$results"
client() { "${client_cpu[@]}" "$@" | tee -a "$results" >&2; }

# The floor: one RSA-2048 sign and one verify as `openssl speed` measures them (user CPU).
floor() {
    "${client_cpu[@]}" openssl speed -seconds "$SPEED_SECONDS" rsa2048 2>/dev/null |
        awk '$1 == "rsa" && $2 == "2048" && $3 == "bits" {
                 sub(/s$/, "", $4); sub(/s$/, "", $5);
                 printf "{\"floor\":true,\"sign_s\":%s,\"verify_s\":%s}\n", $4, $5 }' |
        tee -a "$results" >&2
}

for run in $(seq "$RUNS"); do
    echo "run $run of $RUNS" >&2
    # A floor between every two clients: the machine's speed drifts, so each client is also
    # compared with the floors measured just before and just after it.
    floor
    client "$exe" client blocking "$work" "$N"
    floor
    client "$exe" client async "$work" "$N"
    floor
    client "$exe" client async-concurrent "$work" "$N" "$IN_FLIGHT"
    floor
    if [ "$node_ok" = 1 ]; then
        client node "$here/node/client.cjs" sequential "$work" "$N"
        floor
        client node "$here/node/client.cjs" concurrent "$work" "$N" "$IN_FLIGHT"
        floor
    fi
done
if [ "$DECOMPOSE_N" -gt 0 ]; then
    echo "where the CPU goes: $DECOMPOSE_N calls of each part" >&2
    "${client_cpu[@]}" "$exe" decompose "$work" "$DECOMPOSE_N" >"$work/decompose.md"
fi
if [ "$MEMORY_N" -gt 0 ]; then
    echo "memory: $MEMORY_N requests, $MEMORY_IN_FLIGHT in flight" >&2
    client "$exe" memory "$work" "$MEMORY_N" "$MEMORY_IN_FLIGHT"
fi

exec 3>&-
wait "$server_pid" || { cat "$work/server.log" >&2; exit 1; }
server_pid=
cat "$work/server.log" >&2
echo >&2
"$exe" report "$results"
if [ -s "$work/decompose.md" ]; then
    echo
    echo "Where this SDK's CPU goes ($DECOMPOSE_N calls of each part, in alternation):"
    echo
    cat "$work/decompose.md"
fi
