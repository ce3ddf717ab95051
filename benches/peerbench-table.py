#!/usr/bin/env python3
"""Turns a peerbench result dir into the README's table: per (mix, server, variant) the median
over rounds of queries/s and of server CPU per query (server CPU % / qps, per round), ratios
against gdnsd static on `mix` and gdnsd-metafo on `www`, lost queries summed, median p99 of the
fixed-rate step, and the largest "other CPU%" seen.
Usage: benches/peerbench-table.py RESULT_DIR   (the -o dir of benches/peerbench.sh)"""
import csv, sys, statistics as st
rows=[r for r in csv.DictReader(open(sys.argv[1]+'/results.tsv'),delimiter='\t') if r['qps']]
groups={}
for r in rows: groups.setdefault((r['mix'],r['server'],r['variant']),[]).append(r)
def med(k,g): return st.median(float(x[k]) for x in g)
def cpu(g): return st.median(float(x['srv_cpu_pct'])*1e4/float(x['qps']) for x in g)
out=[]
print("| mix | server | variant | median qps | qps x gdnsd | server CPU µs/query | CPU x gdnsd | lost | p99 ms (at qps) | other CPU% |")
print("|---|---|---|---|---|---|---|---|---|---|")
for mix in ['mix','www']:
    ref = groups[(mix,'gdnsd','static' if mix=='mix' else 'metafo-extmon')]
    rq, rc = med('qps',ref), cpu(ref)
    for (m,s,v),g in groups.items():
        if m!=mix: continue
        q=med('qps',g); c=cpu(g); lost=sum(int(x['lost']) for x in g)
        p99=med('p99_ms',g); lq=med('lat_qps',g); oth=max(float(x['other_cpu_pct']) for x in g)
        print(f"| {m} | {s} | {v} | {q:,.0f} | {q/rq:.2f} | {c:.1f} | {c/rc:.2f} | {lost} | {p99:.2f} (at {lq:,.0f}) | {oth:.0f} |")
