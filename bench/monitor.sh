#!/usr/bin/env bash
# monitor.sh: mosta-monitor under 200 live dashboards. A tree file (written here, no cluster needed) is replaced
# atomically every 0.5 s, its generatedAt the time of the write; 200 concurrent clients follow /events for
# MOSTA_BENCH_MONITOR_SECONDS (default 60) s, once with inotify and once with --no-inotify (1 s polling). Prints,
# for each: events received, clients connected, the delay between the write and the event
# reaching a client (p50, p99, max), the monitor's CPU time and its RSS (peak and last). Goals (issue 12): RSS
# < 30 MB, p99 < 100 ms with inotify, < 1.5 s at 1 s polling. Bounded, stops by itself; not part of make check.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${MOSTA_BENCH_MONITOR_SECONDS:-60}
clients=${MOSTA_BENCH_MONITOR_CLIENTS:-200}
MONITOR=${MOSTA_MONITOR_BIN:-}
if [ -z "$MONITOR" ]; then
	MONITOR=build/monitor/mosta-monitor
	[ -x build/release/monitor/mosta-monitor ] && MONITOR=build/release/monitor/mosta-monitor
fi
[ -x "$MONITOR" ] || { echo "monitor.sh: $MONITOR not found: cmake --build build -j2 --target mosta-monitor" >&2; exit 1; }
work=$(mktemp -d)
monitor=
cleanup() {
	[ -n "$monitor" ] && kill "$monitor" 2>/dev/null && wait "$monitor" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
ulimit -n 4096 2>/dev/null || true

# the load: a writer and the clients, in one asyncio process; prints "events connected p50 p99 max" (seconds)
cat >"$work/load.py" <<'PY'
import asyncio, datetime, json, os, sys, time

url_port, clients, seconds, tree = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
delays, connected = [], 0

def write_tree(seq):
    now = datetime.datetime.now(datetime.timezone.utc)
    replica = lambda name, lag: {"name": name, "role": "slave", "dialect": "sqlite", "uri": "/var/lib/mosta/" + name,
        "lagTolerance": 2000, "pool": {"min": 1, "max": 10}, "status": {"status": "up", "lagMs": lag,
        "lagBytes": lag * 8, "appliedLsn": "0/1", "tables": 3, "lastSeen": now.isoformat(), "withinTolerance": True,
        "lastError": None}}
    doc = {"version": 1, "generatedAt": now.isoformat(), "projects": {"shop": {"readRouting": "least-lag",
        "replicas": [{"name": "primary", "role": "master", "dialect": "postgres", "uri": "postgresql://app:***@db1/shop",
        "lagTolerance": 5000, "pool": {"min": 1, "max": 10}, "status": {"status": "unknown"}},
        replica("local", seq % 300), replica("edge", (seq * 7) % 500)]}},
        "rules": [{"name": "r%d" % i, "source": "shop", "target": "shop", "mode": "cdc", "collections": ["*"],
        "conflictResolution": "source-wins", "enabled": True, "stats": {"status": "streaming", "snapshotRows": 1000,
        "changesApplied": seq * 10, "transactions": seq, "lastAppliedAt": now.isoformat()}, "targets": []} for i in range(2)]}
    with open(tree + ".tmp", "w") as f:
        json.dump(doc, f, indent=4)
    os.rename(tree + ".tmp", tree)

async def client(deadline):
    global connected
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", url_port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
        await writer.drain()
        first = True
        while time.time() < deadline:
            line = await asyncio.wait_for(reader.readline(), timeout=max(0.1, deadline - time.time()))
            if not line:
                return
            if line.startswith(b"data: "):
                received = time.time()
                if first:  # the state at connect time, not a change
                    first = False
                    connected += 1
                    continue
                # the first generatedAt of the line is the monitor's (a regex, not json.loads: the client must
                # not be what is measured)
                start = line.index(b'"generatedAt":"') + 15
                at = line[start:line.index(b'"', start)].decode()
                delays.append(received - datetime.datetime.fromisoformat(at).timestamp())
    except (asyncio.TimeoutError, ConnectionError, OSError):
        return

async def writer(deadline):
    seq = 0
    while time.time() < deadline:
        seq += 1
        write_tree(seq)
        await asyncio.sleep(0.5)  # --allow-sleep: the load's pace (one write every 0.5 s), not a synchronisation

async def main():
    deadline = time.time() + seconds
    tasks = [asyncio.create_task(client(deadline)) for _ in range(clients)]
    # the clients connect first (each has had its first event), for at most 20 s
    connect_deadline = time.time() + 20
    while connected < clients and time.time() < connect_deadline:
        await asyncio.sleep(0.05)  # --allow-sleep: poll interval of a loop bounded by the deadline
    await writer(deadline)
    await asyncio.gather(*tasks)
    delays.sort()
    q = lambda p: delays[min(len(delays) - 1, int(p * len(delays)))] if delays else float("nan")
    print(len(delays), connected, "%.4f %.4f %.4f" % (q(0.5), q(0.99), delays[-1] if delays else float("nan")))

if sys.argv[5] == "init":
    write_tree(0)
else:
    asyncio.run(main())
PY

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {
	local label=$1
	shift
	python3 "$work/load.py" 0 0 0 "$work/tree.json" init
	"$MONITOR" --tree "$work/tree.json" --port 0 --poll-interval 1s "$@" 2>"$work/log" &
	monitor=$!
	local deadline=$((SECONDS + 20))
	until grep -qs 'listening on' "$work/log"; do
		[ $SECONDS -lt $deadline ] || { echo "monitor did not start: $(cat "$work/log")" >&2; exit 1; }
		sleep 0.1 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
	local port
	port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/log")
	local before
	before=$(cpu_ticks "$monitor")
	read -r events connected p50 p99 max < <(python3 "$work/load.py" "$port" "$clients" "$seconds" "$work/tree.json" run)
	local cpu
	cpu=$(awk -v t=$(($(cpu_ticks "$monitor") - before)) -v hz="$(getconf CLK_TCK)" -v s="$seconds" \
		'BEGIN { printf "%.2f s (%.1f%% of one core)", t / hz, 100 * t / hz / s }')
	local hwm rss
	hwm=$(awk '/^VmHWM/ {printf "%.1f MB", $2 / 1024}' "/proc/$monitor/status")
	rss=$(awk '/^VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$monitor/status")
	kill "$monitor"
	wait "$monitor" 2>/dev/null || true
	monitor=
	printf '%-22s %d clients, %d s: %s events, %s connected; delay p50 %.3f s, p99 %.3f s, max %.3f s; CPU %s; RSS peak %s, last %s\n' \
		"$label" "$clients" "$seconds" "$events" "$connected" "$p50" "$p99" "$max" "$cpu" "$hwm" "$rss"
}

echo "mosta-monitor: $MONITOR"
run "inotify:"
run "polling (1 s):" --no-inotify
