#!/usr/bin/env bash
# Quick interleaved A/B of server CPU per query under dnsperf (loopback only): gdnsd static and
# any number of gslbd binaries/configs on the peer benchmark's zone and queries
# (benches/peerbench/), ROUNDS rounds, each variant started fresh, warmed up 2 s, measured 6 s
# (dnsperf -c 2 -q 100). CPU is utime+stime from /proc.
# Usage: benches/ab.sh ROUNDS MIX VARIANT...
#   MIX: mix | www (benches/peerbench/gen-queries.py)
#   VARIANT: gdnsd | gslbd | BIN[:CONFIG_YAML]   ("gslbd" is $GSLBD_BIN, else the release binary,
#            built first; CONFIG_YAML defaults to the zone with rate limiting off)
#   e.g. benches/ab.sh 5 mix gdnsd /tmp/old-gslbd gslbd target/release/gslbd:/tmp/one-thread.yaml
# Installs dnsperf, gdnsd and dig when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
[ $# -ge 3 ] || { sed -n '2,11p' "$0"; exit 2; }
need_packages dnsperf:dnsperf gdnsd:gdnsd dig:bind9-dnsutils
export PATH="$PATH:/usr/sbin"
PB=$(pwd)/benches/peerbench
rounds=$1 mix=$2; shift 2
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
python3 "$PB/gen-queries.py" "$W/queries"
Q="$W/queries/$mix.txt"
[ -f "$Q" ] || { echo "unknown workload $mix (mix or www)" >&2; exit 2; }
variants=()
for v in "$@"; do
  if [ "$v" = gslbd ]; then variants+=("$(gslbd_bin)"); else variants+=("$v"); fi
done
set -- "${variants[@]}"
mkdir -p "$W/g/zones" "$W/g/run" "$W/g/state"
cp "$PB/zones/example.test" "$W/g/zones/"
sed -e "s#@DIR@#$W/g#g" -e "s#@PORT@#5398#g" -e "s#@THREADS@#2#g" "$PB/conf/gdnsd-static.config" >"$W/g/config"
sed -e "s#@ZONE@#$PB/zones/example.test#g" "$PB/conf/gslbd-static.yaml" >"$W/gslbd.yaml"
tck=$(getconf CLK_TCK)
for r in $(seq "$rounds"); do
  for v in "$@"; do
    if [ "$v" = gdnsd ]; then
      gdnsd -c "$W/g" start >"$W/gdnsd.log" 2>&1 & pid=$!; port=5398
    else
      bin=${v%%:*} cfg=$W/gslbd.yaml; [ "$v" != "$bin" ] && cfg=${v#*:}
      "$bin" serve --config "$cfg" --dns-listen 127.0.0.1:5399 --http-listen 127.0.0.1:0 >"$W/gslbd.log" 2>&1 & pid=$!; port=5399
    fi
    for _ in $(seq 50); do dig +short +time=1 +tries=1 -p $port @127.0.0.1 mail.example.test A 2>/dev/null | grep -q . && break; sleep 0.1; done
    dnsperf -s 127.0.0.1 -p $port -d "$Q" -l 2 -c 2 -q 100 >/dev/null 2>&1
    a=$(awk '{print $14+$15}' /proc/$pid/stat)
    out=$(dnsperf -s 127.0.0.1 -p $port -d "$Q" -l 6 -c 2 -q 100 2>&1)
    b=$(awk '{print $14+$15}' /proc/$pid/stat)
    qps=$(awk '/Queries per second/{print $4}' <<<"$out"); lost=$(awk '/Queries lost/{print $3}' <<<"$out")
    done_q=$(awk '/Queries completed/{print $3}' <<<"$out")
    awk -v r="$r" -v v="$v" -v q="$qps" -v c=$((b - a)) -v t="$tck" -v n="$done_q" -v l="$lost" \
      'BEGIN{printf "%d %-40s qps=%7.0f cpu=%5.1f%% us/q=%5.2f lost=%s\n", r, v, q, c/t/6*100, c/t*1e6/n, l}'
    kill "$pid"; wait "$pid" 2>/dev/null || true; sleep 0.7
  done
done
