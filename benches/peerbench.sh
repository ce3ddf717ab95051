#!/usr/bin/env bash
# Runs ../shared/peerbench (dnsperf against nsd, knot, gdnsd, PowerDNS) with gslbd in the same run:
# gslbd/static serves the benchmark zone as is; gslbd/gslb serves www.example.test from a health-
# checked failover pool (see benches/gslbd-gslb.sh). Builds the release binary first.
# Usage: benches/peerbench.sh [extra bench.sh options], e.g. -r 3 -m "mix www"
# Needs: apt-get install -y dnsperf nsd knot gdnsd pdns-server pdns-backend-bind bind9-dnsutils
set -euo pipefail
cd "$(dirname "$0")/.."
PEERBENCH=${PEERBENCH:-$(cd .. && pwd)/shared/peerbench}
[ -x "$PEERBENCH/bench.sh" ] || PEERBENCH=$(cd ../.. && pwd)/shared/peerbench
# GSLBD_BIN=path skips the build and benchmarks that binary instead.
if [ -z "${GSLBD_BIN:-}" ]; then
  cargo build --release --locked --bin gslbd
fi
BIN=${GSLBD_BIN:-$(pwd)/target/release/gslbd}
WRAP=$(pwd)/benches/gslbd-gslb.sh
exec bash "$PEERBENCH/bench.sh" -t "${TARGETS:-gdnsd gdnsd-metafo knot nsd pdns-lua pdns-lua-shared}" \
  -x "gslbd/static=$(pwd)/benches/gslbd-static.sh $BIN @ZONE@ @DIR@ @PORT@ 0,5320" \
  -x "gslbd/gslb=$WRAP $BIN @ZONE@ @DIR@ @PORT@ 0,5321" \
  "$@"
