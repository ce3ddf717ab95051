#!/usr/bin/env python3
"""Writes the dnsperf query files of the peer benchmark into DIR (deterministic, seed 42).

  mix.txt  1000 lines: 60% www A | 20% static A/AAAA (one through a CNAME) |
           10% MX/TXT | 10% NXDOMAIN (100 distinct names)
  www.txt  1 line: www.example.test A (dnsperf loops over the file)

Usage: gen-queries.py DIR
"""
import os
import random
import sys

if len(sys.argv) != 2:
    raise SystemExit(__doc__)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rnd = random.Random(42)

lines = ["www.example.test A"] * 600
static = ["example.test A", "example.test AAAA", "api.example.test A", "api.example.test AAAA",
          "mail.example.test A", "mail.example.test AAAA", "static.example.test A",
          "ns1.example.test A", "blog.example.test A", "www-rackspace.example.test A"]
for q in static:
    lines += [q] * 20
lines += ["example.test MX"] * 40 + ["example.test TXT"] * 40 + ["_dmarc.example.test TXT"] * 20
for i in range(100):
    lines.append("nx%04x.example.test %s" % (rnd.getrandbits(16), "A" if i % 4 else "AAAA"))
assert len(lines) == 1000
rnd.shuffle(lines)
with open(os.path.join(out, "mix.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
with open(os.path.join(out, "www.txt"), "w") as f:
    f.write("www.example.test A\n")
