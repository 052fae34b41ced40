#!/usr/bin/env bash
# Start-up time and memory of `wxpay sandbox` (release build), the whole WeChat Pay catalogue
# loaded (the sandbox reads it at start): N starts with a keys directory (the RSA keys are
# generated once, by a first start that is not counted), each timed from exec to the banner
# line (the sandbox listening, the profile written), its resident memory read from /proc then.
#
#   benches/sandbox_start.sh [N]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
cargo build --release --locked -q -p wechatpay-cli
bin=target/release/wxpay
keys=$(mktemp -d)
out=$(mktemp)
trap 'rm -rf "$keys" "$out"' EXIT

start_one() {
  : > "$out"
  local t0 t1
  t0=$(date +%s%N)
  "$bin" sandbox --keys-dir "$keys" > "$out" 2>&1 &
  pid=$!
  until grep -q '^# WeChat Pay sandbox on' "$out"; do
    if ! kill -0 "$pid" 2>/dev/null; then cat "$out" >&2; exit 1; fi
    sleep 0.001
  done
  t1=$(date +%s%N)
  elapsed_ms=$(( (t1 - t0) / 1000000 ))
  rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
}

start_one
kill "$pid"; wait "$pid" 2>/dev/null || true

times=()
rss=()
for _ in $(seq "$n"); do
  start_one
  times+=("$elapsed_ms")
  rss+=("$rss_kib")
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
sorted_t=$(printf '%s\n' "${times[@]}" | sort -n)
sorted_r=$(printf '%s\n' "${rss[@]}" | sort -n)
median() { sed -n "$(( ($(wc -l <<<"$1") + 1) / 2 ))p" <<<"$1"; }
echo "wxpay sandbox, $n starts (keys from a directory):"
echo "  start-up to the banner: median $(median "$sorted_t") ms, min $(head -1 <<<"$sorted_t") ms, max $(tail -1 <<<"$sorted_t") ms"
echo "  resident memory once started: median $(( $(median "$sorted_r") / 1024 )) MiB ($(median "$sorted_r") KiB)"
