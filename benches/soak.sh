#!/usr/bin/env bash
# Soak test (not CI): 10 minutes of dnsperf load against a release gslbd while stand-in health
# endpoints on 127.0.0.21-23 flap every 2-5 s and the config is reloaded (SIGHUP) every 30 s.
# Reports crashes, lost queries, answers naming a provider that had been down for longer than the
# detection window, and RSS at start and end. Everything stays on loopback.
# Usage: benches/soak.sh [--duration SECONDS] [--qps N] [--json FILE] (see benches/soak.py --help)
# Needs: dnsperf (apt-get install -y dnsperf), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dnsperf >/dev/null || { echo "dnsperf is not installed (apt-get install -y dnsperf)" >&2; exit 2; }
cargo build --release --locked --bin gslbd
exec python3 benches/soak.py --bin "$(pwd)/target/release/gslbd" --zone "$(pwd)/zones/example.test.zone" "$@"
