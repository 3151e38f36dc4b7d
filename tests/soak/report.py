#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make soak: the table, the plot and the verdict of soak.sh's run.

usage: report.py - <META.json
META names the run (seconds, warm-up, build, marker id, paces), the audit
ids before the load, the daemon's exit status and the directories: the
clients' counters, wrk's RESULT lines, nginx's marker log, dnsmasq's query
log and the daemon's log are in META["tmp"], samples.tsv in META["out"],
where soak.png and summary.json go. Prints one line per check and ends
with "N passed, N failed"; exits 1 when a check failed."""
import json
import os
import re
import sqlite3
import subprocess
import sys

# Memory is flat when RSS at the end <= RSS after the warm-up x 1.10 +
# 4 MiB. After the warm-up the state a steady load keeps is at its size
# (open flows, the names of allowed flows, the DNS cache, the broker's
# pooled connections and TLS sessions, the audit's rings, which the
# warm-up's burst fills: each bounded), so what still moves is the
# allocator: glibc arenas of threads that come and go (the broker's
# workers), fragmentation, pages touched once. 10 % and 4 MiB hold that
# at these sizes; a leak of 100 bytes per flow at 200 flows/s is 70 MiB
# an hour, 9 MiB over a 10-minute soak's last 8 minutes: past the bound.
# A 60 s soak only sees gross leaks.
RSS_FACTOR, RSS_SLACK_MIB = 1.10, 4
# Descriptors do not grow: end <= after the warm-up + 16. A sample falls
# amid connections in flight (the broker holds two a brokered connection
# plus its pool, the daemon its DNS sockets), a few either way; a
# descriptor leaked per flow would pass 16 within a second.
FD_SLACK = 16
COLUMNS = ["t", "d_rss", "d_fds", "d_thr", "b_rss", "b_fds", "b_thr", "b_pid", "db", "wal",
           "ct", "verdicts", "flows", "names", "dns"]


def lines(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def wrk_result(path):
    for line in lines(path):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"requests": 0, "seconds": 0, "errors": {}, "output": lines(path)[-5:]}


def samples(path):
    return [dict(zip(COLUMNS, map(float, line.split("\t"))))
            for line in lines(path)[1:] if line.strip()]


def audit(db, first, run, injected):
    """Rows past the ids taken before the load, read after the daemon's
    clean stop (which wrote every row it still held)."""
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    q = lambda sql, *a: c.execute(sql, a).fetchall()
    count = lambda table, where, *args: q("SELECT count(*) FROM %s WHERE id > ? AND %s"
                                          % (table, where), first[table], *args)[0][0]
    bk = "/bk-%s-%%" % run
    a = {
        "flows_by": q("SELECT coalesce(sni, ''), verdict, reason, count(*) FROM flows "
                      "WHERE id > ? AND sandbox = 'sb1' GROUP BY 1, 2, 3 ORDER BY 4 DESC",
                      first["flows"]),
        "allowed": count("flows", "sni = 'allowed.test'"),
        "allowed_denied": count("flows", "sni = 'allowed.test' AND verdict = 'deny'"),
        "denied": count("flows", "sni = 'denied.test'"),
        "denied_allowed": count("flows", "sni = 'denied.test' AND verdict = 'allow'"),
        "brokered": count("flows", "sni = ?", injected),
        "brokered_refusals": q("SELECT reason, count(*) FROM flows WHERE id > ? AND sni = ? "
                               "AND verdict = 'deny' GROUP BY 1", first["flows"], injected),
        "brokered_refused": q("SELECT time, family, dst, reason FROM flows WHERE id > ? AND "
                              "sni = ? AND verdict = 'deny' ORDER BY id LIMIT 10",
                              first["flows"], injected),
        "rate_limited": count("flows", "reason = 'audit-rate-limited'"),
        "requests": count("requests", "path LIKE ?", bk),
        "request_errors": q("SELECT status, coalesce(error, ''), count(*) FROM requests "
                            "WHERE id > ? AND path LIKE ? AND (status != 200 OR error "
                            "IS NOT NULL) GROUP BY 1, 2", first["requests"], bk),
        "dns": count("dns_queries", "sandbox = 'sb1' AND (name = 'allowed.test' OR "
                     "name LIKE ?)", "%%-%s.exfil.test" % run),
        "changes": count("policy_changes", "sandbox = 'sb1'"),
    }
    c.close()
    return a


def gather(meta):
    """Everything the run left, and the figures the table and the checks
    share."""
    tmp, run = meta["tmp"], meta["run"]
    r = {k: read_json(os.path.join(tmp, k + ".json"))
         for k in ("denied", "brokered", "dns", "changes", "status",
                   "prime-dns", "prime-brokered", "prime-changes")}
    r["wrk"] = wrk_result(os.path.join(tmp, "wrk.out"))
    r["prime-wrk"] = wrk_result(os.path.join(tmp, "prime-wrk.out"))
    r["rows"] = samples(os.path.join(meta["out"], "samples.tsv"))
    r["audit"] = audit(meta["db"], meta["first"], run, meta["injected"])
    # what reached the internet: nginx's marker log, dnsmasq's queries
    marks = [m for m in (l.split() for l in lines(os.path.join(tmp, "marks.log")))
             if len(m) >= 5]
    r["mk_seen"] = [m for m in marks if m[2].startswith("/mk-%s-" % run)]
    r["bk_seen"] = [m for m in marks if m[2].startswith("/bk-%s-" % run)]
    r["bk_bare"] = [m for m in r["bk_seen"] if m[3] != "ok"]
    r["upstream_blocked"] = sum(1 for l in lines(os.path.join(tmp, "dnsmasq.log"))
                                if "query[" in l and "-%s.exfil.test" % run in l)
    log = lines(os.path.join(tmp, "sbxfwd.log"))
    r["sanitizer"] = [l for l in log if re.search(r"Sanitizer|runtime error", l)]
    r["restarts"] = [l for l in log if re.search(r"broker \(pid \d+\) (killed|exited)", l)]

    # wrk: each completed request is one connection (Connection: close);
    # each error ended one without an answer
    e = r["wrk"].get("errors", {})
    r["wrk_failed"] = sum(e.values())
    r["wrk_tried"] = r["wrk"].get("requests", 0) + sum(
        v for k, v in e.items() if k != "status")
    b = r["brokered"]
    r["bk_answered"] = sum(v for k, v in b.items() if k.startswith("status_"))
    r["bk_other"] = r["bk_answered"] - b.get("status_200", 0) - b.get("status_401", 0)
    r["bk_connected"] = b.get("connections", 0) - b.get("dns_failed", 0) - b.get("no_tcp", 0)

    rows = r["rows"]
    r["start"] = rows[0] if rows else {}
    r["warm"] = next((s for s in rows if s["t"] >= meta["load_start"] + meta["warmup"]),
                     rows[-1] if rows else {})
    r["end"] = rows[-1] if rows else {}
    return r


def mib(kb):
    return kb / 1024.0


def slope_mib_h(rows, key, since):
    """RSS growth after the warm-up, least squares, MiB an hour."""
    pts = [(s["t"], mib(s[key])) for s in rows if s["t"] >= since]
    if len(pts) < 3:
        return 0.0
    mt = sum(t for t, _ in pts) / len(pts)
    mv = sum(v for _, v in pts) / len(pts)
    den = sum((t - mt) ** 2 for t, _ in pts)
    return sum((t - mt) * (v - mv) for t, v in pts) / den * 3600 if den else 0.0


def table(meta, r):
    g = lambda d, k: r[d].get(k, 0)
    a, w = r["audit"], r["wrk"]
    e = w.get("errors", {})
    rows, start, warm, end = r["rows"], r["start"], r["warm"], r["end"]
    vrates = [(s["verdicts"] - p["verdicts"]) / (s["t"] - p["t"])
              for p, s in zip(rows, rows[1:]) if s["t"] > p["t"] >= meta["load_start"]]

    print("\nsoak: %d s, %s build; warm-up: a burst of %d s, then %d s of the load (the "
          "sample at %d s); markers and names of run %s"
          % (meta["seconds"], meta["build"], meta["load_start"], meta["warmup"],
             warm.get("t", 0) - meta["load_start"], meta["run"]))
    print("the warm-up's burst: %d connections to allowed.test, %d DNS queries (%d answered), "
          "%d brokered requests (%d answered 200, %d connections refused), %d policy changes"
          % (r["prime-wrk"].get("requests", 0), g("prime-dns", "allowed"),
             g("prime-dns", "allowed_answered"), g("prime-brokered", "requests"),
             g("prime-brokered", "status_200"), g("prime-brokered", "refused"),
             g("prime-changes", "made")))

    print("\nnew TLS connections to allowed.test (wrk, %d connections, %d ms pause, "
          "Connection: close)" % (meta["wrk_connections"], meta["wrk_delay_ms"]))
    print("  attempted %d, allowed %d, refused or failed %d (connect %d, read %d, write %d, "
          "timeout %d, non-2xx %d)"
          % (r["wrk_tried"], w.get("requests", 0) - e.get("status", 0), r["wrk_failed"],
             e.get("connect", 0), e.get("read", 0), e.get("write", 0), e.get("timeout", 0),
             e.get("status", 0)))
    print("  %.0f connections/s achieved; the daemon's verdicts per sample interval %s/s"
          % (w["requests"] / w["seconds"] if w.get("seconds") else 0,
             "%.0f–%.0f" % (min(vrates), max(vrates)) if vrates else "-"))
    print("\nrequests to denied.test at the same address, one every %d ms, each with a marker"
          % meta["denied_ms"])
    print("  sent %d, connected %d, refused %d, answered %d, timed out %d; markers the server "
          "received %d" % (g("denied", "sent"), g("denied", "tcp"), g("denied", "refused"),
                           g("denied", "answered"), g("denied", "timeout"), len(r["mk_seen"])))
    for m in r["denied"].get("answered_marks", []) + [" ".join(m) for m in r["mk_seen"][:10]]:
        print("  answered: %s" % m)
    print("\nDNS, a query every %d ms" % meta["dns_ms"])
    print("  allowed %d (answered %d, no answer %d, wrong %d); blocked %d (refused with EDE 15 "
          "%d, no answer %d, wrong %d); blocked names at the upstream %d"
          % (g("dns", "allowed"), g("dns", "allowed_answered"), g("dns", "allowed_no_answer"),
             g("dns", "allowed_wrong"), g("dns", "blocked"), g("dns", "blocked_refused"),
             g("dns", "blocked_no_answer"), g("dns", "blocked_wrong"), r["upstream_blocked"]))
    print("\nbrokered requests to %s, one every %d ms, %d a keep-alive connection"
          % (meta["injected"], meta["broker_ms"], meta["broker_per_connection"]))
    print("  requests %d: with the header (200) %d, without it (401) %d, other status %d, "
          "not sent (connection refused) %d, sent and unanswered %d"
          % (g("brokered", "requests"), g("brokered", "status_200"),
             g("brokered", "status_401"), r["bk_other"], g("brokered", "not_sent"),
             g("brokered", "failed")))
    print("  connections %d: refused %d, no TCP %d, no DNS answer %d; at the server %d "
          "requests, %d without the header"
          % (g("brokered", "connections"), g("brokered", "refused"), g("brokered", "no_tcp"),
             g("brokered", "dns_failed"), len(r["bk_seen"]), len(r["bk_bare"])))
    for t, family, dst, reason in a["brokered_refused"]:
        print("  refused: %s IPv%d %s %s" % (t, family, dst, reason))
    print("\npolicy changes on sb1 (allow / remove new.test), one every 100 ms")
    print("  made %d, failed %d; the command took p50 %s ms, p99 %s ms, max %s ms"
          % (g("changes", "made"), g("changes", "failed"), r["changes"].get("ms_p50", "-"),
             r["changes"].get("ms_p99", "-"), r["changes"].get("ms_max", "-")))
    for name in ("denied", "brokered", "dns", "changes"):
        for err in r[name].get("errors", []):
            print("  %s: %s" % (name, err))

    print("\n%-20s %10s %10s %10s" % ("", "start", "warm-up", "end"))
    for label, key, fn in (("sbxfwd RSS (MiB)", "d_rss", mib), ("sbxfwd fds", "d_fds", int),
                           ("sbxfwd threads", "d_thr", int),
                           ("broker RSS (MiB)", "b_rss", mib), ("broker fds", "b_fds", int),
                           ("broker threads", "b_thr", int),
                           ("database (MiB)", "db", lambda v: mib(mib(v))),
                           ("WAL (MiB)", "wal", lambda v: mib(mib(v)))):
        vals = [fn(s.get(key, 0)) for s in (start, warm, end)]
        fmt = "%10.1f" if isinstance(vals[0], float) else "%10d"
        print("%-20s %s" % (label, " ".join(fmt % v for v in vals)))
    print("RSS growth after the warm-up: sbxfwd %.1f MiB/h, broker %.1f MiB/h (least squares)"
          % (slope_mib_h(rows, "d_rss", warm.get("t", 0)),
             slope_mib_h(rows, "b_rss", warm.get("t", 0))))
    st = r["status"]
    print("status at the end: audit rows written %s, lost %s; queue drops %s"
          % (st.get("audit", {}).get("written", "-"), st.get("audit", {}).get("lost", "-"),
             st.get("queue_drops", "-")))
    print("\naudit rows of the soak (ids past those before it, counted after the clean stop):")
    for sni, verdict, reason, n in a["flows_by"][:12]:
        print("  flows %-18s %-5s %-26s %d" % (sni or "-", verdict, reason, n))
    print("  requests (/bk-) %d, DNS queries of the DNS client %d, policy changes %d"
          % (a["requests"], a["dns"], a["changes"]))
    for status, err, n in a["request_errors"]:
        print("  requests with status %s %s: %d" % (status, err, n))
    for line in r["sanitizer"][:5] + r["restarts"][:5]:
        print("  sbxfwd.log: %s" % line)


def memory(meta, r):
    """The release build: RSS flat after the warm-up. Under ASan RSS holds
    its quarantine of freed memory (256 MiB at most, filling for minutes;
    the broker starts with an empty environment, so its own cannot be set
    smaller): there the check is LeakSanitizer's at the daemon's exit."""
    warm, end = r["warm"], r["end"]
    f = lambda s, k: mib(s.get(k, 0))
    figures = "sbxfwd %.1f -> %.1f MiB, broker %.1f -> %.1f MiB" % (
        f(warm, "d_rss"), f(end, "d_rss"), f(warm, "b_rss"), f(end, "b_rss"))
    if meta["build"] == "san":
        leaks = [l for l in r["sanitizer"] if "LeakSanitizer" in l]
        return ("memory: no leak at sbxfwd's exit (LeakSanitizer, exit %d, %d reports); RSS "
                "with ASan's quarantine, not judged: %s"
                % (meta["daemon_exit"], len(leaks), figures),
                meta["daemon_exit"] != 86 and not leaks)
    limit = lambda k: f(warm, k) * RSS_FACTOR + RSS_SLACK_MIB
    return ("memory flat after the warm-up (end <= warm-up x %.2f + %d MiB): %s (<= %.1f, "
            "<= %.1f)" % (RSS_FACTOR, RSS_SLACK_MIB, figures, limit("d_rss"), limit("b_rss")),
            bool(r["rows"]) and f(end, "d_rss") <= limit("d_rss") and
            f(end, "b_rss") <= limit("b_rss"))


def checks(meta, r):
    g = lambda d, k: r[d].get(k, 0)
    a, warm, end = r["audit"], r["warm"], r["end"]
    f = lambda s, k: s.get(k, 0)
    lost = r["status"].get("audit", {}).get("lost")
    refusals = ", ".join("%s %d" % x for x in a["brokered_refusals"]) or "no audit refusal"
    same_broker = f(warm, "b_pid") == f(end, "b_pid")
    return [
        ("no allowed flow refused: %d of %d connections to allowed.test failed, %d audit "
         "denials" % (r["wrk_failed"], r["wrk_tried"], a["allowed_denied"]),
         r["wrk_tried"] > 0 and r["wrk_failed"] == 0 and a["allowed_denied"] == 0),
        ("no denied request answered: %d of %d, %d markers at the server, %d audit allows"
         % (g("denied", "answered"), g("denied", "sent"), len(r["mk_seen"]),
            a["denied_allowed"]),
         g("denied", "sent") > 0 and g("denied", "answered") == 0 and not r["mk_seen"] and
         a["denied_allowed"] == 0),
        ("DNS: %d of %d allowed queries answered, %d of %d blocked refused with EDE 15, %d "
         "blocked names upstream" % (g("dns", "allowed_answered"), g("dns", "allowed"),
                                     g("dns", "blocked_refused"), g("dns", "blocked"),
                                     r["upstream_blocked"]),
         g("dns", "allowed") > 0 and g("dns", "allowed_answered") == g("dns", "allowed") and
         g("dns", "blocked_refused") == g("dns", "blocked") and r["upstream_blocked"] == 0),
        ("no brokered request without its header: %d 401s, %d at the server without it, "
         "%d other statuses" % (g("brokered", "status_401"), len(r["bk_bare"]), r["bk_other"]),
         g("brokered", "status_200") > 0 and g("brokered", "status_401") == 0 and
         not r["bk_bare"] and r["bk_other"] == 0),
        ("no brokered request refused: %d of %d requests not sent (%d of %d connections "
         "refused: %s), %d unanswered"
         % (g("brokered", "not_sent"), g("brokered", "requests"), g("brokered", "refused"),
            g("brokered", "connections"), refusals, g("brokered", "failed")),
         g("brokered", "not_sent") == 0 and g("brokered", "failed") == 0 and
         not a["brokered_refusals"]),
        ("every policy change made: %d, %d failed" % (g("changes", "made"),
                                                      g("changes", "failed")),
         g("changes", "made") > 0 and g("changes", "failed") == 0),
        # How the audit is counted: rows with ids past those taken before
        # the load, read after SIGTERM made the daemon write all it held.
        # Exact for every client that counts its own attempts; wrk counts
        # only connections that ended, so up to its connections in flight
        # when it stopped (each with a ClientHello judged) have rows and
        # no count. Requests sent with no answer may or may not have a row.
        ("audit rows equal attempts: allowed.test %d for %d (+0..%d in flight), denied.test %d "
         "for %d, %s %d for %d, requests %d for %d (+0..%d unanswered), DNS %d for %d, "
         "changes %d for %d; lost %s, rate-limited %d"
         % (a["allowed"], r["wrk_tried"], meta["wrk_connections"], a["denied"],
            g("denied", "tcp"), meta["injected"], a["brokered"], r["bk_connected"],
            a["requests"], r["bk_answered"], g("brokered", "failed"), a["dns"],
            g("dns", "allowed") + g("dns", "blocked"), a["changes"], g("changes", "made"),
            lost, a["rate_limited"]),
         r["wrk_tried"] <= a["allowed"] <= r["wrk_tried"] + meta["wrk_connections"] and
         a["denied"] == g("denied", "tcp") and a["brokered"] == r["bk_connected"] and
         r["bk_answered"] <= a["requests"] <= r["bk_answered"] + g("brokered", "failed") and
         a["dns"] == g("dns", "allowed") + g("dns", "blocked") and
         a["changes"] == g("changes", "made") and lost == 0 and a["rate_limited"] == 0),
        ("no descriptor growth (end <= after warm-up + %d): sbxfwd %d -> %d, broker %d -> %d"
         % (FD_SLACK, f(warm, "d_fds"), f(end, "d_fds"), f(warm, "b_fds"), f(end, "b_fds")),
         bool(r["rows"]) and f(end, "d_fds") <= f(warm, "d_fds") + FD_SLACK and
         f(end, "b_fds") <= f(warm, "b_fds") + FD_SLACK),
        memory(meta, r),
        ("sbxfwd stopped cleanly (exit %d), %d sanitizer reports, %d broker restarts%s"
         % (meta["daemon_exit"], len(r["sanitizer"]), len(r["restarts"]),
            "" if same_broker else " (another broker pid at the end)"),
         meta["daemon_exit"] == 0 and not r["sanitizer"] and not r["restarts"] and
         same_broker),
    ]


def plot(meta, warm_t):
    """RSS and descriptors against the time since the warm-up's burst
    began; the load starts at the first dashed line, the warm-up ends at
    the second."""
    out = meta["out"]
    minutes = meta["seconds"] > 900
    at = lambda t: t / 60.0 if minutes else t
    script = """
set terminal pngcairo size 900,700 font ",10" noenhanced
set output '{o}/soak.png'
set multiplot layout 2,1 title 'make soak: {s} s, {b} build (dashed: the load starts, the warm-up ends)'
set grid; set key bottom right; set xlabel 'time ({u})'
set arrow from {l},graph 0 to {l},graph 1 nohead dashtype 2
set arrow from {w},graph 0 to {w},graph 1 nohead dashtype 2
set ylabel 'RSS (MiB)'; set yrange [0:*]
plot '{d}' every ::1 using {x}:($2/1024) with linespoints title 'sbxfwd', \\
     '' every ::1 using {x}:($5/1024) with linespoints title 'sbxfw-broker'
set ylabel 'open file descriptors'
plot '{d}' every ::1 using {x}:3 with linespoints title 'sbxfwd', \\
     '' every ::1 using {x}:6 with linespoints title 'sbxfw-broker'
unset multiplot
""".format(o=out, s=meta["seconds"], b=meta["build"], u="min" if minutes else "s",
           l=at(meta["load_start"]), w=at(warm_t), x="($1/60)" if minutes else "1",
           d=os.path.join(out, "samples.tsv"))
    try:
        p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    except OSError as e:
        print("soak: gnuplot: %s" % e)
        return
    if p.returncode:
        print("soak: gnuplot: %s" % p.stderr.strip())
    else:
        print("plot: %s/soak.png" % out)


def main():
    meta = json.load(sys.stdin)
    r = gather(meta)
    table(meta, r)
    verdict = checks(meta, r)
    with open(os.path.join(meta["out"], "summary.json"), "w") as fh:
        json.dump({"meta": meta, "audit": r["audit"], "status": r["status"], "wrk": r["wrk"],
                   **{k: r[k] for k in ("denied", "brokered", "dns", "changes")},
                   "checks": [{"check": c, "passed": ok} for c, ok in verdict]}, fh, indent=1)
    plot(meta, r["warm"].get("t", 0))
    print()
    for c, ok in verdict:
        print("%s %s" % ("ok  " if ok else "FAIL", c))
    passed = sum(1 for _, ok in verdict if ok)
    print("%d passed, %d failed" % (passed, len(verdict) - passed))
    sys.exit(0 if passed == len(verdict) else 1)


if __name__ == "__main__":
    main()
