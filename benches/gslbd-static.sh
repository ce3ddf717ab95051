#!/usr/bin/env bash
# Peerbench wrapper for the static variant of gslbd: a config serving the benchmark zone as is,
# with response rate limiting explicitly off (dnsperf's one client address would otherwise be
# limited if RRL is on by default; the harness turns NSD's RRL off too), then execs gslbd.
# Usage: gslbd-static.sh GSLBD_BIN ZONE DIR DNS_PORT HTTP_PORT (0: any free port)
set -euo pipefail
bin=$1 zone=$2 dir=$3 port=$4 http=$5
mkdir -p "$dir"
cat >"$dir/gslbd.yaml" <<YAML
version: 1
server: { rrl: { enabled: false } }
zones: [ "$zone" ]
YAML
exec "$bin" serve --config "$dir/gslbd.yaml" --dns-listen "127.0.0.1:$port" --http-listen "127.0.0.1:$http"
