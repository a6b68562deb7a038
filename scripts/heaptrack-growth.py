#!/usr/bin/env python3
"""Live bytes per deskd allocation site at two instants of a heaptrack recording, and what grew
between them (bench/README.md, deskd-bench-soak). heaptrack's data file lists every allocation
('+') and free ('-') with its stack; this sums them per site up to T1 and up to T2 (seconds
since the recording started) and names each site by its first frame in crates/ or bench/.
Attached to a running process (heaptrack -p PID), frees of blocks allocated before attaching
are not seen, so growth is an upper bound. Build with line tables for file names:
CARGO_PROFILE_RELEASE_DEBUG=line-tables-only.

usage: scripts/heaptrack-growth.py heaptrack.NAME.PID.zst T1 T2 [top N] [frames per site]"""
import sys, subprocess, collections
f = sys.argv[1]; t1 = float(sys.argv[2]) * 1000; t2 = float(sys.argv[3]) * 1000
N = int(sys.argv[4]) if len(sys.argv) > 4 else 20; depth = int(sys.argv[5]) if len(sys.argv) > 5 else 2
p = subprocess.Popen(["zstdcat", f], stdout=subprocess.PIPE, text=True, errors="replace")
strings = [None]; ips = [None]; traces = [(0, 0)]; allocs = []
net = collections.Counter(); snaps = {}; rss = []; now = 0
for line in p.stdout:
    c = line[:1]
    if c == '+': net[int(line[2:], 16)] += 1
    elif c == '-': net[int(line[2:], 16)] -= 1
    elif c == 'c':
        now = int(line[2:], 16)
        for name, t in (('t1', t1), ('t2', t2)):
            if name not in snaps and now >= t: snaps[name] = (now, collections.Counter(net))
    elif c == 'R': rss.append((now, int(line[2:], 16)))
    elif c == 's': strings.append(line[2:].rstrip('\n').split(' ', 1)[1] if ' ' in line[2:] else '')
    elif c == 'i':
        parts = line.split(); rest = parts[3:]
        ips.append([(int(rest[k], 16), int(rest[k+1], 16), int(rest[k+2], 16)) for k in range(0, len(rest) - 2, 3)])
    elif c == 't':
        a, b = line.split()[1:3]; traces.append((int(a, 16), int(b, 16)))
    elif c == 'a':
        a, b = line.split()[1:3]; allocs.append((int(a, 16), int(b, 16)))
snaps.setdefault('t2', (now, net))
def key_of(ti):
    fr = []
    while ti:
        ipi, parent = traces[ti]
        fr += [(strings[a], strings[b], l) for a, b, l in ips[ipi]]
        ti = parent
    idx = next((i for i, x in enumerate(fr) if x[1].startswith(('crates/', 'bench/'))), None)
    if idx is None: return ' <- '.join(x[0][:50] for x in fr[:4]) + ' [no deskd frame]'
    return ' <- '.join(f"{x[0][:40]} {x[1]}:{x[2]}" for x in fr[idx:idx + depth])
def by_site(counter):
    out = collections.Counter()
    for ai, n in counter.items():
        if n: size, ti = allocs[ai]; out[key_of(ti)] += size * n
    return out
a = by_site(snaps['t1'][1]); b = by_site(snaps['t2'][1])
d = collections.Counter(b); d.subtract(a)
ta, tb = snaps['t1'][0] / 1000, snaps['t2'][0] / 1000
print(f"live since attach: {sum(a.values())/1048576:.2f} MiB at {ta:.0f} s, {sum(b.values())/1048576:.2f} MiB at {tb:.0f} s")
def rss_at(t):
    v = [r for (tt, r) in rss if tt <= t * 1000]
    return v[-1] * 4096 / 1048576 if v else float('nan')
print(f"RSS (with heaptrack's own): {rss_at(ta):.1f} MiB at {ta:.0f} s, {rss_at(tb):.1f} MiB at {tb:.0f} s")
print(f"grown between (top {N}):")
for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:N]:
    print(f"{v/1024:10.1f} KiB  {k}")
