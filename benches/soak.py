#!/usr/bin/env python3
"""Soak driver for gslbd (see benches/soak.sh). Standard library only; everything on loopback.

Starts three stand-in HTTP health endpoints (aws 127.0.0.21, rackspace 127.0.0.22, flexiscale
127.0.0.23; in a child process of their own, switched over HTTP), a release gslbd whose pool
www.example.test answers one address per provider (checks every 1 s, timeout 800 ms, rise 1,
fall 1, coalesce 100 ms), then for DURATION seconds at once:
  * flaps the endpoints (one provider flips every FLAP_MIN..FLAP_MAX seconds; never all down),
    recording every flip time;
  * rewrites the config (TTL 30 <-> 31) and sends SIGHUP every 30 s;
  * runs dnsperf at QPS against a query mix (www A/AAAA, static, MX, NXDOMAIN);
  * queries www A continuously from a checker and compares every answer with the endpoints'
    state at the time: an answer that names a provider which had been down for longer than the
    detection window (probe interval x 1.1 jitter + probe timeout + coalesce + margin) is a
    violation (answers naming every provider are counted apart: that is fail-open, which gslbd
    does when its probes see every member down); an answer missing a provider that had been up
    that long is counted too (a probe timeout under load causes those);
  * samples gslbd's RSS.
Prints a report and exits 1 if gslbd crashed or any violation was seen.
"""

import argparse
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

PROVIDERS = [
    ("aws", "127.0.0.21", "192.0.2.10"),
    ("rackspace", "127.0.0.22", "198.51.100.10"),
    ("flexiscale", "127.0.0.23", "203.0.113.10"),
]
INTERVAL_MS = 1000
TIMEOUT_MS = 800
COALESCE_MS = 100
MARGIN_MS = 250
WINDOW = (INTERVAL_MS * 1.1 + TIMEOUT_MS + COALESCE_MS + MARGIN_MS) / 1000.0


def serve_endpoints(port):
    """Child process: one health endpoint per provider. GET /healthz answers 200 while up and 503
    while down; POST /down and POST /up switch it. In its own process so that the driver's
    checker never delays a probe."""
    servers = []
    for _, ip, _ in PROVIDERS:
        state = {"up": True}

        def make(state):
            class Handler(http.server.BaseHTTPRequestHandler):
                def reply(self, code, body):
                    try:
                        self.send_response(code)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the prober read the status line and hung up: fine

                def do_GET(self):
                    self.reply(200, b"ok\n") if state["up"] else self.reply(503, b"down\n")

                def do_POST(self):
                    state["up"] = self.path == "/up"
                    self.reply(200, b"set\n")

                def log_message(self, *args):
                    pass

            return Handler

        srv = http.server.ThreadingHTTPServer((ip, port), make(state))
        srv.daemon_threads = True
        servers.append(srv)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("endpoints ready", flush=True)
    sys.stdin.read()  # until the driver goes away


class Endpoint:
    """The driver's handle on one endpoint of the child process."""

    def __init__(self, ip, port):
        self.up = True
        self.url = f"http://{ip}:{port}"

    def set(self, up):
        import urllib.request

        req = urllib.request.Request(self.url + ("/up" if up else "/down"), data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()
        self.up = up


class History:
    """Up/down history per provider: a list of (monotonic time, up) flips."""

    def __init__(self, names, t0):
        self.lock = threading.Lock()
        self.flips = {n: [(t0 - 3600.0, True)] for n in names}

    def record(self, name, t, up):
        with self.lock:
            self.flips[name].append((t, up))

    def settled(self, name, t_from, t_to):
        """The state if it was the same during all of [t_from, t_to], else None."""
        with self.lock:
            fl = self.flips[name]
        state = None
        for i, (t, up) in enumerate(fl):
            end = fl[i + 1][0] if i + 1 < len(fl) else float("inf")
            if end <= t_from or t > t_to:
                continue
            if state is None:
                state = up
            elif state != up:
                return None
        return state


def free_port(ip="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def query_a(name, qid):
    msg = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        msg += bytes([len(label)]) + label.encode()
    return msg + b"\x00" + struct.pack(">HH", 1, 1)


def parse_a_answers(resp, qid):
    """Addresses in the answer section of a response to `qid`, or None if it is not one."""
    if len(resp) < 12:
        return None
    rid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", resp[:12])
    if rid != qid or not flags & 0x8000 or flags & 0xF != 0:
        return None
    pos = 12

    def skip_name(p):
        while True:
            n = resp[p]
            if n & 0xC0 == 0xC0:
                return p + 2
            if n == 0:
                return p + 1
            p += 1 + n

    for _ in range(qd):
        pos = skip_name(pos) + 4
    addrs = []
    for _ in range(an):
        pos = skip_name(pos)
        rtype, _, _, rdlen = struct.unpack(">HHIH", resp[pos : pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(resp[pos : pos + 4]))
        pos += rdlen
    return addrs


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def write_config(path, zone, ep_port, ttl):
    checks = "".join(
        f"  {n}: {{ type: http, address: {ip}, port: {ep_port}, path: /healthz, "
        f"interval: {INTERVAL_MS}ms, timeout: {TIMEOUT_MS}ms, rise: 1, fall: 1 }}\n"
        for n, ip, _ in PROVIDERS
    )
    members = "".join(
        f"      - {{ provider: {n}, address: {addr}, check: {n} }}\n" for n, _, addr in PROVIDERS
    )
    text = (
        "version: 1\n"
        f"server:\n  coalesce: {COALESCE_MS}ms\n"
        f"zones: [{json.dumps(zone)}]\n"
        f"checks:\n{checks}"
        "providers:\n" + "".join(f"  {n}: {{ min_up: 1 }}\n" for n, _, _ in PROVIDERS) +
        "pools:\n  www.example.test.:\n    policy: all\n"
        f"    ttl: {ttl}\n    degraded_ttl: 5\n    members:\n{members}"
    )
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--duration", type=int, default=600)
    ap.add_argument("--qps", type=int, default=5000, help="dnsperf rate (0: no dnsperf)")
    ap.add_argument("--flap-min", type=float, default=2.0)
    ap.add_argument("--flap-max", type=float, default=5.0)
    ap.add_argument("--reload-every", type=float, default=30.0)
    ap.add_argument("--check-rate", type=float, default=200.0, help="checker queries per second")
    ap.add_argument("--json", help="write the report as JSON here too")
    ap.add_argument("--endpoints-only", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--window", type=float, default=WINDOW,
                    help="detection window in seconds (default: interval x 1.1 + timeout + coalesce"
                         " + 250 ms); 0 shows that the checker does catch stale answers")
    a = ap.parse_args()
    if a.endpoints_only:
        serve_endpoints(a.endpoints_only)
        return
    window = a.window

    work = tempfile.mkdtemp(prefix="gslbd-soak-")
    zone = os.path.join(work, "example.test.zone")
    shutil.copy(a.zone, zone)
    cfg = os.path.join(work, "gslbd.yaml")
    ep_port = free_port("127.0.0.21")
    ttl = 30
    write_config(cfg, zone, ep_port, ttl)
    ep_proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--bin", a.bin, "--zone", a.zone,
         "--endpoints-only", str(ep_port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert ep_proc.stdout.readline().strip() == "endpoints ready"
    endpoints = {n: Endpoint(ip, ep_port) for n, ip, _ in PROVIDERS}
    dns_port, http_port = free_port(), free_port()
    log_path = os.path.join(work, "gslbd.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [a.bin, "serve", "--config", cfg, "--dns-listen", f"127.0.0.1:{dns_port}",
         "--http-listen", f"127.0.0.1:{http_port}", "--rrl", "off"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "info"},
    )
    deadline = time.time() + 30
    while "ready" not in open(log_path).read():
        if proc.poll() is not None or time.time() > deadline:
            print(open(log_path).read())
            sys.exit("gslbd did not start")
        time.sleep(0.1)
    time.sleep(2)
    rss = [(0.0, rss_kib(proc.pid))]
    t0 = time.monotonic()
    end = t0 + a.duration
    hist = History([p[0] for p in PROVIDERS], t0)
    addr_of = {addr: n for n, _, addr in PROVIDERS}
    stop = threading.Event()
    stats = {
        "flips": 0, "reloads_sent": 0, "checked": 0, "lost": 0, "bad_replies": 0,
        "named_down": 0, "named_down_fail_open": 0, "missing_up": 0, "unsettled": 0,
        "examples": [],
    }

    def flapper():
        rnd = random.Random(6)
        while not stop.is_set():
            if stop.wait(rnd.uniform(a.flap_min, a.flap_max)):
                return
            name = rnd.choice([p[0] for p in PROVIDERS])
            ep = endpoints[name]
            if ep.up and sum(e.up for e in endpoints.values()) == 1:
                continue  # never all down: fail-open would name every provider, rightly
            # recorded before the switch for a down flip and after it for an up flip, so that the
            # recorded history is never later than the truth where that would hide a stale answer
            if ep.up:
                hist.record(name, time.monotonic(), False)
                ep.set(False)
            else:
                ep.set(True)
                hist.record(name, time.monotonic(), True)
            stats["flips"] += 1

    def reloader():
        nonlocal ttl
        while not stop.wait(a.reload_every):
            ttl = 61 - ttl
            write_config(cfg, zone, ep_port, ttl)
            proc.send_signal(signal.SIGHUP)
            stats["reloads_sent"] += 1

    def checker():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(1.0)
        qid = 0
        gap = 1.0 / a.check_rate
        while not stop.is_set():
            qid = (qid + 1) & 0xFFFF
            t_send = time.monotonic()
            sock.sendto(query_a("www.example.test.", qid), ("127.0.0.1", dns_port))
            addrs = None
            try:
                while addrs is None:
                    data, _ = sock.recvfrom(4096)
                    addrs = parse_a_answers(data, qid)
            except socket.timeout:
                stats["lost"] += 1
                continue
            t_recv = time.monotonic()
            stats["checked"] += 1
            named = {addr_of.get(x, x) for x in addrs}
            for name, _, _ in PROVIDERS:
                state = hist.settled(name, t_send - window, t_recv)
                if state is None:
                    stats["unsettled"] += 1
                    continue
                bad = None
                if not state and name in named and len(named) == len(PROVIDERS):
                    # every provider named: gslbd's fail-open (it saw every member down)
                    stats["named_down_fail_open"] += 1
                    bad = "named while down (fail-open answer)"
                elif not state and name in named:
                    stats["named_down"] += 1
                    bad = "named while down"
                elif state and name not in named:
                    stats["missing_up"] += 1
                    bad = "missing while up"
                if bad and len(stats["examples"]) < 10:
                    stats["examples"].append(f"t={t_send - t0:.3f}s {name} {bad}: {sorted(named)}")
            time.sleep(gap)

    threads = [threading.Thread(target=f, daemon=True) for f in (flapper, reloader, checker)]
    for t in threads:
        t.start()
    perf = None
    perf_out = os.path.join(work, "dnsperf.txt")
    if a.qps > 0:
        qfile = os.path.join(work, "queries.txt")
        with open(qfile, "w") as f:
            f.write("www.example.test A\nwww.example.test AAAA\nstatic.example.test A\n"
                    "example.test MX\nnothere.example.test A\nmail.example.test A\n")
        perf = subprocess.Popen(
            ["dnsperf", "-s", "127.0.0.1", "-p", str(dns_port), "-d", qfile, "-l", str(a.duration),
             "-Q", str(a.qps), "-c", "4", "-t", "2"],
            stdout=open(perf_out, "w"), stderr=subprocess.STDOUT,
        )
    crashed = False
    while time.monotonic() < end:
        time.sleep(min(30.0, max(0.1, end - time.monotonic())))
        rss.append((time.monotonic() - t0, rss_kib(proc.pid)))
        if proc.poll() is not None:
            crashed = True
            break
    stop.set()
    for t in threads:
        t.join(timeout=5)
    if perf is not None:
        try:
            perf.wait(timeout=30)
        except subprocess.TimeoutExpired:
            perf.kill()
    ep_proc.stdin.close()
    ep_proc.wait(timeout=10)
    alive = proc.poll() is None
    exit_code = None
    if alive:
        proc.send_signal(signal.SIGTERM)
        try:
            exit_code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            exit_code = "killed after 15 s"
    else:
        exit_code = proc.returncode
    text = open(log_path).read()
    perf_text = open(perf_out).read() if perf is not None else ""

    def grab(pattern):
        m = re.search(pattern, perf_text)
        return m.group(1) if m else None

    report = {
        "duration_s": a.duration,
        "crashes": 0 if (alive and not crashed) else 1,
        "exit_code_after_sigterm": exit_code,
        "endpoint_flips": stats["flips"],
        "reloads_sent": stats["reloads_sent"],
        "reloads_succeeded": text.count("reload succeeded"),
        "reloads_failed": text.count("reload failed"),
        "panics_logged": text.count("panicked") + text.count("bug:"),
        "checker_answers": stats["checked"],
        "checker_lost": stats["lost"],
        "named_down_provider_beyond_window": stats["named_down"],
        "fail_open_answers_naming_a_down_provider": stats["named_down_fail_open"],
        "probe_timeouts_logged": text.count("down: timeout"),
        "fail_open_events_logged": text.count("every member is down"),
        "missing_up_provider_beyond_window": stats["missing_up"],
        "window_s": window,
        "dnsperf_qps_target": a.qps,
        "dnsperf_sent": grab(r"Queries sent:\s+(\d+)"),
        "dnsperf_completed": grab(r"Queries completed:\s+(\d+)"),
        "dnsperf_lost": grab(r"Queries lost:\s+(\d+)"),
        "dnsperf_qps": grab(r"Queries per second:\s+([\d.]+)"),
        "rss_kib_start": rss[0][1],
        "rss_kib_end": rss[-1][1],
        "rss_kib_samples": [r for _, r in rss],
        "examples": stats["examples"],
        "workdir": work,
    }
    print(json.dumps(report, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
    ok = report["crashes"] == 0 and exit_code == 0 and stats["named_down"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
