#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make bench: the table and the plots of bench_datapath.sh's results.

usage: report.py RESULTS.jsonl OUTDIR
Prints the figures, their ratios and the targets (issue 15, SPEC §12);
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


def tls_table(rows, out):
    cps = {p: [rate(d) for d in pick(rows, p, "tls")] for p in PATHS}
    errs = {p: sum(errors(d) for d in pick(rows, p, "tls")) for p in PATHS}
    bulk = {p: [d["mb_per_s"] for d in pick(rows, p, "bulk")] for p in PATHS}
    steal = {p: [d.get("steal_pct", 0) for d in pick(rows, p, "tls")] for p in PATHS}
    m = {p: med(v) for p, v in cps.items()}
    print("\nnew TLS connections/s (wrk, 16 connections, a new connection per request)")
    print("  %-28s %10s %14s %7s %8s %10s %7s" % ("path", "median", "rounds", "max/min",
                                                "failed", "bulk MB/s", "steal%"))
    for p in PATHS:
        print("  %-28s %10.0f %14s %7.2f %8d %10s %7s" % (
            NAMES[p], m[p], span(cps[p]), max(cps[p]) / min(cps[p]) if cps[p] and min(cps[p]) else 0,
            errs[p], span(bulk[p]), span(steal[p])))
    print("  max/min: one path's rounds against each other, the same program measured again")
    r = lambda a, b: m[a] / m[b] if m[b] else 0.0
    rb = med(bulk["sbxfwd"]) / med(bulk["direct"]) if med(bulk["direct"]) else 0
    targets = [
        ("new TLS conn/s, sbxfwd ÷ minimal NFQUEUE program", r("sbxfwd", "floor"), ">= 0.95", r("sbxfwd", "floor") >= 0.95),
        ("new TLS conn/s, sbxfwd ÷ no firewall", r("sbxfwd", "direct"), ">= 0.90", r("sbxfwd", "direct") >= 0.90),
        ("new TLS conn/s, sbxfwd ÷ HAProxy SNI filter", r("sbxfwd", "haproxy"), ">= 1.5", r("sbxfwd", "haproxy") >= 1.5),
        ("failed connections through sbxfwd", errs["sbxfwd"], "0", errs["sbxfwd"] == 0),
        ("bulk, sbxfwd ÷ no firewall", rb, ">= 0.97", rb >= 0.97),
    ]
    out["tls"] = {p: {"conn_per_s": cps[p], "failed": errs[p], "bulk_mb_s": bulk[p],
                      "steal_pct": steal[p]} for p in PATHS}
    return targets


def verdict_table(rows, out):
    v = pick(rows, "sbxfwd", "verdict")
    p99 = [d["p99_us"] for d in v]
    ppf = [d["packets"] / d["flows"] for d in v if d["flows"]]
    print("\nsbxfwd's verdicts under that load: p50 %s µs, p99 %s µs, %s packets queued per flow"
          % (span([d["p50_us"] for d in v], "%.1f"), span(p99, "%.1f"), span(ppf, "%.2f")))
    out["verdict"] = v
    worst = max(p99) if p99 else 0
    return [("verdict latency p99, worst round (µs)", worst, "< 100", bool(p99) and worst < 100)]


def dns_table(rows, out):
    paths = ["direct", "forwarder", "sbxfwd", "sbxfwd-blocked"]
    q = {(p, c): [d["qps"] for d in pick(rows, p, "dns") if d["concurrency"] == c]
         for p in paths for c in (1, 32)}
    lat = {(p, c): [d["avg_us"] for d in pick(rows, p, "dns") if d["concurrency"] == c]
           for p in paths for c in (1, 32)}
    print("\nDNS queries/s, distinct names: one at a time (dns_load.py) / dnsperf at concurrency 32")
    for p in paths:
        print("  %-28s %8.0f (%s) / %8.0f (%s)   latency p50 %s / avg %s µs" % (
            NAMES.get(p, "dnsmasq direct" if p == "direct" else p),
            med(q[(p, 1)]), span(q[(p, 1)]), med(q[(p, 32)]), span(q[(p, 32)]),
            span(lat[(p, 1)]), span(lat[(p, 32)])))
    t = []
    for c in (1, 32):
        a = med(q[("sbxfwd", c)]) / med(q[("forwarder", c)]) if med(q[("forwarder", c)]) else 0
        b = med(q[("sbxfwd-blocked", c)]) / med(q[("direct", c)]) if med(q[("direct", c)]) else 0
        t.append(("DNS c%d, allowed: sbxfwd ÷ dnsmasq forwarder" % c, a, ">= 1", a >= 1))
        t.append(("DNS c%d, blocked: sbxfwd ÷ dnsmasq direct" % c, b, ">= 2", b >= 2))
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
        for p in ["direct", "forwarder", "sbxfwd", "sbxfwd-blocked"]:
            f.write('"%s" %g %g\n' % (NAMES.get(p, "dnsmasq direct" if p == "direct" else p),
                                       med(q[(p, 1)]), med(q[(p, 32)])))
    script = """
set terminal pngcairo size 900,560 font ",10" noenhanced
set output '{o}/latency_cdf.png'
set title 'New TLS connection: connect to response (wrk, 16 connections)'
set xlabel 'latency (ms, log scale)'; set ylabel 'percentile'
set logscale x; set grid; set key bottom right
plot for [i=0:3] '{cdf}' index i using 1:2 with linespoints title columnheader(1)
unset logscale x
set output '{o}/connections.png'
set title 'New TLS connections per second (median, min-max of the rounds)'
set ylabel 'connections/s'; set xlabel ''; set yrange [0:*]
set style fill solid 0.6; set boxwidth 0.6; unset key
plot '{conns}' using 1:3:xtic(2) with boxes, '' using 1:3:4:5 with yerrorbars lc rgb 'black'
set output '{o}/dns.png'
set title 'DNS queries per second (distinct names; one at a time, and dnsperf at 32)'
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
