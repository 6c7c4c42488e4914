#!/usr/bin/python3
"""monitor_standin.py: a development stand-in for mosta-monitor (docs/monitor.md), in Python's standard library.

Only for developing monitor/web/ and test/integration/monitor_browser.sh while the real server is not at hand
(monitor_browser.sh runs it when MOSTA_MONITOR_STANDIN=1); the tests proper run the real mosta-monitor. It
follows /work/notes/monitor-spec.md section 2 closely enough for the page: the login/cookie flow, Bearer
tokens, /api/state and /events (SSE) built from a --tree file re-read every --poll-interval (staleness,
routing, lag history, rates), the dashboard's headers. No /metrics, no health endpoints, no rate limit.

    monitor_standin.py --tree FILE [--port 14499] [--token SECRET] [--poll-interval 1] [--stale-after 30]
                       [--web monitor/web]

Prints "listening on 127.0.0.1:PORT" on standard output once it accepts connections (--port 0: any free port).
"""
import argparse
import datetime
import hmac
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse

CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
COOKIE = "mosta_monitor_session"
HISTORY_SECONDS = 600
ROUTABLE = {"postgres", "sqlite", "mongodb"}


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds")


def parse_time(text):
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except (TypeError, ValueError):
        return None


class Monitor:
    """The state of spec section 2, rebuilt from the tree file at each poll."""

    def __init__(self, tree, poll, stale_after):
        self.tree, self.poll, self.stale_after = tree, poll, stale_after
        self.changed = threading.Condition()
        self.sequence = 0
        self.topology = None
        self.content = None
        self.stale = (True, f"no topology file at {tree}")
        self.history = {}
        self.rates = {}
        self.counters = None  # (generatedAt seconds, {rule: (changes, transactions)})
        self.read_at = time.time()
        self.state_json = "{}"
        self.rebuild()

    def routing(self):
        out = {}
        for name, project in ((self.topology or {}).get("projects") or {}).items():
            if "eligible" in project:
                out[name] = {"strategy": project.get("readRouting"), "readsGoTo": project.get("readsGoTo"),
                             "eligible": project.get("eligible")}
                continue
            replicas = project.get("replicas") or []
            eligible = sorted((r for r in replicas if r.get("role") == "slave" and r.get("dialect") in ROUTABLE
                               and (r.get("status") or {}).get("withinTolerance")),
                              key=lambda r: ((r["status"].get("lagMs") or 0), r["name"]))
            master = next((r["name"] for r in replicas if r.get("role") == "master"), None)
            strategy = project.get("readRouting")
            goes = eligible[0]["name"] if eligible else master
            out[name] = {"strategy": strategy, "readsGoTo": goes if strategy == "least-lag" or not eligible else None,
                         "eligible": [r["name"] for r in eligible]}
        return out

    def absorb(self, topology):
        generated = parse_time(topology.get("generatedAt"))
        if generated is None:
            return
        for name, project in (topology.get("projects") or {}).items():
            for replica in project.get("replicas") or []:
                status = replica.get("status") or {}
                points = self.history.setdefault(f"{name}/{replica.get('name')}", [])
                if not points or points[-1][0] != generated:
                    points.append([generated, status.get("lagMs"), status.get("lagBytes")])
                while points and points[0][0] < generated - HISTORY_SECONDS:
                    points.pop(0)
        counters = {r.get("name"): ((r.get("stats") or {}).get("changesApplied") or 0,
                                    (r.get("stats") or {}).get("transactions") or 0)
                    for r in topology.get("rules") or []}
        if self.counters and self.counters[0] != generated:
            elapsed = generated - self.counters[0]
            for rule, (changes, transactions) in counters.items():
                before = self.counters[1].get(rule, (changes, transactions))
                self.rates[rule] = {"changesPerSecond": max(0, changes - before[0]) / elapsed,
                                    "transactionsPerSecond": max(0, transactions - before[1]) / elapsed}
        elif not self.counters:
            self.rates = {rule: {"changesPerSecond": 0, "transactionsPerSecond": 0} for rule in counters}
        if not self.counters or self.counters[0] != generated:
            self.counters = (generated, counters)

    def read(self):
        """One poll; True when the state changed."""
        self.read_at = time.time()
        before = (self.content, self.stale)
        try:
            with open(self.tree, encoding="utf-8") as f:
                content = f.read()
            if content != self.content:
                topology = json.loads(content)
                self.topology, self.content = topology, content
                self.absorb(topology)
        except FileNotFoundError:
            self.stale = (True, f"no topology file at {self.tree}")
            return before != (self.content, self.stale)
        except (OSError, ValueError) as e:
            self.stale = (True, f"cannot read {self.tree}: {e}")
            return before != (self.content, self.stale)
        generated = parse_time((self.topology or {}).get("generatedAt"))
        if generated is not None and time.time() - generated > self.stale_after:
            since = datetime.datetime.fromtimestamp(generated, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.stale = (True, f"sidecar not reporting since {since}")
        else:
            self.stale = (False, None)
        return before != (self.content, self.stale)

    def rebuild(self):
        generated = parse_time((self.topology or {}).get("generatedAt"))
        state = {
            "monitor": {"version": "standin", "source": "tree", "readAt": iso(self.read_at),
                        "generatedAt": (self.topology or {}).get("generatedAt"),
                        "ageSeconds": round(time.time() - generated, 3) if generated is not None else None,
                        "stale": self.stale[0], "staleReason": self.stale[1],
                        "pollIntervalMs": int(self.poll * 1000), "staleAfterMs": int(self.stale_after * 1000)},
            "topology": self.topology,
            "routing": self.routing(),
            "history": self.history,
            "rates": self.rates,
        }
        with self.changed:
            self.state_json = json.dumps(state, separators=(",", ":"))
            self.sequence += 1
            self.changed.notify_all()

    def run(self):
        while True:
            time.sleep(self.poll)  # the stand-in's file polling, as the monitor's --poll-interval (--allow-sleep)
            if self.read():
                self.rebuild()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mosta-monitor-standin"

    def log_message(self, format, *args):  # no request log: nothing to hide, nothing needed
        pass

    def send(self, status, body=b"", content_type="text/plain; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def page(self, name, status=200, headers=()):
        with open(os.path.join(self.server.web, name), "rb") as f:
            body = f.read()
        self.send(status, body, "text/html; charset=utf-8",
                  [("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                   ("Referrer-Policy", "no-referrer")] + list(headers))

    def authenticated(self):
        token = self.server.token
        if token is None:
            return True
        given = self.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
            return True
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and value in self.server.sessions:
                return True
        return False

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/login":
            return self.page("login.html")
        if path == "/favicon.ico":
            return self.send(404, b"")
        if not self.authenticated():
            if path == "/":
                return self.send(303, b"", headers=[("Location", "/login")])
            return self.send(401, b"unauthorized\n", headers=[("WWW-Authenticate", 'Bearer realm="mosta-monitor"')])
        if path == "/":
            return self.page("dashboard.html")
        if path == "/api/state":
            with self.server.monitor.changed:
                body = self.server.monitor.state_json.encode()
            return self.send(200, body, "application/json")
        if path == "/events":
            return self.events()
        self.send(404, b"not found\n")

    def events(self):
        monitor = self.server.monitor
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        seen = -1
        last_write = time.time()
        try:
            while True:
                with monitor.changed:
                    if monitor.sequence == seen:
                        monitor.changed.wait(timeout=1)
                    sequence, data = monitor.sequence, monitor.state_json
                if sequence != seen:
                    self.wfile.write(b"event: state\ndata: " + data.encode() + b"\n\n")
                    self.wfile.flush()
                    seen, last_write = sequence, time.time()
                elif time.time() - last_write >= 15:
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
                    last_write = time.time()
        except (BrokenPipeError, ConnectionResetError):
            return

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        if path == "/login":
            given = urllib.parse.parse_qs(body).get("token", [""])[0]
            if self.server.token is None or hmac.compare_digest(given.encode(), self.server.token.encode()):
                session = secrets.token_hex(32)
                self.server.sessions.add(session)
                return self.send(303, b"", headers=[
                    ("Location", "/"), ("Set-Cookie", f"{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/")])
            return self.page("login.html", 401)
        if path == "/logout":
            for part in self.headers.get("Cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    self.server.sessions.discard(value)
            return self.send(303, b"", headers=[("Location", "/login")])
        self.send(404, b"not found\n")


def seconds(text):
    for suffix, factor in (("ms", 0.001), ("s", 1), ("m", 60)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    return float(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", required=True)
    parser.add_argument("--port", type=int, default=14499)
    parser.add_argument("--token")
    parser.add_argument("--poll-interval", type=seconds, default=1.0)
    parser.add_argument("--stale-after", type=seconds, default=30.0)
    parser.add_argument("--web", default=os.path.join(os.path.dirname(__file__), "..", "..", "monitor", "web"))
    args = parser.parse_args()
    token = args.token or os.environ.get("MOSTA_MONITOR_TOKEN")
    monitor = Monitor(args.tree, args.poll_interval, args.stale_after)
    monitor.read()
    monitor.rebuild()
    threading.Thread(target=monitor.run, daemon=True).start()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.monitor, server.token, server.sessions, server.web = monitor, token, set(), args.web
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
