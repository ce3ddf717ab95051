#!/usr/bin/env bash
# Peerbench wrapper for the GSLB variant of gslbd: writes a copy of the benchmark zone without the
# static www A records, a config with www.example.test. as a failover pool (aws, then rackspace,
# then flexiscale) whose checks probe the harness's local health server on 127.0.0.1:5380, and
# execs gslbd. Usage: gslbd-gslb.sh GSLBD_BIN ZONE DIR DNS_PORT HTTP_PORT
set -euo pipefail
bin=$1 zone=$2 dir=$3 port=$4 http=$5
mkdir -p "$dir"
grep -vE '^www[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]' "$zone" >"$dir/example.test"
cat >"$dir/gslbd.yaml" <<YAML
version: 1
server: { coalesce: 100ms, rrl: { enabled: false } }   # RRL off: one client address
zones: [ example.test ]
checks:
  aws:        { type: http, url: "http://127.0.0.1:5380/aws",        interval: 2s, timeout: 1s, rise: 1, fall: 1 }
  rackspace:  { type: http, url: "http://127.0.0.1:5380/rackspace",  interval: 2s, timeout: 1s, rise: 1, fall: 1 }
  flexiscale: { type: http, url: "http://127.0.0.1:5380/flexiscale", interval: 2s, timeout: 1s, rise: 1, fall: 1 }
providers: { aws: {}, rackspace: {}, flexiscale: {} }
pools:
  www.example.test.:
    policy: failover
    ttl: 60
    order: [aws, rackspace, flexiscale]
    members:
      - { provider: aws,        address: 192.0.2.10,    check: aws }
      - { provider: aws,        address: 192.0.2.11,    check: aws }
      - { provider: rackspace,  address: 198.51.100.10, check: rackspace }
      - { provider: rackspace,  address: 198.51.100.11, check: rackspace }
      - { provider: flexiscale, address: 203.0.113.10,  check: flexiscale }
      - { provider: flexiscale, address: 203.0.113.11,  check: flexiscale }
YAML
exec "$bin" serve --rrl off --config "$dir/gslbd.yaml" --dns-listen "127.0.0.1:$port" --http-listen "127.0.0.1:$http"
