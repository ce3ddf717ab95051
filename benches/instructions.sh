#!/usr/bin/env bash
# Instructions per query of the pure query path, case by case (callgrind, deterministic: no
# noise from the machine's load). Runs examples/answer_loop with 1,000 and 11,000 queries and
# divides the difference by 10,000, so start-up (config, zones, snapshot) cancels out.
# Usage: benches/instructions.sh [CASE...]
#   (default: static www api mx nx refused ecs-failover ecs-geo noecs-geo; the ECS cases ask with
#   a client subnet from 100,000 /24s in turn, see examples/answer_loop.rs)
# It measures the library's query path through an example binary built here, not a gslbd binary,
# so GSLBD_BIN does not apply. Installs valgrind when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
need_packages valgrind:valgrind
cargo build --release --locked --example answer_loop >&2
bin=target/release/examples/answer_loop
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 | awk '/Collected/{print $4}'; }
cases=("$@"); [ ${#cases[@]} -gt 0 ] || cases=(static www api mx nx refused ecs-failover ecs-geo noecs-geo)
for c in "${cases[@]}"; do
  a=$(count "$c" 1000); b=$(count "$c" 11000)
  echo "$c $(( (b - a) / 10000 )) instructions/query"
done
