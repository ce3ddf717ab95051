#!/usr/bin/env bash
# Scale benchmark: a 1,000,000-record zone (benches/gen-bigzone.py) served by
# gdnsd, Knot, NSD and gslbd in one run; gslbd also carries 10,000 GSLB pools. For each server and
# round: start it from its own temp config on its own 127.0.0.1 port, poll with a UDP query every
# ~10 ms until the first correct answer (time from start to answering), then after a settle time
# sum PSS over the server's process group from /proc/PID/smaps_rollup (and report the largest
# VmHWM, the peak resident size of any of its processes), check a few answers, stop it by its
# process-group id. Prints a table of medians.
# With -R N: afterwards, gslbd alone under dnsperf flat out (names of the big zone) while it
# reloads the same zone N times (SIGHUP every 8 s): lost queries, each reload's time (from its
# log) and the largest PSS sampled every 100 ms (two snapshots alive during a reload).
# Usage: benches/bigzone.sh [-r ROUNDS] [-t "gdnsd knot nsd gslbd"] [-s SETTLE_S] [-R RELOADS] [-k]
# GSLBD_BIN=path benchmarks that binary; without it the release binary is built first. Installs
# gdnsd, knot, nsd, dig and dnsperf when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
ROUNDS=3 TARGETS="gdnsd knot nsd gslbd" SETTLE=3 KEEP=0 RELOADS=0
while getopts "r:t:s:R:kh" o; do
  case $o in
    r) ROUNDS=$OPTARG ;; t) TARGETS=$OPTARG ;; s) SETTLE=$OPTARG ;; R) RELOADS=$OPTARG ;; k) KEEP=1 ;;
    *) sed -n '2,14p' "$0"; exit 0 ;;
  esac
done
GSLBD_PORT=5414 HTTP_PORT=5415
need_packages python3:python3 dig:bind9-dnsutils gdnsd:gdnsd knotd:knot nsd:nsd dnsperf:dnsperf
export PATH="$PATH:/usr/sbin"
BIN=""
if [[ " $TARGETS " == *" gslbd "* || $RELOADS -gt 0 ]]; then BIN=$(gslbd_bin); fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bigzone.XXXXXX")
PGIDS=()
log() { echo "[$(date -u +%T)] $*" >&2; }
cleanup() {
  local g
  for g in "${PGIDS[@]}"; do stop_pg "$g"; done
  if [ "$KEEP" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "generating the zone and the 10,000-pool config into $WORK/data"
python3 benches/gen-bigzone.py "$WORK/data" "$GSLBD_PORT"
ZONE=$WORK/data/bigzone.test.zone

# poll PORT QNAME T0: UDP query every 10 ms until a NOERROR answer with data; prints seconds since T0
cat >"$WORK/poll.py" <<'PY'
import socket, struct, sys, time
port, qname, t0 = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
q = b"".join(bytes([len(l)]) + l.encode() for l in qname.rstrip(".").split(".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.01)
qid = 0
deadline = time.time() + 120
while time.time() < deadline:
    qid = (qid + 1) & 0xffff
    s.sendto(struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + q + struct.pack(">HH", 1, 1), ("127.0.0.1", port))
    end = time.time() + 0.01
    while time.time() < end:
        try:
            r = s.recv(4096)
        except (socket.timeout, ConnectionRefusedError, OSError):
            time.sleep(max(0, end - time.time()))
            break
        if len(r) >= 12:
            rid, flags, _, an = struct.unpack(">HHHH", r[:8])
            if rid == qid and flags & 0xF == 0 and an > 0:
                print(f"{time.time() - t0:.3f}")
                sys.exit(0)
print("timeout")
sys.exit(1)
PY

# pss PGID: sum of Pss over the process group (kB), and the largest VmHWM (kB)
pss() {
  local g=$1 p tot=0 hwm=0 v
  for p in $(ps -e -o pid=,pgid= | awk -v g="$g" '$2==g{print $1}'); do
    v=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0); tot=$((tot + ${v:-0}))
    v=$(awk '/^VmHWM:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0); [ "${v:-0}" -gt "$hwm" ] && hwm=$v
  done
  echo "$tot $hwm"
}

# verify PORT SERVER: the spot checks of names.txt; prints ok or the failures
verify() {
  local port=$1 srv=$2 who name type exp got bad=""
  while read -r who name type exp; do
    [ "$who" = all ] || [ "$who" = "$srv" ] || continue
    if [ "$exp" = NXDOMAIN ]; then
      got=$(dig +norec +time=2 +tries=1 @127.0.0.1 -p "$port" "$name" "$type" | awk '/status:/{print $6}' | tr -d ,)
    else
      got=$(dig +norec +time=2 +tries=1 +short @127.0.0.1 -p "$port" "$name" "$type" | sort | tr '\n' ' ' | sed 's/ $//')
    fi
    [ "$got" = "$exp" ] || bad+="$name/$type=[$got]!=[$exp] "
  done <"$WORK/data/names.txt"
  echo "${bad:-ok}"
}

prepare() {  # prepare NAME -> PORT CMD (array), config under $WORK/NAME
  local n=$1 d="$WORK/$1"
  rm -rf "$d"; mkdir -p "$d"
  case $n in
    gdnsd)
      PORT=5411
      mkdir -p "$d/zones"; ln -s "$ZONE" "$d/zones/bigzone.test"
      cat >"$d/config" <<EOF
options => {
    listen => [ 127.0.0.1:$PORT ]
    udp_threads => 2
    tcp_threads => 1
    run_dir => "$d/run"
    state_dir => "$d/state"
}
EOF
      CMD=(gdnsd -c "$d" start) ;;
    knot)
      PORT=5412
      cat >"$d/knot.conf" <<EOF
server:
    rundir: "$d"
    pidfile: "$d/knot.pid"
    listen: 127.0.0.1@$PORT
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
control:
    listen: "$d/knot.sock"
database:
    storage: "$d/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$d"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: bigzone.test
    file: "$ZONE"
EOF
      CMD=(knotd -c "$d/knot.conf") ;;
    nsd)
      PORT=5413
      cat >"$d/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1
    port: $PORT
    do-ip6: no
    server-count: 2
    reuseport: yes
    username: ""
    chroot: ""
    zonesdir: "$d"
    pidfile: "$d/nsd.pid"
    database: ""
    zonelistfile: "$d/zone.list"
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    logfile: "$d/nsd.log"
    verbosity: 1
    rrl-ratelimit: 0
    minimal-responses: yes
remote-control:
    control-enable: no
zone:
    name: bigzone.test
    zonefile: "$ZONE"
EOF
      CMD=(nsd -d -c "$d/nsd.conf") ;;
    gslbd)
      PORT=$GSLBD_PORT
      CMD=(env RUST_LOG=warn "$BIN" serve --config "$WORK/data/gslbd.yaml" --dns-listen "127.0.0.1:$PORT"
           --http-listen "127.0.0.1:$HTTP_PORT") ;;
    *) log "unknown target $n"; return 1 ;;
  esac
}

RES=$WORK/results.tsv
: >"$RES"
PROBE_NAME=h359999.s63.bigzone.test.   # the last host of the file: a server answering it has read everything
for round in $(seq 1 "$ROUNDS"); do
  for t in $TARGETS; do
    prepare "$t"
    sync; sleep 1
    t0=$(date +%s.%N)
    setsid "${CMD[@]}" >"$WORK/$t.r$round.log" 2>&1 &
    pg=$!; PGIDS+=("$pg")
    up=$(python3 "$WORK/poll.py" "$PORT" "$PROBE_NAME" "$t0" || true)
    sleep "$SETTLE"
    read -r kb hwm < <(pss "$pg")
    ok=$(verify "$PORT" "$t")
    stop_pg "$pg"
    log "round $round: $t start-to-answer ${up}s, PSS $((kb / 1024)) MiB, peak RSS $((hwm / 1024)) MiB, answers: $ok"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$t" "$up" "$kb" "$hwm" "$ok" >>"$RES"
  done
done

python3 - "$RES" "$TARGETS" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
targets = sys.argv[2].split()
ref = {}
print("| server | start to first answer (s) | PSS after load (MiB) | peak RSS, largest process (MiB) | answers | rounds |")
print("|---|---|---|---|---|---|")
for t in targets:
    r = [x for x in rows if x[1] == t]
    if not r:
        continue
    ups = [float(x[2]) for x in r if x[2] not in ("", "timeout")]
    up = statistics.median(ups) if ups else float("nan")
    pss = statistics.median(int(x[3]) for x in r) / 1024
    hwm = statistics.median(int(x[4]) for x in r) / 1024
    ok = "ok" if all(x[5] == "ok" for x in r) else "; ".join(sorted({x[5] for x in r if x[5] != "ok"}))
    print(f"| {t} | {up:.2f} | {pss:.0f} | {hwm:.0f} | {ok} | {len(r)} |")
PY

[ "$RELOADS" -gt 0 ] || exit 0
log "reload under load: gslbd, dnsperf flat out, $RELOADS reloads by SIGHUP"
prepare gslbd
CMD[1]=RUST_LOG=warn,gslbd::publisher=info
python3 - "$WORK/data/bigzone.test.zone" >"$WORK/queries.txt" <<'PY'
import sys
names = []
for i, line in enumerate(open(sys.argv[1])):
    if i % 997 == 0 and not line.startswith(("$", "@")):
        f = line.split()
        names.append(f"{f[0]}.bigzone.test {f[2] if f[2] in ('A', 'AAAA', 'TXT', 'MX', 'CNAME', 'SRV') else 'A'}")
names += ["pool42.bigzone.test A", "pool4243.bigzone.test AAAA", "nothere.bigzone.test A"]
print("\n".join(names))
PY
t0=$(date +%s.%N)
setsid "${CMD[@]}" >"$WORK/gslbd.reload.log" 2>&1 &
pg=$!; PGIDS+=("$pg")
python3 "$WORK/poll.py" "$PORT" "$PROBE_NAME" "$t0" >/dev/null
sleep 2
read -r base_kb _ < <(pss "$pg")
dur=$((RELOADS * 8 + 6))
dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/queries.txt" -l "$dur" -c 2 -q 20 >"$WORK/dnsperf.reload.txt" 2>&1 &
dp=$!
max_kb=0
( for _ in $(seq 1 $((dur * 10))); do read -r kb _ < <(pss "$pg"); echo "$kb"; sleep 0.1; done ) >"$WORK/pss.samples" &
sampler=$!
sleep 3
for _ in $(seq 1 "$RELOADS"); do kill -HUP "$pg"; sleep 8; done
wait "$dp" || true
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
max_kb=$(sort -n "$WORK/pss.samples" | tail -1)
read -r after_kb hwm < <(pss "$pg")
ok=$(verify "$PORT" gslbd)
stop_pg "$pg"
ms=$(grep -o 'ms=[0-9]*' "$WORK/gslbd.reload.log" | cut -d= -f2 | tr '\n' ' ' || true)
succ=$(grep -c "reload succeeded" "$WORK/gslbd.reload.log" || true)
grep -E "Queries (sent|completed|lost)|Queries per second" "$WORK/dnsperf.reload.txt" | sed 's/^ */  /'
echo "reloads: $succ of $RELOADS succeeded; reload times (ms): $ms"
echo "PSS: before $((base_kb / 1024)) MiB, largest sample during reloads $((max_kb / 1024)) MiB, after $((after_kb / 1024)) MiB; peak RSS $((hwm / 1024)) MiB; answers after: $ok"
