# SPDX-License-Identifier: GPL-2.0-or-later
"""The soak's paced clients, each bounded in time and in count, each
writing one JSON line of counters to OUT when it ends (errors with the
second of the run they came at):

  load.py [--count N] KIND SECONDS MS OUT ARGS...
      at most N rounds (default SECONDS / MS + 1); MS 0: no pause

  load.py denied SECONDS MS OUT RUN CAFILE
      a new TLS connection to denied.test (the allowed name's address,
      IPv4 and IPv6 in turn) every MS, carrying GET /mk-RUN-N: each must
      be refused; an answer is a leak (its marker is listed)
  load.py brokered SECONDS MS OUT RUN CAFILE PER_CONNECTION DOMAIN
      GET /bk-RUN-N to DOMAIN, an injection domain, every MS over keep-alive
      connections of PER_CONNECTION requests, each resolved through
      sbxfw's DNS (A and AAAA in turn): 200 means the server found the
      injected header, 401 that it came without it
  load.py dns SECONDS MS OUT RUN [EVERY]
      a UDP query every MS to the internet's resolver (redirected to
      sbxfwd), allowed.test A and AAAA, and every EVERY-th (3; 0: none)
      a new name under exfil.test: an allowed name must be answered, a
      blocked one get NXDOMAIN with Extended DNS Error 15 (Blocked)
  load.py changes SECONDS MS OUT SBXFW SOCKET SANDBOX NAME
      `sbxfw allow SANDBOX NAME', then `remove', in turn, every MS, and
      a last `remove' after an `allow'"""
import http.client, json, socket, ssl, struct, subprocess, sys, time
from collections import Counter

NET4, NET6 = "198.18.2.2", "2001:db8:2::2"
START = time.monotonic()
COUNT = None


def paced(seconds, ms):
    """0, 1, 2... every MS for SECONDS: at most COUNT or SECONDS / MS + 1
    times, never past the deadline, and a late round is followed at once,
    not by a burst that catches up."""
    step = ms / 1000.0
    deadline, due = START + seconds, START
    for i in range(COUNT or int(seconds / step) + 1):
        if due >= deadline:
            return
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        yield i
        due = max(due + step, time.monotonic())


def why(e):
    return "at %.1f s: %s: %s" % (time.monotonic() - START, type(e).__name__, e)


def denied(seconds, ms, run, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    n, answered, errors = Counter(), [], []
    for i in paced(seconds, ms):
        mark = "mk-%s-%d" % (run, i)
        n["sent"] += 1
        try:
            raw = socket.create_connection((NET4 if i % 2 == 0 else NET6, 443), timeout=3)
        except OSError as e:
            n["no_tcp"] += 1
            errors.append(why(e))
            continue
        n["tcp"] += 1
        try:
            with ctx.wrap_socket(raw, server_hostname="denied.test") as s:
                s.sendall(("GET /%s HTTP/1.1\r\nHost: denied.test\r\n"
                           "Connection: close\r\n\r\n" % mark).encode())
                if s.recv(64):
                    n["answered"] += 1
                    answered.append(mark)
                else:
                    n["refused"] += 1
        except socket.timeout as e:
            n["timeout"] += 1
            errors.append(why(e))
        except (OSError, ssl.SSLError):
            # a reset during the handshake: what sbxfw's refusal looks like
            n["refused"] += 1
        finally:
            raw.close()
    return dict(n, answered_marks=answered[:20], errors=errors[:5])


class NoTCP(Exception):
    pass


class Brokered(http.client.HTTPSConnection):
    """A keep-alive connection to the injection domain whose address is
    resolved through sbxfw's DNS in one family (the kernel learns it from
    that answer and redirects the flow to the broker)."""

    def __init__(self, domain, family, ctx):
        super().__init__(domain, 443, context=ctx, timeout=5)
        self.family = family

    def connect(self):
        addr = socket.getaddrinfo(self.host, 443, self.family, socket.SOCK_STREAM)[0][4]
        try:
            raw = socket.create_connection(addr[:2], self.timeout)
        except OSError as e:
            raise NoTCP(why(e)) from e
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def brokered(seconds, ms, run, cafile, per_conn, domain):
    ctx = ssl.create_default_context(cafile=cafile)
    n, errors = Counter(), []
    conn, used = None, 0
    for i in paced(seconds, ms):
        n["requests"] += 1
        if conn is None:
            n["connections"] += 1
            conn = Brokered(domain, socket.AF_INET if n["connections"] % 2 else socket.AF_INET6, ctx)
            try:
                conn.connect()
            except socket.gaierror as e:
                n["dns_failed"] += 1
                errors.append(why(e))
                conn = None
            except NoTCP as e:
                n["no_tcp"] += 1
                errors.append(str(e))
                conn = None
            except (OSError, ssl.SSLError) as e:
                # reset at its handshake: the daemon refused the flow
                n["refused"] += 1
                errors.append(why(e))
                conn = None
            if conn is None:
                n["not_sent"] += 1
                continue
            used = 0
        try:
            conn.request("GET", "/bk-%s-%d" % (run, i))
            r = conn.getresponse()
            r.read()
            n["status_%d" % r.status] += 1
        except (OSError, ssl.SSLError, http.client.HTTPException) as e:
            n["failed"] += 1	# sent, and no answer came
            errors.append(why(e))
            conn.close()
            conn = None
            continue
        used += 1
        if used >= per_conn or r.will_close:
            conn.close()
            conn = None
    if conn:
        conn.close()
    return dict(n, errors=errors[:10])


def dns_query(qid, name, qtype):
    """A query with an EDNS OPT (so that a refusal can say why)."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return (struct.pack(">6H", qid, 0x0100, 1, 0, 0, 1) + labels + b"\0" +
            struct.pack(">HH", qtype, 1) + b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0))


def skip_name(m, o):
    while m[o] and m[o] < 0xc0:
        o += 1 + m[o]
    return o + (2 if m[o] else 1)


def dns_answer(m):
    """rcode, answer records, and the Extended DNS Error info codes."""
    qd, an, ns, ar = struct.unpack(">4H", m[4:12])
    o, ede = 12, []
    for _ in range(qd):
        o = skip_name(m, o) + 4
    for _ in range(an + ns + ar):
        o = skip_name(m, o)
        rtype, _, _, rdlen = struct.unpack(">HHIH", m[o:o + 10])
        o += 10
        if rtype == 41:
            p = o
            while p + 4 <= o + rdlen:
                code, olen = struct.unpack(">HH", m[p:p + 4])
                if code == 15:
                    ede.append(struct.unpack(">H", m[p + 4:p + 6])[0])
                p += 4 + olen
        o += rdlen
    return m[3] & 15, an, ede


def dns(seconds, ms, run, every="3"):
    n, errors, every = Counter(), [], int(every)
    for i in paced(seconds, ms):
        blocked = every and i % every == every - 1
        name = "q%d-%s.exfil.test" % (i, run) if blocked else "allowed.test"
        qtype = 28 if i % 2 else 1
        kind = "blocked" if blocked else "allowed"
        qid = (i * 7919) & 0xffff
        n[kind] += 1
        fam, server = (socket.AF_INET, NET4) if i % 4 < 2 else (socket.AF_INET6, NET6)
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            try:
                s.sendto(dns_query(qid, name, qtype), (server, 53))
                while True:
                    m = s.recv(4096)
                    if struct.unpack(">H", m[:2])[0] == qid:
                        break
                rcode, an, ede = dns_answer(m)
            except OSError as e:
                n[kind + "_no_answer"] += 1
                errors.append("%s: %s" % (name, why(e)))
                continue
        if blocked and rcode == 3 and 15 in ede:
            n["blocked_refused"] += 1
        elif not blocked and rcode == 0 and an > 0:
            n["allowed_answered"] += 1
        else:
            n[kind + "_wrong"] += 1
            errors.append("at %.1f s: %s: rcode %d, %d answers, EDE %s"
                          % (time.monotonic() - START, name, rcode, an, ede))
    return dict(n, errors=errors[:10])


def changes(seconds, ms, sbxfw, sock, sandbox, name):
    n, errors, took = Counter(), [], []

    def change(verb):
        t0 = time.monotonic()
        try:
            r = subprocess.run([sbxfw, "-s", sock, verb, sandbox, name],
                               capture_output=True, text=True, timeout=10)
            ok, err = r.returncode == 0, r.stderr.strip()
        except subprocess.TimeoutExpired:
            ok, err = False, "no answer in 10 s"
        took.append((time.monotonic() - t0) * 1000)
        n["made" if ok else "failed"] += 1
        if not ok or took[-1] > 1000:
            errors.append("at %.1f s: %s took %.0f ms: %s"
                          % (t0 - START, verb, took[-1], err or "made"))

    i = -1
    for i in paced(seconds, ms):
        change("allow" if i % 2 == 0 else "remove")
    if i % 2 == 0:
        change("remove")	# the policy as it was
    took.sort()
    pct = lambda p: round(took[min(len(took) - 1, int(len(took) * p / 100))], 1) if took else 0
    return dict(n, ms_p50=pct(50), ms_p99=pct(99), ms_max=pct(100), errors=errors[:10])


def main():
    global COUNT
    args = sys.argv[1:]
    if args[0] == "--count":
        COUNT, args = int(args[1]), args[2:]
    kind, seconds, ms, out = args[0], float(args[1]), float(args[2]), args[3]
    rest = args[4:]
    if kind == "brokered":
        rest[2] = int(rest[2])
    res = {"denied": denied, "brokered": brokered, "dns": dns,
           "changes": changes}[kind](seconds, ms, *rest)
    with open(out, "w") as f:
        json.dump(res, f)
        f.write("\n")


if __name__ == "__main__":
    main()
