#!/usr/bin/env bash
# Instructions per call of benches/instructions.rs's workloads, by callgrind: (the run with N
# calls - the run with none) / N. Needs valgrind.
#
#   benches/instructions.sh                      # every workload, N=20000 (sign/verify: 200)
#   N=2000 benches/instructions.sh index post_json
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }
exe=$(cargo bench --bench instructions --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -x "$exe" ] || { echo "instructions.sh: could not build the benchmark" >&2; exit 1; }
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$exe" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(index index_prepare post_json chain_prepare execute sign verify)
for w in "${workloads[@]}"; do
    n=${N:-20000}
    case $w in sign|verify) n=${N:-200} ;; esac
    base=$(count "$w" 0)
    total=$(count "$w" "$n")
    echo "$w: $(( (total - base) / n )) instructions per call ($n calls)"
done
