#!/usr/bin/env bash
# Soak test (not CI): 10 minutes of dnsperf load against a release gslbd while stand-in health
# endpoints on 127.0.0.21-23 flap every 2-5 s and the config is reloaded (SIGHUP) every 30 s.
# Reports crashes, lost queries, answers naming a provider that had been down for longer than the
# detection window, and RSS at start and end. Everything stays on loopback.
# Usage: benches/soak.sh [--duration SECONDS] [--qps N] [--json FILE] (see benches/soak.py --help)
# GSLBD_BIN=path soaks that binary; without it the release binary is built first. Installs dnsperf
# when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
need_packages dnsperf:dnsperf python3:python3
bin=$(gslbd_bin)
exec python3 benches/soak.py --bin "$bin" --zone "$(pwd)/zones/example.test.zone" "$@"
