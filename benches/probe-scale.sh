#!/usr/bin/env bash
# Health checks at scale and broken endpoints under load, side by side in one run. Not part of
# CI. Loopback only: every endpoint listens on 127.0.0.x. GSLBD_BIN=path benchmarks that binary
# (else the release binary is built); installs gdnsd for the gdnsd phases when it is missing.
#
#   benches/probe-scale.sh                 # all phases
#   PHASES="base broken" benches/probe-scale.sh   # DNS p99 with and without 1,000 broken targets
#
# Phases (each: start the server, wait until ready, WARM seconds, then a WINDOW-second window in
# which a fixed-rate UDP client measures DNS latency and /proc gives the server's CPU):
#   base        gslbd serving the example zone, no health checks
#   tcp         gslbd + 10,000 tcp checks (100 checks x 127.0.0.2-101), every 10 s
#   http        gslbd + 10,000 http checks (same layout), every 10 s
#   broken      gslbd + 1,000 broken http targets (hang, trickle, reset, 1 GiB body, redirect
#               loop, 503; 10 checks x 127.0.0.2-101), every 10 s
#   gdnsd-base  gdnsd serving the same zone, no monitors
#   gdnsd-tcp   gdnsd + 10,000 tcp_connect monitors on the same endpoints as `tcp`
# CPU is utime+stime of the server process over the window, in % of one core; "net" subtracts
# the same server's base phase (the DNS load is identical in all phases). Start delay comes from
# gslbd_probe_start_delay_seconds (count of probes that started more than 1 s late, and the
# smallest histogram bucket holding every observation).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
. benches/lib.sh
PHASES=${PHASES:-"base tcp http broken gdnsd-base gdnsd-tcp"}
WARM=${WARM:-20}
WINDOW=${WINDOW:-60}
RATE=${RATE:-5000}
QNAME=${QNAME:-static.example.test}
TCP_PORT=${TCP_PORT:-20000}     # 20000-20099
HTTP_PORT=${HTTP_PORT:-21000}   # 21000-21099
BROKEN_PORT=${BROKEN_PORT:-22000} # 22000-22009
DNS_PORT=${DNS_PORT:-5391}
HTTP_LISTEN=${HTTP_LISTEN:-9391}
WORK=$(mktemp -d /tmp/probe-scale.XXXXXX)
ulimit -n "$(ulimit -Hn)"
echo "work dir $WORK; open files $(ulimit -n); load: $(cut -d' ' -f1-3 /proc/loadavg)"

case " $PHASES " in *" gdnsd-"*) need_packages gdnsd:gdnsd ;; esac
export PATH="$PATH:/usr/sbin"
# The stand-in endpoints and the latency client are examples of this repository, built here;
# the server is GSLBD_BIN when set.
cargo build --release --quiet --example probe_endpoints --example dns_latency
BIN=$(gslbd_bin)
EXAMPLES=$REPO/target/release/examples

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Endpoints: three processes (each holds its listeners; the fd limit is per process).
"$EXAMPLES/probe_endpoints" --mode tcp --ips 2-101 --ports "$TCP_PORT-$((TCP_PORT + 99))" >"$WORK/ep-tcp.log" 2>&1 &
PIDS+=($!)
"$EXAMPLES/probe_endpoints" --mode http --ips 2-101 --ports "$HTTP_PORT-$((HTTP_PORT + 99))" >"$WORK/ep-http.log" 2>&1 &
PIDS+=($!)
"$EXAMPLES/probe_endpoints" --mode broken --ips 2-101 --ports "$BROKEN_PORT-$((BROKEN_PORT + 9))" >"$WORK/ep-broken.log" 2>&1 &
PIDS+=($!)
for f in tcp http broken; do
  for _ in $(seq 100); do grep -q listening "$WORK/ep-$f.log" && break; sleep 0.2; done
  grep -q listening "$WORK/ep-$f.log" || { echo "endpoints ($f) did not start"; cat "$WORK/ep-$f.log"; exit 1; }
done

# Configs.
python3 - "$WORK" "$REPO/zones/example.test.zone" "$TCP_PORT" "$HTTP_PORT" "$BROKEN_PORT" "$DNS_PORT" <<'PY'
import sys, os
work, zone, tcp, http, broken, dnsport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
ips = [f"127.0.0.{i}" for i in range(2, 102)]
def gslbd(name, kind, base, nchecks, extra=""):
    y = ["version: 1", "server: { coalesce: 100ms, rrl: { enabled: false } }", f"zones: [ {zone!r} ]"]
    if nchecks:
        y.append("checks:")
        for c in range(nchecks):
            path = "" if kind == "tcp" else ", path: /"
            y.append(f"  c{c}: {{ type: {kind}, port: {base + c}{path}{extra}, interval: 10s, timeout: 2s, rise: 2, fall: 2 }}")
        y.append("providers:")
        for ip in ips:
            y.append(f"  p{ip.split('.')[-1]}: {{ min_up: 1 }}")
        y.append("pools:")
        for c in range(nchecks):
            y += [f"  p{c}.scale.example.test.:", "    max_answers: 4", "    members:"]
            for ip in ips:
                y.append(f"      - {{ provider: p{ip.split('.')[-1]}, address: {ip}, check: c{c} }}")
    open(os.path.join(work, f"{name}.yaml"), "w").write("\n".join(y) + "\n")
gslbd("base", "tcp", 0, 0)
gslbd("tcp", "tcp", tcp, 100)
gslbd("http", "http", http, 100)
gslbd("broken", "http", broken, 10, ", expect_body: ok")
for name, monitors in (("gdnsd-base", False), ("gdnsd-tcp", True)):
    d = os.path.join(work, name)
    os.makedirs(os.path.join(d, "zones"), exist_ok=True)
    z = open(zone).read()
    c = ["options => {", f"  listen => [ 127.0.0.1:{dnsport} ]", "  udp_threads => 2", "  tcp_threads => 1",
         f"  run_dir => \"{d}/run\"", f"  state_dir => \"{d}/state\"", "}"]
    if monitors:
        c.append("service_types => {")
        for s in range(100):
            c.append(f"  t{s} => {{ plugin => tcp_connect, port => {tcp + s}, interval => 10, timeout => 2, up_thresh => 2, ok_thresh => 2, down_thresh => 2 }}")
        c.append("}")
        c.append("plugins => { multifo => {")
        for s in range(100):
            addrs = ", ".join(f"a{ip.split('.')[-1]} => {ip}" for ip in ips)
            c.append(f"  p{s} => {{ service_types => [ t{s} ], {addrs} }}")
        c.append("} }")
        z += "".join(f"p{s}.scale 30 DYNA multifo!p{s}\n" for s in range(100))
    open(os.path.join(d, "config"), "w").write("\n".join(c) + "\n")
    open(os.path.join(d, "zones", "example.test"), "w").write(z)
PY

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
declare -A CPU P50 P99 P999 LOST EXTRA

run_phase() {
  local phase=$1 pid
  # The previous server may still hold the ports for a moment.
  for _ in $(seq 60); do ss -ltnu | grep -qE ":($DNS_PORT|$HTTP_LISTEN) " || break; sleep 0.5; done
  case $phase in
    gdnsd-*)
      rm -rf "$WORK/$phase/run" "$WORK/$phase/state"
      gdnsd -c "$WORK/$phase" start >"$WORK/$phase.log" 2>&1 &
      pid=$!
      for _ in $(seq 300); do
        dig +short +time=1 +tries=1 -p "$DNS_PORT" @127.0.0.1 "$QNAME" A 2>/dev/null | grep -q . && break
        sleep 0.2
      done ;;
    *)
      "$BIN" serve --config "$WORK/$phase.yaml" --dns-listen "127.0.0.1:$DNS_PORT" \
        --http-listen "127.0.0.1:$HTTP_LISTEN" >"$WORK/$phase.log" 2>&1 &
      pid=$!
      for _ in $(seq 600); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_LISTEN/ready")" = 200 ] && break
        sleep 0.2
      done ;;
  esac
  kill -0 "$pid" 2>/dev/null || { echo "$phase: server died"; tail "$WORK/$phase.log"; return 1; }
  sleep "$WARM"
  local t0 t1 out
  curl -s "http://127.0.0.1:$HTTP_LISTEN/metrics" >"$WORK/$phase.m0" 2>/dev/null || true
  t0=$(cpu_ticks "$pid")
  out=$("$EXAMPLES/dns_latency" --server "127.0.0.1:$DNS_PORT" --name "$QNAME" --rate "$RATE" --seconds "$WINDOW")
  t1=$(cpu_ticks "$pid")
  curl -s "http://127.0.0.1:$HTTP_LISTEN/metrics" >"$WORK/$phase.m1" 2>/dev/null || true
  CPU[$phase]=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v w="$((WINDOW + 2))" 'BEGIN {printf "%.1f", (b - a) / hz / w * 100}')
  for k in p50_us p99_us p999_us lost; do
    local v; v=$(tr ' ' '\n' <<<"$out" | awk -F= -v k=$k '$1 == k {print $2}')
    case $k in p50_us) P50[$phase]=$v ;; p99_us) P99[$phase]=$v ;; p999_us) P999[$phase]=$v ;; lost) LOST[$phase]=$v ;; esac
  done
  case $phase in
    gdnsd-*) EXTRA[$phase]="-" ;;
    base) EXTRA[$phase]="-" ;;
    *)
      # Start delay in the window only: histogram at the end minus at the start.
      local d up fails
      d=$(awk 'FNR == 1 {f++} /^gslbd_probe_start_delay_seconds_(bucket|count)/ {v[$1] += (f == 2 ? $2 : -$2)}
        END {c = v["gslbd_probe_start_delay_seconds_count"]; late = c - v["gslbd_probe_start_delay_seconds_bucket{le=\"1\"}"]
             split("0.001 0.005 0.01 0.05 0.1 0.25 0.5 1 2.5 5", le, " "); w = "+Inf"
             for (i = 10; i >= 1; i--) if (v["gslbd_probe_start_delay_seconds_bucket{le=\"" le[i] "\"}"] >= c) w = le[i]
             printf "probes=%d late>1s=%d all_started_within=%ss", c, late, w}' "$WORK/$phase.m0" "$WORK/$phase.m1")
      up=$(awk '/^gslbd_target_up\{/ {s += $2; n++} END {printf "%d/%d", s, n}' "$WORK/$phase.m1")
      fails=$(awk '/^gslbd_probe_failures_total\{/ {split($1, a, "reason=\""); split(a[2], r, "\""); s[r[1]] += $2} END {for (k in s) printf "%s:%d ", k, s[k]}' "$WORK/$phase.m1")
      EXTRA[$phase]="$d up=$up failures_since_start=[${fails% }]" ;;
  esac
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$phase: cpu=${CPU[$phase]}% dns: $out ${EXTRA[$phase]}"
  sleep 2
}

for ph in $PHASES; do run_phase "$ph"; done

echo
echo "| phase | server CPU % of one core | net of base | DNS p50 us | p99 us | p99.9 us | p99 vs base | lost | probes |"
echo "|---|---|---|---|---|---|---|---|---|"
for ph in $PHASES; do
  base=base; case $ph in gdnsd-*) base=gdnsd-base ;; esac
  net=-; ratio=-
  if [ -n "${CPU[$base]:-}" ] && [ "$ph" != "$base" ]; then
    net=$(awk -v a="${CPU[$ph]}" -v b="${CPU[$base]}" 'BEGIN {printf "%.1f", a - b}')
    ratio=$(awk -v a="${P99[$ph]}" -v b="${P99[$base]}" 'BEGIN {printf "%.2fx", (b > 0 ? a / b : 0)}')
  fi
  echo "| $ph | ${CPU[$ph]} | $net | ${P50[$ph]} | ${P99[$ph]} | ${P999[$ph]} | $ratio | ${LOST[$ph]} | ${EXTRA[$ph]} |"
done
