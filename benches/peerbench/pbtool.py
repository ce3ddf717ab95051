#!/usr/bin/env python3
"""Helpers for driver.sh (standard library only).

  pbtool.py cpu PGID        clock ticks (utime+stime+cutime+cstime) summed over a process group
  pbtool.py sys             /proc/stat totals: all, idle, softirq, user+nice+system
  pbtool.py dnsperf FILE    key=value lines parsed from a dnsperf output file
  pbtool.py pct             stdin: `dnsperf -v` output; prints p50/p90/p99/p99.9/max latency (ms)
  pbtool.py report OUTDIR   OUTDIR/results.tsv -> OUTDIR/results.json and OUTDIR/table.md, printed

The report has one table per workload (mix, www): per server the median over the rounds of
queries/s and of server CPU per query, both as ratios to gdnsd in the same run (gdnsd static on
`mix`, gdnsd with its failover plugin on `www`, the like-for-like GSLB), lost queries summed,
the median p99 of the fixed-rate run, and the most CPU other processes took during a
measurement. Then a summary: one row per workload, one column per server, CPU per query as a
ratio to gdnsd.
"""
import json
import os
import re
import statistics
import sys


def pg_ticks(pgid):
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(")") + 2:].split()
        # rest[0] is field 3 (state): pgrp is field 5, utime..cstime are fields 14..17
        if int(rest[2]) != pgid:
            continue
        total += sum(int(x) for x in rest[11:15])
    return total


def sys_stat():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                v = [int(x) for x in line.split()[1:]]
                # user nice system idle iowait irq softirq steal
                return sum(v[:8]), v[3] + v[4], v[6], v[0] + v[1] + v[2]
    raise SystemExit("no cpu line in /proc/stat")


def parse_dnsperf(path):
    with open(path, errors="replace") as f:
        txt = f.read()
    out = {}
    pats = {
        "sent": r"Queries sent:\s+(\d+)",
        "completed": r"Queries completed:\s+(\d+)",
        "lost": r"Queries lost:\s+(\d+)",
        "qps": r"Queries per second:\s+([\d.]+)",
        "avg_lat_s": r"Average Latency \(s\):\s+([\d.]+)",
        "runtime_s": r"Run time \(s\):\s+([\d.]+)",
        "resp_size": r"Average packet size:\s+request \d+, response (\d+)",
    }
    for k, p in pats.items():
        m = re.search(p, txt)
        out[k] = m.group(1) if m else ""
    m = re.search(r"Response codes:\s+(.*)", txt)
    out["rcodes"] = m.group(1).replace(" ", "").replace("%", "") if m else ""
    for k, v in out.items():
        print("%s=%s" % (k, v))


def pct():
    lat = []
    for line in sys.stdin:
        if line.startswith("> "):
            try:
                lat.append(float(line.split()[-1]))
            except ValueError:
                pass
    if not lat:
        print("p50_ms= p90_ms= p99_ms= p999_ms= pmax_ms= lat_n=0")
        return
    lat.sort()
    n = len(lat)

    def q(p):
        return lat[min(n - 1, int(p * n))] * 1000.0

    print("p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f pmax_ms=%.3f lat_n=%d"
          % (q(0.50), q(0.90), q(0.99), q(0.999), lat[-1] * 1000.0, n))


def fl(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, f):
    return f.format(x) if x is not None else "-"


# The reference per workload: like for like (a static zone on `mix`, a GSLB name on `www`).
REFERENCE = {"mix": ("gdnsd", "static"), "www": ("gdnsd", "metafo")}


def report(outdir):
    rows = []
    with open(os.path.join(outdir, "results.tsv")) as f:
        hdr = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                rows.append(dict(zip(hdr, line.rstrip("\n").split("\t"))))
    for r in rows:
        q, c = fl(r["qps"]), fl(r["srv_cpu_pct"])
        r["us_per_q"] = "%.3f" % (c * 1e4 / q) if (q and c is not None) else ""
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)

    mixes, servers, groups = [], [], {}
    for r in rows:
        k = (r["server"], r["variant"])
        if r["mix"] not in mixes:
            mixes.append(r["mix"])
        if k not in servers:
            servers.append(k)
        groups.setdefault((r["mix"],) + k, []).append(r)

    def stats(g):
        ok = [r for r in g if fl(r["qps"])]
        return {
            "qps": med([fl(r["qps"]) for r in ok]),
            "us": med([fl(r["us_per_q"]) for r in ok]),
            "lost": sum(int(r["lost"] or 0) for r in ok),
            "p99": med([fl(r["p99_ms"]) for r in ok]),
            "lat_qps": med([fl(r["lat_qps"]) for r in ok]),
            "other": max([fl(r["other_cpu_pct"]) or 0.0 for r in ok], default=None),
            "rounds": len(ok),
            "failed": [r["sanity"] for r in g if not fl(r["qps"])],
            "sanity": sorted({r["sanity"] for r in ok}),
        }

    lines = []
    with open(os.path.join(outdir, "settings.txt")) as f:
        lines += ["    " + l.rstrip("\n") for l in f]
    lines.append("")
    summary = {}
    for mix in mixes:
        ref_key = REFERENCE.get(mix, ("gdnsd", "static"))
        ref = stats(groups[(mix,) + ref_key]) if (mix,) + ref_key in groups else None
        if ref is None or ref["qps"] is None:
            ref_key = ("gdnsd", "static")
            ref = stats(groups[(mix,) + ref_key]) if (mix,) + ref_key in groups else None
        ref_name = "%s %s" % ref_key if ref and ref["qps"] else "none"
        lines.append("Workload `%s` (ratios against %s):" % (mix, ref_name))
        lines.append("")
        lines.append("| server | variant | queries/s | queries/s x gdnsd | server CPU µs/query | CPU x gdnsd "
                     "| lost | p99 ms (at queries/s) | other CPU % |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---|---:|")
        for k in servers:
            g = groups.get((mix,) + k)
            if not g:
                continue
            s = stats(g)
            if s["qps"] is None:
                lines.append("| %s | %s | failed: %s | | | | | | |" % (k[0], k[1], ",".join(s["failed"])))
                summary[(mix, k)] = "failed"
                continue
            rq = s["qps"] / ref["qps"] if ref and ref["qps"] else None
            rc = s["us"] / ref["us"] if (ref and ref["us"] and s["us"] is not None) else None
            summary[(mix, k)] = fmt(rc, "{:.2f}")
            note = "" if s["sanity"] == ["ok"] else " (answers: %s)" % ",".join(s["sanity"])
            lines.append("| %s | %s%s | %s | %s | %s | %s | %d | %s | %s |" % (
                k[0], k[1], note, fmt(s["qps"], "{:,.0f}"), fmt(rq, "{:.2f}"), fmt(s["us"], "{:.1f}"),
                fmt(rc, "{:.2f}"), s["lost"],
                "%s (at %s)" % (fmt(s["p99"], "{:.2f}"), fmt(s["lat_qps"], "{:,.0f}")),
                fmt(s["other"], "{:.0f}")))
        lines.append("")
    lines.append("Summary, server CPU per query as a ratio to gdnsd (lower is better):")
    lines.append("")
    lines.append("| workload | " + " | ".join("%s %s" % k for k in servers) + " |")
    lines.append("|---|" + "---:|" * len(servers))
    for mix in mixes:
        lines.append("| %s | " % mix + " | ".join(summary.get((mix, k), "-") for k in servers) + " |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(outdir, "table.md"), "w") as f:
        f.write(table)
    print(table)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    cmd = sys.argv[1]
    if cmd == "cpu":
        print(pg_ticks(int(sys.argv[2])))
    elif cmd == "sys":
        print(*sys_stat())
    elif cmd == "dnsperf":
        parse_dnsperf(sys.argv[2])
    elif cmd == "pct":
        pct()
    elif cmd == "report":
        report(sys.argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
