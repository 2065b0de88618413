import csv, sys, collections
path, steps = sys.argv[1], int(sys.argv[2])
rows = [r for r in csv.reader(l for l in open(path) if l.startswith('"'))]
hdr = rows[0]; data = rows[1:]
ki, mi, vi, ui = hdr.index("Kernel Name"), hdr.index("Metric Name"), hdr.index("Metric Value"), hdr.index("Metric Unit")
idi = hdr.index("ID")
launches = collections.OrderedDict()
for r in data:
    k = (r[idi], r[ki][:60])
    launches.setdefault(k, {})
    v = float(r[vi].replace(',', ''))
    u = r[ui]
    if u in ('nsecond','ns'): v /= 1000
    elif u == 'msecond': v *= 1000
    elif u in ('usecond',): pass
    if u == 'Kbyte': v *= 1e3
    if u == 'Mbyte': v *= 1e6
    if u == 'Gbyte': v *= 1e9
    launches[k][r[mi]] = v
# the decode file holds a 1-token prefill + steps decode steps: keep the last `steps` steps' share
items = list(launches.items())
per = collections.OrderedDict()
n = len(items)
keep = items[n - (n // (steps + 1)) * steps:] if steps > 1 else items
for (i, name), m in keep:
    p = per.setdefault(name, [0, 0.0, 0.0])
    p[0] += 1; p[1] += m.get('gpu__time_duration.sum', 0); p[2] += m.get('dram__bytes_read.sum', 0) + m.get('dram__bytes_write.sum', 0)
tot = sum(p[1] for p in per.values())
print(f"== {path}: {len(keep)} launches, {tot/steps:.1f} us per step (kernel time only)")
for name, (c, t, b) in sorted(per.items(), key=lambda x: -x[1][1]):
    print(f"{t/steps:9.1f} us  {c/steps:6.1f} launches  {b/max(t,1e-9)/1e3:7.2f} TB/s  {name}")
