#!/usr/bin/env bash
# The peer benchmark: gslbd beside NSD, Knot, gdnsd and PowerDNS (static zone and LUA records) in
# one run, each server measured under dnsperf on loopback; prints one table per workload and a
# summary (queries/s, server CPU per query, both against gdnsd). Everything it runs is under
# benches/peerbench/: the driver, the query generator, the zone and every server's config.
#
#   benches/peerbench.sh                      # the published table: 3 rounds, 10 s per measurement
#   PEERBENCH_SECONDS=2 PEERBENCH_ROUNDS=1 benches/peerbench.sh   # a quick check that it works
#   benches/peerbench.sh -h                   # every option of the driver
#
# GSLBD_BIN=path benchmarks that binary; without it the release binary is built first. Installs
# the Debian packages it needs when they are missing (dnsperf, dig, curl and the peer servers;
# their own services are not started). Results stay under $TMPDIR/peerbench/<UTC time>/ (-o DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
case " $* " in *" -h "*) exec benches/peerbench/driver.sh -h ;; esac
need_packages dnsperf:dnsperf dig:bind9-dnsutils curl:curl taskset:util-linux python3:python3 \
  nsd:nsd knotd:knot gdnsd:gdnsd pdns_server:pdns-server \
  -:pdns-backend-bind
GSLBD_BIN=$(gslbd_bin)
export GSLBD_BIN
exec benches/peerbench/driver.sh "$@"
