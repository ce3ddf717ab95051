#!/usr/bin/env python3
"""Writes the seeds of the `xfr` fuzz target to fuzz/seeds/xfr/ (selector byte + DNS message,
see tests/common/fuzz_xfr.rs). Signed seeds with selector bits 3-4 = 0 carry a TSIG computed
here (RFC 8945 4.3.3, independently of src/dns/tsig.rs) at a fixed time, so they reach the MAC
check and then fail BADTIME; the harness signs the others at run time."""
import hashlib
import hmac
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "xfr")
SERIAL = 2026112903  # tests/common/fuzz_xfr.rs SERIAL
K1 = (b"k1", b"0123456789abcdef0123456789abcdef")
UDP, TCP = 0, 1
LOCAL, MAPPED, ALLOW, UNLISTED = 0, 2, 4, 6
K1_NOW, K2_NOW, K1_OLD = 8, 16, 24
AXFR, IXFR, SOA, A, NS = 252, 251, 6, 1, 2


def name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(qname, qtype, ident=0x1234, edns=None, ixfr_serial=None, opcode=0, flags=0):
    ns = 1 if ixfr_serial is not None else 0
    ar = 1 if edns is not None else 0
    m = struct.pack(">HHHHHH", ident, (opcode << 11) | flags, 1, 0, ns, ar)
    m += name(qname) + struct.pack(">HH", qtype, 1)
    if ixfr_serial is not None:
        rdata = name("ns1.example.test.") + name("hostmaster.example.test.")
        rdata += struct.pack(">IIIII", ixfr_serial, 3600, 900, 1209600, 300)
        m += name(qname) + struct.pack(">HHIH", SOA, 1, 0, len(rdata)) + rdata
    if edns is not None:
        m += b"\0" + struct.pack(">HHIH", 41, edns, 0, 0)
    return m


def sign(msg, key=K1, t=1_764_374_400, mac_bytes=None, alg=b"hmac-sha256"):
    kname, secret = key
    fudge = 300
    variables = name(kname.decode()) + struct.pack(">HI", 255, 0) + name(alg.decode())
    variables += struct.pack(">HIHHH", t >> 32, t & 0xFFFFFFFF, fudge, 0, 0)
    mac = hmac.new(secret, msg + variables, hashlib.sha256).digest()
    if mac_bytes is not None:
        mac = mac_bytes(mac)
    ident = msg[:2]
    rdata = name(alg.decode()) + struct.pack(">HIH", t >> 32, t & 0xFFFFFFFF, fudge)
    rdata += struct.pack(">H", len(mac)) + mac + ident + struct.pack(">HH", 0, 0)
    out = bytearray(msg + name(kname.decode()) + struct.pack(">HHIH", 250, 255, 0, len(rdata)) + rdata)
    ar = struct.unpack(">H", out[10:12])[0] + 1
    out[10:12] = struct.pack(">H", ar)
    return bytes(out)


SEEDS = {
    # AXFR: allowed without key from the allow prefix, with k1 from the secondary; refused
    # without a key, with the wrong key, from elsewhere; NOTIMP over UDP.
    "axfr-allow-tcp": (TCP | ALLOW, query("example.test.", AXFR)),
    "axfr-k1-tcp": (TCP | LOCAL | K1_NOW, query("example.test.", AXFR)),
    "axfr-k1-mapped-tcp": (TCP | MAPPED | K1_NOW, query("example.test.", AXFR)),
    "axfr-k2-tcp": (TCP | LOCAL | K2_NOW, query("example.test.", AXFR)),
    "axfr-nokey-tcp": (TCP | LOCAL, query("example.test.", AXFR)),
    "axfr-unlisted-tcp": (TCP | UNLISTED, query("example.test.", AXFR)),
    "axfr-udp": (UDP | ALLOW, query("example.test.", AXFR)),
    "axfr-other-zone": (TCP | ALLOW, query("example.net.", AXFR)),
    "axfr-k1-old": (TCP | LOCAL | K1_OLD, query("example.test.", AXFR)),
    # IXFR from each serial in the history, the current one, one too old, and over UDP.
    "ixfr-s2-tcp": (TCP | ALLOW, query("example.test.", IXFR, ixfr_serial=SERIAL - 2)),
    "ixfr-s1-k1-tcp": (TCP | LOCAL | K1_NOW, query("example.test.", IXFR, ixfr_serial=SERIAL - 1)),
    "ixfr-current-tcp": (TCP | ALLOW, query("example.test.", IXFR, ixfr_serial=SERIAL)),
    "ixfr-old-tcp": (TCP | ALLOW, query("example.test.", IXFR, ixfr_serial=1)),
    "ixfr-s2-udp": (UDP | ALLOW, query("example.test.", IXFR, ixfr_serial=SERIAL - 2)),
    "ixfr-s2-k1-udp": (UDP | LOCAL | K1_NOW, query("example.test.", IXFR, ixfr_serial=SERIAL - 2, edns=1232)),
    "ixfr-no-soa": (TCP | ALLOW, query("example.test.", IXFR)),
    # SOA of the transferred zone, plain, with EDNS, signed; signed ordinary queries.
    "soa-udp": (UDP | UNLISTED, query("example.test.", SOA)),
    "soa-edns-udp": (UDP | UNLISTED, query("example.test.", SOA, edns=1232)),
    "soa-badvers": (UDP | UNLISTED, query("example.test.", SOA, edns=512)[:-7] + b"\x00\x01\x00\x00\x00\x00\x00"),
    "soa-k1-udp": (UDP | LOCAL | K1_NOW, query("example.test.", SOA)),
    "soa-k2-tcp": (TCP | UNLISTED | K2_NOW, query("example.test.", SOA)),
    "soa-other-k1": (UDP | LOCAL | K1_NOW, query("example.net.", SOA)),
    "a-www-k1-udp": (UDP | LOCAL | K1_NOW, query("www.example.test.", A, edns=1232)),
    "ns-k2-tcp": (TCP | ALLOW | K2_NOW, query("example.test.", NS)),
    "a-www-k1-old": (UDP | LOCAL | K1_OLD, query("www.example.test.", A)),
    "a-www-plain": (UDP | UNLISTED, query("www.example.test.", A)),
    # TSIG computed here: valid MAC at a past time (BADTIME), wrong MAC (BADSIG), truncated MAC
    # (BADTRUNC), unknown key (BADKEY); a NOTIFY and a response (left to the query path).
    "axfr-py-badtime": (TCP | LOCAL, sign(query("example.test.", AXFR))),
    "soa-py-badsig": (UDP | LOCAL, sign(query("example.test.", SOA), mac_bytes=lambda m: bytes(32))),
    "axfr-py-badtrunc": (TCP | LOCAL, sign(query("example.test.", AXFR), mac_bytes=lambda m: m[:16])),
    "ixfr-py-badkey": (TCP | LOCAL, sign(query("example.test.", IXFR, ixfr_serial=SERIAL - 1), key=(b"k9", b"x"))),
    "notify": (UDP | LOCAL, query("example.test.", SOA, opcode=4, flags=0x0400)),
    "response": (UDP | LOCAL, query("example.test.", AXFR, flags=0x8000)),
}

os.makedirs(OUT, exist_ok=True)
for seed, (sel, msg) in SEEDS.items():
    with open(os.path.join(OUT, seed + ".bin"), "wb") as f:
        f.write(bytes([sel]) + msg)
print(f"{len(SEEDS)} seeds in {OUT}")
