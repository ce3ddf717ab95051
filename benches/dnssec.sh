#!/usr/bin/env bash
# DNSSEC benchmarks, loopback only.
#  rate  DO query rate of a zone gslbd signs against the same zone unsigned, in one run: ROUNDS
#        rounds, each starting gslbd fresh with each configuration (unsigned, then signed) and
#        measuring dnsperf -D (the DO bit on every query) for SECONDS after a 2 s warm-up, on the
#        peer benchmark's zone and query mix (benches/peerbench/) with www a failover pool.
#        Prints q/s per round and variant, and the median ratio signed/unsigned.
#  sign  a zone of RECORDS records (the first RECORDS of benches/gen-bigzone.py's 1,000,000)
#        signed by gslbd at start (ECDSA P-256 KSK and ZSK from gslbd keygen, NSEC3) beside
#        Knot's automatic signing of the same zone (dnssec-signing: on, ECDSA P-256, NSEC3
#        without iterations or salt): seconds from start to serving a signed SOA, and peak RSS
#        (VmHWM) then. ROUNDS rounds, each server started fresh (Knot with an empty key store).
# Usage: benches/dnssec.sh [-r ROUNDS] [-l SECONDS] [-n RECORDS] [-k] rate|sign|all
# GSLBD_BIN=path benchmarks that binary; without it the release binary is built first. Installs
# dnsperf, knot, dig and python3 when they are missing. -k keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
ROUNDS=3 SECONDS_=10 RECORDS=1000000 KEEP=0
while getopts "r:l:n:kh" o; do
  case $o in
    r) ROUNDS=$OPTARG ;; l) SECONDS_=$OPTARG ;; n) RECORDS=$OPTARG ;; k) KEEP=1 ;;
    *) sed -n '2,15p' "$0"; exit 0 ;;
  esac
done
shift $((OPTIND - 1))
WHAT=${1:-all}
case $WHAT in rate | sign | all) ;; *) sed -n '2,15p' "$0"; exit 2 ;; esac
need_packages dnsperf:dnsperf knotd:knot dig:bind9-dnsutils python3:python3
export PATH="$PATH:/usr/sbin"
BIN=$(gslbd_bin)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dnssec-bench.XXXXXX")
PIDS=()
log() { echo "[$(date -u +%T)] $*" >&2; }
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
now() { date +%s.%N; }
median() { sort -g | awk '{v[NR]=$1} END{if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
hwm_mib() { awk '/VmHWM/{printf "%.0f", $2/1024}' "/proc/$1/status"; }
# Waits (up to LIMIT s) until the server on PORT serves ZONE's SOA with an RRSIG; prints seconds.
wait_signed() {
  local port=$1 zone=$2 limit=$3 t0=$4
  while :; do
    if dig +dnssec +norec +time=1 +tries=1 -p "$port" @127.0.0.1 "$zone" SOA 2>/dev/null | grep -q "RRSIG.*SOA"; then
      awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'
      return 0
    fi
    awk -v a="$t0" -v b="$(now)" -v l="$limit" 'BEGIN{exit !(b-a > l)}' && return 1
    sleep 0.05
  done
}
keygen() {
  mkdir -p "$2"
  "$BIN" keygen --zone "$1" --algorithm ecdsap256sha256 --ksk --dir "$2" >/dev/null 2>&1
  "$BIN" keygen --zone "$1" --algorithm ecdsap256sha256 --dir "$2" >/dev/null 2>&1
}

rate() {
  local PB d q port=5431 r v pid out qps
  PB=$(pwd)/benches/peerbench d=$WORK/rate
  mkdir -p "$d"
  python3 "$PB/gen-queries.py" "$d/queries" >/dev/null
  q=$d/queries/mix.txt
  # The peer benchmark's zone without its static www records: www is a failover pool.
  grep -v '^www[[:space:]]' "$PB/zones/example.test" >"$d/example.test"
  keygen example.test "$d/keys"
  local pools="providers: { aws: {}, rackspace: {} }
pools:
  www.example.test.:
    policy: failover
    order: [aws, rackspace]
    members:
      - { provider: aws, address: 192.0.2.10 }
      - { provider: aws, address: 192.0.2.11 }
      - { provider: rackspace, address: 198.51.100.10 }"
  printf 'version: 1\nserver: { rrl: { enabled: false } }\nzones: [ "%s" ]\n%s\n' "$d/example.test" "$pools" >"$d/unsigned.yaml"
  printf 'version: 1\nserver: { rrl: { enabled: false } }\nzones:\n  - file: "%s"\n    dnssec: { sign: true, keys_dir: "%s", denial: nsec3 }\n%s\n' \
    "$d/example.test" "$d/keys" "$pools" >"$d/signed.yaml"
  : >"$d/results"
  for r in $(seq "$ROUNDS"); do
    for v in unsigned signed; do
      "$BIN" serve --config "$d/$v.yaml" --dns-listen "127.0.0.1:$port" --http-listen 127.0.0.1:0 >"$d/$v.log" 2>&1 &
      pid=$!; PIDS+=("$pid")
      for _ in $(seq 100); do dig +short +time=1 +tries=1 -p $port @127.0.0.1 example.test SOA 2>/dev/null | grep -q . && break; sleep 0.1; done
      if [ "$v" = signed ] && ! dig +dnssec +time=1 -p $port @127.0.0.1 www.example.test A | grep -q "RRSIG"; then
        echo "the signed zone's www answer carries no RRSIG" >&2; exit 1
      fi
      dnsperf -D -s 127.0.0.1 -p $port -d "$q" -l 2 -c 2 -q 100 >/dev/null 2>&1
      out=$(dnsperf -D -s 127.0.0.1 -p $port -d "$q" -l "$SECONDS_" -c 2 -q 100 2>&1)
      qps=$(awk '/Queries per second/{print $4}' <<<"$out")
      printf '%d %-8s qps=%8.0f lost=%s\n' "$r" "$v" "$qps" "$(awk '/Queries lost/{print $3}' <<<"$out")"
      echo "$r $v $qps" >>"$d/results"
      kill "$pid"; wait "$pid" 2>/dev/null || true; sleep 0.5
    done
  done
  awk '{q[$1" "$2]=$3} END{for (k in q) if (k ~ / signed$/) {split(k, a, " "); u=q[a[1]" unsigned"]; if (u > 0) print q[k]/u}}' \
    "$d/results" | median | awk '{printf "DO queries, signed / unsigned (median of rounds): %.3f\n", $1}'
}

sign() {
  local d=$WORK/sign zone t0 pid secs port
  mkdir -p "$d"
  log "generating the zone ($RECORDS records)"
  python3 benches/gen-bigzone.py "$d/gen" 5432 >/dev/null
  # The SOA and NS lead the generated file; the first RECORDS records are a valid zone.
  awk -v n="$RECORDS" '/^[^;$]/ && NF {c++} c > n {exit} {print}' "$d/gen/bigzone.test.zone" >"$d/bigzone.test.zone"
  zone=$d/bigzone.test.zone
  log "zone: $(grep -c '^[^;$]' "$zone") record lines"
  keygen bigzone.test "$d/keys"
  printf 'version: 1\nserver: { rrl: { enabled: false } }\nzones:\n  - file: "%s"\n    dnssec: { sign: true, keys_dir: "%s", denial: nsec3 }\n' \
    "$zone" "$d/keys" >"$d/gslbd.yaml"
  for r in $(seq "$ROUNDS"); do
    port=5433
    t0=$(now)
    "$BIN" serve --config "$d/gslbd.yaml" --dns-listen "127.0.0.1:$port" --http-listen 127.0.0.1:0 >"$d/gslbd.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    secs=$(wait_signed $port bigzone.test 1800 "$t0") || { echo "gslbd did not serve a signed zone"; tail "$d/gslbd.log"; exit 1; }
    printf '%d gslbd  signed in %7s s  VmHWM %6s MiB\n' "$r" "$secs" "$(hwm_mib "$pid")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    port=5434
    rm -rf "$d/knot"; mkdir -p "$d/knot/db/keys"
    cat >"$d/knot/knot.conf" <<EOF
server:
    rundir: "$d/knot"
    listen: 127.0.0.1@$port
    udp-workers: 2
    tcp-workers: 1
    background-workers: 2
database:
    storage: "$d/knot/db"
    kasp-db: "$d/knot/db/keys"
log:
  - target: "$d/knot/knot.log"
    any: info
policy:
  - id: bench
    algorithm: ecdsap256sha256
    nsec3: on
    nsec3-iterations: 0
    nsec3-salt-length: 0
template:
  - id: default
    storage: "$d/knot"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: bigzone.test
    file: "$zone"
    dnssec-signing: on
    dnssec-policy: bench
EOF
    t0=$(now)
    knotd -c "$d/knot/knot.conf" >/dev/null 2>&1 &
    pid=$!; PIDS+=("$pid")
    secs=$(wait_signed $port bigzone.test 1800 "$t0") || { echo "Knot did not serve a signed zone"; tail "$d/knot/knot.log"; exit 1; }
    printf '%d knot   signed in %7s s  VmHWM %6s MiB\n' "$r" "$secs" "$(hwm_mib "$pid")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
}

case $WHAT in
  rate) rate ;;
  sign) sign ;;
  all) rate; sign ;;
esac
