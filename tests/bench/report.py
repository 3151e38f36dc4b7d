#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench: the table and the plots of bench_datapath.sh's results.

usage: report.py RESULTS.jsonl OUTDIR
Prints the paired figures, their ratios and the targets (issue 30, SPEC §12);
writes OUTDIR/{latency_cdf,connections,dns}.png with gnuplot, and
OUTDIR/summary.json."""
import json
import os
import statistics
import subprocess
import sys

PATHS = ["direct", "floor", "haproxy", "sbxfwd"]
NAMES = {"direct": "no firewall", "floor": "minimal NFQUEUE program",
         "haproxy": "HAProxy req.ssl_sni", "sbxfwd": "sbxfwd",
         "forwarder": "dnsmasq forwarder (router)",
         "sbxfwd-blocked": "sbxfwd, blocked names"}


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def pick(rows, path, kind):
    return [r["data"] for r in rows if r["path"] == path and r["kind"] == kind]


def med(xs):
    return statistics.median(xs) if xs else 0.0


def rate(d):
    return d["requests"] / d["seconds"] if d.get("seconds") else 0.0


def errors(d):
    return sum(d.get("errors", {}).values())


def span(xs, fmt="%.0f"):
    if not xs:
        return "-"
    return (fmt + "–" + fmt) % (min(xs), max(xs)) if len(xs) > 1 else fmt % xs[0]


def verdict(ok):
    return "met" if ok else "MISSED"


STEAL_MAX = 10	# % of a round's time stolen past which a pair is not counted


def quartiles(xs):
    """median, first and third quartile"""
    xs = sorted(xs)
    if len(xs) < 2:
        return (xs[0],) * 3 if xs else (0.0,) * 3
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return statistics.median(xs), q[0], q[2]


def pairs_of(rows, peer, kind, stolen):
    """(peer's data, sbxfwd's data) of each pair, by pair number; a pair
    with a round past STEAL_MAX in `stolen' instead"""
    mine = {d["pair"]: d for d in pick(rows, peer, kind)}
    if kind == "tls":
        theirs = {d["pair"]: d for d in pick(rows, "sbxfwd", kind) if d["peer"] == peer}
    else:
        theirs = {d["pair"]: d for d in pick(rows, "sbxfwd", kind)}
    out = []
    for k in sorted(set(mine) & set(theirs)):
        st = max(mine[k].get("steal_pct", 0), theirs[k].get("steal_pct", 0))
        if st > STEAL_MAX:
            stolen.append((k, peer, st))
        else:
            out.append((mine[k], theirs[k]))
    return out


def paired_ratio(pairs, num, den):
    """ratio of sums (sbxfwd's ÷ the peer's), with the pairs' quartiles"""
    sx = [num(x) for x, _ in pairs], [den(x) for x, _ in pairs]
    sy = [num(y) for _, y in pairs], [den(y) for _, y in pairs]
    if not pairs or not sum(sx[0]) or not sum(sy[1]):
        return 0.0, (0.0, 0.0, 0.0)
    ratio = (sum(sy[0]) / sum(sy[1])) / (sum(sx[0]) / sum(sx[1]))
    each = [(num(y) / den(y)) / (num(x) / den(x)) for x, y in pairs
            if den(y) and den(x) and num(x)]
    return ratio, quartiles(each)


def per_conn_us(ds, key):
    n = sum(d["requests"] for d in ds)
    return sum(d.get(key, 0) for d in ds) / n / 1000 if n else 0.0


def tls_table(rows, out):
    stolen = []
    peers = ["direct", "floor", "haproxy"]
    pairs = {p: pairs_of(rows, p, "tls", stolen) for p in peers}
    for k, p, st in stolen:
        print("pair %d against %s: %d %% of a round stolen by the hypervisor, not counted"
              % (k, NAMES[p], st))
    print("\nnew TLS connections/s, paired rounds (wrk, 16 connections, a new "
          "connection per request)")
    print("  %-28s %6s %11s %11s %9s %8s %15s" % ("sbxfwd against", "pairs", "peer c/s",
                                                 "sbxfwd c/s", "ratio", "median", "IQR"))
    ratios = {}
    for p in peers:
        ratio, (m, q1, q3) = paired_ratio(pairs[p], lambda d: d["requests"],
                                          lambda d: d["seconds"])
        ratios[p] = ratio
        xs = [x for x, _ in pairs[p]]
        ys = [y for _, y in pairs[p]]
        c = lambda ds: sum(d["requests"] for d in ds) / max(sum(d["seconds"] for d in ds), 1e-9)
        print("  %-28s %6d %11.0f %11.0f %9.3f %8.3f %7.3f–%.3f" % (
            NAMES[p], len(pairs[p]), c(xs), c(ys), ratio, m, q1, q3))
    print("  ratio: of the sums over the pairs; median and IQR: of each pair's ratio")
    # CPU per new connection: the firewall's threads, and the machine's softirq
    print("\nCPU per new connection (µs): the firewall's threads (/proc schedstat), "
          "the machine's softirq (/proc/stat)")
    cpu = {}
    for p, ds in (("floor", [x for x, _ in pairs["floor"]]),
                  ("haproxy", [x for x, _ in pairs["haproxy"]]),
                  ("sbxfwd", [y for _, y in pairs["floor"]])):
        own, soft = per_conn_us(ds, "cpu_ns"), per_conn_us(ds, "softirq_ns")
        cpu[p] = (own, soft)
        print("  %-28s %8.1f + softirq %6.1f = %8.1f" % (NAMES[p], own, soft, own + soft))
    sw = cpu["floor"][0] + cpu["floor"][1]
    cpu_ratio = (cpu["sbxfwd"][0] + cpu["sbxfwd"][1]) / sw if sw else 0.0
    own_ratio = cpu["sbxfwd"][0] / cpu["floor"][0] if cpu["floor"][0] else 0.0
    print("  sbxfwd ÷ floor: %.2f with softirq, %.2f its threads alone" % (cpu_ratio, own_ratio))
    errs = sum(errors(d) for d in pick(rows, "sbxfwd", "tls"))
    bulk = pairs_of(rows, "direct", "bulk", stolen)
    rb, (bm, bq1, bq3) = paired_ratio(bulk, lambda d: d["bytes"], lambda d: d["seconds"])
    print("\nbulk (5 × 64 MiB a round), sbxfwd ÷ no firewall: %.3f (median %.3f, IQR %.3f–%.3f, "
          "%d pairs)" % (rb, bm, bq1, bq3, len(bulk)))
    out["tls"] = {"ratios": ratios, "cpu_us": cpu, "cpu_ratio": cpu_ratio,
                  "failed": errs, "bulk_ratio": rb, "stolen": stolen}
    return [
        ("new TLS conn/s, sbxfwd ÷ minimal NFQUEUE program (paired)", ratios["floor"], ">= 0.90",
         ratios["floor"] >= 0.90),
        ("new TLS conn/s, sbxfwd ÷ HAProxy SNI filter (paired)", ratios["haproxy"], ">= 1.4",
         ratios["haproxy"] >= 1.4),
        ("failed connections through sbxfwd", errs, "0", errs == 0),
        ("CPU per new connection, sbxfwd ÷ floor", cpu_ratio, "<= 1.5", 0 < cpu_ratio <= 1.5),
        ("bulk, sbxfwd ÷ no firewall (paired)", rb, ">= 0.97", rb >= 0.97),
    ]


def verdict_table(rows, out):
    v = pick(rows, "sbxfwd", "verdict")
    p99 = [d["p99_us"] for d in v]
    ppf = [d["packets"] / d["flows"] for d in v if d["flows"]]
    print("\nsbxfwd's verdicts under that load: p50 %s µs, p99 %s µs, %s packets queued per flow"
          % (span([d["p50_us"] for d in v], "%.1f"), span(p99, "%.1f"), span(ppf, "%.2f")))
    print("  the server's first packet alone (it commits the verdict): p50 %s µs, p99 %s µs"
          % (span([d.get("commit_p50_us", 0) for d in v], "%.1f"),
             span([d.get("commit_p99_us", 0) for d in v], "%.1f")))
    out["verdict"] = v
    worst = max(p99) if p99 else 0
    return [("verdict latency p99, worst round (µs)", worst, "< 100", bool(p99) and worst < 100)]


def dns_table(rows, out):
    print("\nDNS queries/s, distinct names, paired with dnsmasq forwarding from the router:"
          " one at a time (dns_load.py) and dnsperf at 32")
    t, q = [], {}
    for c in (1, 32):
        sel = [r for r in rows if r["kind"] == "dns" and r["data"]["concurrency"] == c]
        pairs = pairs_of(sel, "forwarder", "dns", [])
        ratio, (m, q1, q3) = paired_ratio(pairs, lambda d: d["qps"], lambda d: 1.0)
        blocked = [r["data"]["qps"] for r in sel if r["path"] == "sbxfwd-blocked"]
        for p in ("forwarder", "sbxfwd", "sbxfwd-blocked"):
            q[(p, c)] = [r["data"]["qps"] for r in sel if r["path"] == p]
        print("  c%-3d forwarder %8.0f, sbxfwd %8.0f: ratio %.3f (median %.3f, IQR %.3f–%.3f, "
              "%d pairs)%s" % (c, med(q[("forwarder", c)]), med(q[("sbxfwd", c)]), ratio, m, q1,
                               q3, len(pairs),
                               ("; blocked names %.0f" % med(blocked)) if blocked else ""))
        t.append(("DNS c%d, allowed: sbxfwd ÷ dnsmasq forwarder (paired)" % c, ratio, ">= 1",
                  ratio >= 1))
    out["dns"] = {"%s/c%d" % k: v for k, v in q.items()}
    return t, q


def figures(rows, out, kind, title):
    """The one row of KIND, printed under TITLE (None when missing)."""
    s = pick(rows, "sbxfwd", kind)
    if not s:
        print("\n%s: no figures" % title)
        return None
    s = s[0]
    print("\n" + title)
    for k, v in s.items():
        print("  %-22s %s" % (k, v))
    out[kind] = s
    return s


def apply_table(rows, out):
    a = figures(rows, out, "apply", "policy files at scale: 500 files of 1,000 rules")
    if not a:
        return [("policy files at scale", 0, "ran", False)]
    t = []
    for k, what in (("domains", "domains"), ("ranges100", "900 domains + 100 ranges")):
        first, one = a["%s_apply_500_files_ms" % k], a["%s_apply_one_changed_ms" % k]
        t += [("apply 500 files x 1,000 rules, %s (ms)" % what, first, "< 2000", first < 2000),
              ("apply, one file changed, %s (ms)" % what, one, "< 50", one < 50)]
    return t


def scale_table(rows, out):
    s = figures(rows, out, "scale", "policy at scale: 1,000 sandboxes, one with "
                "100,000 domains and 10,000 ranges")
    if not s:
        return [("policy at scale", 0, "ran", False)]
    change = max(s["change_domain_ms"], s["change_range_ms"])
    # the daemon's part: less what a read-only command costs (the CLI's
    # start, the socket)
    own = max(0.0, change - s["cli_roundtrip_ms"])
    print("  a change: %.2f ms with the command, %.2f ms in the daemon" % (change, own))
    return [("policy change enforced in the daemon, 1,000 sandboxes (ms)", own, "< 10", own < 10),
            ("daemon RSS, 1,000 sandboxes + 110,000 rules (MB)", s["rss_1000_mb"], "< 50", s["rss_1000_mb"] < 50)]


def plots(rows, q, outdir):
    cdf = os.path.join(outdir, "latency_cdf.dat")
    with open(cdf, "w") as f:
        for p in PATHS:
            runs = [d["latency_us"] for d in pick(rows, p, "tls") if d["latency_us"]]
            f.write('"%s" "percentile"\n' % NAMES[p])	# the title
            for i, (pct, _) in enumerate(runs[0] if runs else []):
                f.write("%g %g\n" % (med([r[i][1] for r in runs]) / 1000, pct))
            f.write("\n\n")
    conns = os.path.join(outdir, "connections.dat")
    with open(conns, "w") as f:
        for i, p in enumerate(PATHS):
            v = [rate(d) for d in pick(rows, p, "tls")] or [0]
            f.write('%d "%s" %g %g %g\n' % (i, NAMES[p], med(v), min(v), max(v)))
    dns = os.path.join(outdir, "dns.dat")
    with open(dns, "w") as f:
        for p in ["forwarder", "sbxfwd", "sbxfwd-blocked"]:
            f.write('"%s" %g %g\n' % (NAMES[p], med(q[(p, 1)]), med(q[(p, 32)])))
    script = """
set terminal pngcairo size 900,560 font ",10" noenhanced
set output '{o}/latency_cdf.png'
set title 'New TLS connection: connect to response (wrk, 16 connections)'
set xlabel 'latency (ms, log scale)'; set ylabel 'percentile'
set logscale x; set grid; set key bottom right
plot for [i=0:3] '{cdf}' index i using 1:2 with linespoints title columnheader(1)
unset logscale x
set output '{o}/connections.png'
set title 'New TLS connections per second (median, min-max of the rounds; sbxfwd: all its rounds)'
set ylabel 'connections/s'; set xlabel ''; set yrange [0:*]
set style fill solid 0.6; set boxwidth 0.6; unset key
plot '{conns}' using 1:3:xtic(2) with boxes, '' using 1:3:4:5 with yerrorbars lc rgb 'black'
set output '{o}/dns.png'
set title 'DNS queries per second (distinct names; one at a time, and dnsperf at 32; medians of the pairs)'
set ylabel 'queries/s'; set key top left
set style data histograms; set style histogram clustered gap 1
plot '{dns}' using 2:xtic(1) title 'concurrency 1', '' using 3 title 'concurrency 32'
""".format(o=outdir, cdf=cdf, conns=conns, dns=dns)
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode:
        print("bench: gnuplot: %s" % r.stderr.strip(), file=sys.stderr)
    else:
        print("\nplots: %s/latency_cdf.png, connections.png, dns.png" % outdir)


def main():
    rows = load(sys.argv[1])
    outdir = sys.argv[2]
    out = {}
    targets = tls_table(rows, out)
    targets += verdict_table(rows, out)
    t, q = dns_table(rows, out)
    targets += t
    targets += scale_table(rows, out)
    targets += apply_table(rows, out)
    print("\n| target | figure | wanted | |")
    print("|---|---|---|---|")
    for name, fig, want, ok in targets:
        print("| %s | %s | %s | %s |" % (name, ("%.2f" % fig) if isinstance(fig, float) else fig,
                                         want, verdict(ok)))
    met = sum(1 for x in targets if x[3])
    print("\n%d of %d targets met" % (met, len(targets)))
    out["targets"] = [{"target": n, "figure": f, "wanted": w, "met": o} for n, f, w, o in targets]
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump(out, f, indent=1)
    plots(rows, q, outdir)


if __name__ == "__main__":
    main()
