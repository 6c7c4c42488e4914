#!/usr/bin/python3
"""write_sampler.py: tries one write on every node every 100 ms and logs each attempt, then checks the log for
two writable masters (the automatic failover tests, test/integration/ha_dcs_*.sh, and bench/failover.sh).

  write_sampler.py run LOG STOPFILE NAME=DSN [NAME=DSN...]
      every --interval (default 0.1 s) a round: one INSERT INTO sampler (node, round) on every node at once (a
      thread each, one connection each, kept while it works; the caller creates table sampler (node text, round
      bigint)), each with a short connect_timeout and statement_timeout; one line per attempt, appended and
      flushed at once:
          ROUND NAME ok - -               TIME_MS        the COMMIT returned (TIME_MS: unix ms when it did)
          ROUND NAME error SQLSTATE KIND  TIME_MS        KIND: lease (the in-server write lease refused the
                                                         commit), recovery (a standby: read-only), connect (no
                                                         connection), other
      until STOPFILE exists.
  write_sampler.py check LOG
      exit 1 (and says why) when two nodes were ok in the same round, or a node was ok after another node's
      first ok that came after its own (a former master wrote again after a new one took writes); prints
      "NAME oks first_ok_ms last_ok_ms lease_refusals" per node.

Debian's /usr/bin/python3 with python3-psycopg2 (scripts/install-deps).
"""
import os
import sys
import threading
import time

import psycopg2


def now_ms():
    return int(time.time() * 1000)


class Node:
    def __init__(self, name, dsn):
        self.name = name
        self.dsn = dsn
        self.conn = None

    def attempt(self, round_no):
        """one INSERT; returns the log line's fields after ROUND NAME."""
        try:
            if self.conn is None:
                self.conn = psycopg2.connect(self.dsn, connect_timeout=1, options="-c statement_timeout=1000")
            with self.conn.cursor() as cur:
                cur.execute("INSERT INTO sampler (node, round) VALUES (%s, %s)", (self.name, round_no))
            self.conn.commit()
            return "ok - -"
        except psycopg2.Error as error:
            code = error.pgcode
            message = str(error)
            self.close()
            if code is None:
                return "error - connect"
            if "write lease" in message:
                kind = "lease"
            elif "recovery" in message or "read-only transaction" in message:
                kind = "recovery"
            else:
                kind = "other"
            return "error %s %s" % (code, kind)

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
            self.conn = None


def run(log_path, stop_path, specs, interval):
    nodes = []
    for spec in specs:
        name, _, dsn = spec.partition("=")
        nodes.append(Node(name, dsn))
    log = open(log_path, "a", buffering=1)
    lock = threading.Lock()
    round_no = 0
    start = time.monotonic()
    while not os.path.exists(stop_path):
        round_no += 1
        results = {}

        def one(node, r=round_no):
            fields = node.attempt(r)
            stamp = now_ms()
            with lock:
                results[node.name] = (fields, stamp)

        threads = [threading.Thread(target=one, args=(node,)) for node in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for node in nodes:
            fields, stamp = results[node.name]
            result, code, kind = fields.split(" ")
            log.write("%d %s %s %s %s %d\n" % (round_no, node.name, result, code, kind, stamp))
        # the next round on the 100 ms grid (at once when this one took longer)
        delay = start + round_no * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # --allow-sleep: the sampling period
    for node in nodes:
        node.close()
    log.close()


def check(log_path):
    rounds = {}
    stats = {}
    oks = []
    for line in open(log_path):
        parts = line.split()
        if len(parts) != 6:
            continue
        round_no, name, result, _code, kind, stamp = parts
        s = stats.setdefault(name, {"oks": 0, "first": None, "last": None, "lease": 0})
        if result == "ok":
            rounds.setdefault(int(round_no), []).append(name)
            oks.append((int(stamp), int(round_no), name))
            s["oks"] += 1
            s["first"] = s["first"] if s["first"] is not None else int(stamp)
            s["last"] = int(stamp)
        elif kind == "lease":
            s["lease"] += 1
    problems = []
    for round_no, names in sorted(rounds.items()):
        if len(names) > 1:
            problems.append("round %d: %s all took a write" % (round_no, ", ".join(sorted(names))))
    # a writer, once another node has taken a write after it, never writes again
    current = None
    retired = set()
    for stamp, round_no, name in sorted(oks):
        if name == current:
            continue
        if name in retired:
            problems.append("round %d (%d ms): %s took a write after %s had taken over" % (round_no, stamp, name, current))
        if current is not None:
            retired.add(current)
        current = name
    for name in sorted(stats):
        s = stats[name]
        print("%s %d %s %s %d" % (name, s["oks"], s["first"] or "-", s["last"] or "-", s["lease"]))
    for problem in problems:
        print("TWO MASTERS: " + problem, file=sys.stderr)
    return 1 if problems else 0


def main():
    args = sys.argv[1:]
    interval = 0.1
    if len(args) >= 2 and args[0] == "--interval":
        interval = float(args[1])
        args = args[2:]
    if len(args) >= 4 and args[0] == "run":
        run(args[1], args[2], args[3:], interval)
        return 0
    if len(args) == 2 and args[0] == "check":
        return check(args[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
