#!/usr/bin/env bash
# haproxy_reads.sh: Debian's haproxy with the documented configuration (docs/haproxy/mosta-reads.cfg, used as it
# is: its ports and the token come from the environment) and mosta-monitor's health endpoints (issue 13, item 7f).
# On the cluster of PGHOST/PGPORT/PGUSER and MOSTA_CLUSTER_DIR (as scripts/pg-cluster run provides), the primary:
# two streaming standbys named standby1 and standby2 (their catalog names), the daemon (mosta-sidecar --tree FILE),
# mosta-monitor over its tree with a token, haproxy on free ports in a temporary directory. Checks, connecting with
# psql through haproxy (SELECT current_setting('cluster_name'), or the port for the primary, which has none):
#   - the configuration is valid (haproxy -c) and the token is in no file of it;
#   - reads spread over both standbys and nothing else; writes go to the primary, which alone passes /master;
#   - standby2's replay paused and writes on the primary: its lag passes MOSTA_MAX_LAG, the monitor's /replica
#     answers 503 with the reason, haproxy marks it DOWN, and every read goes to standby1;
#   - resumed: haproxy takes it back and reads spread over both again, which hold every write;
#   - both paused: reads go to the master (the backup server); resumed: to the standbys again;
#   - standby2 stopped: every read still succeeds, on standby1 (retries + redispatch), and it is marked DOWN;
#   - the token is in no log line of haproxy or the monitor.
# Every wait polls with a deadline; haproxy, the monitor, the daemon and the standbys are stopped on exit (trap).
# Prints "haproxy_reads: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init haproxy_reads
require_cluster MOSTA_CLUSTER_DIR
require_sidecar
MONITOR=${MOSTA_MONITOR_BIN:-build/monitor/mosta-monitor}
[ -x "$MONITOR" ] || fail_setup "$MONITOR not found: build it with cmake -S . -B build && cmake --build build -j2"
HAPROXY=${MOSTA_HAPROXY_BIN:-$(command -v haproxy || echo /usr/sbin/haproxy)}
[ -x "$HAPROXY" ] || fail_setup "haproxy is not installed (scripts/install-deps)"
command -v curl >/dev/null || fail_setup "curl is not installed (scripts/install-deps)"
readonly CONFIG=docs/haproxy/mosta-reads.cfg

standby1_dir=
standby2_dir=
monitor=
haproxy=
cleanup_extra() {
	local pid
	for pid in $haproxy $monitor; do kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	[ -n "$standby1_dir" ] && scripts/pg-cluster stop "$standby1_dir" >/dev/null 2>&1
	[ -n "$standby2_dir" ] && scripts/pg-cluster stop "$standby2_dir" >/dev/null 2>&1
	return 0
}

use_database mosta_haproxy_reads_$$
psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
CREATE EXTENSION mostajs;
SQL

start_standby standby1 standby1_dir standby1_port
start_standby standby2 standby2_dir standby2_port
on_port() { psql -X -At -h 127.0.0.1 -p "$1" -d "$db" -c "$2"; }
standby_uri() { echo "host=127.0.0.1 port=$1 dbname=$db user=postgres"; }
# a node's name as a read through haproxy reports it: its cluster_name (the standbys'), else its port (the primary's)
readonly NODE_SQL="SELECT coalesce(nullif(current_setting('cluster_name'), ''), 'port ' || inet_server_port())"
primary_name=$(scalar "$NODE_SQL")

# the tolerance (60 s) is far above the check's limit (MOSTA_MAX_LAG, 3s): the limit is what drops a standby
psql_db -o /dev/null -v uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER" \
	-v s1="$(standby_uri "$standby1_port")" -v s2="$(standby_uri "$standby2_port")" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('shop', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('shop', 'standby1', 'slave', 'postgres', :'s1', lag_tolerance_ms => 60000);
SELECT mosta_add_replica('shop', 'standby2', 'slave', 'postgres', :'s2', lag_tolerance_ms => 60000);
SQL

PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms --tree "$work/tree.json" \
	2>"$work/log.daemon" &
daemon=$!
token="tok-$$-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
MOSTA_MONITOR_TOKEN=$token "$MONITOR" --port 0 --tree "$work/tree.json" --poll-interval 200ms --stale-after 5s \
	2>"$work/log.monitor" &
monitor=$!
listening() { grep -qs 'listening on http://' "$work/log.monitor"; }
poll_until 20 listening || fail_setup "mosta-monitor did not start: $(cat "$work/log.monitor")"
monitor_port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/log.monitor" | head -1)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
read_port=$(free_port)
write_port=$(free_port)
stats_port=$(free_port)
# the documented variables (docs/haproxy/mosta-reads.cfg); haproxy alone gets the token, in its environment
haproxy_env=(MOSTA_PROJECT=shop MOSTA_MONITOR_ADDR=127.0.0.1 MOSTA_MONITOR_PORT="$monitor_port"
	MOSTA_MONITOR_TOKEN="$token" MOSTA_MAX_LAG=3s
	MOSTA_READ_BIND="127.0.0.1:$read_port" MOSTA_WRITE_BIND="127.0.0.1:$write_port"
	MOSTA_STATS_BIND="127.0.0.1:$stats_port" MOSTA_MASTER_ADDR="127.0.0.1:$PGPORT"
	MOSTA_STANDBY1_ADDR="127.0.0.1:$standby1_port" MOSTA_STANDBY2_ADDR="127.0.0.1:$standby2_port")

if env "${haproxy_env[@]}" "$HAPROXY" -c -f "$CONFIG" >"$work/haproxy.check" 2>&1; then
	ok "haproxy -c: $CONFIG is valid"
else
	not_ok "haproxy -c: $CONFIG is valid ($(cat "$work/haproxy.check"))"
fi
grep -q "$token" "$CONFIG" && not_ok "the token is not in the configuration" || ok "the token is not in the configuration"
# -db: in the foreground (no daemon, no pid file), its log on stderr
env "${haproxy_env[@]}" "$HAPROXY" -db -f "$CONFIG" >"$work/log.haproxy" 2>&1 &
haproxy=$!

# server_state PROXY SERVER: its status in haproxy's stats (UP, DOWN, ...) and its last check
stats() { curl -s "http://127.0.0.1:$stats_port/;csv" >"$work/stats.csv"; }
server_state() {
	stats
	awk -F, -v p="$1" -v s="$2" '$1 == p && $2 == s { print $18 " " $37 " " $38 }' "$work/stats.csv"
}
is_state() { [ "$(server_state "$1" "$2" | cut -d' ' -f1)" = "$3" ]; }

# reads N: the cluster_name of N connections through the read port, one per line, into $work/reads
reads() {
	local i
	: >"$work/reads"
	for ((i = 0; i < $1; i++)); do
		psql -X -At -h 127.0.0.1 -p "$read_port" -d "$db" -c "$NODE_SQL" \
			>>"$work/reads" 2>&1
	done
}
# reads_are N SERVERS: N reads went to exactly the (comma-separated, sorted) SERVERS
reads_are() {
	reads "$1"
	[ "$(sort -u "$work/reads" | paste -sd,)" = "$2" ]
}
summary() { sort "$work/reads" | uniq -c | tr -s ' \n' ' '; }

# 1. both standbys up: reads spread over both; writes go to the primary
both_up() { is_state pg_read standby1 UP && is_state pg_read standby2 UP; }
if poll_until 60 both_up; then ok "haproxy: both standbys UP (the monitor's /replica answers 200)"
else not_ok "haproxy: both standbys UP ($(server_state pg_read standby1); $(server_state pg_read standby2))"; fi
reads_are 10 "standby1,standby2" && ok "reads spread over standby1 and standby2 ($(summary))" ||
	not_ok "reads spread over standby1 and standby2 ($(summary))"
[ "$(sort "$work/reads" | uniq -c | awk '{print $1}' | paste -sd,)" = "5,5" ] &&
	ok "round-robin: 5 reads each" || not_ok "round-robin: 5 reads each ($(summary))"
master_only() {
	is_state pg_write master UP && is_state pg_write standby1 DOWN && is_state pg_write standby2 DOWN
}
poll_until 60 master_only && ok "writes: only the catalog's master passes /master?replica=" ||
	not_ok "writes: only the catalog's master passes /master?replica= ($(server_state pg_write master); $(server_state pg_write standby1))"
got=$(psql -X -At -h 127.0.0.1 -p "$write_port" -d "$db" -c "SELECT pg_is_in_recovery(), ($NODE_SQL)" 2>&1)
[ "$got" = "f|$primary_name" ] && ok "writes go to the primary" || not_ok "writes go to the primary (got '$got')"
psql -X -q -h 127.0.0.1 -p "$write_port" -d "$db" -c "INSERT INTO t SELECT i, 'via haproxy' FROM generate_series(1, 10) i" &&
	ok "a write through the write port" || not_ok "a write through the write port"

# 2. standby2's replay paused, writes: its lag passes 3s, haproxy drops it
on_port "$standby2_port" "SELECT pg_wal_replay_pause()" >/dev/null || not_ok "pause standby2's replay"
psql_db -c "INSERT INTO t SELECT i, 'while paused' FROM generate_series(11, 1000) i" || not_ok "writes on the primary"
if poll_until 60 is_state pg_read standby2 DOWN; then ok "standby2 lagging: haproxy marks it DOWN ($(server_state pg_read standby2))"
else not_ok "standby2 lagging: haproxy marks it DOWN ($(server_state pg_read standby2))"; fi
body=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$monitor_port/replica?project=shop&replica=standby2&lag=3s")
[[ "$body" == *'"healthy":false'*'"reason":"lag '*' ms exceeds 3000 ms"'* ]] &&
	ok "the monitor's /replica says why: $body" || not_ok "the monitor's /replica says why ($body)"
is_state pg_read standby1 UP && ok "standby1 stays UP" || not_ok "standby1 stays UP ($(server_state pg_read standby1))"
reads_are 10 standby1 && ok "every read goes to standby1 ($(summary))" || not_ok "every read goes to standby1 ($(summary))"

# 3. resumed: taken back
on_port "$standby2_port" "SELECT pg_wal_replay_resume()" >/dev/null || not_ok "resume standby2's replay"
if poll_until 60 is_state pg_read standby2 UP; then ok "standby2 caught up: haproxy takes it back"
else not_ok "standby2 caught up: haproxy takes it back ($(server_state pg_read standby2))"; fi
reads_are 10 "standby1,standby2" && ok "reads spread over both again ($(summary))" ||
	not_ok "reads spread over both again ($(summary))"
counts=$(for port in "$standby1_port" "$standby2_port"; do on_port "$port" "SELECT count(*) FROM t"; done | paste -sd,)
[ "$counts" = "1000,1000" ] && ok "both standbys hold every write" || not_ok "both standbys hold every write ($counts)"

# 4. both lagging: reads go to the master (backup); resumed, to the standbys
for port in "$standby1_port" "$standby2_port"; do on_port "$port" "SELECT pg_wal_replay_pause()" >/dev/null; done
psql_db -c "INSERT INTO t SELECT i, 'both paused' FROM generate_series(1001, 1100) i" || not_ok "writes on the primary"
both_down() { is_state pg_read standby1 DOWN && is_state pg_read standby2 DOWN; }
poll_until 60 both_down && ok "both standbys lagging: both DOWN" || not_ok "both standbys lagging: both DOWN"
reads_are 4 "$primary_name" && ok "reads go to the master, the backup server ($(summary))" ||
	not_ok "reads go to the master, the backup server ($(summary))"
for port in "$standby1_port" "$standby2_port"; do on_port "$port" "SELECT pg_wal_replay_resume()" >/dev/null; done
poll_until 60 both_up && ok "resumed: both UP again" || not_ok "resumed: both UP again"
reads_are 10 "standby1,standby2" && ok "reads spread over the standbys again ($(summary))" ||
	not_ok "reads spread over the standbys again ($(summary))"

# 5. standby2 stopped: connections refused there are redispatched to standby1 before its check fails, then DOWN
scripts/pg-cluster stop "$standby2_dir" >/dev/null 2>&1 && standby2_dir=
reads_are 10 standby1 && ok "standby2 stopped: every read reaches standby1, none fails ($(summary))" ||
	not_ok "standby2 stopped: every read reaches standby1, none fails ($(summary))"
if poll_until 60 is_state pg_read standby2 DOWN; then ok "standby2 stopped: haproxy marks it DOWN ($(server_state pg_read standby2))"
else not_ok "standby2 stopped: haproxy marks it DOWN ($(server_state pg_read standby2))"; fi
status2=$(scalar "SELECT status FROM mosta.replica_status WHERE replica = 'standby2'")
[ "$status2" = down ] && ok "the sidecar reports standby2 down" || not_ok "the sidecar reports standby2 down ($status2)"

# the token in no log
grep -qs "$token" "$work/log.haproxy" "$work/log.monitor" "$work/log.daemon" &&
	not_ok "the token is in no log line" || ok "the token is in no log line"
kill -TERM "$haproxy"
haproxy_gone() { ! kill -0 "$haproxy" 2>/dev/null; }
poll_until 30 haproxy_gone && ok "haproxy stops on SIGTERM" || not_ok "haproxy stops on SIGTERM"
wait "$haproxy" 2>/dev/null
haproxy=
stop_daemon "SIGTERM: the daemon exits 0"
finish
