#!/usr/bin/env bash
# The peer benchmark's driver: authoritative DNS servers side by side under dnsperf, on loopback.
# Every server is started from its own temp dir on its own 127.0.0.1 port, checked for correct
# answers, warmed up, measured, and stopped by its process-group id. Run it through
# benches/peerbench.sh, which installs the packages and finds the gslbd binary.
#
# Usage: driver.sh [options] [-x 'name=command,port']...
#   -t "LIST"   targets (default: $PEERBENCH_TARGETS, else
#               "gdnsd gdnsd-metafo knot nsd pdns-lua pdns-lua-shared gslbd gslbd-gslb");
#               also: pdns (bind backend, static zone), pdns-lua-nocache
#   -x SPEC     an extra target "server/variant=command,port" (repeatable). The command may use
#               @ZONE@ (the zone file), @PORT@ and @DIR@ (a private temp dir); it must serve
#               example.test from @ZONE@ on 127.0.0.1:port. -t "" runs only extra targets.
#   -m "LIST"   workloads (default: $PEERBENCH_MIXES, else "mix www"); see gen-queries.py
#   -r N        rounds, interleaved: round 1 runs every target, then round 2... (default:
#               $PEERBENCH_ROUNDS, else 3)
#   -l SECS     dnsperf seconds per measurement (default: $PEERBENCH_SECONDS, else 10)
#   -w SECS     warm-up before each measurement (default 2)
#   -Q QPS      rate of the fixed-rate latency run, at most half the measured saturation;
#               0 skips it (default 20000)
#   -L SECS     duration of the latency run (default: $PEERBENCH_LATENCY_SECONDS, else 5)
#   -c N -T N -q N   dnsperf clients / threads / outstanding queries (default 2 / 1 / 100)
#   -n N        server worker threads where configurable (default: the number of CPUs)
#   -P G:S      pin dnsperf to CPU list G and the server to CPU list S (taskset), e.g. 0:1
#   -R N -O PCT measure again, up to N times (default: $PEERBENCH_RETRIES, else 2), while processes other than the server
#               and dnsperf took more than PCT % of a CPU (default 10)
#   -p PORT     first of the ports used on 127.0.0.1: PORT+1..PORT+10 for the servers, PORT+80
#               for the health server (default: $PEERBENCH_PORT, else 5300)
#   -o DIR      output dir (default $TMPDIR/peerbench/<UTC time>)
#   -k          keep the temp work dir
# Environment: GSLBD_BIN, the gslbd binary (needed by the gslbd targets).
# Output: OUT/results.tsv, OUT/results.json, OUT/table.md (printed), OUT/logs/*.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"
PY=python3
TOOL="$HERE/pbtool.py"

TARGETS=${PEERBENCH_TARGETS-"gdnsd gdnsd-metafo knot nsd pdns-lua pdns-lua-shared gslbd gslbd-gslb"}
EXTRAS=()
MIXES=${PEERBENCH_MIXES:-"mix www"}
ROUNDS=${PEERBENCH_ROUNDS:-3}
DUR=${PEERBENCH_SECONDS:-10}
CLIENTS=2
THREADS=1
OUTST=100
WARM=2
LATQPS=20000
LATDUR=${PEERBENCH_LATENCY_SECONDS:-5}
NTHR=$(nproc)
OUT=""
KEEP=0
PIN=""
RETRY=${PEERBENCH_RETRIES:-2}
OTHMAX=10
BASE=${PEERBENCH_PORT:-5300}

while getopts "t:x:m:r:l:c:T:q:w:Q:L:n:o:P:R:O:p:kh" opt; do
  case $opt in
    t) TARGETS="$OPTARG" ;;
    x) EXTRAS+=("$OPTARG") ;;
    m) MIXES="$OPTARG" ;;
    r) ROUNDS="$OPTARG" ;;
    l) DUR="$OPTARG" ;;
    c) CLIENTS="$OPTARG" ;;
    T) THREADS="$OPTARG" ;;
    q) OUTST="$OPTARG" ;;
    w) WARM="$OPTARG" ;;
    Q) LATQPS="$OPTARG" ;;
    L) LATDUR="$OPTARG" ;;
    n) NTHR="$OPTARG" ;;
    o) OUT="$OPTARG" ;;
    P) PIN="$OPTARG" ;;
    R) RETRY="$OPTARG" ;;
    O) OTHMAX="$OPTARG" ;;
    p) BASE="$OPTARG" ;;
    k) KEEP=1 ;;
    h | *) awk 'NR>1 && /^#/{print; next} NR>1{exit}' "$0"; exit 0 ;;
  esac
done
shift $((OPTIND - 1))
for a in "$@"; do EXTRAS+=("$a"); done
HCPORT=$((BASE + 80))

for b in dnsperf dig; do have_cmd $b || { echo "missing $b: run benches/peerbench.sh" >&2; exit 1; }; done
case " $TARGETS " in *" gslbd"*)
  [ -x "${GSLBD_BIN:-}" ] || { echo "the gslbd targets need GSLBD_BIN (benches/peerbench.sh sets it)" >&2; exit 1; } ;;
esac
export PATH="$PATH:/usr/sbin"

ZONE="$HERE/zones/example.test"
GENPFX=()
SRVPFX=()
if [ -n "$PIN" ]; then GENPFX=(taskset -c "${PIN%%:*}"); SRVPFX=(taskset -c "${PIN##*:}"); fi
dnsperf() { if [ ${#GENPFX[@]} -gt 0 ]; then "${GENPFX[@]}" dnsperf "$@"; else command dnsperf "$@"; fi; }
[ -n "$OUT" ] || OUT="${TMPDIR:-/tmp}/peerbench/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT/logs"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/peerbench-work.XXXXXX")"
$PY "$HERE/gen-queries.py" "$WORK/queries"
PGIDS=()

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/logs/driver.log" >&2; }

cleanup() {
  local g
  for g in "${PGIDS[@]}"; do stop_pg "$g"; done
  if [ "$KEEP" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_pg() { # start_pg LOGFILE CMD...: sets STARTED_PGID (setsid makes the pid the group id)
  local lf=$1
  shift
  setsid "$@" >"$lf" 2>&1 &
  STARTED_PGID=$!
  PGIDS+=("$STARTED_PGID")
}

subst() { # subst TEMPLATE DIR PORT [LUA]
  sed -e "s#@DIR@#$2#g" -e "s#@PORT@#$3#g" -e "s#@THREADS@#$NTHR#g" -e "s#@ZONE@#$ZONE#g" \
    -e "s#@HCPORT@#$HCPORT#g" -e "s#@LUA@#${4:-no}#g" "$1"
}

zone_without_www() { grep -vE '^www[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]' "$ZONE"; }

LUA_WWW="www 60 IN LUA A \"ifurlextup({{['192.0.2.10']='http://127.0.0.1:$HCPORT/aws', ['192.0.2.11']='http://127.0.0.1:$HCPORT/aws'}, {['198.51.100.10']='http://127.0.0.1:$HCPORT/rackspace', ['198.51.100.11']='http://127.0.0.1:$HCPORT/rackspace'}, {['203.0.113.10']='http://127.0.0.1:$HCPORT/flexiscale', ['203.0.113.11']='http://127.0.0.1:$HCPORT/flexiscale'}}, {selector='all', backupSelector='all'})\""

# prepare TARGET: sets SERVER VARIANT PORT CMD and writes the target's config under $WORK/TARGET
prepare() {
  local n=$1 d="$WORK/${1//[^a-z0-9-]/_}"
  rm -rf "$d"
  mkdir -p "$d"
  case $n in
    nsd)
      SERVER=nsd VARIANT=static PORT=$((BASE + 1))
      subst "$HERE/conf/nsd.conf" "$d" $PORT >"$d/nsd.conf"
      CMD=(nsd -d -c "$d/nsd.conf") ;;
    knot)
      SERVER=knot VARIANT=static PORT=$((BASE + 2))
      subst "$HERE/conf/knot.conf" "$d" $PORT >"$d/knot.conf"
      CMD=(knotd -c "$d/knot.conf") ;;
    gdnsd)
      SERVER=gdnsd VARIANT=static PORT=$((BASE + 3))
      mkdir -p "$d/zones"
      cp "$ZONE" "$d/zones/example.test"
      subst "$HERE/conf/gdnsd-static.config" "$d" $PORT >"$d/config"
      CMD=(gdnsd -c "$d" start) ;;
    gdnsd-metafo)
      SERVER=gdnsd VARIANT=metafo PORT=$((BASE + 4))
      mkdir -p "$d/zones"
      { zone_without_www; echo 'www 60 DYNA metafo!www_gslb'; } >"$d/zones/example.test"
      subst "$HERE/conf/gdnsd-metafo.config" "$d" $PORT >"$d/config"
      CMD=(gdnsd -c "$d" start) ;;
    pdns | pdns-lua | pdns-lua-shared | pdns-lua-nocache)
      SERVER=pdns
      local zf="$ZONE" lua=no extra=""
      case $n in
        pdns) VARIANT=static PORT=$((BASE + 5)) ;;
        # a fresh Lua state for every evaluation (PowerDNS's default)
        pdns-lua) VARIANT=lua PORT=$((BASE + 6)) lua=yes ;;
        # without PowerDNS's packet and query caches
        pdns-lua-nocache) VARIANT=lua-nocache PORT=$((BASE + 7)) lua=yes
          extra="cache-ttl=0\nquery-cache-ttl=0\nnegquery-cache-ttl=0" ;;
        # one Lua state per thread (enable-lua-records=shared)
        pdns-lua-shared) VARIANT=lua-shared PORT=$((BASE + 8)) lua=shared ;;
      esac
      if [ $lua != no ]; then
        zf="$d/example.test"
        { zone_without_www; echo "$LUA_WWW"; } >"$zf"
      fi
      { subst "$HERE/conf/pdns.conf" "$d" "$PORT" "$lua"; [ -z "$extra" ] || printf '%b\n' "$extra"; } >"$d/pdns.conf"
      sed -e "s#@DIR@#$d#g" -e "s#@ZONE@#$zf#g" "$HERE/conf/named.conf" >"$d/named.conf"
      CMD=(pdns_server --config-dir="$d") ;;
    gslbd)
      SERVER=gslbd VARIANT=static PORT=$((BASE + 9))
      subst "$HERE/conf/gslbd-static.yaml" "$d" $PORT >"$d/gslbd.yaml"
      CMD=(env RUST_LOG=warn "$GSLBD_BIN" serve --config "$d/gslbd.yaml" --dns-listen "127.0.0.1:$PORT" --http-listen 127.0.0.1:0) ;;
    gslbd-gslb)
      SERVER=gslbd VARIANT=gslb PORT=$((BASE + 10))
      zone_without_www >"$d/example.test"
      subst "$HERE/conf/gslbd-gslb.yaml" "$d" $PORT >"$d/gslbd.yaml"
      CMD=(env RUST_LOG=warn "$GSLBD_BIN" serve --config "$d/gslbd.yaml" --dns-listen "127.0.0.1:$PORT" --http-listen 127.0.0.1:0) ;;
    x:*)
      local spec="${EXTRA_SPEC[${n#x:}]}"
      local nm="${spec%%=*}" rest="${spec#*=}"
      PORT="${rest##*,}"
      local c="${rest%,*}"
      c="${c//@ZONE@/$ZONE}"
      c="${c//@PORT@/$PORT}"
      c="${c//@DIR@/$d}"
      if [[ $nm == */* ]]; then SERVER="${nm%%/*}" VARIANT="${nm#*/}"; else SERVER="$nm" VARIANT=extra; fi
      CMD=(bash -c "exec $c") ;;
    *) log "unknown target $n"; return 1 ;;
  esac
}

# Ready when www.example.test A is exactly the aws pair.
wait_ready() {
  local port=$1 pg=$2 i a=""
  for i in $(seq 1 150); do
    pg_alive "$pg" || { log "  server exited during start-up"; return 1; }
    a=$(dig +norec +time=1 +tries=1 +short @127.0.0.1 -p "$port" www.example.test A 2>/dev/null | sort | tr '\n' ' ')
    [ "$a" = "192.0.2.10 192.0.2.11 " ] && return 0
    sleep 0.2
  done
  log "  not ready after 30 s (last answer: '$a')"
  return 1
}

# A few correctness probes; prints ok, ok-udp-only or FAIL:<list>. Full answers go to FILE.
sanity() {
  local port=$1 f=$2 bad=""
  q() { dig +norec +time=1 +tries=1 @127.0.0.1 -p "$port" "$@" 2>&1; }
  {
    for x in "www.example.test A" "www.example.test AAAA" "blog.example.test A" "example.test MX" "nx0.example.test A" "www.example.com A"; do
      echo "### $x"
      # shellcheck disable=SC2086
      q $x | grep -E "status|flags|IN[[:space:]]"
    done
    echo "### TCP www"
    q +tcp www.example.test A | grep -E "status|IN[[:space:]]+A"
  } >"$f"
  q www.example.test A | grep -q "status: NOERROR" && q www.example.test A | grep -q "ANSWER: 2," || bad+="wwwA,"
  q www.example.test A | grep -q "flags:.* aa" || bad+="aa,"
  q nx0.example.test A | grep -q "status: NXDOMAIN" || bad+="nx,"
  q example.test MX | grep -q "ANSWER: 2" || bad+="mx,"
  q +tcp www.example.test A | grep -q "status: NOERROR" || bad+="tcp,"
  if [ -z "$bad" ]; then echo ok; elif [ "$bad" = "tcp," ]; then echo ok-udp-only; else echo "FAIL:${bad%,}"; fi
}

# The health server the GSLB variants probe: one file per healthy provider.
case " $TARGETS " in *" gdnsd-metafo "* | *" pdns-lua"* | *" gslbd-gslb "*)
  mkdir -p "$WORK/hc"
  touch "$WORK/hc/aws" "$WORK/hc/rackspace" "$WORK/hc/flexiscale"
  start_pg "$OUT/logs/healthserver.log" $PY -m http.server --bind 127.0.0.1 --directory "$WORK/hc" $HCPORT
  sleep 0.5
  log "health server on 127.0.0.1:$HCPORT (process group $STARTED_PGID)" ;;
esac

declare -A EXTRA_SPEC
ALL=()
for t in $TARGETS; do ALL+=("$t"); done
i=0
for e in "${EXTRAS[@]}"; do EXTRA_SPEC[$i]="$e"; ALL+=("x:$i"); i=$((i + 1)); done

HDR="round	mix	server	variant	port	qps	avg_lat_s	sent	completed	lost	resp_size	rcodes	srv_cpu_pct	perf_cpu_pct	other_cpu_pct	host_busy_pct	softirq_pct	p50_ms	p90_ms	p99_ms	p999_ms	pmax_ms	lat_n	lat_qps	attempts	sanity	cmd"
[ -f "$OUT/results.tsv" ] || echo "$HDR" >"$OUT/results.tsv"
HZ=$(getconf CLK_TCK)
PERF_ARGS="-l $DUR -c $CLIENTS -T $THREADS -q $OUTST"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit: $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
  [ -z "${GSLBD_BIN:-}" ] || echo "gslbd: $("$GSLBD_BIN" --version 2>/dev/null | head -1) ($GSLBD_BIN)"
  echo "cpu: $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), $(nproc) CPUs; kernel $(uname -r)"
  echo "peers: $(dpkg-query -W -f '${Package} ${Version}, ' nsd knot gdnsd pdns-server dnsperf 2>/dev/null | sed 's/, $//')"
  echo "dnsperf $PERF_ARGS, warm-up ${WARM} s; latency run -Q min($LATQPS, saturation/2) -l $LATDUR; $ROUNDS rounds; server threads $NTHR; pinning ${PIN:-none}"
} >"$OUT/settings.txt"
log "output: $OUT; work: $WORK"
log "dnsperf $PERF_ARGS; $ROUNDS rounds of: ${ALL[*]}; workloads: $MIXES"

for round in $(seq 1 "$ROUNDS"); do
  for t in "${ALL[@]}"; do
    prepare "$t" || continue
    tag="$SERVER-$VARIANT"
    lf="$OUT/logs/r$round-$tag"
    log "round $round: $tag on 127.0.0.1:$PORT"
    start_pg "$lf.server.log" "${SRVPFX[@]}" "${CMD[@]}"
    pg=$STARTED_PGID
    if ! wait_ready "$PORT" "$pg"; then
      stop_pg "$pg"
      for mix in $MIXES; do
        printf '%s\n' "$round	$mix	$SERVER	$VARIANT	$PORT$(printf '\t%.0s' $(seq 1 20))	FAIL:not-ready	${CMD[*]}" >>"$OUT/results.tsv"
      done
      continue
    fi
    san=$(sanity "$PORT" "$lf.sanity.txt")
    log "  ready (process group $pg), answers: $san"
    for mix in $MIXES; do
      qf="$WORK/queries/$mix.txt"
      [ -f "$qf" ] || { log "unknown workload $mix"; exit 1; }
      [ "$WARM" -gt 0 ] && dnsperf -s 127.0.0.1 -p "$PORT" -d "$qf" -l "$WARM" -c "$CLIENTS" -T "$THREADS" -q "$OUTST" >/dev/null 2>&1
      for attempt in $(seq 1 $((RETRY + 1))); do
        c0=$($PY "$TOOL" cpu "$pg")
        read -r s0t s0i s0s s0p < <($PY "$TOOL" sys)
        TIMEFORMAT='%R %U %S'
        # shellcheck disable=SC2086
        pt=$({ time dnsperf -s 127.0.0.1 -p "$PORT" -d "$qf" $PERF_ARGS >"$lf.$mix.dnsperf.txt" 2>&1; } 2>&1)
        c1=$($PY "$TOOL" cpu "$pg")
        read -r s1t s1i s1s s1p < <($PY "$TOOL" sys)
        unset a
        declare -A a
        while IFS='=' read -r k v; do a[$k]="$v"; done < <($PY "$TOOL" dnsperf "$lf.$mix.dnsperf.txt")
        read -r preal puser psys <<<"$pt"
        rt=${a[runtime_s]:-$DUR}
        [ -n "$rt" ] || rt=$DUR
        srv=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v t="$rt" 'BEGIN{printf "%.1f", 100*(b-a)/hz/t}')
        prf=$(awk -v u="$puser" -v s="$psys" -v t="$preal" 'BEGIN{printf "%.1f", 100*(u+s)/t}')
        busy=$(awk -v t0="$s0t" -v t1="$s1t" -v i0="$s0i" -v i1="$s1i" 'BEGIN{printf "%.1f", 100*(1-(i1-i0)/(t1-t0))}')
        # CPU in process context not spent by the server or dnsperf, in % of one CPU.
        oth=$(awk -v t0="$s0t" -v t1="$s1t" -v p0="$s0p" -v p1="$s1p" -v n="$(nproc)" -v a="$srv" -v b="$prf" 'BEGIN{o=100*n*(p1-p0)/(t1-t0)-a-b; if (o<0) o=0; printf "%.1f", o}')
        sirq=$(awk -v t0="$s0t" -v t1="$s1t" -v q0="$s0s" -v q1="$s1s" 'BEGIN{printf "%.1f", 100*(q1-q0)/(t1-t0)}')
        if awk -v o="$oth" -v m="$OTHMAX" 'BEGIN{exit !(o>m)}' && [ "$attempt" -le "$RETRY" ]; then
          log "  $mix: other processes took $oth% of a CPU (qps ${a[qps]}); measuring again in 10 s ($attempt/$RETRY)"
          sleep 10
          continue
        fi
        break
      done
      lat="p50_ms= p90_ms= p99_ms= p999_ms= pmax_ms= lat_n=0"
      lq=$(awk -v m="$LATQPS" -v q="${a[qps]:-0}" 'BEGIN{r=int(q/2); if (r>m) r=m; print r}')
      if [ "$lq" -gt 0 ]; then
        lat=$(dnsperf -s 127.0.0.1 -p "$PORT" -d "$qf" -l "$LATDUR" -c "$CLIENTS" -q "$OUTST" -Q "$lq" -v 2>/dev/null | $PY "$TOOL" pct)
      fi
      unset L
      declare -A L
      for kv in $lat; do L[${kv%%=*}]="${kv#*=}"; done
      printf '%s\n' "$round	$mix	$SERVER	$VARIANT	$PORT	${a[qps]}	${a[avg_lat_s]}	${a[sent]}	${a[completed]}	${a[lost]}	${a[resp_size]}	${a[rcodes]}	$srv	$prf	$oth	$busy	$sirq	${L[p50_ms]}	${L[p90_ms]}	${L[p99_ms]}	${L[p999_ms]}	${L[pmax_ms]}	${L[lat_n]}	$lq	$attempt	$san	${CMD[*]}" >>"$OUT/results.tsv"
      log "  $mix: ${a[qps]} qps, lost ${a[lost]}, server CPU $srv%, dnsperf $prf%, other $oth%, p99 ${L[p99_ms]} ms at $lq qps"
    done
    stop_pg "$pg"
  done
done

$PY "$TOOL" report "$OUT"
log "done: $OUT/table.md"
