#!/usr/bin/env bash
# Cluster chaos benchmark: three gslbd instances in network namespaces, ROUNDS random rounds of
# partitions (one instance cut from one provider, or from its peers) and real endpoint
# failures; reports false failovers, time to agreement (p50/p99) and cluster bytes per instance
# per second. Not part of CI; needs root, iproute2 and nftables. Every address is inside the
# namespaces the run creates (and deletes).
#
#   benches/cluster-chaos.sh                     # 1,000 rounds with the binary cargo builds
#   ROUNDS=10 GSLBD_BIN=target/release/gslbd benches/cluster-chaos.sh
#
# ROUNDS (default 1000), HOLD_MS (how long each partition is held, default 2000), SEED, PROFILE
# (the cargo profile the bench and the binary are built with, default quick).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "cluster-chaos: needs root (network namespaces)" >&2; exit 1; }
for tool in ip nft; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
    echo "cluster-chaos: $tool is missing (apt-get install iproute2 nftables)" >&2; exit 1; }
done
export PATH="$PATH:/usr/sbin"
if [ -n "${GSLBD_BIN:-}" ]; then
  GSLBD_BIN=$(realpath "$GSLBD_BIN")
  export GSLBD_BIN
  echo "binary: $GSLBD_BIN ($("$GSLBD_BIN" --version))"
fi
export GSLBD_ROUNDS=${ROUNDS:-1000} GSLBD_HOLD_MS=${HOLD_MS:-2000} GSLBD_SEED=${SEED:-1592}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); rounds $GSLBD_ROUNDS, hold ${GSLBD_HOLD_MS} ms, seed $GSLBD_SEED"
exec cargo bench --profile "${PROFILE:-quick}" --bench cluster_chaos
