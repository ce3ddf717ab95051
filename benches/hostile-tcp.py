#!/usr/bin/env python3
"""Hostile TCP clients against gslbd, on loopback only. Standard library plus dnsperf.

  GSLBD_BIN=target/quick/gslbd benches/hostile-tcp.py [--hog 512] [--every 5] [--seconds 5]

1. Slot hog: one address (127.0.0.2) holds --hog connections, each sending a query every
   --every seconds and opening again whatever the server closes, while another address
   (127.0.0.3) sends 10 queries, each on a new TCP connection with a 3 s deadline. Reports the
   legitimate client's success (x/10), how many of the hog's connections the server closed, and
   gslbd_tcp_evictions_total.
2. Server-side closes: dnsperf over TCP (-m tcp, 20 connections, --seconds) against the same
   server once the hog is gone; reports queries sent, completed and lost (every connection is
   closed by the server after 10,000 queries; answers written before the close must all arrive).

Exits 1 when the legitimate client got fewer than 10 answers or gslbd died.
"""

import argparse
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZONE = os.path.join(REPO, "zones", "example.test.zone")
NAME = "mail.example.test."


def query(qid):
    """A wire-format query for NAME/A, TCP-framed."""
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in NAME.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", 1, 1)
    return struct.pack(">H", len(q)) + q


def connect_from(src, server, timeout=3.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(server)
    return s


def start_gslbd(binary):
    cmd = [binary, "serve", "--zone", ZONE, "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tcp = http = None
    deadline = time.time() + 30
    for line in p.stdout:
        m = re.search(r"listening for (TCP|HTTP) on ([0-9.]+):(\d+)", line)
        if m and m.group(1) == "TCP" and tcp is None:
            tcp = (m.group(2), int(m.group(3)))
        elif m and m.group(1) == "HTTP":
            http = (m.group(2), int(m.group(3)))
        if line.rstrip().endswith(" ready") or '"ready"' in line:
            break
        if time.time() > deadline:
            break
    if tcp is None or http is None:
        p.kill()
        sys.exit("gslbd did not start")
    # Keep draining its output so that it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, tcp, http


def metric(http, name):
    body = urllib.request.urlopen(f"http://{http[0]}:{http[1]}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Hog(threading.Thread):
    def __init__(self, server, n, every):
        super().__init__(daemon=True)
        self.server, self.n, self.every = server, n, every
        self.stop = threading.Event()
        self.first_round = threading.Event()
        self.opened = self.closed = 0

    def run(self):
        conns = [None] * self.n
        q = query(1)
        while not self.stop.is_set():
            for i in range(self.n):
                c = conns[i]
                if c is not None:
                    # Answers and end of stream since the last round.
                    gone = False
                    try:
                        while True:
                            if not c.recv(4096):
                                gone = True
                                break
                    except BlockingIOError:
                        pass
                    except OSError:
                        gone = True
                    if gone:
                        self.closed += 1
                        c.close()
                        conns[i] = c = None
                if c is None:
                    # Opened (again): a hostile client takes back every slot it loses.
                    try:
                        c = connect_from("127.0.0.2", self.server)
                        c.setblocking(False)
                        conns[i] = c
                        self.opened += 1
                    except OSError:
                        continue
                try:
                    c.send(q)
                except OSError:
                    self.closed += 1
                    c.close()
                    conns[i] = None
            self.first_round.set()
            self.stop.wait(self.every)
        for c in conns:
            if c is not None:
                c.close()


def legit(server):
    ok = 0
    for i in range(10):
        try:
            s = connect_from("127.0.0.3", server)
            s.sendall(query(1000 + i))
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
                b = s.recv(4096)
                if not b:
                    break
                buf += b
            s.close()
            if len(buf) >= 4 and struct.unpack(">H", buf[2:4])[0] == 1000 + i:
                ok += 1
        except OSError:
            pass
    return ok


def dnsperf(server, seconds):
    if shutil.which("dnsperf") is None:
        sys.exit("dnsperf is missing: apt-get install -y dnsperf")
    with tempfile.NamedTemporaryFile("w", suffix=".queries", delete=False) as f:
        for name, t in [("mail.example.test", "A"), ("mail.example.test", "AAAA"), ("example.test", "MX"),
                        ("ns1.example.test", "A"), ("nx.example.test", "A")]:
            f.write(f"{name} {t}\n")
        path = f.name
    try:
        out = subprocess.run(
            ["dnsperf", "-m", "tcp", "-s", server[0], "-p", str(server[1]), "-c", "20", "-l", str(seconds),
             "-d", path],
            capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(path)
    vals = {}
    for key in ["Queries sent", "Queries completed", "Queries lost"]:
        m = re.search(key + r":\s+(\d+)", out)
        vals[key] = int(m.group(1)) if m else None
    m = re.search(r"Queries per second:\s+([\d.]+)", out)
    vals["qps"] = float(m.group(1)) if m else None
    return vals, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hog", type=int, default=512, help="connections held by the hog (default 512)")
    ap.add_argument("--every", type=float, default=5.0, help="seconds between a hog connection's queries")
    ap.add_argument("--seconds", type=int, default=5, help="dnsperf run length (default 5)")
    args = ap.parse_args()
    binary = os.environ.get("GSLBD_BIN")
    if not binary or not os.access(binary, os.X_OK):
        sys.exit("set GSLBD_BIN to a gslbd binary (e.g. target/quick/gslbd)")

    p, tcp, http = start_gslbd(binary)
    try:
        hog = Hog(tcp, args.hog, args.every)
        hog.start()
        hog.first_round.wait(120)
        # One more round: the hog opens again what the server closed.
        time.sleep(args.every + 0.5)
        t0 = time.time()
        ok = legit(tcp)
        took = time.time() - t0
        evictions = metric(http, "gslbd_tcp_evictions_total")
        hog.stop.set()
        hog.join()
        print(f"slot hog: {args.hog} connections from 127.0.0.2, a query each every {args.every:g} s")
        print(f"  legitimate client 127.0.0.3: {ok}/10 answered over TCP ({took * 1000:.0f} ms for the 10)")
        print(f"  hog: {hog.opened} connections opened, {hog.closed} closed by the server; "
              f"gslbd_tcp_evictions_total {evictions:.0f}")
        time.sleep(3)  # closed connections finish lingering
        vals, out = dnsperf(tcp, args.seconds)
        print(f"dnsperf -m tcp -c 20 -l {args.seconds}: sent {vals['Queries sent']}, "
              f"completed {vals['Queries completed']}, lost {vals['Queries lost']}, {vals['qps']} qps")
        if vals["Queries lost"] is None:
            print(out)
        alive = p.poll() is None
        if not alive:
            print("gslbd exited")
        return 0 if ok == 10 and alive else 1
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


if __name__ == "__main__":
    sys.exit(main())
