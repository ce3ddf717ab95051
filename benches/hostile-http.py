#!/usr/bin/env python3
"""Hostile clients against a real gslbd on loopback, the figures for README "Security":

  (a) 500 connections each send a 2 MB body to POST /admin/drain without a token and stall:
      gslbd's RSS before, at its peak (VmHWM) and after they close.
  (b) 1,000 slowloris connections (a request head a byte a second): how many the server closes,
      and when (at the connection cap or by the header timeout).
  (c) 20,000 refused IXFR queries over UDP: log lines written.

Usage: benches/hostile-http.py [--profile quick|release]   (GSLBD_BIN overrides the binary)
Sends traffic to 127.0.0.1 only.
"""

import argparse
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-admin-token-0123456789"


def binary(profile):
    b = os.environ.get("GSLBD_BIN")
    if b:
        return b
    path = os.path.join(REPO, "target", profile, "gslbd")
    if not os.path.exists(path):
        subprocess.run(["cargo", "build", "--profile", profile], cwd=REPO, check=True)
    return path


class Server:
    def __init__(self, exe, cfg):
        env = dict(os.environ, RUST_LOG="info")
        self.p = subprocess.Popen(
            [exe, "serve", "--config", cfg, "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.lines = []
        self.udp = self.http = None
        ready = threading.Event()

        def pump():
            for line in self.p.stderr:
                self.lines.append(line.rstrip("\n"))
                for tag in ("listening for UDP on ", "listening for HTTP on "):
                    if tag in line:
                        host, port = line.split(tag)[1].split()[0].rsplit(":", 1)
                        addr = (host, int(port))
                        if "UDP" in tag and self.udp is None:
                            self.udp = addr
                        elif "HTTP" in tag:
                            self.http = addr
                if line.rstrip().endswith(" ready"):
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30):
            self.stop()
            sys.exit("gslbd did not become ready:\n" + "\n".join(self.lines))

    def status(self, key):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def metric(self, name, label=""):
        url = f"http://{self.http[0]}:{self.http[1]}/metrics"
        total = 0.0
        for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
            if line.startswith(name) and label in line and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()


def body_attack(s, n=500, size=2_000_000):
    payload = b"x" * size
    head = f"POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n".encode()
    held, lock = [], threading.Lock()

    def one(_):
        c = socket.create_connection(s.http, timeout=10)
        try:
            c.sendall(head)
            c.sendall(payload)
        except OSError:
            pass  # the server answered 401 and closed: the body is not wanted
        with lock:
            held.append(c)  # stall: keep the connection open

    rss0 = s.status("VmRSS")
    with ThreadPoolExecutor(50) as ex:
        list(ex.map(one, range(n)))
    time.sleep(1)
    during, peak = s.status("VmRSS"), s.status("VmHWM")
    for c in held:
        c.close()
    time.sleep(2)
    print(f"(a) {n} x {size // 1_000_000} MB bodies without a token: RSS {rss0 // 1024} MB before, "
          f"{during // 1024} MB while held, peak {peak // 1024} MB, {s.status('VmRSS') // 1024} MB after")


def slowloris(s, n=1000, duration=40):
    conns = []
    for _ in range(n):
        c = socket.create_connection(s.http, timeout=10)
        c.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")
        c.setblocking(False)
        conns.append(c)
    t0 = time.monotonic()
    closed_at = [None] * n
    while time.monotonic() - t0 < duration:
        for i, c in enumerate(conns):
            if closed_at[i] is not None:
                continue
            try:
                if c.recv(4096) == b"":
                    closed_at[i] = time.monotonic() - t0
                    continue
            except BlockingIOError:
                pass
            except OSError:
                closed_at[i] = time.monotonic() - t0
                continue
            try:
                c.send(b"X")
            except BlockingIOError:
                pass
            except OSError:
                closed_at[i] = time.monotonic() - t0
        time.sleep(1)
    done = [t for t in closed_at if t is not None]
    evicted = s.metric("gslbd_http_connections_closed_total", 'reason="evicted"')
    timed_out = s.metric("gslbd_http_connections_closed_total", 'reason="header_timeout"')
    late = max(done) if done else float("nan")
    print(f"(b) {n} slowloris connections: {len(done)} closed by the server within {duration} s "
          f"(last after {late:.1f} s); server counts {int(evicted)} closed at the connection cap, "
          f"{int(timed_out)} by the header timeout")
    for c in conns:
        c.close()


def ixfr_flood(s, n=20_000):
    q = struct.pack(">HHHHHH", 0x1234, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in "example.test".split(".")) + b"\x00"
    q += struct.pack(">HH", 251, 1)
    before_all = len(s.lines)
    before = sum("xfr: transfer refused" in l for l in s.lines)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(n):
        sock.sendto(q, s.udp)
        if i % 500 == 499:
            time.sleep(0.02)
    t0 = time.monotonic()
    while s.metric("gslbd_xfr_refused_total") < n and time.monotonic() - t0 < 30:
        time.sleep(0.2)
    counted = int(s.metric("gslbd_xfr_refused_total"))
    time.sleep(11)  # one summary interval
    lines = [l for l in s.lines[before_all:] if "xfr: transfer refused" in l]
    print(f"(c) {n} refused IXFR over UDP: {counted} counted in gslbd_xfr_refused_total, "
          f"{len(lines)} log lines ({sum('more refusals' in l for l in lines)} of them summaries), "
          f"{len(s.lines) - before_all} log lines in all")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", choices=["quick", "release"])
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    exe = binary(args.profile)
    d = tempfile.mkdtemp()
    try:
        cfg = os.path.join(d, "gslbd.yaml")
        zone = os.path.join(REPO, "zones", "example.test.zone")
        with open(cfg, "w") as f:
            f.write(f"version: 1\nserver:\n  admin_token: {TOKEN}\nzones: [{zone!r}]\n"
                    "transfers:\n  example.test.:\n    secondaries:\n"
                    "      - { address: \"127.0.0.3:9\", notify: false }\n")
        s = Server(exe, cfg)
        try:
            print(f"gslbd {exe}, defaults: http_max_connections 256, http_header_timeout 10s, RRL on")
            body_attack(s)
            slowloris(s)
            ixfr_flood(s)
        finally:
            s.stop()
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
